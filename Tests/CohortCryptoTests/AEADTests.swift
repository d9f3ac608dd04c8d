import Testing

@testable import CohortCrypto

/// libsodium's AEADs through ``AEADAlgorithm``: known answers from an independent implementation
/// (OpenSSL through Python's `cryptography`; XChaCha20 via its HChaCha20 subkey, checked against
/// draft-irtf-cfrg-xchacha §2.2.1), tampering and wrong sizes refused.
@Suite struct AEADTests {
    static let key = (0..<32).map { UInt8($0) }
    static let message = Array("Cohort AEAD known answer: model-sized messages are sealed with this.".utf8)

    static func nonce(_ algorithm: AEADAlgorithm) -> [UInt8] { (0..<algorithm.nonceLength).map { UInt8(100 + $0) } }

    /// Ciphertext || tag for ``key``, ``nonce(_:)`` and ``message``, no associated data.
    static let knownAnswers: [AEADAlgorithm: String] = [
        .aes256GCM: "0b74b6090b9d76df7b231bc8b10b058a2ce26764f81b96009df1c1279fc6c965e7803aa52832f6618e8019589831eaae"
            + "693eb894452b2d4d9ed1dbbf9be985fe60e5a820395b2b5a22ecc6a8a4459e736fe0ed17",
        .chacha20Poly1305IETF:
            "777ed3a5ead15613be9f515f99e7b7e41ee6f35aec278edffc1f9bdd9e57a0deb9d0c885cb1a2716ec9cab8a8dd0c8a9"
            + "b6beaf6e7a0a5a8c3a9f9cff70de71857a25464af20420705ebf138e2412c1b3df4371bf",
        .xchacha20Poly1305IETF:
            "3f1c91df8d5aa9c3c271d91fcd01d2be359b331f975bafc2b67509c84f3b143dd86f391b48969aa29975047b31252830"
            + "1c80f06cfad358c3ab2f7c218fe09e183ebab7cb02dc1e1162a31f427be6324f8a33816b",
    ]

    static func seal(
        _ algorithm: AEADAlgorithm, _ message: [UInt8], key: [UInt8] = key, nonce: [UInt8]? = nil
    ) throws -> [UInt8] {
        var sealed = [UInt8](repeating: 0, count: message.count + algorithm.tagLength)
        try message.withUnsafeBytes { m in
            try key.withUnsafeBytes { k in
                try (nonce ?? Self.nonce(algorithm)).withUnsafeBytes { n in
                    try sealed.withUnsafeMutableBytes { c in try algorithm.seal(m, key: k, nonce: n, into: c) }
                }
            }
        }
        return sealed
    }

    static func open(_ algorithm: AEADAlgorithm, _ sealed: [UInt8], key: [UInt8] = key) throws -> [UInt8] {
        var opened = [UInt8](repeating: 0, count: sealed.count - algorithm.tagLength)
        try sealed.withUnsafeBytes { c in
            try key.withUnsafeBytes { k in
                try nonce(algorithm).withUnsafeBytes { n in
                    try opened.withUnsafeMutableBytes { m in try algorithm.open(c, key: k, nonce: n, into: m) }
                }
            }
        }
        return opened
    }

    static var available: [AEADAlgorithm] { AEADAlgorithm.allCases.filter(\.isAvailable) }

    @Test func chachaVariantsRunEverywhere() {
        #expect(AEADAlgorithm.chacha20Poly1305IETF.isAvailable)
        #expect(AEADAlgorithm.xchacha20Poly1305IETF.isAvailable)
    }

    @Test(arguments: AEADAlgorithm.allCases)
    func matchesTheIndependentImplementation(_ algorithm: AEADAlgorithm) throws {
        guard algorithm.isAvailable else {
            #expect(throws: CryptoError.self) { try Self.seal(algorithm, Self.message) }
            return
        }
        let sealed = try Self.seal(algorithm, Self.message)
        #expect(Hex.encode(sealed) == Self.knownAnswers[algorithm])
        #expect(try Self.open(algorithm, sealed) == Self.message)
    }

    @Test(arguments: AEADAlgorithm.allCases)
    func everyFlippedByteIsRefused(_ algorithm: AEADAlgorithm) throws {
        guard algorithm.isAvailable else { return }
        let sealed = try Self.seal(algorithm, Array(Self.message.prefix(20)))
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            do {
                _ = try Self.open(algorithm, tampered)
                Issue.record("\(algorithm) opened a ciphertext altered at byte \(index)")
            } catch let error as CryptoError {
                #expect(error.code == "crypto.aead_open_failed")
            }
        }
    }

    @Test(arguments: AEADAlgorithm.allCases)
    func anotherKeyIsRefused(_ algorithm: AEADAlgorithm) throws {
        guard algorithm.isAvailable else { return }
        let sealed = try Self.seal(algorithm, Self.message)
        let other = [UInt8](repeating: 0xEE, count: algorithm.keyLength)
        #expect(
            throws: CryptoError(
                code: "crypto.aead_open_failed",
                message:
                    "\(algorithm.rawValue) ciphertext failed authentication: "
                    + "it was altered or encrypted under another key"
            )
        ) { try Self.open(algorithm, sealed, key: other) }
    }

    @Test(arguments: AEADAlgorithm.allCases)
    func wrongSizesAreRefusedWithTheirLength(_ algorithm: AEADAlgorithm) throws {
        guard algorithm.isAvailable else { return }
        do {
            _ = try Self.seal(algorithm, Self.message, key: [1, 2, 3])
            Issue.record("a 3-byte key was accepted")
        } catch let error as CryptoError {
            #expect(error.code == "crypto.invalid_length")
            #expect(error.message.contains("must be \(algorithm.keyLength) bytes, got 3"))
        }
        do {
            _ = try Self.seal(algorithm, Self.message, nonce: [9])
            Issue.record("a 1-byte nonce was accepted")
        } catch let error as CryptoError {
            #expect(error.code == "crypto.invalid_length")
            #expect(error.message.contains("nonce must be \(algorithm.nonceLength) bytes, got 1"))
        }
        // A tag alone (an empty message) that was never sealed under the key.
        #expect(throws: CryptoError.self) {
            try Self.open(algorithm, [UInt8](repeating: 0, count: algorithm.tagLength))
        }
    }
}
