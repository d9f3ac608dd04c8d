import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import Foundation

/// The operator and auditor actions. Authorisation lives here, in one place, so every way in
/// (HTTP API, tests, future transports) applies the same rules and logs refusals the same way.
extension Coordinator {
    /// What a control request wants to do.
    public enum ControlAction: String, Sendable, CaseIterable {
        case readStatus = "read status"
        case readBudget = "read the budget"
        case readParticipants = "list participants"
        case readLedger = "download the ledger"
        case readMetrics = "read metrics"
        case readModel = "download a released model"
        case startRounds = "start rounds"
        case pause = "pause rounds"
        case resume = "resume rounds"
        case abortRound = "abort the round"
        case suspendParticipant = "suspend a participant"
        case reinstateParticipant = "resume a participant"
        case adoptPolicy = "adopt a policy"

        /// Roles allowed to take the action: operators act, auditors read, participants only train.
        public var allowedRoles: Set<PeerRole> {
            switch self {
            case .readStatus, .readBudget, .readParticipants, .readLedger, .readMetrics: [.operator, .auditor]
            case .startRounds, .pause, .resume, .abortRound, .suspendParticipant, .reinstateParticipant, .adoptPolicy,
                .readModel:
                [.operator]
            }
        }
    }

    /// Refuses (and logs who and why) unless `principal` may take `action`.
    public func authorize(_ principal: ControlPrincipal, _ action: ControlAction) throws(ControlError) {
        guard action.allowedRoles.contains(principal.role) else {
            logger.warning(
                "control action refused",
                metadata: [
                    "cohort.principal": "\(principal)", "cohort.action": "\(action.rawValue)",
                    "cohort.reason": "role \(principal.role) may not \(action.rawValue)",
                ])
            let allowed = action.allowedRoles.map(\.rawValue).sorted().joined(separator: " or ")
            throw ControlError(
                code: "control.forbidden",
                message: "\(principal) may not \(action.rawValue): that needs a certificate with the role \(allowed)",
                category: .forbidden)
        }
        // The policy in force names who holds each role; without an `api` section it names no
        // one. This one rule holds for a policy adopted live and after a restart alike, so an
        // adoption that drops the section never opens the API to every certificate of the CA.
        let api = configuration.policy.policy.api
        let listed = principal.role == .operator ? api?.operators ?? [] : api?.auditors ?? []
        guard listed.contains(principal.name) else {
            let field = principal.role == .operator ? "api.operators" : "api.auditors"
            let why =
                api == nil
                ? "the policy in force has no `api` section, so it lists no one"
                : "\(principal.name) is not listed in \(field)"
            logger.warning(
                "control action refused",
                metadata: [
                    "cohort.principal": "\(principal)", "cohort.action": "\(action.rawValue)",
                    "cohort.reason": "\(why)",
                ])
            throw ControlError(
                code: "control.not_listed",
                message: api == nil
                    ? "\(principal) may not \(action.rawValue): the policy in force has no `api` section, so it lists no "
                        + "operators or auditors and no one may use the operator API (docs/POLICY.md)"
                    : "\(principal) may not \(action.rawValue): the policy's \(field) does not list \(principal.name)",
                category: .forbidden)
        }
    }

    /// Checks an operator's free-text reason before it reaches logs, the ledger or status: at most
    /// `PrintableText.maxReasonLength` characters, printable (no control, line-separator or format
    /// characters, which could forge or hide a log line). Refused, not trimmed, so nothing the
    /// operator wrote is silently lost.
    static func checkReason(_ reason: String) throws(ControlError) {
        if let found = PrintableText.firstForbidden(in: reason) {
            throw ControlError(
                code: "control.invalid_reason",
                message: "the reason contains the control or invisible character \(PrintableText.describe(found)); "
                    + "write it on one line with printable characters", category: .invalidInput)
        }
        guard reason.count <= PrintableText.maxReasonLength else {
            throw ControlError(
                code: "control.invalid_reason",
                message:
                    "the reason is \(reason.count) characters long; at most \(PrintableText.maxReasonLength) are allowed",
                category: .invalidInput)
        }
    }

