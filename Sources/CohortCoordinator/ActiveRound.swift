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
    /// The round being driven: its frozen plan, its state machine and everything collected
    /// for it. Belongs to the coordinator actor.
    final class ActiveRound {
        let number: Int
        let nonce: [UInt8]
        let invited: Set<String>
        /// Everything the mechanism depends on, frozen when the round opened.
        let plan: RoundPlan
        /// The policy in force when the round opened. Every gate, the anomaly action and the
        /// promotion read this snapshot; a policy adopted meanwhile applies from the next round.
        let policy: Policy
        var machine = RoundStateMachine()
        let aggregator: any RoundAggregation
        var digests: [String: String] = [:]
        var answered: Set<String> = []
        /// Participants that passed the round's pre-round gates (not suspended, not excluded).
        var eligible: Set<String> = []
        /// Participants asked to evaluate the released model; only their results count.
        var evaluationsAsked: Set<String> = []
        /// Federated evaluation of the released model, by participant.
        var evaluations: [String: MetricsAccumulator] = [:]
        var closingMetrics: [String: Double] = [:]
        /// SHA-256 (hex) of the checkpoint file of the released model, once it is durable.
        var checkpointSHA256: String?
        /// SHA-256 (hex) of the round's line in the evaluation store, once it is durable.
        var evaluationSHA256: String?
        /// Per-update check results, ledgered as the `update_checks` gate decision.
        var checks = UpdateChecksRecord()
        var checksRecorded = false
        /// Training rows and label counts each invited participant attested, fixed at invitation.
        var records: [String: Int] = [:]
        var labelCounts: [String: LabelCounts] = [:]
        /// The noised mean, applied to the model only once the anomaly gate passes.
        var noisedMean: [Float]?
        /// Whether the released model passed the promotion gates (risk, evaluation).
        var promoted = false
        /// Why an operator (or `stop`) asked this round to end. Kept on the round itself, so an
        /// abort that arrives while it aggregates or evaluates ends this round and never a later
        /// one; the driver acts on it at its next step.
        private(set) var abortReason: String?
        let openedAtMillis = Int64(Date().timeIntervalSince1970 * 1000)
        init(
            number: Int, nonce: [UInt8], invited: Set<String>, plan: RoundPlan, policy: Policy,
            aggregator: any RoundAggregation
        ) {
            self.number = number
            self.plan = plan
            self.policy = policy
            self.nonce = nonce
            self.invited = invited
            self.aggregator = aggregator
        }

        /// Asks the round to end; the first reason given stands.
        func requestAbort(reason: String) {
            if abortReason == nil { abortReason = reason }
        }
    }
}
