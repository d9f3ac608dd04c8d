import ArgumentParser
@_spi(CohortBenchmark) import CohortCoordinator
import CohortCrypto
import CohortModel
import CohortPolicy
import CohortTransport
import Foundation
import Logging

/// Child of `round`: the real coordinator on a real mutual-TLS port. Waits until every
/// participant is attested, times `rounds` calls of `runRound()`, says goodbye, and prints its
/// round times and peak RSS as one JSON line.
struct RoundCoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round-coordinator", abstract: "Coordinator process of `round` (internal).", shouldDisplay: false)

    @Option var policy: String
    @Option var state: String
    @Option var portFile: String
    @Option var parameters: Int
    @Option var participants: Int
    @Option var rounds: Int
    @Flag var noNoise = false

    func run() async throws {
        let logger = BenchLogging.logger("cohort.bench.coordinator")
        let loaded = try PolicyLoader.load(path: policy)
        var configuration = CoordinatorConfiguration(
            policy: loaded, stateDirectory: state, portOverride: 0, quorumWaitSeconds: 60, modelDimension: parameters)
        configuration.benchmarkSkipsNoise = noNoise
        let coordinator = try Coordinator(configuration: configuration, logger: logger)
        let files = loaded.policy.coordinator
        let tls = try TLSConfigurationFactory(
            caCertificatePEM: String(contentsOfFile: loaded.resolve(files.caCertificate), encoding: .utf8),
            certificatePEM: String(contentsOfFile: loaded.resolve(files.certificate), encoding: .utf8),
            privateKeyPEM: String(contentsOfFile: loaded.resolve(files.privateKey), encoding: .utf8))
        let port = try await coordinator.start(tls: tls.makeServerConfiguration())
        try String(port).write(toFile: portFile, atomically: true, encoding: .utf8)
        // Connecting and attesting are not part of a round: start timing once everyone is in.
        let clock = ContinuousClock()
        let joinDeadline = clock.now.advanced(by: .seconds(60))
        while await coordinator.connectedParticipants.count < participants {
            guard clock.now < joinDeadline else {
                await coordinator.stop(reason: "benchmark aborted")
                throw BenchError("only \(await coordinator.connectedParticipants.count) of \(participants) participants joined")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        var times: [Double] = []
        let cpuAtStart = Measure.processCPUSeconds()
        for _ in 0..<rounds {
            let start = clock.now
            let outcome = try await coordinator.runRound()
            let elapsed = start.duration(to: clock.now)
            guard case .closed(_, let contributors, _, _) = outcome, contributors.count == participants else {
                await coordinator.stop(reason: "benchmark aborted")
                throw BenchError("a round did not close with every participant: \(outcome)")
            }
            times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        let cpuSeconds = Measure.processCPUSeconds() - cpuAtStart
        await coordinator.stop(reason: "benchmark finished")
        Measure.emit(["event": "coordinator_done", "round_seconds": times, "cpu_seconds": cpuSeconds,
                      "peak_rss_bytes": Measure.peakResidentBytes() ?? -1,
                      "rss_file_bytes": Measure.residentFileBytes() ?? -1])
    }
}

/// Child of `round`: a participant following the real protocol (Hello → Welcome → attestation
/// JSON → for each RoundInvite a sealed, signed Update) with a synthetic update in place of
/// local training. Prints its contributed round count and peak RSS as one JSON line.
struct RoundParticipantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round-participant", abstract: "Participant process of `round` (internal).", shouldDisplay: false)

    @Option var identity: String
    @Option var name: String
    @Option var port: Int
    @Option var parameters: Int
    @Option var data: String
    @Option var schema: String

    func run() async throws {
        let logger = BenchLogging.logger("cohort.bench.participant")
        // As the real participant does (Participant.run).
        LargeAllocations.returnLargeBuffersToTheSystem()
        // The attestation is the real one, computed from this silo's small CSV.
        let prepared = try FeatureSchema.load(path: schema).prepare(csvPath: data)
        let attestation = Array(try JSONEncoder().encode(prepared.attestation))
        let files = IdentityFiles(directory: identity, name: name)
        let signingKey = try Ed25519.KeyPair(secretKey: KeyFile.readSecret(kind: .ed25519Secret, from: files.ed25519SecretKey))
        let tls = try TLSConfigurationFactory(identity: files)
        // The plaintext is encoded once; each round only rewrites its round number, then the
        // whole plaintext is sealed and signed afresh, as a training participant would.
        var plaintext = UpdatePlaintext.encode(
            round: 0, records: UInt32(prepared.dataset.count), values: SyntheticUpdate.values(count: parameters, seed: name))
        let tensorBytes = UInt32(clamping: parameters * 4 + (1 << 16))
        let connection = try await FrameClient.connect(
            host: "127.0.0.1", port: port, tls: tls.makeClientConfiguration(), serverHostname: "localhost",
            configuration: FrameClientConfiguration(limits: FrameLimits(maxTensorBytes: max(FrameLimits.defaultMaxTensorBytes, tensorBytes))),
            logger: logger)
        let name = name
        let parameters = parameters
        let dataset = prepared.dataset
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
        do {
            try await connection.executeThenClose { connection in
                var frames = connection.inbound.makeAsyncIterator()
                try await connection.outbound.send(Hello(participantName: name))
                guard let welcomeFrame = try await frames.next() else { return }
                let welcome = try welcomeFrame.decode(Welcome.self)
                guard Int(welcome.model.dimension) == parameters else {
                    throw BenchError("the coordinator's model has \(welcome.model.dimension) parameters, not \(parameters)")
                }
                try await connection.outbound.send(Attestation(json: attestation))
                while let frame = try await frames.next() {
                    switch frame.type {
                    case .roundInvite:
                        if cpuAtFirstInvite == nil { cpuAtFirstInvite = Measure.processCPUSeconds() }
                        // Decoded in full, and the global model resolved (sent in full or held
                        // from the evaluation request), as a training participant must.
                        let invite = try frame.decode(RoundInvite.self)
                        let globalModel = try heldModel.model(for: invite)
                        guard globalModel.count == parameters else {
                            throw BenchError("round \(invite.round)'s global model has \(globalModel.count) parameters, not \(parameters)")
                        }
                        SyntheticUpdate.setRound(invite.round, in: &plaintext)
                        let frame = try plaintext.withUnsafeBytes { bytes in
                            try Update.sealedFrame(
                                round: invite.round, roundNonce: invite.roundNonce, participantName: name, plaintext: bytes,
                                to: welcome.coordinatorSealingKey, signingKey: signingKey)
                        }
                        try await connection.outbound.send(frame)
                        contributed += 1
                    case .evaluateRequest:
                        // The coordinator's federated evaluation waits (up to 10 s) for every
                        // connected participant: answer at once, as a real silo with a small holdout
                        // does. The request is decoded in full, candidate model included; the synthetic
                        // model's only meaningful inputs here are the first weight and the bias.
                        heldModel.release()
                        let request = try frame.decode(EvaluateRequest.self)
                        heldModel.hold(request)
                        var accumulator = MetricsAccumulator()
                        let weight = Double(request.model.first ?? 0), bias = Double(request.model.last ?? 0)
                        for index in 0..<dataset.count {
                            accumulator.add(logit: weight * Double(dataset.row(index).first ?? 0) + bias, isPositive: dataset.isPositive(index))
                        }
                        try await connection.outbound.send(EvaluationResult(round: request.round, json: Array(try JSONEncoder().encode(accumulator))))
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
            "cpu_seconds": cpuAtFirstInvite.map { Measure.processCPUSeconds() - $0 } ?? 0,
            "peak_rss_bytes": Measure.peakResidentBytes() ?? -1, "rss_file_bytes": Measure.residentFileBytes() ?? -1,
        ])
    }
}

/// The synthetic update: deterministic float32 values whose L2 norm is 1.5 × the clipping bound,
/// so the coordinator's clipping pass always scales.
enum SyntheticUpdate {
    static func values(count: Int, seed: String) -> [Float] {
        var state = UInt64(truncatingIfNeeded: seed.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) })
        var values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count {
                // xorshift64: cheap, reproducible, no cryptographic role here.
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                buffer[index] = Float(Int64(state % 2001) - 1000)
            }
            initialized = count
        }
        let norm = values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let scale = Float(1.5 * BenchConsortium.clippingBound / max(norm, 1))
        for index in values.indices { values[index] *= scale }
        return values
    }

    /// Byte offset of the round number in the plaintext layout (magic 4, version 2, round 8 LE);
    /// see UpdatePlaintext.
    static let roundOffset = 6

    static func setRound(_ round: UInt64, in plaintext: inout [UInt8]) {
        plaintext.withUnsafeMutableBytes { $0.storeBytes(of: round.littleEndian, toByteOffset: roundOffset, as: UInt64.self) }
        // Guards the layout assumption above against a change of the format.
        let header = plaintext.withUnsafeBytes { try? UpdatePlaintext.header(of: $0) }
        precondition(header?.round == round, "the update plaintext layout changed; update SyntheticUpdate.roundOffset")
    }
}

/// Child processes log warnings and worse to stderr (the parent keeps it in a log file);
/// info-level logging per update would be measured along with the round otherwise.
enum BenchLogging {
    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        return logger
    }
}