    /// The policy in force: the one the ledger names (the start-up file, or one adopted since).
    public var policyInForce: Policy { configuration.policy.policy }

    /// The budget as the ledger records it, with the projection for one more round.
    public func budgetStatus() -> BudgetStatus {
        let privacy = configuration.policy.policy.privacy
        let state = ledger.state
        let projected =
            (try? SubsampledGaussian(samplingRate: privacy.samplingRate, noiseMultiplier: privacy.noiseMultiplier))
            .map { state.projectedCharge(mechanism: $0, delta: state.delta).cumulativeEpsilon } ?? .infinity
        return BudgetStatus(
            epsilonSpent: state.cumulativeEpsilon, epsilonMax: state.epsilonMax, delta: state.delta,
            roundsCharged: state.roundsCharged, projectedNextEpsilon: projected)
    }

    /// Every participant the policy names, with its connection and suspension state, then any
    /// connected peer the policy in force no longer names.
    public func participantStatuses() -> [ParticipantStatus] {
        configuration.policy.policy.participants.map { participant in
            ParticipantStatus(
                name: participant.name, connected: gateway.sessions[participant.name] != nil,
                suspended: suspended[participant.name] != nil,
                suspensionReason: suspended[participant.name],
                records: gateway.sessions[participant.name]?.attestation.rows,
                flaggedRounds: flaggedRounds[participant.name] ?? [])
        }
            + connectedNonMembers().map { name in
                ParticipantStatus(
                    name: name, connected: true, suspended: suspended[name] != nil, suspensionReason: suspended[name],
                    records: gateway.sessions[name]?.attestation.rows, flaggedRounds: flaggedRounds[name] ?? [],
                    inPolicy: false)
            }
    }

    /// The coordinator's state for status displays, as `reader` may see it (nil: the coordinator
    /// host itself). Under the participant unit an auditor gets no sample size (`invited`,
    /// `contributed`): the ledger withholds it too; operators see it, as they see the sample store.
    /// The last round's exact holdout metrics are un-protected data for operators only
    /// (docs/PRIVACY.md, trust model): any other reader gets the status without them.
    public func status(for reader: PeerRole? = nil) -> CoordinatorStatus {
        let runState: RunState =
            paused ? .paused : (round != nil || queuedRounds > 0 || runningQueue ? .running : .idle)
        let progress = round.map { active in
            Self.progress(
                round: active.number, phase: active.machine.state.rawValue, invited: active.invited.count,
                contributed: active.aggregator.count, openedAtMillis: active.openedAtMillis, unit: active.plan.unit,
                reader: reader)
        }
        var shownLastRound = lastRound
        if let reader, reader != .operator { shownLastRound?.metrics = nil }
        return CoordinatorStatus(
            state: runState, currentRound: progress, roundsQueued: queuedRounds, lastRound: shownLastRound,
            participants: participantStatuses(), budget: budgetStatus(), policySHA256: ledger.state.policySHA256,
            modelVersion: configuration.policy.policy.model.version, latestApprovedRound: latestApprovedRound)
    }

    /// A round's live progress as `reader` may see it: the sample's size is withheld from an
    /// auditor under the participant unit.
    static func progress(
        round: Int, phase: String, invited: Int, contributed: Int, openedAtMillis: Int64, unit: PrivacyUnit,
        reader: PeerRole?
    ) -> RoundProgress {
        let withheld = unit == .participant && reader == .auditor
        return RoundProgress(
            round: round, phase: phase, invited: withheld ? nil : invited, contributed: withheld ? nil : contributed,
            openedAtMillis: openedAtMillis)
    }

