import CohortLedger

/// Pre-round: the round may run only if the cumulative ε it would reach stays within the cap.
public enum BudgetGate {
    /// Passes iff `projectedEpsilon ≤ epsilonMax`.
    ///
    /// - Parameters:
    ///   - projectedEpsilon: the cumulative ε (at `delta`) after this round's charge.
    ///   - spentEpsilon: the cumulative ε charged so far.
    ///   - epsilonMax: the policy's cap, `privacy.epsilon_max`.
    ///   - delta: the δ at which ε is reported.
    public static func evaluate(
        projectedEpsilon: Double, spentEpsilon: Double, epsilonMax: Double, delta: Double
    ) -> GateOutcome {
        let passed = projectedEpsilon <= epsilonMax
        let reason =
            passed
            ? "projected ε \(projectedEpsilon) (spent \(spentEpsilon)) is within epsilon_max \(epsilonMax) at δ = \(delta)"
            : "projected ε \(projectedEpsilon) (spent \(spentEpsilon)) would exceed epsilon_max \(epsilonMax) at δ = \(delta)"
        return GateOutcome(
            gate: .budget, passed: passed, reason: reason,
            inputs: [
                "projected_epsilon": GateJSON.number(projectedEpsilon),
                "spent_epsilon": GateJSON.number(spentEpsilon),
                "epsilon_max": GateJSON.number(epsilonMax),
                "delta": GateJSON.number(delta),
            ]
        )
    }
}

/// Pre-round: enough eligible participants for a round.
public enum QuorumGate {
    /// Passes iff at least `minimum` participants are eligible.
    ///
    /// - Parameters:
    ///   - eligible: names of the participants eligible for the round (connected, not suspended,
    ///     with acceptable data).
    ///   - minimum: the quorum, `rounds.min_participants`.
    public static func evaluate(eligible: [String], minimum: Int) -> GateOutcome {
        let count = Set(eligible).count
        let passed = count >= minimum
        let reason =
            passed
            ? "\(count) eligible participants meet the quorum of \(minimum)"
            : "only \(count) eligible participants; the quorum (rounds.min_participants) is \(minimum)"
        return GateOutcome(
            gate: .quorum, passed: passed, reason: reason,
            inputs: [
                "eligible": GateJSON.names(Set(eligible)), "eligible_count": .integer(count),
                "minimum": .integer(minimum),
            ]
        )
    }
}

/// Pre-round: rounds run only for an approved model version.
public enum ModelVersionGate {
    /// Passes iff `version` is in `approved`.
    ///
    /// - Parameters:
    ///   - version: `model.version`.
    ///   - approved: `governance.approved_model_versions`.
    public static func evaluate(version: String, approved: [String]) -> GateOutcome {
        let passed = approved.contains(version)
        let list = approved.map { "`\($0)`" }.joined(separator: ", ")
        let reason =
            passed
            ? "model version `\(version)` is approved"
            : "model version `\(version)` is not in governance.approved_model_versions [\(list)]"
        return GateOutcome(
            gate: .modelVersion, passed: passed, reason: reason,
            inputs: ["version": .string(version), "approved": .array(approved.map { .string($0) })]
        )
    }
}

/// Pre-round: suspended participants take no part. The gate never fails; it records who was excluded.
public enum SuspensionGate {
    /// The gate's outcome and the participants that remain.
    public struct Result: Sendable, Equatable {
        /// Always passed; `inputs.excluded` names the suspended participants that were connected.
        public var outcome: GateOutcome
        /// `connected` without the suspended, in the order given.
        public var remaining: [String]
        /// The connected participants that were excluded, sorted.
        public var excluded: [String]
    }

    /// Removes the suspended participants from `connected`.
    ///
    /// - Parameters:
    ///   - connected: participants connected for the round.
    ///   - suspended: participants currently suspended (by an operator or the anomaly screen).
    public static func evaluate(connected: [String], suspended: Set<String>) -> Result {
        let remaining = connected.filter { !suspended.contains($0) }
        let excluded = Set(connected.filter { suspended.contains($0) }).sorted()
        let reason =
            excluded.isEmpty
            ? "no connected participant is suspended"
            : "excluded \(excluded.count) suspended participant(s): \(excluded.joined(separator: ", "))"
        let outcome = GateOutcome(
            gate: .suspension, passed: true, reason: reason,
            inputs: [
                "excluded": .array(excluded.map { .string($0) }),
                "connected_count": .integer(connected.count),
                "remaining_count": .integer(remaining.count),
            ]
        )
        return Result(outcome: outcome, remaining: remaining, excluded: excluded)
    }
}
