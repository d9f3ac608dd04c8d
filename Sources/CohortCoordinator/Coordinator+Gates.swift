import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import Foundation

/// The governance gates of a round (docs/GOVERNANCE.md): pre-round gates before anything is
/// opened, per-update checks while collecting, and post-aggregate gates after the charge.
/// Every decision, passed or failed, is a `gate.decision` ledger entry with its inputs.
extension Coordinator {
    enum PreRoundResult {
        case refused(RoundOutcome)
        /// The eligible participants and the decisions to ledger with the round's opening.
        case passed(eligible: [String], decisions: [GateOutcome])
    }

    /// Model version, budget, suspension, data quality and quorum, in that order; the first
    /// failing refusal gate refuses the round (no charge, nothing opened). Every gate reads
    /// `policy`, the snapshot the round's plan and projection are made from, never the policy in
    /// force (an adoption during the quorum wait applies from the next round).
    func preRoundGates(round number: Int, projected: Double, policy: Policy) async throws -> PreRoundResult {
        var decisions: [GateOutcome] = []
        let version = ModelVersionGate.evaluate(
            version: policy.model.version, approved: policy.governance.approvedModelVersions)
        decisions.append(version)
        guard version.passed else {
            return .refused(
                try refuse(number, failed: version, decisions: decisions, projected: projected, policy: policy))
        }
        let budget = BudgetGate.evaluate(
            projectedEpsilon: projected, spentEpsilon: ledger.state.cumulativeEpsilon,
            epsilonMax: policy.privacy.epsilonMax,
            delta: policy.privacy.delta)
        decisions.append(budget)
        guard budget.passed else {
            return .refused(
                try refuse(number, failed: budget, decisions: decisions, projected: projected, policy: policy))
        }
        // Wait (up to the quorum wait) for enough eligible participants to be connected.
        // Every join, departure and suspension wakes this wait.
        _ = try await wait(until: clock.deadline(afterSeconds: configuration.quorumWaitSeconds)) {
            screenParticipants(policy: policy).quality.eligible.count >= policy.rounds.minParticipants
        }
        let screened = screenParticipants(policy: policy)
        decisions.append(screened.suspension.outcome)
        decisions.append(screened.quality.outcome)
        if !screened.quality.outcome.passed {
            // Participants that fail on public facts (or, with exclude_on_record_statistics, on
            // record statistics) sit the round out; the quorum gate decides whether it runs.
            // Record-statistics shortfalls alone are recorded and alerted only.
            metrics.gateFailed(screened.quality.outcome.gate)
            raiseAlert(
                kind: "gate_failed", round: number, gate: screened.quality.outcome.gate,
                reason: screened.quality.outcome.reason,
                participants: screened.quality.reasons.keys.sorted())
        }
        // Ineligible participants are told why (`participant.ineligible`) instead of waiting.
        let stillEligible = Set(screened.quality.eligible)
        await notifyIneligible(screened.quality.reasons.filter { !stillEligible.contains($0.key) })
        // Record unit: attested records so many that the round's noise would leave the sampler's
        // range sit the round out, largest first, so no attestation can stop a round from opening.
        let (eligible, tooLarge) = limitRecordsForNoise(screened.quality.eligible, privacy: policy.privacy)
        if !tooLarge.isEmpty {
            logger.warning(
                "participants left out: their attested records exceed what the round's noise can cover",
                metadata: [
                    "cohort.round": "\(number)", "cohort.participants": "\(tooLarge.joined(separator: ","))",
                ])
            raiseAlert(
                kind: "gate_failed", round: number, gate: screened.quality.outcome.gate,
                reason:
                    "attested records over the noise range (at most \(maximumRoundRecords(privacy: policy.privacy)) per round); left out",
                participants: tooLarge)
        }
        let quorum = QuorumGate.evaluate(eligible: eligible, minimum: policy.rounds.minParticipants)
        decisions.append(quorum)
        guard quorum.passed else {
            return .refused(
                try refuse(number, failed: quorum, decisions: decisions, projected: projected, policy: policy))
        }
        return .passed(eligible: eligible, decisions: decisions)
    }

