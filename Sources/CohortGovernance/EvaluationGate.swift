import CohortLedger
import CohortPolicy

/// Post-aggregate: the federated evaluation of a released model must meet
/// `governance.evaluation` before the model version is promoted to approved.
public enum EvaluationGate {
    /// Judges one round's evaluation.
    ///
    /// Fails when no participant evaluated (whatever `min_participants` says) or fewer than
    /// `min_participants` did, when a required aggregate
    /// metric is missing, not finite or below its threshold, or when a participant's accuracy is
    /// below `per_participant_min_accuracy` (or missing while that is set).
    ///
    /// - Parameters:
    ///   - aggregate: the merged metrics (`accuracy`, `precision`, `recall`, `f1`, `roc_auc`, `count`, `loss`).
    ///   - byParticipant: each evaluating participant's metrics, same keys.
    ///   - policy: `governance.evaluation`.
    public static func evaluate(
        aggregate: [String: Double],
        byParticipant: [String: [String: Double]],
        policy: Policy.Governance.Evaluation
    ) -> GateOutcome {
        var failures: [String] = []
        if byParticipant.isEmpty {
            // Never approve what nobody measured (min_participants 0 included): an external model
            // is evaluated only by trainers with an evaluate hook (docs/TRAINER.md).
            failures.append(
                "no participant evaluated the model (a built-in model is evaluated by every participant; "
                    + "an external one only by trainers with an evaluate hook, docs/TRAINER.md), so nothing shows "
                    + "it meets the policy")
        } else if byParticipant.count < policy.minParticipants {
            failures.append(
                "\(byParticipant.count) participant(s) evaluated, min_participants is \(policy.minParticipants)")
        }
        var thresholds: [String: JSONValue] = ["min_participants": .integer(policy.minParticipants)]
        for (metric, minimum) in policy.aggregateThresholds {
            thresholds["min_\(metric)"] = GateJSON.number(minimum)
            guard let value = aggregate[metric] else {
                failures.append("\(metric) is missing, min_\(metric) is \(minimum)")
                continue
            }
            if !(value >= minimum) {
                failures.append("\(metric) \(GateJSON.text(value)) < min_\(metric) \(minimum)")
            }
        }
        var participantAccuracy: [String: JSONValue] = [:]
        if let minimum = policy.perParticipantMinAccuracy {
            thresholds["per_participant_min_accuracy"] = GateJSON.number(minimum)
            for name in byParticipant.keys.sorted() {
                let accuracy = byParticipant[name]?["accuracy"]
                participantAccuracy[name] = accuracy.map { GateJSON.number($0) } ?? .null
                guard let accuracy else {
                    failures.append("\(name) reported no accuracy, per_participant_min_accuracy is \(minimum)")
                    continue
                }
                if !(accuracy >= minimum) {
                    failures.append(
                        "\(name) accuracy \(GateJSON.text(accuracy)) < per_participant_min_accuracy \(minimum)")
                }
            }
        }
        let passed = failures.isEmpty
        let reason =
            passed
            ? "evaluation of \(byParticipant.count) participant(s) meets every threshold"
            : "evaluation below the policy: " + failures.joined(separator: "; ")
        var inputs: [String: JSONValue] = [
            "aggregate": GateJSON.metrics(aggregate),
            "participants_evaluated": .integer(byParticipant.count),
            "thresholds": .object(thresholds),
        ]
        if policy.perParticipantMinAccuracy != nil {
            inputs["participant_accuracy"] = .object(participantAccuracy)
        }
        return GateOutcome(gate: .evaluation, passed: passed, reason: reason, inputs: inputs)
    }
}
