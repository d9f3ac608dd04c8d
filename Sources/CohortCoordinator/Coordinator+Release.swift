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
    /// Writes and fsyncs the round's charge. Only after this returns may the noised aggregate exist.
    func writeCharge(_ active: ActiveRound) throws -> Double {
        // The round's frozen plan, never the policy in force: what is charged is what was sampled
        // and drawn. The values are those the verifier recomputes from the ledger's own state.
        let charge = try ledger.state.projectedCharge(plan: active.plan.record)
        // The per-update decisions and the charge become durable together (one fsync).
        let checks = active.checks.outcome
        if !checks.passed {
            raiseAlert(
                kind: "gate_failed", round: active.number, gate: checks.gate, reason: checks.reason, participants: [])
        }
        let payloads: [any LedgerPayload] = [
            try gatePayload(checks, round: active.number, unit: active.plan.unit),
            try chargedPayload(active, projected: charge),
        ]
        _ = try profile.time(.fsync) { () throws(LedgerError) in try ledger.appendAll(payloads) }
        active.checksRecorded = true
        return charge.roundEpsilon
    }

    func applyUpdate(_ mean: [Float], unit: PrivacyUnit) throws {
        switch unit {
        case .record:
            // The noised sum over the expected batch is a gradient estimate: descend along it.
            try optimizer.applyNoisedGradientSum(mean, expectedBatchSize: 1, to: &model)
        case .participant:
            // The noised mean is a model delta: move along it.
            try optimizer.applyAverageDelta(mean, to: &model)
        }
    }

    /// Writes the checkpoint of the model `active` released, off the actor (temporary file, fsync,
    /// rename); the task's value is the file's SHA-256 in hexadecimal, for the close entry.
    func writeCheckpoint(_ active: ActiveRound) -> Task<String, any Error> {
        let checkpoint: ModelCheckpoint
        do {
            checkpoint = ModelCheckpoint(
                round: active.number, model: model, optimizer: optimizer, schemaDigest: try schema.digest(),
                layout: modelStart.layout)
        } catch {
            return Task { throw error }
        }
        let path = stateDirectory.checkpointPath(round: active.number)
        // Encoding, hashing and fsyncing block: on the file queue, off the actor and the cooperative pool.
        let profile = profile
        return Task {
            try await profile.time(.checkpoint) {
                try await BlockingIO.run {
                    let bytes = try checkpoint.safetensors().encoded()
                    try DurableFile.writeAtomically(bytes, to: path, mode: 0o600)
                    return BulkSHA256.hexDigest(bytes)
                }
            }
        }
    }

    func writeClose(_ active: ActiveRound) throws {
        guard let checkpointSHA256 = active.checkpointSHA256 else {
            throw CoordinatorError(
                code: "coordinator.internal", message: "round \(active.number) reached its close without a checkpoint")
        }
        guard let evaluationSHA256 = active.evaluationSHA256 else {
            throw CoordinatorError(
                code: "coordinator.internal",
                message: "round \(active.number) reached its close without its evaluation record")
        }
        // No sample counts, in either unit (RoundDisclosure.swift).
        let closed = RoundClosedPayload(
            round: active.number, modelSHA256: checkpointSHA256,
            checkpoint: StateDirectory.checkpointName(round: active.number),
            evaluationSHA256: evaluationSHA256)
        _ = try profile.time(.fsync) { () throws(LedgerError) in try ledger.append(closed) }
        // Sent while the next round starts: the result is news, not a step of the round.
        let result = Frame(RoundResult(round: UInt64(active.number), json: Array(#"{"outcome":"closed"}"#.utf8)))
        let results = active.invited.sorted().map { (name: $0, frame: result) }
        let deadline = clock.deadline(afterSeconds: configuration.policy.policy.rounds.handshakeTimeoutSeconds)
        Task { await deliver(results, deadline: deadline) }
    }

    /// Draws one noise vector off the actor, so it is ready while updates arrive.
    func drawNoise(_ distribution: DiscreteGaussian) -> Task<[Int64], Never> {
        let count = dimension
        // Only the benchmark-only `benchmarkSkipsNoise` draws nothing: zeros keep the aggregation
        // path (quantise, add, dequantise) identical, so only the draw is left out.
        if configuration.benchmarkSkipsNoise { return Task { [Int64](repeating: 0, count: count) } }
        let profile = profile
        return Task.detached(priority: .utility) {
            profile.time(.noiseDraw) {
                var sampler = DiscreteGaussianSampler(distribution)
                return sampler.samples(count)
            }
        }
    }

    /// The pre-drawn noise if it has the right distribution (else a fresh draw). The next round's
    /// draw starts once this noise has been added (``drawNextNoise(_:)``), not now: two
    /// model-sized noise vectors are never held at once, which keeps the peak RSS down.
    func takeNoise(_ distribution: DiscreteGaussian) async -> [Int64] {
        let task = pendingNoise?.distribution == distribution ? pendingNoise!.draw : drawNoise(distribution)
        pendingNoise = nil
        return await profile.time(.noiseWait) { await task.value }
    }

    /// Starts drawing the next round's noise, while this round evaluates and closes and the next
    /// collects, so it is ready when needed.
    func drawNextNoise(_ distribution: DiscreteGaussian) {
        if pendingNoise == nil { pendingNoise = (distribution, drawNoise(distribution)) }
    }
}
