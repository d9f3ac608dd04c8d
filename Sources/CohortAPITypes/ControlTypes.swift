import CohortErrors

/// What operators and auditors see and send through the control API. Plain `Codable` values;
/// the HTTP layer encodes them with snake_case keys.

/// Whether the coordinator is running rounds.
public enum RunState: String, Sendable, Codable, Equatable {
    /// No round running and none queued.
    case idle
    /// A round is running or queued rounds will start.
    case running
    /// An operator paused: the round in progress finishes, no new round starts until resumed.
    case paused
}

/// The round in progress.
public struct RoundProgress: Sendable, Codable, Equatable {
    public var round: Int
    /// `RoundStateMachine.State` of the round (`collecting`, `charged`, …).
    public var phase: String
    /// Participants invited (the round's sample) and updates received so far. Nil when withheld:
    /// under the participant unit an auditor does not see them, because the sample's size tells a
    /// reader the round's realised sampling rate, which the ε does not pay for (docs/PRIVACY.md).
    public var invited: Int?
    public var contributed: Int?
    /// Milliseconds since the Unix epoch when the round opened.
    public var openedAtMillis: Int64

    public init(round: Int, phase: String, invited: Int?, contributed: Int?, openedAtMillis: Int64) {
        self.round = round
        self.phase = phase
        self.invited = invited
        self.contributed = contributed
        self.openedAtMillis = openedAtMillis
    }
}

/// How the last finished round ended.
public struct RoundSummary: Sendable, Codable, Equatable {
    public var round: Int
    /// `closed`, `refused` or `aborted`.
    public var outcome: String
    /// The gate that refused the round (refused only).
    public var gate: String?
    public var reason: String?
    /// ε this round added and the cumulative ε afterwards (closed rounds).
    public var roundEpsilon: Double?
    public var cumulativeEpsilon: Double?
    /// Whether the released model was promoted to approved (closed rounds).
    public var promoted: Bool?
    /// Aggregate federated-evaluation metrics of the released model (closed rounds).
    public var metrics: [String: Double]?

    public init(
        round: Int, outcome: String, gate: String? = nil, reason: String? = nil, roundEpsilon: Double? = nil,
        cumulativeEpsilon: Double? = nil, promoted: Bool? = nil, metrics: [String: Double]? = nil
    ) {
        self.round = round
        self.outcome = outcome
        self.gate = gate
        self.reason = reason
        self.roundEpsilon = roundEpsilon
        self.cumulativeEpsilon = cumulativeEpsilon
        self.promoted = promoted
        self.metrics = metrics
    }
}

/// The privacy budget as the ledger records it.
public struct BudgetStatus: Sendable, Codable, Equatable {
    /// Cumulative ε at `delta` of every charge (recomputed from the ledger).
    public var epsilonSpent: Double
    /// The cap in force.
    public var epsilonMax: Double
    /// `max(0, epsilonMax − epsilonSpent)`.
    public var epsilonRemaining: Double
    public var delta: Double
    public var roundsCharged: Int
    /// The cumulative ε one more round under the current policy would reach.
    public var projectedNextEpsilon: Double

    public init(
        epsilonSpent: Double, epsilonMax: Double, delta: Double, roundsCharged: Int, projectedNextEpsilon: Double
    ) {
        self.epsilonSpent = epsilonSpent
        self.epsilonMax = epsilonMax
        self.epsilonRemaining = max(0, epsilonMax - epsilonSpent)
        self.delta = delta
        self.roundsCharged = roundsCharged
        self.projectedNextEpsilon = projectedNextEpsilon
    }
}

/// One participant named in the policy.
public struct ParticipantStatus: Sendable, Codable, Equatable {
    public var name: String
    /// Connected and attested now.
    public var connected: Bool
    public var suspended: Bool
    /// Why and by whom it was suspended.
    public var suspensionReason: String?
    /// Records the participant attested (while connected).
    public var records: Int?
    /// Rounds in which the anomaly gate flagged its update.
    public var flaggedRounds: [Int]
    /// Whether the policy in force names it; false for a connected peer that a policy adoption
    /// removed (its session is being closed).
    public var inPolicy: Bool

