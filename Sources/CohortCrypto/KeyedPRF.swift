import CSodium

/// A pseudorandom function keyed with a secret: keyed BLAKE2b-256 (libsodium
/// `crypto_generichash`), which is a PRF under its standard assumption.
///
/// A participant uses it to put each record in the holdout with probability f independently of
/// every other record: the decision reads that record's bytes and the key only, so adding or
/// removing one record moves no other record between training and holdout. Without the key the
/// decisions look random; the key never leaves the silo.
public struct KeyedPRF: Sendable {
    /// Key length in bytes.
    public static let keyLength = 32

    private let key: SecureBytes

    /// A PRF under `key`, which must be ``keyLength`` bytes.
    public init(key: SecureBytes) throws(CryptoError) {
        guard key.count == Self.keyLength else {
            throw CryptoError(code: "crypto.bad_key", message: "a PRF key is \(Self.keyLength) bytes, got \(key.count)")
        }
        self.key = key
    }

    /// A fresh key from the CSPRNG.
    public static func generateKey() -> SecureBytes {
        SecureBytes(count: keyLength) { SecureRandom.fill($0) }
    }

    /// The PRF of `message` as a number in [0, 1) with 53 random bits.
    public func unitInterval(_ message: [UInt8]) -> Double {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { input in
                _ = crypto_generichash(
                    &out, out.count, input.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(input.count),
                    keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), keyBytes.count)
            }
        }
        var word: UInt64 = 0
        for index in 0..<8 { word |= UInt64(out[index]) << (8 * UInt64(index)) }
        return Double(word >> 11) * 0x1p-53
    }
}
