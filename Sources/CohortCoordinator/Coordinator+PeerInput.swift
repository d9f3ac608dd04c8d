import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortTransport
import Foundation
import Logging

/// Everything a participant sends is untrusted: this file holds the checks the coordinator runs on
/// a peer's attestation, evaluation result and update figures where they arrive, and the bounds
/// that keep a round's arithmetic (records, sensitivity, noise, the quantised sum) in range
/// whatever a peer attests. One peer's bad message costs that peer its round (an error frame with
/// a stable code, its input left out), never the round or the service.
extension Coordinator {
    /// The relative margin on the record-unit update norm bound C × records: covers the
    /// float32 rounding of a sum of per-record clipped gradients (docs/PRIVACY.md).
    static let updateNormMargin = 1e-6

    // MARK: Attestations

    /// Decodes and validates the attestation a participant sends after the welcome.
    ///
    /// - Returns: the attestation, or the error frame to send (and then close): a frame that is
    ///   not an attestation payload or JSON that is not an attestation is `wire.malformed_payload`;
    ///   a value outside its bound is `attestation.invalid` (``DataQualityAttestation/validate()``).
    nonisolated func readAttestation(_ frame: Frame) -> Result<DataQualityAttestation, WireError> {
        let payload: Attestation
        do {
            payload = try frame.decode(Attestation.self)
        } catch {
            return .failure(WireError(code: error.code, message: error.message, closesConnection: true))
        }
        let attestation: DataQualityAttestation
        do {
            attestation = try DataQualityAttestation.decodeValidated(json: payload.json)
        } catch {
            let code =
                error.code == "attestation.invalid"
                ? WireError.Code.attestationInvalid : WireError.Code.malformedPayload
            return .failure(WireError(code: code, message: error.message, closesConnection: true))
        }
        guard attestation.trainingRows != nil else {
            return .failure(
                WireError(
                    code: WireError.Code.attestationNoTrainingRows,
                    message: "the attestation has no training_rows: this cohort-participant predates the keyed "
                        + "per-record holdout, under whose split alone the ledger's ε holds (docs/PRIVACY.md, "
                        + "The public N); upgrade cohort-participant and join again",
                    closesConnection: true))
        }
        return .success(attestation)
    }

    /// The `participant.ineligible` error frame for `reasons` (kept open: the participant decides
    /// to leave; `cohort-participant` prints it and exits non-zero).
    static func ineligible(_ reasons: [String]) -> WireError {
        let text = reasons.prefix(8).joined(separator: "; ")
        return WireError(
            code: WireError.Code.participantIneligible,
            message: "this participant is not eligible for rounds under the policy's data-quality gate: "
                + PeerText.sanitized(text, maxLength: 1_024) + "; fix the data or the schema and join again",
            closesConnection: false)
    }

    /// Tells every connected participant the data-quality gate just found ineligible why, after
    /// the gate's decision names it (the decision is ledgered with the round's opening or refusal).
    func notifyIneligible(_ reasons: [String: [String]]) async {
        let notices = reasons.sorted(by: { $0.key < $1.key }).map { name, why in
            (name: name, frame: Frame(Self.ineligible(why)))
        }
        guard !notices.isEmpty else { return }
        await deliver(
            notices, deadline: clock.deadline(afterSeconds: configuration.policy.policy.rounds.handshakeTimeoutSeconds))
    }

    // MARK: Evaluation results

    /// Decodes, validates and records a participant's evaluation result for the aggregated round.
    ///
    /// The accumulator must have the coordinator's histogram layout and threshold, consistent
    /// non-negative counts, and count at most the records the participant attested (its holdout
    /// is a part of them).
    /// - Returns: nil when it was recorded (or arrived for no round awaiting evaluations); the
    ///   `evaluation.invalid` error frame otherwise (the participant's evaluation is then left out).
    func acceptEvaluation(_ result: EvaluationResult, from name: String) -> WireError? {
        let bound = gateway.sessions[name].map { min($0.holdoutRows, MetricsAccumulator.maximumCount) }
        let accumulator: MetricsAccumulator
        do {
            accumulator = try MetricsAccumulator.decodeValidated(
                json: result.json, expected: MetricsAccumulator(), maximumCount: bound)
        } catch {
            return WireError(code: WireError.Code.evaluationInvalid, message: error.message, closesConnection: false)
        }
        guard let number = Int(exactly: result.round) else {
            return WireError(
                code: WireError.Code.evaluationInvalid,
                message: "evaluation result names round \(result.round), which no round can have",
                closesConnection: false)
        }
        receiveEvaluation(accumulator, round: number, from: name)
        return nil
    }

    /// Merges the evaluations of `active`, leaving out (and logging) any that cannot be merged.
    func mergeEvaluations(
        _ active: ActiveRound
    ) -> (merged: MetricsAccumulator, byParticipant: [String: [String: Double]]) {
        var merged = MetricsAccumulator()
        var byParticipant: [String: [String: Double]] = [:]
        for (name, accumulator) in active.evaluations.sorted(by: { $0.key < $1.key }) {
            do {
                try merged.merge(accumulator)
                byParticipant[name] = Self.summary(accumulator.metrics())
            } catch {
                logger.notice(
                    "evaluation left out", metadata: ["cohort.participant": "\(name)", "cohort.code": "\(error.code)"])
            }
        }
        return (merged, byParticipant)
    }