    public init(
        name: String, connected: Bool, suspended: Bool, suspensionReason: String?, records: Int?, flaggedRounds: [Int],
        inPolicy: Bool = true
    ) {
        self.inPolicy = inPolicy
        self.name = name
        self.connected = connected
        self.suspended = suspended
        self.suspensionReason = suspensionReason
        self.records = records
        self.flaggedRounds = flaggedRounds
    }
}

/// Everything `GET /v1/status` returns.
public struct CoordinatorStatus: Sendable, Codable, Equatable {
    public var state: RunState
    public var currentRound: RoundProgress?
    /// Rounds requested and not yet started.
    public var roundsQueued: Int
    public var lastRound: RoundSummary?
    public var participants: [ParticipantStatus]
    public var budget: BudgetStatus
    /// SHA-256 of the policy in force.
    public var policySHA256: String
    /// The policy's model version label.
    public var modelVersion: String
    /// The latest round whose model passed the promotion gates, if any.
    public var latestApprovedRound: Int?

    public init(
        state: RunState, currentRound: RoundProgress?, roundsQueued: Int, lastRound: RoundSummary?,
        participants: [ParticipantStatus],
        budget: BudgetStatus, policySHA256: String, modelVersion: String, latestApprovedRound: Int?
    ) {
        self.state = state
        self.currentRound = currentRound
        self.roundsQueued = roundsQueued
        self.lastRound = lastRound
        self.participants = participants
        self.budget = budget
        self.policySHA256 = policySHA256
        self.modelVersion = modelVersion
        self.latestApprovedRound = latestApprovedRound
    }
}

/// The result of adopting a policy.
public struct PolicyAdoption: Sendable, Codable, Equatable {
    public var policySHA256: String
    public var oldEpsilonMax: Double
    public var newEpsilonMax: Double
    /// Field paths that changed, e.g. `privacy.epsilon_max`.
    public var changedFields: [String]
    /// Sequence number of the `policy.adopted` ledger entry.
    public var ledgerSeq: Int

    public init(
        policySHA256: String, oldEpsilonMax: Double, newEpsilonMax: Double, changedFields: [String], ledgerSeq: Int
    ) {
        self.policySHA256 = policySHA256
        self.oldEpsilonMax = oldEpsilonMax
        self.newEpsilonMax = newEpsilonMax
        self.changedFields = changedFields
        self.ledgerSeq = ledgerSeq
    }
}

/// A refused or failed control action, with a stable code and what kind of refusal it is (the
/// operator API maps the kind to an HTTP status; the coordinator knows nothing of HTTP).
public struct ControlError: CohortError, Codable, Equatable {
    /// Stable code, e.g. `control.forbidden`, `control.unknown_participant`, `policy.epsilon_below_spent`.
    public var code: String
    public var message: String
    /// Invalid input, a role not allowed, an unknown name, a conflict with the state, or a failure.
    public var category: CohortErrorCategory

    public init(code: String, message: String, category: CohortErrorCategory) {
        self.code = code
        self.message = message
        self.category = category
    }

    public var errorCode: String { code }
    public var errorMessage: String { message }

    public var description: String { "\(message) [\(code)]" }
}

/// An alert the coordinator raises on a gate failure or an anomaly; the alert hook (a command
/// or a webhook the coordinator host configured) receives it as JSON. Carries names and figures, never updates or keys.
public struct GovernanceAlert: Sendable, Codable, Equatable {
    /// `gate_failed` or `anomaly`.
    public var kind: String
    public var round: Int
    public var gate: String
    public var reason: String
    /// Participants concerned (flagged ones for an anomaly).
    public var participants: [String]
    /// Milliseconds since the Unix epoch.
    public var timeMillis: Int64
    /// The consortium name from the policy.
    public var consortium: String

    public init(
        kind: String, round: Int, gate: String, reason: String, participants: [String], timeMillis: Int64,
        consortium: String
    ) {
        self.kind = kind
        self.round = round
        self.gate = gate
        self.reason = reason
        self.participants = participants
        self.timeMillis = timeMillis
        self.consortium = consortium
    }
}
