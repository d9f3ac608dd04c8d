import CohortCrypto
import CohortPrivacy
import CohortTransport

/// Verifies, opens, checks, clips and adds updates to one running sum, one at a time, so the
/// coordinator's memory is O(model dimension) whatever the number of participants.
///
/// The per-update work is split in two: ``UpdatePreparer/prepare(sealed:round:sealingKey:into:)``
/// opens and checks one update into a caller's plaintext buffer and clips it there (pure, so the
/// coordinator runs it in the connection's task, off its actor, several at a time), and
/// ``accumulate(_:participant:)`` adds the prepared values to the sum. ``add(sealed:participant:round:sealingKey:)``
/// does both with the aggregator's own buffer. Plaintext is zeroed after each update by whoever
/// owns the buffer. Not `Sendable`: one round's aggregator belongs to the coordinator actor.
public final class StreamingAggregator {
    /// The model dimension every update must have.
    public let dimension: Int
    /// The L2 bound C each contribution is clipped to (participant unit), or nil when
    /// participants clip per record (record unit) and the sum is taken as sent.
    public let clippingBound: Double?
    /// Opens, checks and clips one update; `Sendable`, for use off the coordinator's actor.
    public let preparer: UpdatePreparer
    /// Running sum, in double precision.
    private var sum: [Double]
    /// The buffer of ``add(sealed:participant:round:sealingKey:)``, allocated on first use.
    private var plaintext: UnsafeMutableRawBufferPointer?
    /// Pre-clip L2 norms of accepted updates, by participant, for anomaly screening.
    public private(set) var preClipNorms: [String: Double] = [:]
    /// Participants whose contribution was clipped.
    public private(set) var clipped: Set<String> = []
    /// Cosine between each accepted (pre-clip) update and the reference, by participant; empty
    /// without a reference.
    public private(set) var cosines: [String: Double] = [:]

    /// - Parameters:
    ///   - dimension: values per update.
    ///   - clippingBound: C for the participant unit; nil for the record unit.
    ///   - reference: the previous global update (nil in the first round or when its dimension differs).
    public convenience init(dimension: Int, clippingBound: Double?, reference: [Float]? = nil) {
        self.init(dimension: dimension, clippingBound: clippingBound, reference: reference, recycledSum: nil)
    }

    /// As ``init(dimension:clippingBound:reference:)``, reusing `recycledSum` (another round's
    /// ``recycleSum()``) as the running sum when it has `dimension` values: zeroing memory already
    /// mapped costs a pass, allocating a fresh 8 MB (at 10⁶ parameters) costs a page fault per 4 KiB.
    /// `recycledSum` is consumed: zeroing it in place needs the only reference (another would
    /// make the write copy it).
    init(dimension: Int, clippingBound: Double?, reference: [Float]?, recycledSum: consuming [Double]?) {
        self.dimension = dimension
        self.clippingBound = clippingBound
        preparer = UpdatePreparer(dimension: dimension, clippingBound: clippingBound, reference: reference)
        var storage = (consume recycledSum) ?? []
        if storage.count == dimension {
            storage.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            sum = consume storage
        } else {
            sum = Array(repeating: 0, count: dimension)
        }
    }

    deinit {
        if let plaintext {
            Sodium.memzero(plaintext.baseAddress!, count: plaintext.count)
            plaintext.deallocate()
        }
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
        try checkNotDuplicate(participant, round: round)
        let buffer = plaintext ?? .allocate(byteCount: preparer.plaintextByteCount, alignment: 16)
        plaintext = buffer
        defer { Sodium.memzero(buffer.baseAddress!, count: buffer.count) }
        let prepared = sealed.withUnsafeBytes { bytes in
            Result { () throws(UpdateRejection) in
                try preparer.prepare(sealed: bytes, round: round, sealingKey: sealingKey, into: buffer)
            }
        }
        return try accumulate(prepared.get(), participant: participant, round: round)
    }

    /// Refuses a second update from `participant` (`update.duplicate`).
    public func checkNotDuplicate(_ participant: String, round: UInt64) throws(UpdateRejection) {
        guard preClipNorms[participant] == nil else {
            throw UpdateRejection(
                code: "update.duplicate", message: "\(participant) already sent an update in round \(round)")
        }
    }

