import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import Foundation
import CoreMetrics
import Logging
import NIOSSL

extension Coordinator {
    /// Runs one round through every state, writing the ledger at each durable step.
    public func runRound() async throws -> RoundOutcome {
        let policy = configuration.policy.policy
        // An earlier round whose abort could not be written (its storage failure also hit the
        // abort entry) is still open in the ledger, which accepts no new round until it ends.
        if round == nil {
            try Self.abortUnfinishedRound(in: ledger, reason: "ended earlier by a failure (e.g. a full disk) when its abort could not be written", logger: logger)
        }
        let number = ledger.state.nextRound
        // `policy` is the policy in force as this round opens: the plan below freezes it, and an
        // adoption from here on applies to the next round.
        let mechanism = try SubsampledGaussian(samplingRate: policy.privacy.samplingRate, noiseMultiplier: policy.privacy.noiseMultiplier)
        // The budget projection uses the ledger's own history and arithmetic, with the charge
        // method the plan will record.
        let projected = try ledger.state.projectedCharge(mechanism: mechanism, delta: policy.privacy.delta, method: .current)
            .cumulativeEpsilon
        let eligible: [String]
        let preRoundDecisions: [GateOutcome]
        switch try await preRoundGates(round: number, projected: projected) {
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
            privacy: policy.privacy, dimension: dimension, eligibleParticipants: eligible.count, trainingRows: trainingRows)
        if plan.deltaExceedsGuidance && !deltaGuidanceWarned {
            deltaGuidanceWarned = true
            logger.warning("privacy.delta is above 1/(10·N) for the records this round protects; lower it", metadata: [
                "cohort.delta": "\(plan.record.delta)", "cohort.records": "\(plan.record.records)",
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
            number: number, nonce: nonce, invited: Set(invited), plan: plan,
            aggregator: StreamingAggregator(
                dimension: dimension, clippingBound: plan.unit == .participant ? plan.clippingBound : nil, reference: previousUpdate)
        )
        active.eligible = Set(eligible)
        for name in invited {
            active.records[name] = sessions[name]?.trainingRows
            active.labelCounts[name] = sessions[name]?.attestation.labelCounts
        }
        _ = try active.machine.handle(.gatesPassed)
        // The gate decisions and the opening become durable together, before any invitation.
        _ = try ledger.appendAll(preRoundDecisions.map { $0.payload(round: number) } + [
            RoundOpenedPayload(
                round: number, participantsSampled: invited.count, participantsEligible: eligible.count,
                mechanism: "poisson-subsampled-discrete-gaussian", plan: plan.record)
        ])
        // Only a round whose opening is durable becomes the active one: if the append failed, no
        // round exists to accept updates or to abort later.
        round = active
        if pendingNoise?.distribution != plan.noise {
            pendingNoise = (plan.noise, drawNoise(plan.noise))
        }
        let parameters = TrainingParameters(
            unit: plan.unit.rawValue, samplingRate: plan.samplingRate, clippingBound: plan.clippingBound,
            localEpochs: policy.model.localEpochs, localLearningRate: policy.model.localLearningRate, batchSize: policy.model.batchSize
        )
        let deadline = Date().addingTimeInterval(policy.rounds.deadlineSeconds)
        // Encoded once per form and shared: every participant gets the same bytes, and a frame per
        // participant would copy the whole global model each time. A participant holding the
        // model (the candidate it evaluated last round) gets it by reference.
        let modelDigest = currentModelDigest()
        let deadlineMillis = UInt64(deadline.timeIntervalSince1970 * 1000)
        let trainingParameters = parameters.encoded()
        func inviteFrame(carrying globalModel: [Float]) -> Frame {
            Frame(RoundInvite(
                round: UInt64(number), roundNonce: nonce, deadlineMillis: deadlineMillis, modelDigest: modelDigest,
                globalModel: globalModel, trainingParameters: trainingParameters))
        }
        let referenceFrame = inviteFrame(carrying: [])
        var fullFrame: Frame?
        _ = try active.machine.handle(.invitationsSent)
        for name in invited {
            guard let session = sessions[name] else { continue }
            let frame: Frame
            if session.heldModelDigest == modelDigest {
                frame = referenceFrame
            } else {
                frame = fullFrame ?? inviteFrame(carrying: model.parameters)
                fullFrame = frame
            }
            if !(await send(frame, to: name, holding: modelDigest)) {
                logger.notice("invitation not delivered", metadata: ["cohort.participant": "\(name)"])
            }
        }
        // Collect until every invited participant answered or left, or the deadline passed.
        while Date() < deadline {
            if let reason = abortRequest {
                abortRequest = nil
                return try await finish(active, event: .abort(reason: reason))
            }
            let pending = active.invited.subtracting(active.answered).filter { sessions[$0] != nil }
            if pending.isEmpty || active.machine.state != .collecting { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        guard active.machine.state == .collecting else {
            return .aborted(round: number, reason: "round ended early", charged: active.machine.charged)
        }
        return try await finish(active, event: .collectionEnded(contributors: active.aggregator.count, minimum: policy.rounds.minParticipants))
    }
}