    /// Connected participants, less the suspended ones, less those whose attestation fails
    /// `policy` (the round's snapshot).
    func screenParticipants(policy: Policy) -> (suspension: SuspensionGate.Result, quality: DataQualityGate.Result) {
        let suspension = SuspensionGate.evaluate(
            connected: gateway.sessions.keys.sorted(), suspended: Set(suspended.keys))
        var attestations: [String: DataQualityAttestation?] = [:]
        for name in suspension.remaining { attestations[name] = gateway.sessions[name]?.attestation }
        let quality = DataQualityGate.evaluate(
            attestations: attestations, schemaDigest: schemaDigest, policy: policy.governance.dataQuality)
        return (suspension, quality)
    }

    /// Records the decisions so far and the refusal, durably and together, with the q, σ and cap
    /// of `policy`, the snapshot `projected` was computed from.
    func refuse(
        _ number: Int, failed: GateOutcome, decisions: [GateOutcome], projected: Double, policy: Policy
    ) throws -> RoundOutcome {
        let unit: PrivacyUnit = policy.privacy.unit == .record ? .record : .participant
        _ = try ledger.appendAll(
            try decisions.map { try gatePayload($0, round: number, unit: unit) } + [
                RoundRefusedPayload(
                    round: number, gate: failed.gate, reason: failed.reason, projectedEpsilon: projected,
                    epsilonMax: policy.privacy.epsilonMax, samplingRate: policy.privacy.samplingRate,
                    noiseMultiplier: policy.privacy.noiseMultiplier, chargeMethod: .current)
            ])
        logger.notice(
            "round refused",
            metadata: [
                "cohort.round": "\(number)", "cohort.gate": "\(failed.gate)", "cohort.reason": "\(failed.reason)",
            ])
        raiseAlert(kind: "gate_failed", round: number, gate: failed.gate, reason: failed.reason, participants: [])
        return .refused(round: number, gate: failed.gate, reason: failed.reason)
    }

    /// The anomaly screen over the round's accepted updates: pre-clip norms (per expected
    /// contribution) against their median and MAD, and directions against the previous global
    /// update. Flagged participants are remembered, suspended when the policy says so, and alerted.
    func screenAnomalies(_ active: ActiveRound) throws -> AnomalyScreen.Result {
        let policy = active.policy
        let aggregator = active.aggregator
        let observations = aggregator.preClipNorms.keys.sorted().map { name in
            UpdateObservation(
                participant: name, preClipNorm: aggregator.preClipNorms[name]!,
                expectedContributions: active.plan.unit == .record
                    ? active.plan.samplingRate * Double(active.records[name] ?? 0) : 1,
                cosineToPreviousUpdate: aggregator.cosines[name], clipped: aggregator.clipped.contains(name))
        }
        let result = AnomalyScreen.evaluate(observations: observations, policy: policy.governance.anomaly)
        guard !result.outcome.passed else { return result }
        metrics.gateFailed(result.outcome.gate)
        let flagged = result.flagged.keys.sorted()
        for name in flagged {
            // Participant unit: who was flagged is who was sampled; status and the participant
            // list (which auditors read) must not name them (docs/PRIVACY.md, channel table).
            if active.plan.unit == .record { flaggedRounds[name, default: []].append(active.number) }
            if policy.governance.anomaly.suspendFlagged {
                do {
                    try setSuspension(
                        name, "suspended automatically: the anomaly gate flagged its update in round \(active.number)")
                } catch {
                    logger.error(
                        "could not record an automatic suspension",
                        metadata: ["cohort.participant": "\(name)", "cohort.reason": "\(error)"])
                }
            }
        }
        // Participant unit: neither the log nor the alert names the sampled or states a norm.
        let shown =
            active.plan.unit == .record
            ? (flagged, result.outcome.reason)
            : ([], disclosed(result.outcome, unit: active.plan.unit).reason)
        logger.warning(
            "anomalous updates",
            metadata: [
                "cohort.round": "\(active.number)", "cohort.flagged": "\(shown.0.joined(separator: ","))",
                "cohort.reason": "\(shown.1)",
            ])
        raiseAlert(
            kind: "anomaly", round: active.number, gate: result.outcome.gate, reason: shown.1, participants: shown.0)
        return result
    }

