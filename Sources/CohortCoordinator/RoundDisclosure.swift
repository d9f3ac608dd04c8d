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
///   contributors (`round.charged`) and never their counts, not even once the round has ended:
///   the count k of n eligible would tell a reader the round's realised sampling rate, uncharged.
///   The salts and names (hence the counts) are kept in `<state>/participant-samples.jsonl`
///   (0600), written before the entry; `cohort ledger verify --samples` opens the commitments.
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

    /// The `round.aborted` entry of `active`. No unit records counts here: the record unit names
    /// its contributors in `round.charged`, and the participant unit withholds its sample's size
    /// (docs/PRIVACY.md, "Every channel").
    func abortedPayload(_ active: ActiveRound, reason: String, charged: Bool) -> RoundAbortedPayload {
        RoundAbortedPayload(round: active.number, reason: reason, charged: charged)
    }

    /// The `round.aborted` entry for a round left open in the ledger (by a crash or a failed
    /// abort). A participant-unit round's sample stays in the sample store only, as for a round
    /// that ends normally.
    static func unfinishedAbortPayload(_ state: LedgerState, reason: String) -> RoundAbortedPayload? {
        guard let round = state.unfinishedRound else { return nil }
        return RoundAbortedPayload(round: round, reason: reason, charged: state.unfinishedRoundCharged)
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
