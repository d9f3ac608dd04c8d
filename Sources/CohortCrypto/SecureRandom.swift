import CSodium

/// Cryptographically secure randomness from libsodium's CSPRNG (`randombytes_buf`), which reads
/// the kernel's getrandom(2) pool. Not seedable by design.
public enum SecureRandom {
    /// Returns `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return out
    }

    /// Fills `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Sodium.ensureInitialized()
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }

    /// A uniformly distributed integer in `0..<upperBound` (libsodium's unbiased `randombytes_uniform`).
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        Sodium.ensureInitialized()
        return randombytes_uniform(upperBound)
    }

    /// A uniformly distributed 64-bit word.
    public static func uint64() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return value
    }

    /// A uniform double in [0, 1) with 53 random bits.
    public static func unitDouble() -> Double {
        Double(uint64() >> 11) * 0x1.0p-53
    }

    /// True with probability ⌊p·2⁵³⌋/2⁵³: never above p, below it by less than 2⁻⁵³. Poisson
    /// sampling for privacy amplification needs a rate of at most the q that is charged, which
    /// `unitDouble() < p` (probability ⌈p·2⁵³⌉/2⁵³) does not give.
    public static func bernoulli(_ p: Double) -> Bool {
        guard p > 0 else { return false }
        guard p < 1 else { return true }
        return uint64() >> 11 < UInt64((p * 0x1p53).rounded(.down))
    }
}
