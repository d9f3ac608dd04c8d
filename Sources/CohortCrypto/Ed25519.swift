import CSodium

/// Ed25519 signatures (libsodium `crypto_sign_*`, detached mode).
public enum Ed25519 {
    /// Public key length in bytes (32).
    public static var publicKeyLength: Int { Int(crypto_sign_publickeybytes()) }
    /// Secret key length in bytes (64: seed followed by public key, libsodium's layout).
    public static var secretKeyLength: Int { Int(crypto_sign_secretkeybytes()) }
    /// Signature length in bytes (64).
    public static var signatureLength: Int { Int(crypto_sign_bytes()) }

    /// A signing key pair. The secret half lives in zeroed-on-release memory.
    public struct KeyPair: Sendable {
        public let publicKey: [UInt8]
        public let secretKey: SecureBytes

        /// A fresh key pair from the CSPRNG.
        public static func generate() -> KeyPair {
            Sodium.ensureInitialized()
            var publicKey = [UInt8](repeating: 0, count: Ed25519.publicKeyLength)
            let secret = SecureBytes(count: Ed25519.secretKeyLength) { sk in
                _ = crypto_sign_keypair(&publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            return KeyPair(publicKey: publicKey, secretKey: secret)
        }

        /// Rebuilds a key pair from a stored secret key (the public key is its last 32 bytes).
        public init(secretKey: SecureBytes) throws(CryptoError) {
            guard secretKey.count == Ed25519.secretKeyLength else {
                throw .invalidLength("Ed25519 secret key", expected: Ed25519.secretKeyLength, got: secretKey.count)
            }
            var publicKey = [UInt8](repeating: 0, count: Ed25519.publicKeyLength)
            secretKey.withUnsafeBytes { sk in
                _ = crypto_sign_ed25519_sk_to_pk(&publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            self.init(publicKey: publicKey, secretKey: secretKey)
        }

        init(publicKey: [UInt8], secretKey: SecureBytes) {
            self.publicKey = publicKey
            self.secretKey = secretKey
        }

        /// A detached signature over `message`.
        public func sign(_ message: [UInt8]) -> [UInt8] {
            var signature = [UInt8](repeating: 0, count: Ed25519.signatureLength)
            secretKey.withUnsafeBytes { sk in
                _ = crypto_sign_detached(
                    &signature, nil, message, UInt64(message.count),
                    sk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                )
            }
            return signature
        }
    }

    /// True when `signature` is a valid Ed25519 signature of `message` under `publicKey`.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        Sodium.ensureInitialized()
        guard signature.count == signatureLength, publicKey.count == publicKeyLength else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}
