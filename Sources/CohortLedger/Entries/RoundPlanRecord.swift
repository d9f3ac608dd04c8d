import CohortPrivacy

/// The frozen plan of one round: every parameter its charge depends on, recorded in
/// `round.opened` (`data.plan`) before anyone is invited, so the round's `round.charged` entry can
/// be checked against what was announced (docs/LEDGER.md §5, §6).
///
/// The coordinator builds one per round from the policy in force and the round's sampling:
///
///     let plan = RoundPlanRecord(
///         unit: .record, samplingRate: 0.2, noiseMultiplier: 2.41, clippingBound: 1, gridStep: γ,
///         sensitivity: Δ, dimension: d, records: N, chargeMethod: .current, delta: 1e-5)
///     let projected = try ledger.state.projectedCharge(plan: plan)   // the budget gate
///     RoundOpenedPayload(round: n, participantsSampled: …, participantsEligible: …, mechanism: …, plan: plan)
///     RoundChargedPayload(round: n, plan: plan, projected: projected, contributors: …, updateDigests: …)
///
/// The verifier requires the charge to carry exactly these values.
public struct RoundPlanRecord: Sendable, Equatable, Hashable {
    /// What one unit of privacy is (`record`: DP-FedSGD; `participant`: DP-FedAvg).
    public var unit: PrivacyUnit
    /// Poisson sampling rate q ∈ (0, 1] of the unit.
    public var samplingRate: Double
    /// Noise multiplier σ > 0: noise standard deviation divided by `sensitivity`.
    public var noiseMultiplier: Double
    /// L2 clipping bound C > 0, model units.
    public var clippingBound: Double
    /// Fixed-point grid step γ ≥ 0, model units.
    public var gridStep: Double
    /// The L2 sensitivity Δ the noise is scaled to, model units: at least C + γ√d, plus
    /// 2^-23·N·C in the record unit (docs/PRIVACY.md).
    public var sensitivity: Double
    /// Model dimension d ≥ 1.
    public var dimension: Int
    /// Record unit: the public training-row count N (the sum of the participants' attested
    /// records) used in the release divisor q·N and in the float32 term of the sensitivity.
    /// Participant unit: 0.
    public var records: Int
    /// How the round will be charged.
    public var chargeMethod: ChargeMethod
    /// δ at which ε is reported; must be the ledger's δ.
    public var delta: Double

    /// A plan record; the values are checked when the entry is written and verified, not here.
    public init(
        unit: PrivacyUnit, samplingRate: Double, noiseMultiplier: Double, clippingBound: Double, gridStep: Double,
        sensitivity: Double, dimension: Int, records: Int, chargeMethod: ChargeMethod = .current, delta: Double
    ) {
        self.unit = unit
        self.samplingRate = samplingRate
        self.noiseMultiplier = noiseMultiplier
        self.clippingBound = clippingBound
        self.gridStep = gridStep
        self.sensitivity = sensitivity
        self.dimension = dimension
        self.records = records
        self.chargeMethod = chargeMethod
        self.delta = delta
    }

    /// The mechanism the plan charges: Poisson sampling at q and noise multiplier σ.
    public func mechanism() throws(PrivacyError) -> SubsampledGaussian {
        try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
    }

    /// The explicit margin on Δ, relative to C, for the floating-point rounding outside the
    /// sampler that no other term covers (docs/PRIVACY.md, "Floating point outside the sampler").
    /// Every plan the coordinator writes carries it (it came with the frozen plan itself).
    public static let sensitivityMargin = 1e-6

    /// The smallest sensitivity the plan may state, exactly what the coordinator writes:
    /// C + γ√d, plus 2^-23·N·C for the float32 rounding of each participant's sum of clipped
    /// gradients in the record unit, plus the margin ``sensitivityMargin``·C.
    public var minimumSensitivity: Double {
        clippingBound + gridStep * Double(dimension).squareRoot()
            + (unit == .record ? 0x1p-23 * Double(records) * clippingBound : 0) + Self.sensitivityMargin * clippingBound
    }

    /// Decodes `data.plan` of a `round.opened` entry.
    init(data: JSONValue, kind: String) throws(LedgerError) {
        let f = try PayloadFields(kind: kind, data: data, prefix: "plan.")
        unit = try f.privacyUnit("unit")
        samplingRate = try f.samplingRate("sampling_rate")
        noiseMultiplier = try f.positiveDouble("noise_multiplier")
        clippingBound = try f.positiveDouble("clipping_bound")
        gridStep = try f.nonNegativeDouble("grid_step")
        sensitivity = try f.positiveDouble("sensitivity")
        dimension = try f.int("dimension", minimum: 1)
        records = try f.int("records")
        if unit == .participant && records != 0 { throw f.fail("records", "0 for the participant unit") }
        chargeMethod = try f.chargeMethod("charge_method")
        delta = try f.delta("delta")
    }

    /// The `data.plan` object.
    var json: JSONValue {
        [
            "unit": .string(unit.rawValue),
            "sampling_rate": .number(samplingRate),
            "noise_multiplier": .number(noiseMultiplier),
            "clipping_bound": .number(clippingBound),
            "grid_step": .number(gridStep),
            "sensitivity": .number(sensitivity),
            "dimension": .integer(dimension),
            "records": .integer(records),
            "charge_method": .string(chargeMethod.rawValue),
            "delta": .number(delta),
        ]
    }
}

/// The metrics `round.closed` and `evaluation.recorded` may carry, with their ranges: what the
/// coordinator's federated evaluation reports (docs/LEDGER.md §5).
public enum LedgerMetric {
    /// Ratios in [0, 1].
    public static let ratios: Set<String> = ["accuracy", "precision", "recall", "f1", "roc_auc"]
    /// The number of evaluated examples: an integer ≥ 0.
    public static let count = "count"
    /// The holdout log-loss (mean binary cross-entropy, natural log), in [0, ``maximumLoss``].
    /// Older ledgers and evaluation stores have none; they still verify.
    public static let loss = "loss"
    /// −ln(1e-15) ≈ 34.54: evaluation clamps each record's probability to [1e-15, 1 − 1e-15]
    /// (`MetricsAccumulator.maximumRecordLoss`), so no mean loss exceeds it.
    public static let maximumLoss = 34.538776394910684

    /// Checks every name and value of `metrics`, the object at `field` of a `kind` entry.
    static func validate(_ metrics: [String: Double], field: String, kind: String) throws(LedgerError) {
        for (name, value) in metrics {
            func fail(_ expectation: String) -> LedgerError {
                LedgerError(
                    code: .badEntry, message: "\(kind): data.\(field).\(name) must be \(expectation), got \(value)")
            }
            if ratios.contains(name) {
                guard value >= 0, value <= 1 else { throw fail("a number in [0, 1]") }
            } else if name == count {
                guard value >= 0, value <= 0x1p53, value.rounded(.towardZero) == value else {
                    throw fail("an integer ≥ 0")
                }
            } else if name == loss {
                // The slack covers float rounding of a mean of clamped values.
                guard value.isFinite, value >= 0, value <= maximumLoss * (1 + 1e-9) else {
                    throw fail("a number in [0, \(maximumLoss)] (the holdout log-loss, clamped at −ln 1e-15)")
                }
            } else {
                throw LedgerError(
                    code: .badEntry,
                    message: "\(kind): data.\(field).\(name) is not a known metric; allowed: "
                        + (ratios.sorted() + [count, loss]).joined(separator: ", ")
                )
            }
        }
    }
}
