import CohortCrypto

extension Update {
    /// Domain-separation prefix of the signed message, so a participant's Ed25519 key signing
    /// something else (an attestation, a future frame) can never yield a valid update signature.
    public static let signatureContext: [UInt8] = Array("cohort/update/v1\0".utf8)

    /// The bytes the participant signs: context ‖ round (UInt64 BE) ‖ nonce ‖ name (UTF-8) ‖
    /// SHA-256(sealed), where nonce and name each carry a UInt32 big-endian length prefix so that no
    /// two different (nonce, name) pairs produce the same message.
    public static func signedMessage(
        round: UInt64, roundNonce: [UInt8], participantName: String, sealed: [UInt8]
    ) -> [UInt8] {
        signedMessage(
            round: round, roundNonce: roundNonce, participantName: participantName,
            sealedDigest: BulkSHA256.digest(sealed))
    }

    /// ``signedMessage(round:roundNonce:participantName:sealed:)`` from the already computed
    /// SHA-256 of the sealed bytes, so a receiver that also records the digest hashes them once.
    public static func signedMessage(
        round: UInt64, roundNonce: [UInt8], participantName: String, sealedDigest: [UInt8]
    ) -> [UInt8] {
        var message = signatureContext
        withUnsafeBytes(of: round.bigEndian) { message.append(contentsOf: $0) }
        appendPrefixed(roundNonce, to: &message)
        appendPrefixed(Array(participantName.utf8), to: &message)
        message.append(contentsOf: sealedDigest)
        return message
    }

    private static func appendPrefixed(_ field: [UInt8], to message: inout [UInt8]) {
        // Frames are bounded by a UInt32 length, so every field fits a UInt32 prefix.
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: field.count).bigEndian) { message.append(contentsOf: $0) }
        message.append(contentsOf: field)
    }

    /// SHA-256 of the sealed bytes: the update's digest as recorded in the ledger and in ``UpdateAck``.
    public var sealedDigest: [UInt8] { BulkSHA256.digest(sealed) }

    /// Builds and signs an update.
    public static func signed(
        round: UInt64,
        roundNonce: [UInt8],
        participantName: String,
        sealed: [UInt8],
        signingKey: Ed25519.KeyPair
    ) -> Update {
        let message = signedMessage(
            round: round, roundNonce: roundNonce, participantName: participantName, sealed: sealed)
        return Update(
            round: round,
            roundNonce: roundNonce,
            participantName: participantName,
            sealed: sealed,
            signature: signingKey.sign(message)
        )
    }

    /// Whether ``signature`` is valid under `publicKey`. A false result maps to `update.bad_signature`.
    public func hasValidSignature(publicKey: [UInt8]) -> Bool {
        hasValidSignature(publicKey: publicKey, sealedDigest: sealedDigest)
    }

    /// ``hasValidSignature(publicKey:)`` given ``sealedDigest``, computed once by the caller.
    public func hasValidSignature(publicKey: [UInt8], sealedDigest: [UInt8]) -> Bool {
        let message = Self.signedMessage(
            round: round, roundNonce: roundNonce, participantName: participantName, sealedDigest: sealedDigest)
        return Ed25519.verify(signature: signature, message: message, publicKey: publicKey)
    }
}
