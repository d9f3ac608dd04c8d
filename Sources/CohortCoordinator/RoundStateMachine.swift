/// The life of one training round, as a pure state machine the coordinator drives:
/// `idle → open → collecting → charged → aggregated → released → closed`, or `refused` (before
/// open) or `aborted` (any later state before closed).
///
/// The machine enforces the write-ahead rule: nothing can be aggregated or released before the
/// round is charged, and a round that received updates can end only charged (closed or aborted
/// with the charge kept).
public struct RoundStateMachine: Sendable, Equatable {
    /// Where a round is.
    public enum State: String, Sendable, Equatable, CaseIterable {
        case idle, open, collecting, charged, aggregated, released, closed, refused, aborted
    }

    /// What happens to a round.
    public enum Event: Sendable, Equatable {
        /// Pre-round gates passed.
        case gatesPassed
        /// A pre-round gate failed.
        case gateFailed(gate: String, reason: String)
        /// Invitations were sent; updates may now arrive.
        case invitationsSent
        /// An update passed the per-update checks and was added to the running sum.
        case updateAccepted(participant: String)
        /// The deadline passed or every invited participant answered. `sampleIsSecret` (the
        /// participant unit) releases whatever came back, even nothing: the outcome must not
        /// depend on how many were sampled, or a ledger reader learns the secret sample's size.
        case collectionEnded(contributors: Int, minimum: Int, sampleIsSecret: Bool = false)
        /// The charge entry is durable in the ledger.
        case chargeDurable
        /// The noised aggregate exists.
        case aggregated
        /// Post-aggregate gates passed and the new model was released.
        case released
        /// The round's closing entry is durable.
        case closeDurable
        /// Something ended the round early (operator abort, storage failure, shutdown).
        case abort(reason: String)
    }

    /// What the coordinator must do next.
    public enum Action: Sendable, Equatable {
        case sendInvitations
        case refuse(gate: String, reason: String)
        case writeCharge
        case computeNoisedAggregate
        case runPostAggregateChecksAndRelease
        case writeClose
        /// End the round. `charged`: the round's charge must be durable before the abort entry
        /// (write it first if it is not yet).
        case abort(reason: String, charged: Bool)
        case none

        /// Whether the action ends the round as aborted.
        public var isAbort: Bool {
            if case .abort = self { return true }
            return false
        }
    }

    /// A transition that is not allowed from the current state.
    public struct InvalidTransition: Error, Equatable, Sendable, CustomStringConvertible {
        public let state: State
        public let event: Event
        public var description: String { "round event \(event) is not allowed in state \(state.rawValue)" }
    }

    public private(set) var state: State = .idle
    /// Participants whose updates were accepted this round.
    public private(set) var contributors: [String] = []
    public private(set) var charged = false
    private var quorumShortfall: String?

    public init() {}

    /// Applies `event` and returns the action the coordinator must perform.
    public mutating func handle(_ event: Event) throws(InvalidTransition) -> Action {
        switch (state, event) {
        case (.idle, .gatesPassed):
            state = .open
            return .sendInvitations
        case (.idle, .gateFailed(let gate, let reason)):
            state = .refused
            return .refuse(gate: gate, reason: reason)
        case (.open, .invitationsSent):
            state = .collecting
            return .none
        case (.collecting, .updateAccepted(let participant)):
            contributors.append(participant)
            return .none
        case (.collecting, .collectionEnded(_, _, true)):
            // Charged and released whatever the count: amplification by subsampling holds only if
            // every sample, the empty one included, leads to the same kind of output. The latest
            // end of collection decides, as below: no earlier quorum shortfall survives it.
            quorumShortfall = nil
            return .writeCharge
        case (.collecting, .collectionEnded(let count, let minimum, false)):
            guard count > 0 else {
                state = .aborted
                return .abort(reason: "no participant contributed (at least \(minimum) required)", charged: false)
            }
            // Updates were received: the charge is written before any decision uses them,
            // the quorum decision included (write-ahead spend).
            quorumShortfall =
                count >= minimum ? nil : "only \(count) of the required \(minimum) participants contributed"
            return .writeCharge
        case (.collecting, .chargeDurable):
            state = .charged
            charged = true
            if let shortfall = quorumShortfall {
                state = .aborted
                return .abort(reason: shortfall, charged: true)
            }
            return .computeNoisedAggregate
        case (.charged, .aggregated):
            state = .aggregated
            return .runPostAggregateChecksAndRelease
        case (.aggregated, .released):
            state = .released
            return .writeClose
        case (.released, .closeDurable):
            state = .closed
            return .none
        case (.collecting, .abort(let reason)) where !contributors.isEmpty:
            // Updates arrived: the round stays charged even though it ends here. The coordinator
            // writes the charge (if not yet durable) before the abort entry.
            state = .aborted
            charged = true
            return .abort(reason: reason, charged: true)
        case (.open, .abort(let reason)), (.collecting, .abort(let reason)), (.charged, .abort(let reason)),
            (.aggregated, .abort(let reason)), (.released, .abort(let reason)):
            state = .aborted
            return .abort(reason: reason, charged: charged)
        default:
            throw InvalidTransition(state: state, event: event)
        }
    }
}
