import CohortLedger
import CohortModel
import CohortPolicy

/// Post-aggregate: the risk score R = α·R1 + β·R2 + γ·R3 that gates promotion of a released model.
///
/// - R1 (model bias): max − min over participants of the chosen evaluation metric (0 with fewer
///   than 2 participants reporting it).
/// - R2 (data bias): the rows-weighted mean, over attested participants, of the Jensen–Shannon
///   divergence (base 2) between the participant's label distribution and the pooled one.
/// - R3 (robustness): flagged-or-clipped updates / contributors (0 with no contributors).
///
/// The weights are used as given, not normalised; the policy loader requires α + β + γ > 0.
public enum RiskScore {
    /// The score and its terms.
    public struct Result: Sendable, Equatable {
        /// Passed iff R ≤ `governance.risk.max`.
        public var outcome: GateOutcome
        /// Model-bias term.
        public var r1: Double
        /// Data-bias term.
        public var r2: Double
        /// Robustness term.
        public var r3: Double
        /// α·R1 + β·R2 + γ·R3.
        public var r: Double
    }

    /// The evaluation-summary key of a risk metric (`accuracy`, …, `roc_auc`).
    public static func metricKey(_ metric: Policy.Governance.RiskMetric) -> String { metric.rawValue }

    /// R1: max − min of `metric` over the participants that report it; 0 with fewer than two.
    public static func modelBias(participantMetrics: [String: [String: Double]], metric: String) -> Double {
        let values = participantMetrics.values.compactMap { $0[metric] }.filter(\.isFinite)
        guard values.count >= 2, let high = values.max(), let low = values.min() else { return 0 }
        return high - low
    }

    /// R2: Σᵢ nᵢ·JSD(pᵢ, P) / Σᵢ nᵢ, where nᵢ = positive + negative, pᵢ = (positiveᵢ, negativeᵢ)/nᵢ and
    /// P is the pooled distribution of all participants; participants with no records carry no
    /// weight; 0 when nobody has records.
    public static func dataBias(labelCounts: [String: LabelCounts]) -> Double {
        // Attested counts are a peer's numbers: all arithmetic on them is in Double (exact up to
        // 2^53, never trapping), so even counts the attestation bounds would refuse cannot overflow.
        let counts = labelCounts.values
            .filter { $0.positive >= 0 && $0.negative >= 0 && (Double($0.positive) + Double($0.negative)) > 0 }
            .map { (positive: Double($0.positive), negative: Double($0.negative)) }
        let total = counts.reduce(0.0) { $0 + $1.positive + $1.negative }
        guard total > 0, total.isFinite else { return 0 }
        let pooledPositive = counts.reduce(0.0) { $0 + $1.positive }
        let pooledNegative = counts.reduce(0.0) { $0 + $1.negative }
        let pooled = [pooledPositive / total, pooledNegative / total]
        var weighted = 0.0
        for count in counts {
            let rows = count.positive + count.negative
            let distribution = [count.positive / rows, count.negative / rows]
            weighted += rows * RobustStatistics.jensenShannonDivergence(distribution, pooled)
        }
        return weighted / total
    }

    /// R3: flaggedOrClipped / contributors, 0 when there are no contributors.
    public static func robustness(flaggedOrClipped: Int, contributors: Int) -> Double {
        contributors > 0 ? Double(flaggedOrClipped) / Double(contributors) : 0
    }

    /// Scores a released round.
    ///
    /// - Parameters:
    ///   - participantMetrics: each participant's evaluation metrics (evaluation-summary keys).
    ///   - labelCounts: each participant's attested label counts.
    ///   - flaggedOrClipped: contributors whose update was flagged by the anomaly screen or clipped
    ///     (at most `contributors`; `AnomalyScreen.Result.flaggedOrClipped`).
    ///   - contributors: updates that entered the aggregate.
    ///   - policy: `governance.risk`.
    public static func evaluate(
        participantMetrics: [String: [String: Double]],
        labelCounts: [String: LabelCounts],
        flaggedOrClipped: Int,
        contributors: Int,
        policy: Policy.Governance.Risk
    ) -> Result {
        let metric = metricKey(policy.metric)
        let r1 = modelBias(participantMetrics: participantMetrics, metric: metric)
        let r2 = dataBias(labelCounts: labelCounts)
        let r3 = robustness(flaggedOrClipped: flaggedOrClipped, contributors: contributors)
        let r = policy.modelBiasWeight * r1 + policy.dataBiasWeight * r2 + policy.robustnessWeight * r3
        let passed = r <= policy.max
        let terms =
            "R1 (\(metric) spread) \(GateJSON.text(r1)), R2 (label JSD) \(GateJSON.text(r2)), "
            + "R3 (flagged or clipped) \(flaggedOrClipped)/\(contributors)"
        let reason =
            passed
            ? "risk R = \(GateJSON.text(r)) ≤ max \(policy.max): \(terms)"
            : "risk R = \(GateJSON.text(r)) exceeds governance.risk.max \(policy.max): \(terms)"
        let inputs: [String: JSONValue] = [
            "r1": GateJSON.number(r1),
            "r2": GateJSON.number(r2),
            "r3": GateJSON.number(r3),
            "r": GateJSON.number(r),
            "weights": [
                "model_bias": GateJSON.number(policy.modelBiasWeight),
                "data_bias": GateJSON.number(policy.dataBiasWeight),
                "robustness": GateJSON.number(policy.robustnessWeight),
            ],
            "max": GateJSON.number(policy.max),
            "metric": .string(metric),
            "flagged_or_clipped": .integer(flaggedOrClipped),
            "contributors": .integer(contributors),
        ]
        return Result(
            outcome: GateOutcome(gate: .risk, passed: passed, reason: reason, inputs: inputs),
            r1: r1, r2: r2, r3: r3, r: r
        )
    }
}
