import CohortCrypto
import NIOCore

extension Update {
    /// The ``Update`` frame for `plaintext`: sealed to `recipientPublicKey` straight into the
    /// frame's payload buffer, hashed there and signed. The same bytes as
    /// `Frame(Update.signed(…, sealed: SealedBox.seal(plaintext, to: recipientPublicKey), …))`
    /// without the sealed array and its copy into the frame (4 MB each at 10⁶ parameters).
    public static func sealedFrame(
        round: UInt64,
        roundNonce: [UInt8],
        participantName: String,
        plaintext: UnsafeRawBufferPointer,
        to recipientPublicKey: [UInt8],
        signingKey: Ed25519.KeyPair
    ) throws(CryptoError) -> Frame {
        let sealedCount = plaintext.count + SealedBox.overhead
        let nameBytes = participantName.utf8.count
        var buffer = ByteBufferAllocator().buffer(
            capacity: 8 + 4 + roundNonce.count + 2 + nameBytes + 4 + sealedCount + 4 + Ed25519.signatureLength)
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(roundNonce)
        buffer.writeCohortString(participantName)
        buffer.writeInteger(UInt32(sealedCount), endianness: .big)
        let sealedStart = buffer.writerIndex
        var failure: CryptoError?
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: sealedCount) { output in
            do throws(CryptoError) {
                try SealedBox.seal(
                    plaintext, to: recipientPublicKey,
                    into: UnsafeMutableRawBufferPointer(rebasing: output[0..<sealedCount]))
            } catch {
                failure = error
            }
            return sealedCount
        }
        if let failure { throw failure }
        let sealedOffset = sealedStart - buffer.readerIndex
        let digest = buffer.withUnsafeReadableBytes { bytes in
            BulkSHA256.digest(UnsafeRawBufferPointer(rebasing: bytes[sealedOffset..<(sealedOffset + sealedCount)]))
        }
        let message = signedMessage(
            round: round, roundNonce: roundNonce, participantName: participantName, sealedDigest: digest)
        buffer.writeCohortBytes(signingKey.sign(message))
        return Frame(type: .update, payload: buffer)
    }
}
