import CohortLedger

/// What a gate decision may put in the auditor-readable ledger (docs/PRIVACY.md, "Every channel
/// that leaves a silo or the coordinator").
///
/// - Decisions derived from holdout evaluations (`evaluation`, and the risk score's R1 term, a
///   spread of per-participant holdout metrics) keep the decision and the policy's thresholds;
///   the exact metrics stay in the coordinator's evaluation store.
/// - Participant unit: the decisions made over the sampled participants' updates
///   (`update_checks`, `anomaly`, `risk`) name no participant and carry no norm, count or
///   statistic of the sample; the counts are recorded when the round ends.
public enum LedgerDisclosure {
    /// `outcome` with only the `inputs` named in `keeping` and `reason` in place of its reason.
    public static func withheld(_ outcome: GateOutcome, keeping: Set<String>, reason: String) -> GateOutcome {
        GateOutcome(
            gate: outcome.gate, passed: outcome.passed, reason: reason,
            inputs: outcome.inputs.filter { keeping.contains($0.key) })
    }

    /// The evaluation gate's inputs the ledger keeps: the thresholds, how many participants
    /// evaluated, and the promotion (with the decisions it combined and the model version).
    public static let evaluationInputs: Set<String> = [
        "thresholds", "participants_evaluated", "promoted", "anomaly_passed", "risk_passed", "model_version",
    ]

    /// The evaluation gate's ledger form: the decision, the thresholds, how many participants
    /// evaluated and the promotion; no metric.
    public static func evaluation(_ outcome: GateOutcome) -> GateOutcome {
        withheld(
            outcome, keeping: Self.evaluationInputs,
            reason: outcome.passed
                ? "the federated evaluation meets every threshold (exact metrics in the coordinator's evaluation store)"
                : "the federated evaluation is below the policy (exact metrics in the coordinator's evaluation store)")
    }

    /// The risk gate's ledger form. R1 (and so R) is a function of the holdout metrics and is
    /// withheld; the participant unit withholds R2, R3 and the counts as well (they describe the
    /// sample).
    public static func risk(_ outcome: GateOutcome, unit: PrivacyUnit) -> GateOutcome {
        var keeping: Set<String> = ["weights", "max", "metric"]
        if unit == .record { keeping.formUnion(["r2", "r3", "flagged_or_clipped", "contributors"]) }
        return withheld(
            outcome, keeping: keeping,
            reason: outcome.passed
                ? "the risk score is within governance.risk.max (R withheld: R1 is derived from holdout metrics)"
                : "the risk score exceeds governance.risk.max (R withheld: R1 is derived from holdout metrics)"
        )
    }

    /// The anomaly screen's ledger form in the participant unit: the decision and the policy's
    /// thresholds; no name, norm, z-score, cosine or count.
    public static func anomalyWithoutSample(_ outcome: GateOutcome) -> GateOutcome {
        withheld(
            outcome, keeping: ["norm_z_threshold", "mad_floor", "min_cosine", "direction_margin"],
            reason: outcome.passed
                ? "no update flagged (participant unit: names, norms and counts withheld)"
                : "an update was flagged (participant unit: names, norms and counts withheld)")
    }

    /// The per-update checks' ledger form in the participant unit: the decision and the refusal
    /// codes seen; no name and no count.
    public static func updateChecksWithoutSample(_ outcome: GateOutcome) -> GateOutcome {
        var result = withheld(
            outcome, keeping: [],
            reason: outcome.passed
                ? "every update passed its checks (participant unit: names and counts withheld)"
                : "an update was refused (participant unit: names and counts withheld)")
        if let codes = outcome.inputs["refusal_counts"]?.objectValue {
            result.inputs["refusal_codes"] = .array(codes.keys.sorted().map { .string($0) })
        }
        return result
    }
}
