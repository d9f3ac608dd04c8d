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
    /// Drives the state machine from the end of collection to closed or aborted.
    ///
    /// When a step throws (a ledger append or the checkpoint write failing, typically on a full
    /// disk), the round ends as aborted through `endFailedRound` and the error is rethrown with its code.
    func finish(_ active: ActiveRound, event: RoundStateMachine.Event) async throws -> RoundOutcome {
        // The model the last closed round released, which is also what a restart would load.
        let modelBefore = model
        let optimizerBefore = optimizer
        do {
            return try await drive(active, event: event, modelBefore: modelBefore, optimizerBefore: optimizerBefore)
        } catch {
            throw endFailedRound(active, error: error, modelBefore: modelBefore, optimizerBefore: optimizerBefore)
        }
    }

    /// Performs every action the round's state machine returns until it returns none (closed)
    /// or an abort, feeding back each step's event. An abort asked for while a step ran
    /// (``ActiveRound/requestAbort(reason:)``) is handed to the machine before the next step,
    /// so it ends this round, before any release, with the charge the machine says it keeps.
    func drive(
        _ active: ActiveRound, event: RoundStateMachine.Event, modelBefore: ModelParameters,
        optimizerBefore: ServerOptimizer
    ) async throws -> RoundOutcome {
        // The round's snapshot: an adoption while it ran applies from the next round.
        let policy = active.policy
        var action = try active.machine.handle(event)
        var roundEpsilon = 0.0
        var chargeWritten = false
        // Whether the noised aggregate was applied to the in-memory model (and a checkpoint written).
        var candidateApplied = false
        while true {
            if let reason = active.abortReason, action != .none, !action.isAbort {
                action = try active.machine.handle(.abort(reason: reason))
            }
            switch action {
            case .writeCharge:
                roundEpsilon = try writeCharge(active)
                chargeWritten = true
                action = try active.machine.handle(.chargeDurable)
            case .computeNoisedAggregate:
                var noise = await takeNoise(active.plan.noise)
                active.noisedMean = try profile.time(.noisedMean) { () throws(PrivacyError) in
                    try active.aggregator.noisedMean(
                        grid: active.plan.grid, noise: noise, denominator: active.plan.denominator)
                }
                // The sum and this noise are spent: the next round reuses the sum's memory, and the
                // next noise is drawn into the space this one leaves.
                noise = []
                spareSum = active.aggregator.recycleSum()
                drawNextNoise(active.plan.noise)
                action = try active.machine.handle(.aggregated)
            case .runPostAggregateChecksAndRelease:
                let anomaly = try screenAnomalies(active)
                if !anomaly.outcome.passed && policy.governance.anomaly.action == .discardRound {
                    _ = try ledger.append(gatePayload(anomaly.outcome, round: active.number, unit: active.plan.unit))
                    action = try active.machine.handle(
                        .abort(reason: "the anomaly gate discarded the aggregate: \(anomaly.outcome.reason)"))
                    continue
                }
                try applyUpdate(active.noisedMean!, unit: active.plan.unit)
                candidateApplied = true
                // The checkpoint is written (encoded, hashed, fsynced) while participants evaluate
                // the candidate; the close below waits for it, so nothing is released before it is durable.
                let checkpoint = writeCheckpoint(active)
                do {
                    try await profile.time(.evaluate) {
                        try await promotionGates(
                            active, anomaly: anomaly, evaluationTimeout: policy.rounds.evaluationTimeoutSeconds,
                            checkpoint: checkpoint)
                    }
                } catch {
                    // The round ends unreleased: its checkpoint must not outlive it.
                    if case .success = await checkpoint.result {
                        try? FileManager.default.removeItem(atPath: stateDirectory.checkpointPath(round: active.number))
                    }
                    throw error
                }
                active.checkpointSHA256 = try await checkpoint.value
                action = try active.machine.handle(.released)
            case .writeClose:
                try writeClose(active)
                previousUpdate = active.noisedMean
                lastClosedMetrics = active.closingMetrics
                action = try active.machine.handle(.closeDurable)
            case .abort(let reason, let charged):
                if candidateApplied {
                    // Aborted after the candidate was built, before its release: the model goes
                    // back to the last released one and the candidate's checkpoint goes away.
                    model = modelBefore
                    optimizer = optimizerBefore
                    try? FileManager.default.removeItem(atPath: stateDirectory.checkpointPath(round: active.number))
                }
                if charged && !chargeWritten && !active.machine.contributors.isEmpty {
                    roundEpsilon = try writeCharge(active)
                }
                if !active.checksRecorded && active.machine.state != .open {
                    if let checks = try? gatePayload(
                        active.checks.outcome, round: active.number, unit: active.plan.unit)
                    {
                        _ = try? ledger.append(checks)
                    }
                    active.checksRecorded = true
                }
                _ = try? ledger.append(abortedPayload(active, reason: reason, charged: charged))
                logger.notice(
                    "round aborted", metadata: ["cohort.round": "\(active.number)", "cohort.reason": "\(reason)"])
                round = nil
                return .aborted(round: active.number, reason: reason, charged: charged)
            case .none:
                round = nil
                return .closed(
                    round: active.number, contributors: active.machine.contributors,
                    roundEpsilon: roundEpsilon, cumulativeEpsilon: ledger.state.cumulativeEpsilon)
            case .sendInvitations, .refuse:
                throw CoordinatorError(code: "coordinator.internal", message: "unexpected round action \(action)")
            }
        }
    }

    /// Ends a round that a failed step interrupted and returns the error to report.
    ///
    /// Nothing derived from the round's updates has left the coordinator: the charge precedes the
    /// aggregate, and the release is the close (checkpoint, then `round.closed`), which did not
    /// happen. So the in-memory model goes back to the last released one (an aggregate applied
    /// before a failed close must not reach the next round's invitations), the round is cleared
    /// so nothing more is accepted for it, and its abort is recorded if the ledger still takes
    /// entries, with `charged` as the ledger says: a charge that became durable stays charged,
    /// and one that did not was never used. If the abort cannot be written either, the round stays
    /// open in the ledger and is aborted before the next round opens, or by the next start.
    func endFailedRound(
        _ active: ActiveRound, error: any Error, modelBefore: ModelParameters, optimizerBefore: ServerOptimizer
    ) -> CoordinatorError {
        let code = Self.code(of: error)
        round = nil
        // A round whose close is durable released its model; nothing after that step throws.
        guard ledger.state.lastClosedRound != active.number else {
            return CoordinatorError(code: code, message: "round \(active.number) closed, then failed: \(error)")
        }
        model = modelBefore
        optimizer = optimizerBefore
        let reason = "aborted before release: \(error)"
        _ = try? active.machine.handle(.abort(reason: reason))
        let charged = ledger.state.unfinishedRound == active.number && ledger.state.unfinishedRoundCharged
        var recorded = false
        if ledger.state.unfinishedRound == active.number {
            recorded = (try? ledger.append(abortedPayload(active, reason: reason, charged: charged))) != nil
        }
        logger.error(
            "round failed",
            metadata: [
                "cohort.round": "\(active.number)", "cohort.code": "\(code)", "cohort.charged": "\(charged)",
                "cohort.abort_recorded": "\(recorded)",
            ])
        return CoordinatorError(
            code: code,
            message:
                "round \(active.number) was aborted before any release (\(charged ? "its charge is durable and stays" : "it was not charged"); "
                + (recorded
                    ? "the abort is in the ledger"
                    : "the abort could not be written yet and is recorded before the next round")
                + "): \(error)"
        )
    }

    /// The stable code of an error from a round step.
    static func code(of error: any Error) -> String {
        switch error {
        case let error as LedgerError: error.code.rawValue
        case let error as StorageError: error.code
        case let error as CoordinatorError: error.code
        default: "coordinator.round_failed"
        }
    }
}
