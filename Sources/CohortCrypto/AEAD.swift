import CSodium

/// The authenticated ciphers (AEAD) libsodium offers, with one calling convention, so the
/// benchmark can time them on this CPU and the update envelope can use the fastest
/// (docs/PERFORMANCE.md, "AEAD").
public enum AEADAlgorithm: String, CaseIterable, Sendable {
    /// AES-256-GCM; libsodium offers it only on CPUs with AES-NI and PCLMUL
    /// (``isAvailable``). 96-bit nonces: safe with random nonces only for few messages per key.
    case aes256GCM = "aes256gcm"
    /// ChaCha20-Poly1305 (RFC 8439), 96-bit nonce.
    case chacha20Poly1305IETF = "chacha20poly1305_ietf"
    /// XChaCha20-Poly1305, 192-bit nonce (random nonces are safe).
    case xchacha20Poly1305IETF = "xchacha20poly1305_ietf"

    /// Whether this CPU can run it (AES-256-GCM needs hardware support; the others always run).
    public var isAvailable: Bool {
        Sodium.ensureInitialized()
        switch self {
        case .aes256GCM: return crypto_aead_aes256gcm_is_available() == 1
        case .chacha20Poly1305IETF, .xchacha20Poly1305IETF: return true
        }
    }

    /// Key length in bytes (32 for all three).
    public var keyLength: Int {
        switch self {
        case .aes256GCM: Int(crypto_aead_aes256gcm_keybytes())
        case .chacha20Poly1305IETF: Int(crypto_aead_chacha20poly1305_ietf_keybytes())
        case .xchacha20Poly1305IETF: Int(crypto_aead_xchacha20poly1305_ietf_keybytes())
        }
    }

    /// Nonce length in bytes.
    public var nonceLength: Int {
        switch self {
        case .aes256GCM: Int(crypto_aead_aes256gcm_npubbytes())
        case .chacha20Poly1305IETF: Int(crypto_aead_chacha20poly1305_ietf_npubbytes())
        case .xchacha20Poly1305IETF: Int(crypto_aead_xchacha20poly1305_ietf_npubbytes())
        }
    }

    /// Bytes the tag adds to the message (16 for all three).
    public var tagLength: Int {
        switch self {
        case .aes256GCM: Int(crypto_aead_aes256gcm_abytes())
        case .chacha20Poly1305IETF: Int(crypto_aead_chacha20poly1305_ietf_abytes())
        case .xchacha20Poly1305IETF: Int(crypto_aead_xchacha20poly1305_ietf_abytes())
        }
    }

    /// Encrypts `message` into `output` (`message.count + tagLength` bytes).
    /// - Throws: `crypto.invalid_length` for a key, nonce or output of the wrong size,
    ///   `crypto.aead_unavailable` when the CPU cannot run the algorithm.
    public func seal(
        _ message: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        try checkArguments(key: key, nonce: nonce, output: output.count, expected: message.count + tagLength)
        let m = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let c = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let k = key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let n = nonce.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let length = UInt64(message.count)
        switch self {
        case .aes256GCM: _ = crypto_aead_aes256gcm_encrypt(c, nil, m, length, nil, 0, nil, n, k)
        case .chacha20Poly1305IETF: _ = crypto_aead_chacha20poly1305_ietf_encrypt(c, nil, m, length, nil, 0, nil, n, k)
        case .xchacha20Poly1305IETF:
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(c, nil, m, length, nil, 0, nil, n, k)
        }
    }

    /// Decrypts and authenticates `sealed` into `output` (`sealed.count - tagLength` bytes).
    /// - Throws: `crypto.aead_open_failed` when the tag does not verify (nothing in `output` may
    ///   then be used), and the errors of ``seal(_:key:nonce:into:)``.
    public func open(
        _ sealed: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) {
        guard sealed.count >= tagLength else {
            throw .invalidLength("\(rawValue) ciphertext", expected: tagLength, got: sealed.count)
        }
        try checkArguments(key: key, nonce: nonce, output: output.count, expected: sealed.count - tagLength)
        let m = output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafeMutablePointer(bitPattern: 1)!
        let c = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let k = key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let n = nonce.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let length = UInt64(sealed.count)
        let status: Int32
        switch self {
        case .aes256GCM: status = crypto_aead_aes256gcm_decrypt(m, nil, nil, c, length, nil, 0, n, k)
        case .chacha20Poly1305IETF:
            status = crypto_aead_chacha20poly1305_ietf_decrypt(m, nil, nil, c, length, nil, 0, n, k)
        case .xchacha20Poly1305IETF:
            status = crypto_aead_xchacha20poly1305_ietf_decrypt(m, nil, nil, c, length, nil, 0, n, k)
        }
        guard status == 0 else {
            throw CryptoError(
                code: "crypto.aead_open_failed",
                message: "\(rawValue) ciphertext failed authentication: it was altered or encrypted under another key")
        }
    }

    private func checkArguments(
        key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, output: Int, expected: Int
    ) throws(CryptoError) {
        guard isAvailable else {
            throw CryptoError(
                code: "crypto.aead_unavailable", message: "\(rawValue) needs AES-NI and PCLMUL, which this CPU lacks")
        }
        guard key.count == keyLength else {
            throw .invalidLength("\(rawValue) key", expected: keyLength, got: key.count)
        }
        guard nonce.count == nonceLength else {
            throw .invalidLength("\(rawValue) nonce", expected: nonceLength, got: nonce.count)
        }
        guard output == expected else { throw .invalidLength("\(rawValue) output", expected: expected, got: output) }
    }
}

extension AEADAlgorithm {
    /// The libsodium version linked (e.g. "1.0.18").
    public static var libraryVersion: String { String(cString: sodium_version_string()) }
}
