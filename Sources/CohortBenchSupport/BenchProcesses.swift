import CohortTransport
import Logging

/// The synthetic update: deterministic float32 values whose L2 norm is 1.5 × the clipping bound,
/// so the coordinator's clipping pass always scales.
public enum SyntheticUpdate {
    /// `count` values seeded by `seed`, with L2 norm 1.5 × `clippingBound`.
    public static func values(count: Int, seed: String, clippingBound: Double) -> [Float] {
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) })
        var values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                // xorshift64: cheap, reproducible, no cryptographic role here.
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                buffer[index] = Float(Int64(state % 2001) - 1000)
            }
            initialized = count
        }
        let norm = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let scale = Float(1.5 * clippingBound / max(norm, 1))
        for index in values.indices { values[index] *= scale }
        return values
    }

    /// Byte offset of the round number in the plaintext layout (magic 4, version 2, round 8 LE);
    /// see UpdatePlaintext.
    public static let roundOffset = 6

    public static func setRound(_ round: UInt64, in plaintext: inout [UInt8]) {
        plaintext.withUnsafeMutableBytes {
            $0.storeBytes(of: round.littleEndian, toByteOffset: roundOffset, as: UInt64.self)
        }
        // Guards the layout assumption above against a change of the format.
        let header = plaintext.withUnsafeBytes { try? UpdatePlaintext.header(of: $0) }
        precondition(header?.round == round, "the update plaintext layout changed; update SyntheticUpdate.roundOffset")
    }
}

/// Child processes log warnings and worse to stderr (the parent keeps it in a log file);
/// info-level logging per update would be measured along with the round otherwise.
public enum BenchLogging {
    public static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }
}

/// A benchmark failure, printed as is.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
