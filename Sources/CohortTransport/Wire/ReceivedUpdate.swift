import CohortCrypto
import NIOCore

/// An ``Update`` frame as a receiver reads it: the same wire format and fields, but the sealed
/// bytes stay a slice of the frame's buffer instead of being copied into an array (4 MB per
/// update at 10⁶ parameters). The coordinator hashes, verifies and opens them in place.
public struct ReceivedUpdate: FramePayload {
    public static let frameType = FrameType.update
    /// The round this update is for.
    public var round: UInt64
    /// The nonce from the ``RoundInvite``.
    public var roundNonce: [UInt8]
    /// The sender's name; must match its certificate.
    public var participantName: String
    /// The sealed update, as received.
    public var sealed: ByteBuffer
    /// Ed25519 signature over ``Update/signedMessage(round:roundNonce:participantName:sealedDigest:)``.
    public var signature: [UInt8]

    public init(round: UInt64, roundNonce: [UInt8], participantName: String, sealed: ByteBuffer, signature: [UInt8]) {
        self.round = round
        self.roundNonce = roundNonce
        self.participantName = participantName
        self.sealed = sealed
        self.signature = signature
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(roundNonce)
        buffer.writeCohortString(participantName)
        buffer.writeInteger(UInt32(sealed.readableBytes), endianness: .big)
        var bytes = sealed
        buffer.writeBuffer(&bytes)
        buffer.writeCohortBytes(signature)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        round = try reader.readInteger(field: "round")
        roundNonce = try reader.readBytes(field: "roundNonce")
        participantName = try reader.readString(field: "participantName")
        sealed = try reader.readByteBuffer(field: "sealed")
        signature = try reader.readBytes(field: "signature")
    }

    /// SHA-256 of the sealed bytes, as ``Update/sealedDigest``.
    public var sealedDigest: [UInt8] { sealed.withUnsafeReadableBytes { BulkSHA256.digest($0) } }

    /// Whether ``signature`` is valid under `publicKey`, given ``sealedDigest``; as
    /// ``Update/hasValidSignature(publicKey:sealedDigest:)``.
    public func hasValidSignature(publicKey: [UInt8], sealedDigest: [UInt8]) -> Bool {
        let message = Update.signedMessage(
            round: round, roundNonce: roundNonce, participantName: participantName, sealedDigest: sealedDigest)
        return Ed25519.verify(signature: signature, message: message, publicKey: publicKey)
    }

    /// Runs `body` with the sealed bytes in place.
    public func withSealedBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        let outcome: Swift.Result<Result, Failure> = sealed.withUnsafeReadableBytes { bytes in
            do throws(Failure) { return .success(try body(bytes)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }
}
