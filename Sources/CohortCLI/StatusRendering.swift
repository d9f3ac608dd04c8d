import CohortAPITypes

/// Human text for API values; pure, so tests can check it without a coordinator.
enum StatusRendering {
    /// One progress line: round, phase, contributors/invited, ε spent / max, last outcome and
    /// test accuracy when known.
    static func progressLine(_ status: CoordinatorStatus) -> String {
        var parts: [String] = []
        if let round = status.currentRound {
            parts.append("round \(round.round) \(round.phase) " + counts(round, short: true))
        } else {
            parts.append(status.state.rawValue)
        }
        if status.roundsQueued > 0 { parts.append("\(status.roundsQueued) queued") }
        parts.append("ε \(format(status.budget.epsilonSpent)) / \(format(status.budget.epsilonMax))")
        if let last = status.lastRound { parts.append("last: " + summary(last)) }
        return parts.joined(separator: " · ")
    }

    /// Contributors and invited, or a note that the participant unit withholds them from this reader.
    static func counts(_ round: RoundProgress, short: Bool) -> String {
        guard let invited = round.invited, let contributed = round.contributed else {
            return "sample size withheld (participant unit)"
        }
        return short ? "\(contributed)/\(invited) contributed" : "\(contributed) of \(invited) invited contributed"
    }

    static func summary(_ last: RoundSummary) -> String {
        var text = "round \(last.round) \(last.outcome)"
        if let gate = last.gate { text += " (\(gate))" }
        if let accuracy = last.metrics?["accuracy"] { text += ", test accuracy \(format(accuracy))" }
        if last.outcome != "closed", let reason = last.reason { text += ": \(reason.prefix(120))" }
        return text
    }

    /// The status as a few lines.
    static func describe(_ status: CoordinatorStatus) -> String {
        var lines = ["state: \(status.state.rawValue)"]
        if let round = status.currentRound {
            lines.append("round \(round.round): \(round.phase), " + counts(round, short: false))
        }
        lines.append("rounds queued: \(status.roundsQueued)")
        if let last = status.lastRound { lines.append("last round: " + summary(last)) }
        lines.append(budgetLine(status.budget))
        let connected = status.participants.filter(\.connected).count
        let suspended = status.participants.filter(\.suspended).map(\.name)
        lines.append(
            "participants: \(connected) of \(status.participants.count) connected"
                + (suspended.isEmpty ? "" : "; suspended: \(suspended.joined(separator: ", "))"))
        lines.append(
            "model: \(status.modelVersion), latest approved round: \(status.latestApprovedRound.map(String.init) ?? "none")"
        )
        lines.append("policy sha256: \(status.policySHA256)")
        return lines.joined(separator: "\n")
    }

    static func budgetLine(_ budget: BudgetStatus) -> String {
        "budget: ε \(format(budget.epsilonSpent)) spent of \(format(budget.epsilonMax)) at δ = \(budget.delta) "
            + "(\(format(budget.epsilonRemaining)) left, \(budget.roundsCharged) rounds charged; next round would reach \(format(budget.projectedNextEpsilon)))"
    }

    static func participantLine(_ participant: ParticipantStatus) -> String {
        var text = "\(participant.name): " + (participant.connected ? "connected" : "not connected")
        if let records = participant.records { text += ", \(records) records" }
        if participant.suspended { text += ", SUSPENDED (\(participant.suspensionReason ?? "no reason"))" }
        if !participant.flaggedRounds.isEmpty {
            text += ", flagged in rounds \(participant.flaggedRounds.map(String.init).joined(separator: ", "))"
        }
        return text
    }

    static func format(_ value: Double) -> String {
        guard value.isFinite else { return value > 0 ? "∞" : "-∞" }
        let rounded = (value * 10_000).rounded() / 10_000
        return String(rounded)
    }
}
