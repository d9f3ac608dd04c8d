import CohortCrypto
import CohortTransport
import CohortPrivacy

/// Verifies, opens, checks, clips and adds updates to one running sum, one at a time, so the
/// coordinator's memory is O(model dimension) whatever the number of participants.
///
/// Plaintext lives only in one reusable buffer, zeroed after each update. Not `Sendable`: one
/// round's aggregator belongs to the coordinator actor.
public final class StreamingAggregator {
    /// The model dimension every update must have.
    public let dimension: Int
    /// The L2 bound C each contribution is clipped to (participant unit), or nil when
    /// participants clip per record (record unit) and the sum is taken as sent.
    public let clippingBound: Double?
    /// Running sum, in double precision.
    private var sum: [Double]
    private let plaintext: UnsafeMutableRawBufferPointer
    /// Pre-clip L2 norms of accepted updates, by participant, for anomaly screening.
    public private(set) var preClipNorms: [String: Double] = [:]
    /// Participants whose contribution was clipped.
    public private(set) var clipped: Set<String> = []
    /// The previous round's released update, in the space updates live in, for direction screening.
    private let reference: [Float]?
    private let referenceNorm: Double
    /// Cosine between each accepted (pre-clip) update and `reference`, by participant; empty
    /// without a reference.
    public private(set) var cosines: [String: Double] = [:]

    /// - Parameters:
    ///   - dimension: values per update.
    ///   - clippingBound: C for the participant unit; nil for the record unit.
    ///   - reference: the previous global update (nil in the first round or when its dimension differs).
    public init(dimension: Int, clippingBound: Double?, reference: [Float]? = nil) {
        self.dimension = dimension
        self.clippingBound = clippingBound
        let usable = reference.flatMap { $0.count == dimension ? $0 : nil }
        let norm = usable.map { values in values.withUnsafeBufferPointer { L2Clipping.norm($0) } } ?? 0
        // A zero reference has no direction to compare with.
        self.reference = norm > 0 ? usable : nil
        self.referenceNorm = norm
        sum = Array(repeating: 0, count: dimension)
        plaintext = .allocate(byteCount: UpdatePlaintext.headerLength + dimension * 4, alignment: 16)
    }

    deinit {
        Sodium.memzero(plaintext.baseAddress!, count: plaintext.count)
        plaintext.deallocate()
    }

    /// The number of accepted updates.
    public var count: Int { preClipNorms.count }

    /// Checks one sealed update and adds it to the sum.
    /// - Parameters:
    ///   - sealed: the sealed payload as received.
    ///   - participant: the authenticated sender.
    ///   - round: the current round; the plaintext must name it.
    ///   - sealingKey: the coordinator's X25519 key pair.
    /// - Returns: the pre-clip norm.
    @discardableResult
    public func add(
        sealed: [UInt8], participant: String, round: UInt64, sealingKey: SealedBox.KeyPair
    ) throws(UpdateRejection) -> Double {
        guard preClipNorms[participant] == nil else {
            throw UpdateRejection(code: "update.duplicate", message: "\(participant) already sent an update in round \(round)")
        }
        let expectedSealed = plaintext.count + SealedBox.overhead
        guard sealed.count == expectedSealed else {
            throw UpdateRejection(
                code: "update.wrong_dimension",
                message: "sealed update is \(sealed.count) bytes; a \(dimension)-value update seals to \(expectedSealed) bytes"
            )
        }
        defer { Sodium.memzero(plaintext.baseAddress!, count: plaintext.count) }
        do {
            try sealed.withUnsafeBytes { try sealingKey.open($0, into: plaintext) }
        } catch {
            throw UpdateRejection(code: "update.seal_open_failed", message: "the sealed update could not be opened: it was altered or sealed to another key")
        }
        let header = try UpdatePlaintext.header(of: UnsafeRawBufferPointer(plaintext))
        guard header.round == round else {
            throw UpdateRejection(code: "update.replayed", message: "update is for round \(header.round), the current round is \(round)")
        }
        guard header.dimension == dimension else {
            throw UpdateRejection(code: "update.wrong_dimension", message: "update has \(header.dimension) values; the model has \(dimension)")
        }
        let values = UnsafeMutableBufferPointer<Float>(
            start: (plaintext.baseAddress! + UpdatePlaintext.headerLength).assumingMemoryBound(to: Float.self),
            count: dimension
        )
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw UpdateRejection(code: "update.non_finite", message: "value \(index) of the update is not a finite number")
        }
        // Direction before clipping: clipping scales, so the cosine is the same either way.
        if let reference {
            var dot = 0.0
            reference.withUnsafeBufferPointer { previous in
                for index in 0..<dimension { dot += Double(values[index]) * Double(previous[index]) }
            }
            let own = L2Clipping.norm(UnsafeBufferPointer(values))
            cosines[participant] = own > 0 ? dot / (own * referenceNorm) : 0
        }
        let norm: Double
        if let bound = clippingBound {
            norm = L2Clipping.clip(values, maxNorm: bound)
            if norm > bound { clipped.insert(participant) }
        } else {
            norm = L2Clipping.norm(UnsafeBufferPointer(values))
        }
        sum.withUnsafeMutableBufferPointer { total in
            for index in 0..<dimension { total[index] += Double(values[index]) }
        }
        preClipNorms[participant] = norm
        return norm
    }

    /// Quantises the sum to `grid`, adds `noise` (integers, one per coordinate, in grid units),
    /// maps back and divides by `denominator` (the expected cohort size, never the realised count).
    public func noisedMean(grid: FixedPointGrid, noise: [Int64], denominator: Double) -> [Float] {
        precondition(noise.count == dimension && denominator > 0)
        var result = [Float](repeating: 0, count: dimension)
        for index in 0..<dimension {
            let noised = grid.quantize(sum[index]) &+ noise[index]
            result[index] = Float(grid.dequantize(noised) / denominator)
        }
        return result
    }

    /// The plain mean of the sum over `denominator`, for tests of the aggregation path.
    func rawSum() -> [Double] { sum }
}
