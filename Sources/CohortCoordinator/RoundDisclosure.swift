import CohortGovernance
import CohortLedger
import CohortStorage
import Foundation

/// What a round writes to the ledger about who took part and how its model evaluated
/// (docs/PRIVACY.md, "Every channel that leaves a silo or the coordinator").
///
/// - Record unit: silos are not the privacy unit and every connected eligible silo is invited,
///   so the ledger names the contributors and their update digests, as it always has.
/// - Participant unit: the Poisson sample is what amplification by subsampling keeps secret, so
///   the ledger carries only salted commitments to the sampled set (`round.opened`) and to the
///   contributors (`round.charged`), and their counts once the round has ended; the salts and
///   names are kept in `<state>/participant-samples.jsonl` (0600), written before the entry.
/// - Evaluations: the exact holdout metrics go to `<state>/evaluations.jsonl` (0600); the ledger
///   carries the SHA-256 of the round's line.
extension Coordinator {
    /// The `round.opened` entry of a round that sampled `invited` out of `eligible`.
    func openedPayload(
        round: Int, invited: [String], eligible: Int, plan: RoundPlan, mechanism: String
    ) throws -> RoundOpenedPayload {
        guard plan.unit == .participant else {
            return RoundOpenedPayload(
                round: round, participantsSampled: invited.count, participantsEligible: eligible, mechanism: mechanism,
                plan: plan.record)
        }
        let commitment = try ParticipantSampleStore.append(
            ParticipantSampleCommitment(round: round, set: .sampled, participants: invited),
            stateDirectory: configuration.stateDirectory)
        return RoundOpenedPayload(
            round: round, participantsSampled: nil, participantsEligible: eligible, mechanism: mechanism,
            plan: plan.record,
            sampleCommitment: commitment)
    }

    /// The `round.charged` entry of `active` with the charge `projected`.
    func chargedPayload(_ active: ActiveRound, projected: ProjectedCharge) throws -> RoundChargedPayload {
        let contributors = active.machine.contributors.sorted()
        guard active.plan.unit == .participant else {
            return RoundChargedPayload(
                round: active.number, plan: active.plan.record, projected: projected, contributors: contributors,
                updateDigests: active.digests)
        }
        let commitment = try ParticipantSampleStore.append(
            ParticipantSampleCommitment(
                round: active.number, set: .contributors, participants: contributors, updateDigests: active.digests),
            stateDirectory: configuration.stateDirectory)
        return RoundChargedPayload(
            round: active.number, plan: active.plan.record, projected: projected, contributors: [], updateDigests: [:],
            contributorsCommitment: commitment)
    }

    /// The participant unit's counts for the round's end: sampled and contributed; nil for the
    /// record unit.
    func sampleCounts(_ active: ActiveRound) -> (sampled: Int?, contributors: Int?) {
        guard active.plan.unit == .participant else { return (nil, nil) }
        return (active.invited.count, active.machine.contributors.count)
    }

    /// The `round.aborted` entry of `active`.
    func abortedPayload(_ active: ActiveRound, reason: String, charged: Bool) -> RoundAbortedPayload {
        let counts = sampleCounts(active)
        return RoundAbortedPayload(
            round: active.number, reason: reason, charged: charged, participantsSampled: counts.sampled,
            contributorsCount: counts.contributors)
    }

    /// The `round.aborted` entry for a round left open in the ledger (by a crash or a failed
    /// abort): a participant-unit round that committed to its sample gets its counts from the
    /// sample store, where they were written before the ledger entries that commit to them.
    static func unfinishedAbortPayload(
        _ state: LedgerState, reason: String, stateDirectory: String
    ) throws -> RoundAbortedPayload? {
        guard let round = state.unfinishedRound else { return nil }
        guard state.unfinishedRoundSampleCommitted else {
            return RoundAbortedPayload(round: round, reason: reason, charged: state.unfinishedRoundCharged)
        }
        let path = ParticipantSampleStore.path(stateDirectory: stateDirectory)
        let stored = try ParticipantSampleStore.read(path: path).filter { $0.round == round }
        guard let sampled = stored.last(where: { $0.set == .sampled }) else {
            throw CoordinatorError(
                code: "coordinator.sample_store",
                message: "round \(round) committed to its participant sample but \(path) has no sampled set for it; "
                    + "restore the file from a backup (the ledger cannot record the round's end without its counts)")
        }
        let contributors =
            state.unfinishedRoundCharged ? stored.last(where: { $0.set == .contributors })?.participants.count ?? 0 : 0
        return RoundAbortedPayload(
            round: round, reason: reason, charged: state.unfinishedRoundCharged,
            participantsSampled: sampled.participants.count,
            contributorsCount: contributors)
    }

    /// Writes the round's evaluation to the coordinator's evaluation store and returns the
    /// commitment for the ledger (`evaluation_sha256`).
    func storeEvaluation(
        _ active: ActiveRound, modelSHA256: String, aggregate: [String: Double], participants: Int
    ) throws -> String {
        try EvaluationStore.append(
            EvaluationRecord(
                round: active.number, modelSHA256: modelSHA256, metrics: aggregate, participants: participants),
            stateDirectory: configuration.stateDirectory)
    }

    /// A gate decision as the ledger may carry it for the round's unit: no exact record-derived
    /// figure in either unit (see `gatePayload`).
    func disclosed(_ outcome: GateOutcome, unit: PrivacyUnit) -> GateOutcome {
        switch outcome.gate {
        case GateName.evaluation.rawValue: return LedgerDisclosure.evaluation(outcome)
        case GateName.risk.rawValue: return LedgerDisclosure.risk(outcome, unit: unit)
        case GateName.anomaly.rawValue where unit == .participant: return LedgerDisclosure.anomalyWithoutSample(outcome)
        case GateName.anomaly.rawValue: return LedgerDisclosure.anomaly(outcome)
        case GateName.dataQuality.rawValue: return LedgerDisclosure.dataQuality(outcome)
        case GateName.updateChecks.rawValue where unit == .participant:
            return LedgerDisclosure.updateChecksWithoutSample(outcome)
        default: return outcome
        }
    }

    /// The metrics of the last round in the evaluation store whose model is `modelSHA256` (what
    /// operators saw before a restart).
    static func storedMetrics(stateDirectory: String, modelSHA256: String) -> [String: Double] {
        let path = EvaluationStore.path(stateDirectory: stateDirectory)
        guard DurableFile.exists(path), let lines = try? EvaluationStore.read(path: path) else { return [:] }
        return lines.last { $0.record.modelSHA256 == modelSHA256 }?.record.metrics ?? [:]
    }
}