    /// Adds an update prepared by ``preparer`` (whose buffer the caller still holds) to the sum.
    /// - Returns: the pre-clip norm.
    ///
    /// - Parameter maximumNorm: when given (the record unit: C × the sender's attested records ×
    ///   (1 + 1e-6)), an update whose pre-clip norm is not finite or exceeds it is refused with
    ///   `update.norm_out_of_range` before anything is added, so the sum stays bounded and its
    ///   quantisation cannot fail after the round is charged.
    @discardableResult
    public func accumulate(
        _ prepared: PreparedUpdate, participant: String, round: UInt64, maximumNorm: Double? = nil
    ) throws(UpdateRejection) -> Double {
        try checkNotDuplicate(participant, round: round)
        precondition(prepared.values.count == dimension, "an update prepared for another dimension")
        guard prepared.norm.isFinite, prepared.norm <= (maximumNorm ?? .greatestFiniteMagnitude) else {
            throw UpdateRejection(
                code: "update.norm_out_of_range",
                message:
                    "the update's L2 norm \(prepared.norm.isFinite ? String(prepared.norm) : "(not finite)") exceeds the bound "
                    + "\(maximumNorm ?? .greatestFiniteMagnitude) its sender's attested records allow (clipping bound × records); "
                    + "send the sum of per-record gradients each clipped to the round's clipping bound"
            )
        }
        let values = prepared.values
        precondition(sum.count == dimension, "an update added after the aggregator's sum was recycled")
        sum.withUnsafeMutableBufferPointer { total in
            for index in 0..<dimension { total[index] += Double(values[index]) }
        }
        if let cosine = prepared.cosine { cosines[participant] = cosine }
        if prepared.clipped { clipped.insert(participant) }
        preClipNorms[participant] = prepared.norm
        return prepared.norm
    }

    /// Quantises the sum to `grid`, adds `noise` (integers, one per coordinate, in grid units),
    /// maps back and divides by `denominator` (the expected cohort size, never the realised count).
    ///
    /// Throws `privacy.grid_out_of_range` instead of trapping when a coordinate of the sum (or
    /// the sum plus its noise) does not fit the grid; the coordinator's norm bound on every
    /// accepted update keeps that from happening.
    public func noisedMean(grid: FixedPointGrid, noise: [Int64], denominator: Double) throws(PrivacyError) -> [Float] {
        precondition(noise.count == dimension && denominator > 0)
        precondition(sum.count == dimension, "a noised mean taken after the aggregator's sum was recycled")
        var result = [Float](repeating: 0, count: dimension)
        // The same arithmetic as `grid.quantize` and `grid.dequantize`, in one loop the compiler
        // can keep in registers (those are not inlinable across modules: a call per coordinate
        // was ~20 ms a round at 10⁶). A coordinate out of the grid's range stops it, and the
        // checked loop below then throws exactly what it always has.
        let step = grid.step
        let inRange = sum.withUnsafeBufferPointer { total in
            noise.withUnsafeBufferPointer { noise in
                result.withUnsafeMutableBufferPointer { out in
                    for index in 0..<dimension {
                        let steps = (total[index] / step).rounded(.toNearestOrEven)
                        // False for NaN and infinities too, as `quantize`'s check.
                        guard abs(steps) <= FixedPointGrid.maximumSteps else { return false }
                        let (noised, overflow) = Int64(steps).addingReportingOverflow(noise[index])
                        guard !overflow else { return false }
                        out[index] = Float(Double(noised) * step / denominator)
                    }
                    return true
                }
            }
        }
        if inRange { return result }
        for index in 0..<dimension {
            let (noised, overflow) = try grid.quantize(sum[index]).addingReportingOverflow(noise[index])
            guard !overflow else {
                throw PrivacyError(
                    code: "privacy.grid_out_of_range",
                    message: "coordinate \(index) of the noised sum overflows the grid")
            }
            result[index] = Float(grid.dequantize(noised) / denominator)
        }
        return result
    }

    /// Hands the sum's storage back for reuse; this aggregator holds no sum afterwards and must
    /// not be used to accumulate or take a noised mean again.
    public func recycleSum() -> [Double] {
        defer { sum = [] }
        return sum
    }

    /// The plain mean of the sum over `denominator`, for tests of the aggregation path.
    func rawSum() -> [Double] { sum }
}

/// An update opened, checked and clipped in a caller's plaintext buffer, ready to be added.
///
/// `values` points into that buffer: valid only while the caller holds it, before it is zeroed.
/// `@unchecked Sendable` so the connection task that prepared it can hand it to the coordinator
/// actor and wait for the sum to take it; nothing else touches the buffer meanwhile.
public struct PreparedUpdate: @unchecked Sendable {
    /// The (clipped) values, in the caller's buffer.
    public let values: UnsafeBufferPointer<Float>
    /// The pre-clip L2 norm.
    public let norm: Double
    /// Whether clipping scaled the values.
    public let clipped: Bool
    /// Cosine with the reference update, when there is one.
    public let cosine: Double?
}