    // MARK: Updates and round arithmetic

    /// The largest pre-clip L2 norm `name`'s update may have in `active`, or nil when the
    /// coordinator clips it (participant unit). In the record unit a participant sends the sum of
    /// its sampled records' gradients, each clipped to C, over at most the training rows it
    /// attested: the norm is at most C × rows × (1 + ``updateNormMargin``).
    func updateNormBound(for name: String, in active: ActiveRound) -> Double? {
        guard active.plan.unit == .record else { return nil }
        let records = active.records[name] ?? 0
        return active.plan.clippingBound * Double(records) * (1 + Self.updateNormMargin)
    }

    /// The training rows `names` attested (the public N of a record-unit round), summed with
    /// checked arithmetic (saturating at `Int.max`, which the bounds on each attestation make
    /// unreachable).
    func attestedRecords(of names: [String]) -> Int {
        var total = 0
        for name in names {
            let (sum, overflow) = total.addingReportingOverflow(max(0, gateway.sessions[name]?.trainingRows ?? 0))
            total = overflow ? .max : sum
        }
        return total
    }

    /// The most records a record-unit round may count before its noise leaves the discrete
    /// Gaussian sampler's range: σ·(C + γ√d + 2^-23·N·C)/γ ≤ `DiscreteGaussian.maximumSigma`,
    /// for `privacy`, the round's snapshot.
    func maximumRoundRecords(privacy: Policy.Privacy) -> Int {
        // The grid and margin `RoundPlan` will use for this policy; a margin of 1% stays clear of
        // the plan's rounding up.
        guard
            let grid = try? FixedPointGrid(
                clippingBound: privacy.clippingBound, dimension: dimension, inflation: privacy.gridInflation)
        else { return 0 }
        let base =
            grid.sensitivity(clippingBound: privacy.clippingBound, dimension: dimension)
            + RoundPlan.sensitivityMargin * privacy.clippingBound
        let budget = DiscreteGaussian.maximumSigma * grid.step / privacy.noiseMultiplier / 1.01 - base
        let records = (budget / (0x1p-23 * privacy.clippingBound)).rounded(.down)
        guard !records.isNaN, records > 0 else { return 0 }
        // Also covers +∞ (a policy whose noise leaves room for any count).
        return records >= Double(Int.max / 2) ? Int.max / 2 : Int(records)
    }

    /// In the record unit, leaves out (largest first) the participants whose attested records
    /// would push the round's noise out of the sampler's range, so no attestation can make a
    /// round fail to open. Returns those kept (in their order) and those left out.
    func limitRecordsForNoise(_ eligible: [String], privacy: Policy.Privacy) -> (kept: [String], excluded: [String]) {
        guard privacy.unit == .record else { return (eligible, []) }
        let limit = maximumRoundRecords(privacy: privacy)
        var total = attestedRecords(of: eligible)
        var excluded: [String] = []
        let bySize = eligible.sorted {
            (gateway.sessions[$0]?.trainingRows ?? 0, $1) > (gateway.sessions[$1]?.trainingRows ?? 0, $0)
        }
        for name in bySize where total > limit {
            total -= max(0, gateway.sessions[name]?.trainingRows ?? 0)
            excluded.append(name)
        }
        let left = Set(excluded)
        return (eligible.filter { !left.contains($0) }, excluded)
    }

    // MARK: Serving

    /// Whether a round's error must stop `serveRequests`: only a ledger writer that can no longer
    /// be trusted (`ledger.writer_poisoned`, after a failed fsync: the kernel may have dropped what
    /// was written, so the coordinator must restart and re-verify the ledger) or a ledger another
    /// process holds (`ledger.locked`). Everything else — a peer's input, a full disk (nothing was
    /// written; the next round retries), a failed checkpoint — is logged with its code and serving goes on.
    static func stopsService(_ error: any Error) -> Bool {
        if error is CancellationError { return true }
        let code = code(of: error)
        return code == LedgerError.Code.writerPoisoned.rawValue || code == LedgerError.Code.locked.rawValue
    }

    /// Runs queued rounds like `drainQueue`, but a round error that does not stop the service
    /// (``stopsService(_:)``) is logged with its code and the next queued round runs.
    func drainQueueSurvivingRoundErrors(progress: (@Sendable (RoundOutcome) -> Void)?) async throws {
        while queuedRounds > 0 {
            do {
                _ = try await drainQueue(progress: progress)
            } catch {
                if Self.stopsService(error) { throw error }
                logger.error(
                    "round failed; serving goes on",
                    metadata: [
                        "cohort.code": "\(Self.code(of: error))", "cohort.reason": "\(error)",
                    ])
            }
        }
    }
}