    /// Queues `count` more rounds; they start when no round is running and the coordinator is not paused.
    public func requestRounds(_ count: Int, by principal: ControlPrincipal) throws(ControlError) -> CoordinatorStatus {
        try authorize(principal, .startRounds)
        guard (1...10_000).contains(count) else {
            throw ControlError(
                code: "control.invalid_count", message: "rounds to start must be 1…10000, got \(count)",
                category: .invalidInput)
        }
        // queue.json refuses more at start-up; a queue that long is a mistake, not a plan.
        guard operatorQueuedRounds + count <= StateDirectory.QueueFile.maximumRounds else {
            throw ControlError(
                code: "control.queue_full",
                message: "\(operatorQueuedRounds) rounds are queued; \(count) more would pass the limit of "
                    + "\(StateDirectory.QueueFile.maximumRounds); abort the queue or wait for rounds to run",
                category: .conflict)
        }
        // Durable before it is acknowledged: the rounds survive a restart of the coordinator.
        do {
            try stateDirectory.writeOperatorQueue(
                .init(queuedRounds: operatorQueuedRounds + count, paused: paused, takenRound: operatorRoundInFlight))
        } catch {
            throw ControlError(
                code: "control.storage", message: "cannot record the queued rounds: \(error); none was queued",
                category: .internalFailure)
        }
        operatorQueuedRounds += count
        signalChange()
        logger.notice("rounds requested", metadata: ["cohort.principal": "\(principal)", "cohort.count": "\(count)"])
        return status()
    }

    /// Stops new rounds from starting; the round in progress finishes. The pause is recorded in
    /// `queue.json` and outlives a restart of the coordinator.
    public func pause(by principal: ControlPrincipal) throws(ControlError) -> CoordinatorStatus {
        try authorize(principal, .pause)
        // Durable before it is acknowledged: a restart of the coordinator stays paused.
        try recordPause(true)
        paused = true
        signalChange()
        logger.notice("paused", metadata: ["cohort.principal": "\(principal)"])
        return status()
    }

    /// Lets queued rounds start again.
    public func resume(by principal: ControlPrincipal) throws(ControlError) -> CoordinatorStatus {
        try authorize(principal, .resume)
        try recordPause(false)
        paused = false
        signalChange()
        logger.notice("resumed", metadata: ["cohort.principal": "\(principal)"])
        return status()
    }

    /// Writes the operator queue with the pause as requested; on failure nothing changes.
    private func recordPause(_ pause: Bool) throws(ControlError) {
        do {
            try stateDirectory.writeOperatorQueue(
                .init(queuedRounds: operatorQueuedRounds, paused: pause, takenRound: operatorRoundInFlight))
        } catch {
            throw ControlError(
                code: "control.storage",
                message: "cannot record the \(pause ? "pause" : "resume"): \(error); the coordinator is still "
                    + (pause ? "running" : "paused"),
                category: .internalFailure)
        }
    }

    /// Aborts the round in progress, whatever its step (it stays charged if updates arrived), and
    /// drops the queued rounds.
    public func abortRound(reason: String, by principal: ControlPrincipal) throws(ControlError) -> CoordinatorStatus {
        try authorize(principal, .abortRound)
        try Self.checkReason(reason)
        let dropped = queuedRounds
        guard round != nil || dropped > 0 else {
            throw ControlError(
                code: "control.no_round", message: "no round is running or queued; nothing to abort",
                category: .conflict)
        }
        if operatorQueuedRounds > 0 {
            do {
                try stateDirectory.writeOperatorQueue(
                    .init(queuedRounds: 0, paused: paused, takenRound: operatorRoundInFlight))
            } catch {
                throw ControlError(
                    code: "control.storage", message: "cannot record the dropped rounds: \(error); nothing was aborted",
                    category: .internalFailure)
            }
        }
        operatorQueuedRounds = 0
        localQueuedRounds = 0
        // The abort belongs to the round running now: its driver acts on it at its next step,
        // whether it is collecting, aggregating or evaluating, and it can never reach a later round.
        if let active = round {
            active.requestAbort(
                reason: reason.isEmpty
                    ? "aborted by operator \(principal.name)" : "aborted by operator \(principal.name): \(reason)")
        }
        signalChange()
        logger.notice(
            "abort requested", metadata: ["cohort.principal": "\(principal)", "cohort.dropped_rounds": "\(dropped)"])
        return status()
    }

