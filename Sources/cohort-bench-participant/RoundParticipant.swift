import ArgumentParser
import CohortBenchSupport
import CohortCrypto
import CohortModel
import CohortTransport
import Foundation
import Logging

/// `cohort-bench-participant`: the participant process of `cohort-bench round`, following the real
/// protocol (Hello → Welcome → attestation JSON → for each RoundInvite a sealed, signed Update)
/// with a synthetic update in place of local training. Prints its contributed round count, CPU
/// time and peak RSS as one JSON line.
///
/// A separate executable with the same dependencies as `cohort-participant` (CohortParticipant,
/// CohortTransport, ArgumentParser, swift-log, plus the small CohortBenchSupport), so its peak RSS
/// counts the code pages a real participant maps, not those of the whole benchmark binary
/// (coordinator, ledger, governance, metrics).
@main
struct RoundParticipantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-bench-participant",
        abstract: "Participant process of `cohort-bench round` (started by it; not meant to be run by hand).")

    /// Process-wide settings first, on the main thread, before the concurrency pool's threads
    /// exist: glibc's arena limit (``LargeAllocations/reuseLargeBuffers()``) binds only threads
    /// that have not allocated yet.
    static func main() async {
        ProcessSetup.forServer()
        await main(nil)
    }

    @Option var identity: String
    @Option var name: String
    @Option var port: Int
    @Option var parameters: Int
    @Option var data: String
    @Option var schema: String
    @Option var clippingBound: Double

    func run() async throws {
        let logger = BenchLogging.logger("cohort.bench.participant")
        // ProcessSetup.forServer() ran in main(), as in the real participant's entry point.
        // The attestation is the real one, computed from this silo's small CSV with a keyed
        // holdout of its own, as `cohort-participant` does.
        let (prepared, split) = try FeatureSchema.load(path: schema).prepare(
            csvPath: data, keyedHoldout: KeyedPRF(key: KeyedPRF.generateKey()), testFraction: 0.2)
        let attestation = Array(try JSONEncoder().encode(prepared.attestation))
        let files = IdentityFiles(directory: identity, name: name)
        let signingKey = try Ed25519.KeyPair(
            secretKey: KeyFile.readSecret(kind: .ed25519Secret, from: files.ed25519SecretKey))
        let tls = try TLSConfigurationFactory(identity: files)
        // The plaintext is encoded once; each round only rewrites its round number, then the
        // whole plaintext is sealed and signed afresh, as a training participant would.
        var plaintext = UpdatePlaintext.encode(
            round: 0, records: UInt32(split.train.count),
            values: SyntheticUpdate.values(count: parameters, seed: name, clippingBound: clippingBound))
        let tensorBytes = UInt32(clamping: parameters * 4 + (1 << 16))
        let connection = try await FrameClient.connect(
            host: "127.0.0.1", port: port, tls: tls.makeClientConfiguration(), serverHostname: "localhost",
            configuration: FrameClientConfiguration(
                limits: FrameLimits(maxTensorBytes: max(FrameLimits.defaultMaxTensorBytes, tensorBytes))),
            logger: logger)
        let name = name
        let parameters = parameters
        // Evaluations count the holdout only: the coordinator refuses counts above it.
        let dataset = prepared.dataset.subset(split.test)
        var contributed = 0
        var refusals: [String] = []
        // The coordinator process exits right after its goodbye, which can reach the socket after
        // the process has gone (Coordinator.stop does not wait for it to be flushed): the
        // connection then ends without TLS close_notify. The parent checks that every round was
        // contributed, so an error at the end is reported, not fatal.
        var endedWith: String?
        var heldModel = HeldModel()
        // CPU time from the first invitation on: the timed rounds, not connecting and attesting.
        var cpuAtFirstInvite: Double?
        // Sealing and signing each update (the participant's half of the update's cryptography).
        var sealTime = Duration.zero
        do {
            try await connection.executeThenClose { connection in
                var frames = connection.inbound.makeAsyncIterator()
                try await connection.outbound.send(Hello(participantName: name))
                guard let welcomeFrame = try await frames.next() else { return }
                let welcome = try welcomeFrame.decode(Welcome.self)
                guard Int(welcome.model.dimension) == parameters else {
                    throw BenchError(
                        "the coordinator's model has \(welcome.model.dimension) parameters, not \(parameters)")
                }
                try await connection.outbound.send(Attestation(json: attestation))
                while let frame = try await frames.next() {
                    let type = frame.type
                    switch type {
                    case .roundInvite:
                        if cpuAtFirstInvite == nil { cpuAtFirstInvite = Measure.processCPUSeconds() }
                        // Decoded in full, and the global model resolved (sent in full or held
                        // from the evaluation request), as a training participant must. The frame
                        // (the whole model when sent in full) is let go before sealing.
                        let invite = try (consume frame).decode(RoundInvite.self)
                        let globalModel = try heldModel.model(for: invite)
                        guard globalModel.count == parameters else {
                            throw BenchError(
                                "round \(invite.round)'s global model has \(globalModel.count) parameters, not \(parameters)"
                            )
                        }
                        SyntheticUpdate.setRound(invite.round, in: &plaintext)
                        let sealStart = ContinuousClock.now
                        let frame = try plaintext.withUnsafeBytes { bytes in
                            try Update.sealedFrame(
                                round: invite.round, roundNonce: invite.roundNonce, participantName: name,
                                plaintext: bytes,
                                to: welcome.coordinatorSealingKey, signingKey: signingKey)
                        }
                        sealTime += sealStart.duration(to: .now)
                        try await connection.outbound.send(frame)
                        contributed += 1
                    case .evaluateRequest:
                        // The coordinator's federated evaluation waits (up to 10 s) for every
                        // connected participant: answer at once, as a real silo with a small holdout
                        // does. The request is decoded in full, candidate model included; the synthetic
                        // model's only meaningful inputs here are the first weight and the bias.
                        let request = try heldModel.hold(evaluateRequestIn: frame)
                        var accumulator = MetricsAccumulator()
                        let weight = Double(request.model.first ?? 0)
                        let bias = Double(request.model.last ?? 0)
                        for index in 0..<dataset.count {
                            accumulator.add(
                                logit: weight * Double(dataset.row(index).first ?? 0) + bias,
                                isPositive: dataset.isPositive(index))
                        }
                        try await connection.outbound.send(
                            EvaluationResult(round: request.round, json: Array(try JSONEncoder().encode(accumulator))))
                    case .error:
                        let error = try frame.decode(WireError.self)
                        refusals.append(error.code)
                        if error.closesConnection { return }
                    case .bye:
                        return
                    default:
                        continue
                    }
                }
            }
        } catch {
            guard contributed > 0 else { throw error }
            endedWith = "\(error)"
        }
        Measure.emit([
            "event": "participant_done", "name": name, "rounds": contributed, "refusals": refusals,
            "connection_ended_with": endedWith ?? "bye",
            "seal_seconds_per_update": contributed > 0
                ? (Double(sealTime.components.seconds) + Double(sealTime.components.attoseconds) * 1e-18)
                    / Double(contributed)
                : 0,
            "cpu_seconds": cpuAtFirstInvite.map { Measure.processCPUSeconds() - $0 } ?? 0,
            "peak_rss_bytes": Measure.peakResidentBytes() ?? -1, "rss_file_bytes": Measure.residentFileBytes() ?? -1,
        ])
    }
}
