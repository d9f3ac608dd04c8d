import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import CoreMetrics
import Foundation
import Logging
import NIOSSL

extension Coordinator {
    /// Runs one round through every state, writing the ledger at each durable step.
    public func runRound() async throws -> RoundOutcome {
        driving += 1
        defer {
            driving -= 1
            signalChange()
        }
        let policy = configuration.policy.policy
        // An earlier round whose abort could not be written (its storage failure also hit the
        // abort entry) is still open in the ledger, which accepts no new round until it ends.
        if round == nil {
            try StateDirectory.abortUnfinishedRound(
                in: ledger, reason: "ended earlier by a failure (e.g. a full disk) when its abort could not be written",
                stateDirectory: configuration.stateDirectory, logger: logger)
        }
        let number = ledger.state.nextRound
        // `policy` is the policy in force as this round opens: the plan below freezes it, and an
        // adoption from here on applies to the next round.
        let mechanism = try SubsampledGaussian(
            samplingRate: policy.privacy.samplingRate, noiseMultiplier: policy.privacy.noiseMultiplier)
        // The budget projection uses the ledger's own history and arithmetic, with the charge
        // method the plan will record.
        let projected = try ledger.state.projectedCharge(
            mechanism: mechanism, delta: policy.privacy.delta, method: .current
        )
        .cumulativeEpsilon
        let eligible: [String]
        let preRoundDecisions: [GateOutcome]
        switch try await preRoundGates(round: number, projected: projected, policy: policy) {
        case .refused(let outcome): return outcome
        case .passed(let names, let decisions):
            eligible = names
            preRoundDecisions = decisions
        }
        // Checked sum of the attested training rows (each bounded where decoded; the pre-round
        // gates left out whoever would push the noise out of range): the public N, never derived
        // back from a Double.
        let trainingRows = policy.privacy.unit == .record ? attestedRecords(of: eligible) : 0
        let plan = try RoundPlan(
            privacy: policy.privacy, dimension: dimension, eligibleParticipants: eligible.count,
            trainingRows: trainingRows)
        // Both units, again whenever the number of protected units changes (the start-up warning
        // can only use a lower bound on N).
        if plan.deltaExceedsGuidance && deltaGuidanceWarnedFor != plan.protectedUnits {
            deltaGuidanceWarnedFor = plan.protectedUnits
            logger.warning(
                "privacy.delta is above 1/(10·N) for the units this round protects; lower it",
                metadata: [
                    "cohort.delta": "\(plan.record.delta)", "cohort.unit": "\(plan.unit.rawValue)",
                    "cohort.units": "\(plan.protectedUnits)",
                ])
        }
        // Sampling: participants (participant unit) with the CSPRNG; every connected silo samples
        // its own records (record unit).
        let invited: [String]
        switch plan.unit {
        case .participant: invited = eligible.filter { _ in SecureRandom.bernoulli(plan.samplingRate) }
        case .record: invited = eligible
        }
        let nonce = SecureRandom.bytes(32)
        let active = ActiveRound(
            number: number, nonce: nonce, invited: Set(invited), plan: plan, policy: policy,
            aggregator: AggregationRule(plan: plan).makeAggregation(
                dimension: dimension, reference: previousUpdate, recycledSum: spareSum.take())
        )
        active.eligible = Set(eligible)
        for name in invited {
            active.records[name] = gateway.sessions[name]?.trainingRows
            active.labelCounts[name] = gateway.sessions[name]?.attestation.labelCounts
        }
        // The machine's verdict is acted on: it must call for invitations, nothing else.
        let opening = try active.machine.handle(.gatesPassed)
        guard opening == .sendInvitations else {
            throw CoordinatorError(
                code: "coordinator.internal", message: "round \(number) opened with the action \(opening)")
        }
        // The gate decisions and the opening become durable together, before any invitation.
        let openingEntries: [any LedgerPayload] =
            try preRoundDecisions.map { try gatePayload($0, round: number, unit: plan.unit) } + [
                try openedPayload(
                    round: number, invited: invited, eligible: eligible.count, plan: plan,
                    mechanism: "poisson-subsampled-discrete-gaussian")
            ]
        _ = try profile.time(.fsync) { () throws(LedgerError) in try ledger.appendAll(openingEntries) }
        // Only a round whose opening is durable becomes the active one: if the append failed, no
        // round exists to accept updates or to abort later.
        round = active
        deadlinePassedRound = nil
        if pendingNoise?.distribution != plan.noise {
            pendingNoise = (plan.noise, drawNoise(plan.noise))
        }
        let unit: TrainingParameters.Unit =
            switch plan.unit {
            case .record: .record
            case .participant: .participant
            }
        let parameters = TrainingParameters(
            unit: unit, samplingRate: plan.samplingRate, clippingBound: plan.clippingBound,
            localEpochs: policy.model.localEpochs, localLearningRate: policy.model.localLearningRate,
            batchSize: policy.model.batchSize,
            model: modelStart.architecture,
            // Participants stop an evaluate hook that outlives this window (docs/TRAINER.md).
            evaluationTimeoutSeconds: policy.rounds.evaluationTimeoutSeconds
        )
        // The deadline participants are told (wall time, on the wire) and the one the coordinator
        // keeps (on its clock) are the same span from now.
        let deadline = clock.deadline(afterSeconds: policy.rounds.deadlineSeconds)
        let deadlineMillis = UInt64(
            Date().addingTimeInterval(policy.rounds.deadlineSeconds).timeIntervalSince1970 * 1000)
        // Encoded once per form and shared: every participant gets the same bytes, and a frame per
        // participant would copy the whole global model each time. A participant holding the
        // model (the candidate it evaluated last round) gets it by reference.
        let modelDigest = currentModelDigest()
        let trainingParameters = parameters.encoded()
        func inviteFrame(carrying globalModel: [Float]) -> Frame {
            Frame(
                RoundInvite(
                    round: UInt64(number), roundNonce: nonce, deadlineMillis: deadlineMillis, modelDigest: modelDigest,
                    globalModel: globalModel, trainingParameters: trainingParameters))
        }
        let referenceFrame = inviteFrame(carrying: [])
        var fullFrame: Frame?
        var invitations: [(name: String, frame: Frame)] = []
        for name in invited.sorted() {
            guard let session = gateway.sessions[name] else { continue }
            if session.heldModelDigest == modelDigest {
                invitations.append((name, referenceFrame))
            } else {
                let frame = fullFrame ?? profile.time(.seal) { inviteFrame(carrying: model.parameters) }
                fullFrame = frame
                invitations.append((name, frame))
            }
        }
        // Collecting starts before the first invitation leaves: an update may come back at once.
        let collecting = try active.machine.handle(.invitationsSent)
        guard collecting == .none else {
            throw CoordinatorError(
                code: "coordinator.internal", message: "round \(number) began collecting with the action \(collecting)")
        }
        // All at once, each by the round deadline: a participant that stops reading is cut off
        // then and holds up no one else.
        _ = await profile.time(.send) { await deliver(invitations, holding: modelDigest, deadline: deadline) }
        // Collect until every invited participant answered or left, the deadline passed, or the
        // round was asked to end; every update, departure and abort wakes this wait.
        // With `collect_until_deadline` only the deadline or an abort ends it, so that how long a
        // round takes does not depend on whom it sampled (docs/PRIVACY.md, "Timing").
        let untilDeadline = active.policy.rounds.collectUntilDeadline
        let endedBeforeDeadline = try await wait(until: deadline) {
            active.abortReason != nil || active.machine.state != .collecting
                || (!untilDeadline
                    && active.invited.subtracting(active.answered).allSatisfy { gateway.sessions[$0] == nil })
        }
        if !endedBeforeDeadline { deadlinePassedRound = number }
        if let reason = active.abortReason, active.machine.state == .collecting {
            return try await finish(active, event: .abort(reason: reason))
        }
        guard active.machine.state == .collecting else {
            return .aborted(round: number, reason: "round ended early", charged: active.machine.charged)
        }
        return try await finish(
            active,
            event: .collectionEnded(
                contributors: active.aggregator.count, minimum: policy.rounds.minParticipants,
                sampleIsSecret: active.plan.unit == .participant))
    }
}