/// The per-update checks and clipping of a round, independent of the running sum.
public struct UpdatePreparer: Sendable {
    public let dimension: Int
    public let clippingBound: Double?
    /// The previous round's released update, in the space updates live in, for direction screening.
    private let reference: [Float]?
    private let referenceNorm: Double

    init(dimension: Int, clippingBound: Double?, reference: [Float]?) {
        self.dimension = dimension
        self.clippingBound = clippingBound
        let usable = reference.flatMap { $0.count == dimension ? $0 : nil }
        let norm = usable.map { values in values.withUnsafeBufferPointer { L2Clipping.norm($0) } } ?? 0
        // A zero reference has no direction to compare with.
        self.reference = norm > 0 ? usable : nil
        self.referenceNorm = norm
    }

    /// Bytes of one update's plaintext (header and values).
    public var plaintextByteCount: Int { UpdatePlaintext.headerLength + dimension * 4 }

    /// Opens `sealed` into `plaintext` (``plaintextByteCount`` bytes, 4-byte aligned), checks it
    /// names `round` and has the model's dimension and finite values, and clips it in place.
    /// The caller zeroes `plaintext` afterwards, whatever the outcome.
    public func prepare(
        sealed: UnsafeRawBufferPointer, round: UInt64, sealingKey: SealedBox.KeyPair,
        into plaintext: UnsafeMutableRawBufferPointer
    ) throws(UpdateRejection) -> PreparedUpdate {
        try prepare(sealed: sealed, round: round, sealingKey: sealingKey, into: plaintext, profile: nil)
    }

    /// ``prepare(sealed:round:sealingKey:into:)``, adding the time of opening and of checking and
    /// clipping to `profile` (the benchmark's; nil in production).
    func prepare(
        sealed: UnsafeRawBufferPointer, round: UInt64, sealingKey: SealedBox.KeyPair,
        into plaintext: UnsafeMutableRawBufferPointer, profile: RoundPhaseProfile?
    ) throws(UpdateRejection) -> PreparedUpdate {
        precondition(plaintext.count == plaintextByteCount, "plaintext buffer of the wrong size")
        let expectedSealed = plaintext.count + SealedBox.overhead
        guard sealed.count == expectedSealed else {
            throw UpdateRejection(
                code: "update.wrong_dimension",
                message:
                    "sealed update is \(sealed.count) bytes; a \(dimension)-value update seals to \(expectedSealed) bytes"
            )
        }
        do {
            try profile.time(.open) { () throws(CryptoError) in try sealingKey.open(sealed, into: plaintext) }
        } catch {
            throw UpdateRejection(
                code: "update.seal_open_failed",
                message: "the sealed update could not be opened: it was altered or sealed to another key")
        }
        return try profile.time(.clip) { () throws(UpdateRejection) in try check(plaintext, round: round) }
    }

    /// The plaintext checks and clipping of ``prepare(sealed:round:sealingKey:into:)``, in place.
    private func check(
        _ plaintext: UnsafeMutableRawBufferPointer, round: UInt64
    ) throws(UpdateRejection) -> PreparedUpdate {
        let header = try UpdatePlaintext.header(of: UnsafeRawBufferPointer(plaintext))
        guard header.round == round else {
            throw UpdateRejection(
                code: "update.replayed", message: "update is for round \(header.round), the current round is \(round)")
        }
        guard header.dimension == dimension else {
            throw UpdateRejection(
                code: "update.wrong_dimension",
                message: "update has \(header.dimension) values; the model has \(dimension)")
        }
        let values = UnsafeMutableBufferPointer<Float>(
            start: (plaintext.baseAddress! + UpdatePlaintext.headerLength).assumingMemoryBound(to: Float.self),
            count: dimension
        )
        // One pass measures finiteness, the norm and the direction (clipping scales, so the
        // cosine is the same before and after).
        let measured =
            reference.map { previous in
                previous.withUnsafeBufferPointer { L2Clipping.measure(UnsafeBufferPointer(values), against: $0) }
            } ?? L2Clipping.measure(UnsafeBufferPointer(values))
        guard measured.allFinite else {
            let index = values.firstIndex(where: { !$0.isFinite }) ?? 0
            throw UpdateRejection(
                code: "update.non_finite", message: "value \(index) of the update is not a finite number")
        }
        var cosine: Double?
        if let dot = measured.dot {
            cosine = measured.norm > 0 ? dot / (measured.norm * referenceNorm) : 0
        }
        let norm = measured.norm
        var clipped = false
        if let bound = clippingBound {
            L2Clipping.clip(values, maxNorm: bound, preClipNorm: norm)
            clipped = norm > bound
        }
        return PreparedUpdate(values: UnsafeBufferPointer(values), norm: norm, clipped: clipped, cosine: cosine)
    }
}
