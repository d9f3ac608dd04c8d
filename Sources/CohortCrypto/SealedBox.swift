import CSodium

/// Anonymous public-key encryption to an X25519 key (libsodium sealed boxes:
/// ephemeral X25519 + XSalsa20-Poly1305). Participants seal updates to the coordinator so the
/// payload stays confidential past a TLS-terminating proxy.
public enum SealedBox {
    /// Public key length in bytes (32).
    public static var publicKeyLength: Int { Int(crypto_box_publickeybytes()) }
    /// Secret key length in bytes (32).
    public static var secretKeyLength: Int { Int(crypto_box_secretkeybytes()) }
    /// Bytes a sealed box adds to its plaintext (48). The macro form is not imported into Swift.
    public static var overhead: Int { Int(crypto_box_sealbytes()) }

    /// An X25519 key pair for opening sealed boxes.
    public struct KeyPair: Sendable {
        public let publicKey: [UInt8]
        public let secretKey: SecureBytes

        /// A fresh key pair from the CSPRNG.
        public static func generate() -> KeyPair {
            Sodium.ensureInitialized()
            var publicKey = [UInt8](repeating: 0, count: SealedBox.publicKeyLength)
            let secret = SecureBytes(count: SealedBox.secretKeyLength) { sk in
                _ = crypto_box_keypair(&publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            return KeyPair(publicKey: publicKey, secretKey: secret)
        }

        /// Rebuilds a key pair from a stored secret key.
        public init(secretKey: SecureBytes) throws(CryptoError) {
            guard secretKey.count == SealedBox.secretKeyLength else {
                throw .invalidLength("X25519 secret key", expected: SealedBox.secretKeyLength, got: secretKey.count)
            }
            var publicKey = [UInt8](repeating: 0, count: SealedBox.publicKeyLength)
            secretKey.withUnsafeBytes { sk in
                _ = crypto_scalarmult_base(&publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            self.init(publicKey: publicKey, secretKey: secretKey)
        }

        init(publicKey: [UInt8], secretKey: SecureBytes) {
            self.publicKey = publicKey
            self.secretKey = secretKey
        }

        /// Opens a sealed box addressed to this key pair into `output` (which must hold
        /// `sealed.count - SealedBox.overhead` bytes), so plaintext can land directly in a
        /// caller-owned, zeroable buffer.
        public func open(
            _ sealed: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
        ) throws(CryptoError) {
            guard sealed.count >= SealedBox.overhead, output.count == sealed.count - SealedBox.overhead else {
                throw CryptoError(
                    code: "crypto.seal_open_failed",
                    message: "sealed payload of \(sealed.count) bytes is too short or does not match the expected size"
                )
            }
            let status = secretKey.withUnsafeBytes { sk in
                crypto_box_seal_open(
                    output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafeMutablePointer(bitPattern: 1)!,
                    sealed.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    UInt64(sealed.count),
                    publicKey,
                    sk.baseAddress!.assumingMemoryBound(to: UInt8.self)
                )
            }
            guard status == 0 else {
                throw CryptoError(
                    code: "crypto.seal_open_failed",
                    message: "sealed payload failed authentication: it was altered or sealed to another key"
                )
            }
        }

        /// Opens a sealed box and returns the plaintext.
        public func open(_ sealed: [UInt8]) throws -> [UInt8] {
            guard sealed.count >= SealedBox.overhead else {
                throw CryptoError(
                    code: "crypto.seal_open_failed",
                    message:
                        "sealed payload of \(sealed.count) bytes is shorter than the \(SealedBox.overhead)-byte envelope"
                )
            }
            var plain = [UInt8](repeating: 0, count: sealed.count - SealedBox.overhead)
            try sealed.withUnsafeBytes { s in
                try plain.withUnsafeMutableBytes { p in try open(s, into: p) }
            }
            return plain
        }
    }

    /// Seals `message` to `recipientPublicKey`.
    public static func seal(
        _ message: UnsafeRawBufferPointer, to recipientPublicKey: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        Sodium.ensureInitialized()
        guard recipientPublicKey.count == publicKeyLength else {
            throw .invalidLength("X25519 public key", expected: publicKeyLength, got: recipientPublicKey.count)
        }
        var sealed = [UInt8](repeating: 0, count: message.count + overhead)
        _ = crypto_box_seal(
            &sealed, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), recipientPublicKey
        )
        return sealed
    }

    /// Seals `message` to `recipientPublicKey` into `output`, which must hold exactly
    /// `message.count + overhead` bytes, so a sealed update can land directly in the buffer
    /// that carries it (a frame payload) rather than in an array copied there afterwards.
    public static func seal(
        _ message: UnsafeRawBufferPointer, to recipientPublicKey: [UInt8], into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        Sodium.ensureInitialized()
        guard recipientPublicKey.count == publicKeyLength else {
            throw .invalidLength("X25519 public key", expected: publicKeyLength, got: recipientPublicKey.count)
        }
        guard output.count == message.count + overhead else {
            throw .invalidLength("sealed box output", expected: message.count + overhead, got: output.count)
        }
        _ = crypto_box_seal(
            output.baseAddress!.assumingMemoryBound(to: UInt8.self),
            message.baseAddress?.assumingMemoryBound(to: UInt8.self),
            UInt64(message.count), recipientPublicKey
        )
    }

    /// Seals `message` to `recipientPublicKey`.
    public static func seal(_ message: [UInt8], to recipientPublicKey: [UInt8]) throws -> [UInt8] {
        try message.withUnsafeBytes { m in try seal(m, to: recipientPublicKey) }
    }
}
