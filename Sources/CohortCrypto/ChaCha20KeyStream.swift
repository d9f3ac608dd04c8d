import CSodium

/// A fast stream of random 64-bit words from ChaCha20 (libsodium `crypto_stream_chacha20`).
///
/// Not `Sendable`: one stream belongs to one task. The production constructor keys the stream from the CSPRNG, so its output cannot be predicted
/// or reproduced. A seeded stream, for reproducible tests only, is reachable solely through the
/// `CohortTesting` SPI (`@_spi(CohortTesting) import CohortCrypto`), which product code never imports.
///
/// Each refill encrypts a buffer of zeros under a fresh 64-bit nonce (the refill counter), so no
/// (key, nonce) pair is ever reused. The key is held in `SecureBytes` and zeroed on release.
public final class ChaCha20KeyStream {
    /// Bytes of keystream produced per refill; 16 KiB amortises the call while staying in L1/L2.
    public static let bufferWords = 2048

    private let key: SecureBytes
    private var nonce: UInt64 = 0
    private let buffer: UnsafeMutablePointer<UInt64>
    private var index: Int

    /// A stream keyed from libsodium's CSPRNG. This is the only constructor product code can use.
    public convenience init() {
        self.init(key: SecureBytes(count: Int(crypto_stream_chacha20_keybytes())) { SecureRandom.fill($0) })
    }

    init(key: SecureBytes) {
        precondition(key.count == Int(crypto_stream_chacha20_keybytes()))
        self.key = key
        buffer = .allocate(capacity: Self.bufferWords)
        index = Self.bufferWords
    }

    /// A deterministic stream for tests. Never use it to noise a real release.
    @_spi(CohortTesting)
    public convenience init(testSeed seed: UInt64) {
        var material = [UInt8](repeating: 0, count: Int(crypto_stream_chacha20_keybytes()))
        withUnsafeBytes(of: seed.littleEndian) { seedBytes in
            for (offset, byte) in seedBytes.enumerated() { material[offset] = byte }
        }
        self.init(key: SecureBytes(copying: material))
    }

    /// The next uniformly random 64-bit word.
    @inline(__always)
    public func next() -> UInt64 {
        if index == Self.bufferWords { refill() }
        let word = buffer[index]
        index &+= 1
        return word
    }

    /// Fills `words` with the next keystream words (the same sequence `next()` would return).
    public func fill(_ words: UnsafeMutableBufferPointer<UInt64>) {
        var offset = 0
        while offset < words.count {
            if index == Self.bufferWords { refill() }
            let take = min(Self.bufferWords - index, words.count - offset)
            (words.baseAddress! + offset).update(from: buffer + index, count: take)
            index += take
            offset += take
        }
    }

    private func refill() {
        let byteCount = Self.bufferWords * MemoryLayout<UInt64>.size
        var nonceBytes = nonce.littleEndian
        nonce &+= 1
        // The stream restarts at block 0 for each new nonce, so buffers never overlap.
        key.withUnsafeBytes { keyBytes in
            withUnsafeBytes(of: &nonceBytes) { n in
                _ = crypto_stream_chacha20(
                    UnsafeMutableRawPointer(buffer).assumingMemoryBound(to: UInt8.self),
                    UInt64(byteCount),
                    n.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
                )
            }
        }
        index = 0
    }

    deinit {
        sodium_memzero(buffer, Self.bufferWords * MemoryLayout<UInt64>.size)
        buffer.deallocate()
    }
}