    /// Excludes a participant from sampling until it is resumed.
    public func suspend(
        participant name: String, reason: String, by principal: ControlPrincipal
    ) throws(ControlError) -> ParticipantStatus {
        try authorize(principal, .suspendParticipant)
        try requireKnown(name)
        try Self.checkReason(reason)
        let why = "suspended by \(principal.name)" + (reason.isEmpty ? "" : ": \(reason)")
        try setSuspension(name, why)
        logger.notice(
            "participant suspended", metadata: ["cohort.principal": "\(principal)", "cohort.participant": "\(name)"])
        return participantStatuses().first { $0.name == name }!
    }

    /// Makes a suspended participant eligible again.
    public func reinstate(
        participant name: String, by principal: ControlPrincipal
    ) throws(ControlError) -> ParticipantStatus {
        try authorize(principal, .reinstateParticipant)
        try requireKnown(name)
        try setSuspension(name, nil)
        logger.notice(
            "participant resumed", metadata: ["cohort.principal": "\(principal)", "cohort.participant": "\(name)"])
        return participantStatuses().first { $0.name == name }!
    }

    /// The ledger file, for download. Entries are appended whole and fsynced, so a reader sees
    /// complete lines up to the last durable entry.
    public func ledgerBytes(by principal: ControlPrincipal) throws(ControlError) -> [UInt8] {
        try authorize(principal, .readLedger)
        do {
            return try DurableFile.read(stateDirectory.ledgerPath)
        } catch {
            throw ControlError(
                code: "control.ledger_unreadable", message: "cannot read the ledger: \(error.message)",
                category: .internalFailure)
        }
    }

    /// Adopts a new policy while running: validated like a policy file, checked against what may
    /// change while running and against the budget already spent, stored durably in the state
    /// directory, then recorded as a signed `policy.adopted` entry with the old and new caps.
    /// It applies from the next round on.
    public func adoptPolicy(yaml: String, by principal: ControlPrincipal) throws(ControlError) -> PolicyAdoption {
        try authorize(principal, .adoptPolicy)
        let current = configuration.policy
        let proposed: Policy
        do {
            proposed = try PolicyLoader.parse(yaml)
        } catch {
            throw ControlError(
                code: error.code, message: "the proposed policy is invalid: \(error)", category: .invalidInput)
        }
        let summary = try checkPolicyChange(from: current.policy, to: proposed)
        let changed = summary.changedFields
        let bytes = Array(yaml.utf8)
        let digest = SHA256.hexDigest(bytes)
        let adopted = PolicyLoader.Loaded(policy: proposed, sha256: digest, baseDirectory: current.baseDirectory)
        do {
            try PolicyLoader.checkFilesExist(adopted)
        } catch {
            throw ControlError(
                code: error.code, message: "the proposed policy names a file that cannot be used: \(error)",
                category: .invalidInput)
        }
        // Every signing key must load before anything is recorded: a participant whose key cannot
        // be read would have every update refused.
        var keys: [String: [UInt8]] = [:]
        for (index, participant) in proposed.participants.enumerated() {
            do {
                keys[participant.name] = try KeyFile.readPublic(
                    kind: .ed25519Public, from: adopted.resolve(participant.signingKey))
            } catch {
                throw ControlError(
                    code: "policy.unreadable_key",
                    message: "participants[\(index)].signing_key: \(error); the policy was not adopted",
                    category: .invalidInput)
            }
        }
        let oldCap = ledger.state.epsilonMax
        let entry: LedgerEntry
        do {
            try DurableFile.createDirectory(stateDirectory.policiesPath, mode: 0o700)
            try DurableFile.writeAtomically(bytes, to: stateDirectory.adoptedPolicyPath(sha256: digest), mode: 0o600)
            entry = try ledger.append(
                PolicyAdoptedPayload(
                    policySHA256: digest, oldEpsilonMax: oldCap, newEpsilonMax: proposed.privacy.epsilonMax,
                    operatorName: principal.name,
                    changes: summary.changes.map {
                        PolicyAdoptedPayload.FieldChange(field: $0.field, old: $0.old, new: $0.new)
                    }))
        } catch {
            throw ControlError(
                code: Self.code(of: error), message: "the policy could not be recorded and was not adopted: \(error)",
                category: .internalFailure)
        }
        signingKeys = keys
        configuration.policy = adopted
        applyMembership()
        Self.warnAboutGuaranteeTradingOptions(proposed, logger: logger)
        Self.warnAboutDelta(proposed, logger: logger)
        logger.notice(
            "policy adopted",
            metadata: [
                "cohort.principal": "\(principal)", "cohort.policy_sha256": "\(digest)",
                "cohort.epsilon_max": "\(oldCap) -> \(proposed.privacy.epsilonMax)",
                "cohort.changed": "\(changed.joined(separator: ","))",
            ])
        return PolicyAdoption(
            policySHA256: digest, oldEpsilonMax: oldCap, newEpsilonMax: proposed.privacy.epsilonMax,
            changedFields: changed, ledgerSeq: entry.seq)
    }

