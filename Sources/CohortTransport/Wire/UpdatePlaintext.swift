import CohortCrypto
import CohortErrors

/// The plaintext of a model update, sealed to the coordinator's X25519 key.
///
/// Layout (little-endian): magic `CUPD`, format version UInt16 = 1, round UInt64, dimension UInt32,
/// contributing record count UInt32 (informational), then `dimension` float32 values.
public enum UpdatePlaintext {
    static let magic: [UInt8] = Array("CUPD".utf8)
    /// Bytes before the float32 values.
    public static let headerLength = 4 + 2 + 8 + 4 + 4

    /// Encodes an update for `round`.
    public static func encode(round: UInt64, records: UInt32, values: [Float]) -> [UInt8] {
        var bytes = magic
        bytes.reserveCapacity(headerLength + values.count * 4)
        append(&bytes, UInt16(1))
        append(&bytes, round)
        append(&bytes, UInt32(values.count))
        append(&bytes, records)
        values.withUnsafeBytes { raw in
            // float32 values travel little-endian; this platform's native order.
            bytes.append(contentsOf: raw)
        }
        return bytes
    }

    private static func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// The decoded header of a plaintext; values stay in the caller's buffer.
    public struct Header: Sendable, Equatable {
        public let round: UInt64
        public let dimension: Int
        public let records: UInt32
    }

    /// Parses the header and checks the length against the dimension.
    public static func header(of plaintext: UnsafeRawBufferPointer) throws(UpdateRejection) -> Header {
        guard plaintext.count >= headerLength, Array(plaintext[0..<4]) == magic else {
            throw UpdateRejection(
                code: "update.malformed",
                message:
                    "update plaintext does not start with the CUPD header; run a participant of the coordinator's version"
            )
        }
        let version = plaintext.loadUnaligned(fromByteOffset: 4, as: UInt16.self).littleEndian
        guard version == 1 else {
            throw UpdateRejection(
                code: "update.malformed",
                message:
                    "update format version \(version) is not supported (expected 1); run a participant of the coordinator's version"
            )
        }
        let round = plaintext.loadUnaligned(fromByteOffset: 6, as: UInt64.self).littleEndian
        let dimension = Int(plaintext.loadUnaligned(fromByteOffset: 14, as: UInt32.self).littleEndian)
        let records = plaintext.loadUnaligned(fromByteOffset: 18, as: UInt32.self).littleEndian
        guard plaintext.count == headerLength + dimension * 4 else {
            throw UpdateRejection(
                code: "update.malformed",
                message:
                    "update declares \(dimension) values but carries \(plaintext.count - headerLength) bytes of them; "
                    + "run a participant of the coordinator's version"
            )
        }
        return Header(round: round, dimension: dimension, records: records)
    }
}

/// Why an update was refused. Codes are stable and travel in the error frame.
public struct UpdateRejection: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) [\(code)]" }
}

extension UpdateRejection: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
