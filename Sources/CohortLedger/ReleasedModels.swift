/// Which rounds released a model and which of those the evaluation gate approved, as a ledger says.
public enum ReleasedModels {
    /// Each released round's checkpoint SHA-256 (`round.closed`), and the approved rounds: an
    /// `evaluation` gate decision that passed with `promoted: true`, effective when that round's
    /// model is released — the verifier's rule (`LedgerState.latestApprovedRound`).
    public static func scan(_ entries: [LedgerEntry]) -> (released: [Int: String], approved: Set<Int>) {
        var released: [Int: String] = [:]
        var promoted: Set<Int> = []
        var approved: Set<Int> = []
        for entry in entries {
            switch try? entry.record() {
            case .roundClosed(let closed)?:
                released[closed.round] = closed.modelSHA256
                if promoted.contains(closed.round) { approved.insert(closed.round) }
            case .gateDecision(let decision)?:
                if decision.gate == "evaluation" && decision.passed && decision.inputs["promoted"] == .bool(true) {
                    promoted.insert(decision.round)
                }
            default:
                break
            }
        }
        return (released, approved)
    }
}