    func requireKnown(_ name: String) throws(ControlError) {
        guard configuration.policy.policy.participants.contains(where: { $0.name == name }) else {
            throw ControlError(
                code: "control.unknown_participant",
                message:
                    "no participant named `\(PolicyError.shown(name))` in the policy; see `cohort participants list`",
                category: .notFound)
        }
    }

    // MARK: - Suspensions on disk

    /// Suspensions survive restarts: written with fsync before the change takes effect.
    func setSuspension(_ name: String, _ reason: String?) throws(ControlError) {
        var updated = suspended
        updated[name] = reason
        do {
            try stateDirectory.writeSuspensions(updated)
        } catch {
            throw ControlError(
                code: "control.storage", message: "cannot record the suspension: \(error)", category: .internalFailure)
        }
        suspended = updated
        signalChange()
    }

    /// How a round outcome is shown in status.
    func summary(of outcome: RoundOutcome) -> RoundSummary {
        switch outcome {
        case .closed(let number, _, let roundEpsilon, let cumulative):
            RoundSummary(
                round: number, outcome: "closed", roundEpsilon: roundEpsilon, cumulativeEpsilon: cumulative,
                promoted: latestApprovedRound == number, metrics: lastClosedMetrics)
        case .refused(let number, let gate, let reason):
            RoundSummary(round: number, outcome: "refused", gate: gate, reason: reason)
        case .aborted(let number, let reason, _):
            RoundSummary(round: number, outcome: "aborted", reason: reason)
        }
    }
}

extension Coordinator {
    /// The rules of `PolicyChange` (fields frozen while running, the cap never below what is
    /// spent) as a control error; returns what changes.
    func checkPolicyChange(from current: Policy, to proposed: Policy) throws(ControlError) -> PolicyChange.Summary {
        do {
            return try PolicyChange.check(
                current: current, proposed: proposed, spentEpsilon: ledger.state.cumulativeEpsilon)
        } catch {
            throw ControlError(
                code: error.code, message: "\(error.message) (field \(error.field))", category: .conflict)
        }
    }
}

extension Coordinator {
    func recordMetrics(of outcome: RoundOutcome, seconds: Double) {
        let budget = budgetStatus()
        metrics.budget(spent: budget.epsilonSpent, remaining: budget.epsilonRemaining)
        switch outcome {
        case .closed:
            metrics.roundEnded(outcome: "closed")
            metrics.roundDuration(seconds: seconds)
        case .refused(_, let gate, _):
            metrics.roundEnded(outcome: "refused")
            metrics.gateFailed(gate)
        case .aborted:
            metrics.roundEnded(outcome: "aborted")
        }
    }
}
