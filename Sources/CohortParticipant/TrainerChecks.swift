#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a participant can check of its external trainer's record-level answer before sealing it.
///
/// Record-level DP rests on the trainer Poisson-sampling with rate ≤ q and clipping each record
/// to C; the participant cannot see either happen, but it can refuse answers no honest trainer
/// gives: a sum longer than C × (reported batch), and batch sizes the Poisson law makes
/// implausible (an oversampling trainer). Undersampling is not flagged: it only spends less.
/// Nothing here leaves the silo (the batch size is data-dependent and not covered by the noise).
public struct TrainerChecks: Sendable {
    /// The false-alarm probability bound of each batch-size test: an honest trainer is refused
    /// with probability at most this per round (two tests per round).
    public static let falseAlarmBound = 1e-9

    /// Σ expected batch sizes (n·q) over the rounds checked so far.
    public private(set) var expectedTotal = 0.0
    /// Σ reported batch sizes over those rounds.
    public private(set) var reportedTotal = 0
    /// Rounds checked.
    public private(set) var rounds = 0

    public init() {}

    /// Checks one round's record-level answer.
    /// - Parameters:
    ///   - update: the flat clipped-gradient sum.
    ///   - batchSize: the trainer's reported Poisson batch size.
    ///   - records: the training records the trainer sampled from (n).
    ///   - samplingRate: q.
    ///   - clippingBound: C.
    /// - Throws: `participant.trainer_batch_size` when the batch exceeds n or when the Chernoff
    ///   bound on seeing a batch this large (this round, or in total over the session) under
    ///   Binomial(n, q) is below ``falseAlarmBound``; `participant.trainer_norm` when
    ///   ‖update‖ > C × batch (plus float32 rounding).
    public mutating func check(
        update: [Float], batchSize: Int, records: Int, samplingRate: Double, clippingBound: Double
    ) throws {
        guard batchSize >= 0, batchSize <= records else {
            throw ParticipantError(
                code: "participant.trainer_batch_size",
                message:
                    "the trainer reported a batch of \(batchSize) records from \(records); a Poisson sample "
                    + "lies in 0…\(records). Nothing was sent"
            )
        }
        let expected = Double(records) * samplingRate
        let roundTail = Self.upperTailBound(observed: Double(batchSize), mean: expected)
        let totalTail = Self.upperTailBound(observed: Double(reportedTotal + batchSize), mean: expectedTotal + expected)
        guard roundTail >= Self.falseAlarmBound, totalTail >= Self.falseAlarmBound else {
            throw ParticipantError(
                code: "participant.trainer_batch_size",
                message:
                    "the trainer's batch sizes are implausible for Poisson sampling at q = \(samplingRate): "
                    + "\(batchSize) this round "
                    + "(expected \(Self.rounded(expected))), \(reportedTotal + batchSize) over \(rounds + 1) rounds "
                    + "(expected \(Self.rounded(expectedTotal + expected))); a trainer sampling above q spends "
                    + "more privacy than "
                    + "the ledger charges. Fix its sampling (docs/PRIVACY.md, \"What an external trainer must "
                    + "guarantee\"). Nothing was sent"
            )
        }
        var squared = 0.0
        for value in update { squared += Double(value) * Double(value) }
        let norm = squared.squareRoot()
        // The sum of b vectors each ≤ C is ≤ b·C; float32 storage adds at most ½ ulp per coordinate.
        let allowed = clippingBound * Double(batchSize) * (1 + 1e-6) + 0x1p-24 * norm
        guard norm <= allowed else {
            throw ParticipantError(
                code: "participant.trainer_norm",
                message:
                    "the trainer's update has L2 norm \(Self.rounded(norm)), more than C × batch = "
                    + "\(clippingBound) × \(batchSize); "
                    + "it does not clip each record to C. Nothing was sent")
        }
        expectedTotal += expected
        reportedTotal += batchSize
        rounds += 1
    }

    /// The Chernoff bound on P(X ≥ observed) for X a sum of independent Bernoulli variables with
    /// mean `mean`: exp(−μ·h(x/μ − 1)), h(u) = (1 + u)·ln(1 + u) − u, for x > μ (1 otherwise).
    /// Valid for every n and q (Mitzenmacher & Upfal 2005, Thm. 4.4).
    static func upperTailBound(observed x: Double, mean mu: Double) -> Double {
        guard x > mu else { return 1 }
        guard mu > 0 else { return 0 }
        let u = x / mu - 1
        return exp(-mu * ((1 + u) * log1p(u) - u))
    }

    static func rounded(_ value: Double) -> String {
        value.isFinite && abs(value) < 1e12 ? String((value * 1000).rounded() / 1000) : String(value)
    }
}
