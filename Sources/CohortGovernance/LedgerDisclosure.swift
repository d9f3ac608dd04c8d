import CohortLedger

/// What a gate decision may put in the auditor-readable ledger (docs/PRIVACY.md, "Every channel
/// that leaves a silo or the coordinator").
///
/// - Decisions derived from holdout evaluations (`evaluation`, and the risk score's R1 term, a
///   spread of per-participant holdout metrics) keep the decision and the policy's thresholds;
///   the exact metrics stay in the coordinator's evaluation store.
/// - Decisions derived from silo records (`data_quality`: rows, label counts, missing rates;
///   `anomaly`: norms, z-scores, cosines; `risk`: its terms) keep the decision, the public rule
///   each shortfall or flag broke and the policy's thresholds; the exact inputs go to the
///   coordinator's gate-input store, to which the entry commits (`inputs_sha256`).
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

    /// The risk gate's ledger form: the decision, the weights, the cap and the metric. R1 is a
    /// function of holdout metrics, R2 of the silos' label counts and R3 of their update norms,
    /// so R and its terms are withheld in both units; the record unit keeps the contributor count
    /// (its contributors are named in `round.charged`).
    public static func risk(_ outcome: GateOutcome, unit: PrivacyUnit) -> GateOutcome {
        var keeping: Set<String> = ["weights", "max", "metric"]
        if unit == .record { keeping.insert("contributors") }
        return withheld(
            outcome, keeping: keeping,
            reason: outcome.passed
                ? "the risk score is within governance.risk.max (R and its terms withheld: derived from records)"
                : "the risk score exceeds governance.risk.max (R and its terms withheld: derived from records)"
        )
    }

    /// The data-quality gate's ledger form: the decision, the thresholds, the schema digest, who
    /// is eligible, and per participant whether it attested, passed and is eligible, whether its
    /// schema matches and which rules (`min_rows`, `max_missing_rate`, `max_column_missing_rate`,
    /// `min_per_class`, `require_schema_match`) it falls short of; no row count, label count or
    /// missing rate.
    public static func dataQuality(_ outcome: GateOutcome) -> GateOutcome {
        var participants: [String: JSONValue] = [:]
        var shortfalls: [String] = []
        var unattested: [String] = []
        for (name, value) in outcome.inputs["participants"]?.objectValue ?? [:] {
            let exact = value.objectValue ?? [:]
            participants[name] = .object(
                exact.filter { ["attested", "passed", "eligible", "schema_match", "failed_rules"].contains($0.key) })
            if exact["attested"] == .bool(false) {
                unattested.append(name)
            } else if exact["passed"] == .bool(false) {
                let rules = (exact["failed_rules"]?.arrayValue ?? []).compactMap(\.stringValue)
                shortfalls.append("\(name) (\(rules.joined(separator: ", ")))")
            }
        }
        var result = withheld(
            outcome, keeping: ["eligible", "thresholds", "schema_digest"],
            reason: shortfalls.isEmpty
                ? "every attesting participant meets the data-quality thresholds (exact figures in the gate-input store)"
                : "data quality below the policy for \(shortfalls.sorted().joined(separator: ", ")) "
                    + "(exact figures in the gate-input store)")
        if !unattested.isEmpty {
            result.reason += "; no attestation (ineligible): \(unattested.sorted().joined(separator: ", "))"
        }
        result.inputs["participants"] = .object(participants)
        return result
    }

    /// The anomaly screen's ledger form in the record unit: the decision, the thresholds, which
    /// participant was flagged by which test (`norm`, `direction`), whether each test ran and how
    /// many updates it screened; no norm, median, MAD, scale, z-score or cosine (with the median
    /// and scale, each z-score gives a silo's update norm).
    public static func anomaly(_ outcome: GateOutcome) -> GateOutcome {
        let flags = outcome.inputs["flags"]?.objectValue ?? [:]
        let named = flags.keys.sorted().map { name in
            "\(name) (\((flags[name]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")))"
        }
        return withheld(
            outcome,
            keeping: [
                "flags", "norm_test_applied", "direction_tested", "observations", "norm_z_threshold", "mad_floor",
                "min_cosine", "direction_margin",
            ],
            reason: named.isEmpty
                ? "no update flagged (exact norms and cosines in the gate-input store)"
                : "flagged \(named.joined(separator: ", ")) (exact norms and cosines in the gate-input store)")
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