    /// After the model is updated: federated evaluation, risk score and evaluation gate. Their
    /// decisions (and the evaluation) are ledgered together; the model version is promoted to
    /// approved only when both gates pass.
    func promotionGates(
        _ active: ActiveRound, anomaly: AnomalyScreen.Result, evaluationTimeout: Double,
        checkpoint: Task<String, any Error>
    ) async throws {
        let governance = active.policy.governance
        let evaluation = try await federatedEvaluation(active, timeout: evaluationTimeout)
        // Aborted while it evaluated: no promotion decision is recorded for a round that releases nothing.
        guard active.abortReason == nil else { return }
        active.closingMetrics = evaluation.aggregate
        var contributorsLabels: [String: LabelCounts] = [:]
        for name in active.aggregator.preClipNorms.keys { contributorsLabels[name] = active.labelCounts[name] }
        let risk = RiskScore.evaluate(
            participantMetrics: evaluation.byParticipant, labelCounts: contributorsLabels,
            flaggedOrClipped: anomaly.flaggedOrClipped, contributors: active.aggregator.count, policy: governance.risk)
        var evaluated = EvaluationGate.evaluate(
            aggregate: evaluation.aggregate, byParticipant: evaluation.byParticipant, policy: governance.evaluation)
        // A model built from a flagged update is not approved, whatever its metrics.
        active.promoted = anomaly.outcome.passed && risk.outcome.passed && evaluated.passed
        evaluated.inputs["promoted"] = .bool(active.promoted)
        evaluated.inputs["anomaly_passed"] = .bool(anomaly.outcome.passed)
        evaluated.inputs["risk_passed"] = .bool(risk.outcome.passed)
        evaluated.inputs["model_version"] = .string(active.policy.model.version)
        // The exact metrics go to the coordinator's evaluation store, for the released model's
        // checkpoint; the ledger commits to the store's line.
        let evaluationSHA256 = try storeEvaluation(
            active, modelSHA256: try await checkpoint.value, aggregate: evaluation.aggregate,
            participants: evaluation.byParticipant.count)
        active.evaluationSHA256 = evaluationSHA256
        let unit = active.plan.unit
        var payloads: [any LedgerPayload] = [try gatePayload(anomaly.outcome, round: active.number, unit: unit)]
        if !evaluation.byParticipant.isEmpty {
            payloads.append(
                EvaluationRecordedPayload(
                    round: active.number, evaluationSHA256: evaluationSHA256,
                    participantsEvaluated: evaluation.byParticipant.count))
        }
        payloads.append(try gatePayload(risk.outcome, round: active.number, unit: unit))
        payloads.append(try gatePayload(evaluated, round: active.number, unit: unit))
        _ = try profile.time(.fsync) { () throws(LedgerError) in try ledger.appendAll(payloads) }
        for failed in [risk.outcome, evaluated] where !failed.passed {
            metrics.gateFailed(failed.gate)
            raiseAlert(
                kind: "gate_failed", round: active.number, gate: failed.gate, reason: failed.reason, participants: [])
        }
    }

    /// The `gate.decision` entry of `outcome` for `round`: its ledger form for `unit`; when that
    /// withholds anything, the exact decision goes first to the operator-only gate-input store
    /// (0600, fsynced) and the entry commits to its line (`inputs_sha256`).
    func gatePayload(_ outcome: GateOutcome, round: Int, unit: PrivacyUnit) throws -> GateDecisionPayload {
        let shown = disclosed(outcome, unit: unit)
        guard shown != outcome else { return outcome.payload(round: round) }
        let commitment = try GateInputStore.append(
            GateInputRecord(
                round: round, gate: outcome.gate, passed: outcome.passed, reason: outcome.reason, inputs: outcome.inputs
            ),
            stateDirectory: configuration.stateDirectory)
        var payload = shown.payload(round: round)
        payload.inputsSHA256 = commitment
        return payload
    }

    /// Logs the alert and hands it to the hook the host configured (never one the policy names),
    /// off the actor.
    func raiseAlert(kind: String, round: Int, gate: String, reason: String, participants: [String]) {
        let alert = GovernanceAlert(
            kind: kind, round: round, gate: gate, reason: reason, participants: participants,
            timeMillis: Int64(Date().timeIntervalSince1970 * 1000), consortium: configuration.policy.policy.name)
        logger.warning(
            "governance alert",
            metadata: ["cohort.alert": "\(kind)", "cohort.round": "\(round)", "cohort.gate": "\(gate)"])
        guard let sink = configuration.alertSink else { return }
        Task.detached { sink(alert) }
    }
}
