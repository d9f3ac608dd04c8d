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
    /// Asks every connected participant to evaluate the new model on its holdout and merges what
    /// arrives before `timeout`.
    func federatedEvaluation(
        _ active: ActiveRound, timeout: Double
    ) async throws -> (aggregate: [String: Double], byParticipant: [String: [String: Double]]) {
        // Encoded once and shared, like the invitation: one frame per participant would copy the model each time.
        let candidateDigest = currentModelDigest()
        let request = Frame(
            EvaluateRequest(round: UInt64(active.number), modelDigest: candidateDigest, model: model.parameters))
        // Only participants still eligible for this round see the candidate: suspended, excluded
        // and removed ones receive no model and their self-reported counts never reach the gate.
        active.evaluationsAsked = Set(
            gateway.sessions.keys.filter { name in
                active.eligible.contains(name) && gateway.membership.contains(name) && suspended[name] == nil
            })
        let until = clock.deadline(afterSeconds: timeout)
        await deliver(active.evaluationsAsked.sorted().map { ($0, request) }, holding: candidateDigest, deadline: until)
        // Until every asked participant still connected answered, the timeout, or an abort of
        // this round; each result, departure and abort wakes this wait.
        _ = try await wait(until: until) {
            active.abortReason != nil
                || active.evaluationsAsked.allSatisfy { active.evaluations[$0] != nil || gateway.sessions[$0] == nil }
        }
        // Each evaluation was validated on arrival; one that still cannot be merged is left out.
        let (merged, byParticipant) = mergeEvaluations(active)
        return (byParticipant.isEmpty ? [:] : Self.summary(merged.metrics()), byParticipant)
    }

    /// The evaluation store's metrics (`LedgerMetric` names). `loss` is the holdout log-loss:
    /// the merged accumulators' clamped log-loss sum over their record count, i.e. the mean over
    /// silos weighted by holdout size; absent when no record was evaluated.
    static func summary(_ metrics: BinaryClassificationMetrics) -> [String: Double] {
        var values = [
            "count": Double(metrics.count), "accuracy": metrics.accuracy, "precision": metrics.precision,
            "recall": metrics.recall, "f1": metrics.f1,
        ]
        if let auc = metrics.rocAUC { values["roc_auc"] = auc }
        if metrics.count > 0 { values["loss"] = metrics.logLoss }
        return values
    }
}
