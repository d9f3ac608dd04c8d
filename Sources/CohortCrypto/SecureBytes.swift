import CSodium

/// A heap buffer for secret material that is zeroed with `sodium_memzero` when released.
///
/// Copies of the contents are never handed out as `[UInt8]` implicitly; callers read through
/// `withUnsafeBytes` so the secret stays in this one allocation.
public final class SecureBytes: @unchecked Sendable {
    // @unchecked Sendable: the buffer is written only during initialisation and zeroed only in
    // deinit, when no other reference can exist; in between it is read-only.
    /// The allocation: at least one byte, so an empty secret still has an address to zero.
    private let pointer: UnsafeMutableRawBufferPointer

    /// The number of bytes held (0 for an empty secret: the allocation's padding byte is not
    /// part of it, and is never read).
    public let count: Int

    /// Allocates `count` bytes filled by `initializer`.
    public init(count: Int, _ initializer: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        Sodium.ensureInitialized()
        pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        pointer.initializeMemory(as: UInt8.self, repeating: 0)
        self.count = count
        let view = UnsafeMutableRawBufferPointer(rebasing: pointer[0..<count])
        do {
            try initializer(view)
        } catch {
            sodium_memzero(pointer.baseAddress, pointer.count)
            pointer.deallocate()
            throw error
        }
    }

    /// Copies `bytes` into a new secure buffer. The caller remains responsible for its own copy.
    public convenience init(copying bytes: some Collection<UInt8>) {
        self.init(count: bytes.count) { buffer in
            _ = buffer.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    /// Reads the secret without copying it out.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: pointer[0..<count]))
    }

    deinit {
        sodium_memzero(pointer.baseAddress, pointer.count)
        pointer.deallocate()
    }
}
