import CohortStorage
import CohortTesting
import Foundation
import Testing

@testable import CohortCrypto

@Suite struct SealedBoxTests {
    @Test func roundTrip() throws {
        let recipient = SealedBox.KeyPair.generate()
        let message = Array("model update bytes".utf8) + SecureRandom.bytes(1000)
        let sealed = try SealedBox.seal(message, to: recipient.publicKey)
        #expect(sealed.count == message.count + SealedBox.overhead)
        #expect(try recipient.open(sealed) == message)
    }

    @Test func everyFlippedByteFailsToOpen() throws {
        let recipient = SealedBox.KeyPair.generate()
        let sealed = try SealedBox.seal(Array("payload".utf8), to: recipient.publicKey)
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(throws: CryptoError.self) { try recipient.open(tampered) }
        }
    }

    @Test func anotherKeyCannotOpen() throws {
        let sealed = try SealedBox.seal(Array("payload".utf8), to: SealedBox.KeyPair.generate().publicKey)
        do {
            _ = try SealedBox.KeyPair.generate().open(sealed)
            Issue.record("opened with the wrong key")
        } catch let error as CryptoError {
            #expect(error.code == "crypto.seal_open_failed")
        }
        #expect(throws: CryptoError.self) { try SealedBox.KeyPair.generate().open([1, 2, 3]) }
        #expect(throws: CryptoError.self) { try SealedBox.seal([1], to: [0, 1]) }
    }

    @Test func keyPairRebuildsFromSecret() throws {
        let pair = SealedBox.KeyPair.generate()
        let rebuilt = try SealedBox.KeyPair(secretKey: pair.secretKey)
        #expect(rebuilt.publicKey == pair.publicKey)
    }
}

@Suite struct Ed25519Tests {
    @Test func signAndVerify() throws {
        let pair = Ed25519.KeyPair.generate()
        let message = Array("ledger entry".utf8)
        let signature = pair.sign(message)
        #expect(signature.count == 64)
        #expect(Ed25519.verify(signature: signature, message: message, publicKey: pair.publicKey))
        let rebuilt = try Ed25519.KeyPair(secretKey: pair.secretKey)
        #expect(rebuilt.publicKey == pair.publicKey)
    }

    @Test func tamperedMessageSignatureOrKeyFails() {
        let pair = Ed25519.KeyPair.generate()
        let message = Array("ε = 1.25".utf8)
        let signature = pair.sign(message)
        for index in message.indices {
            var tampered = message
            tampered[index] ^= 0x20
            #expect(!Ed25519.verify(signature: signature, message: tampered, publicKey: pair.publicKey))
        }
        for index in signature.indices {
            var tampered = signature
            tampered[index] ^= 0x01
            #expect(!Ed25519.verify(signature: tampered, message: message, publicKey: pair.publicKey))
        }
        #expect(
            !Ed25519.verify(signature: signature, message: message, publicKey: Ed25519.KeyPair.generate().publicKey))
        #expect(!Ed25519.verify(signature: [1, 2], message: message, publicKey: pair.publicKey))
    }
}

@Suite struct HashAndEncodingTests {
    /// FIPS 180-2 test vectors.
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hexDigest(utf8: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(utf8: "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func hexAndBase64RoundTrip() {
        let bytes = SecureRandom.bytes(77)
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Base64.decode("not base64!") == nil)
    }

    @Test func randomnessIsNotConstant() {
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
        let uniform = (0..<1000).map { _ in SecureRandom.uniform(10) }
        #expect(uniform.allSatisfy { $0 < 10 })
        #expect(Set(uniform).count == 10)
    }
}

@Suite struct KeyFileTests {
    @Test func secretKeyRoundTripWithMode0600() throws {
        let directory = try TemporaryDirectory()
        let pair = Ed25519.KeyPair.generate()
        let path = directory.path + "/ledger.key"
        try KeyFile.writeSecret(pair.secretKey, kind: .ed25519Secret, to: path)
        #expect(try DurableFile.permissions(of: path) == 0o600)
        let loaded = try KeyFile.readSecret(kind: .ed25519Secret, from: path)
        #expect(try Ed25519.KeyPair(secretKey: loaded).publicKey == pair.publicKey)
        let contents = String(decoding: try DurableFile.read(path), as: UTF8.self)
        #expect(contents.hasPrefix("cohort-key v1 ed25519-secret "))
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o660, 0o666])
    func refusesGroupOrWorldAccessibleSecretKey(mode: Int) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/x25519.key"
        try KeyFile.writeSecret(SealedBox.KeyPair.generate().secretKey, kind: .x25519Secret, to: path)
        chmod(path, mode_t(mode))
        do {
            _ = try KeyFile.readSecret(kind: .x25519Secret, from: path)
            Issue.record("mode \(String(mode, radix: 8)) accepted")
        } catch let error as CryptoError {
            #expect(error.code == "crypto.key_permissions")
            #expect(error.message.contains(path))
            #expect(error.message.contains("chmod 600"))
        }
    }

    @Test func refusesWrongKindAndGarbage() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/public.pub"
        try KeyFile.writePublic(Ed25519.KeyPair.generate().publicKey, kind: .ed25519Public, to: path)
        #expect(try KeyFile.readPublic(kind: .ed25519Public, from: path).count == 32)
        do {
            _ = try KeyFile.readPublic(kind: .x25519Public, from: path)
            Issue.record("wrong kind accepted")
        } catch let error as CryptoError {
            #expect(error.code == "crypto.key_kind")
        }
        let garbage = directory.path + "/garbage.pub"
        try DurableFile.writeAtomically(Array("hello world".utf8), to: garbage)
        #expect(throws: CryptoError.self) { try KeyFile.readPublic(kind: .ed25519Public, from: garbage) }
        #expect(throws: StorageError.self) {
            try KeyFile.readPublic(kind: .ed25519Public, from: directory.path + "/missing")
        }
    }
}

/// A holdout PRF key of any length but 32 bytes is refused (a short key would weaken the split's
/// secrecy, a long one would be silently truncated by a careless caller).
@Suite struct KeyedPRFKeyTests {
    @Test(arguments: [0, 16, 31, 33, 64])
    func keyOfTheWrongLengthIsRefused(length: Int) {
        do {
            _ = try KeyedPRF(key: SecureBytes(copying: [UInt8](repeating: 7, count: length)))
            Issue.record("a \(length)-byte PRF key was accepted")
        } catch {
            #expect(error.code == "crypto.bad_key")
            #expect(error.message == "a PRF key is 32 bytes, got \(length)")
        }
    }
}

/// An empty secret holds zero bytes: the one-byte allocation behind it is not part of it (it
/// counted as one uninitialised byte before, which a length check could not see as empty).
@Suite struct EmptySecretTests {
    @Test func emptySecretHasNoBytes() {
        let empty = SecureBytes(copying: [UInt8]())
        #expect(empty.count == 0)
        #expect(empty.withUnsafeBytes { $0.count } == 0)
        #expect(SecureBytes(copying: [1, 2, 3]).withUnsafeBytes { Array($0) } == [1, 2, 3])
    }
}
