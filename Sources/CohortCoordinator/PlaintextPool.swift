import CohortCrypto

/// A few plaintext buffers of one size, lent to connection tasks that open updates off the
/// coordinator's actor. At most `limit` exist, so plaintext in memory stays bounded however
/// many updates arrive at once; a task waits for a free one. Buffers go back zeroed.
actor PlaintextPool {
    let byteCount: Int
    let limit: Int
    private var free: [PlaintextBuffer] = []
    private var created = 0
    private var waiting: [CheckedContinuation<PlaintextBuffer, Never>] = []

    init(byteCount: Int, limit: Int) {
        self.byteCount = byteCount
        self.limit = max(1, limit)
    }

    /// A buffer for the caller alone until it calls ``release(_:)``.
    func acquire() async -> PlaintextBuffer {
        if let buffer = free.popLast() { return buffer }
        if created < limit {
            created += 1
            return PlaintextBuffer(byteCount: byteCount)
        }
        return await withCheckedContinuation { waiting.append($0) }
    }

    /// Takes back a buffer the caller zeroed (``PlaintextBuffer/zero()``).
    func release(_ buffer: PlaintextBuffer) {
        if waiting.isEmpty {
            free.append(buffer)
        } else {
            waiting.removeFirst().resume(returning: buffer)
        }
    }
}

/// One plaintext buffer; owned by one task at a time (the pool hands it out), hence
/// `@unchecked Sendable`. Zeroed before release and when freed.
final class PlaintextBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int) {
        bytes = .allocate(byteCount: byteCount, alignment: 16)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    func zero() { Sodium.memzero(bytes.baseAddress!, count: bytes.count) }

    deinit {
        zero()
        bytes.deallocate()
    }
}
