import CohortLedger

/// Per update: the round's record of which participants' updates were accepted and which were
/// refused, with the wire error code (`update.bad_signature`, `update.non_finite`, …).
public struct UpdateChecksRecord: Sendable, Equatable {
    /// A participant's status in the round.
    public enum Status: Sendable, Equatable {
        /// An update was accepted into the aggregate.
        case accepted
        /// Every update it sent was refused; the last refusal's wire error code.
        case refused(code: String)
    }

    /// Status by participant. An accepted update stays accepted when a later one is refused
    /// (e.g. `update.duplicate`); the refusal is still counted.
    public private(set) var statuses: [String: Status] = [:]
    /// Refusals by wire error code, every refusal counted.
    public private(set) var refusalCounts: [String: Int] = [:]

    /// An empty record.
    public init() {}

    /// Records that `participant`'s update passed every check and entered the aggregate.
    public mutating func accept(_ participant: String) {
        statuses[participant] = .accepted
    }

    /// Records that an update from `participant` was refused with the wire error `code`.
    public mutating func refuse(_ participant: String, code: String) {
        refusalCounts[code, default: 0] += 1
        if statuses[participant] != .accepted {
            statuses[participant] = .refused(code: code)
        }
    }

    /// The number of refusals recorded.
    public var refusals: Int { refusalCounts.values.reduce(0, +) }

    /// Passed iff nothing was refused; inputs map participant → `accepted` or the error code.
    public var outcome: GateOutcome {
        let accepted = statuses.values.filter { $0 == .accepted }.count
        var byParticipant: [String: JSONValue] = [:]
        for (name, status) in statuses {
            switch status {
            case .accepted: byParticipant[name] = "accepted"
            case .refused(let code): byParticipant[name] = .string(code)
            }
        }
        let passed = refusals == 0
        var reason = "\(accepted) update(s) accepted, \(refusals) refused"
        if !passed {
            let codes = refusalCounts.keys.sorted().map { "\($0): \(refusalCounts[$0]!)" }.joined(separator: ", ")
            reason += " (\(codes))"
        }
        return GateOutcome(
            gate: .updateChecks, passed: passed, reason: reason,
            inputs: [
                "participants": .object(byParticipant),
                "accepted": .integer(accepted),
                "refused": .integer(refusals),
                "refusal_counts": .object(refusalCounts.mapValues { .integer($0) }),
            ]
        )
    }
}
