import ArgumentParser
import CohortBenchSupport
import CohortCrypto
import CohortModel
import CohortTransport
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// An authenticated participant floods the coordinator with connections that each announce the
/// largest update frame and send half of it, while honest participants run rounds.
///
/// Measured twice in one run, on the same consortium: honest rounds alone, then honest rounds
/// under the flood. The coordinator's RSS is sampled from `/proc` by this process throughout;
/// the figure that matters is what the flood adds to the honest peak, against the target
/// 2 × model size + 64 MiB, and whether the honest rounds still close.
struct FloodBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood",
        abstract: "Connections announcing the largest frame and sending half of it: coordinator RSS and honest rounds.")

    @Option(help: "Honest participant processes.")
    var honest = 3

    @Option(help: "Attacker connections, all with the attacker's valid participant certificate, opened at once.")
    var connections = 100

    @Option(help: "Model parameters (float32).")
    var parameters = 1_000_000

    @Option(help: "Rounds run by the honest participants in each mode.")
    var rounds = 2

    @Option(help: "Keep the consortium files and child logs here instead of a temporary directory that is removed.")
    var directory: String?

    func validate() throws {
        guard (1...32).contains(honest) else { throw ValidationError("--honest must lie in 1…32") }
        guard (1...1000).contains(connections) else { throw ValidationError("--connections must lie in 1…1000") }
        guard (1...50_000_000).contains(parameters) else {
            throw ValidationError("--parameters must lie in 1…50000000")
        }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must lie in 1…100") }
    }

    func run() throws {
        try Child.requireParticipantExecutable()
        let root =
            directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("cohort-flood-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        // The attacker is the last silo: a member of the policy with a valid certificate. A short
        // deadline, because an attacker session that is invited never answers.
        let consortium = try BenchConsortium.create(
            directory: root, participants: honest + 1, parameters: parameters, rounds: rounds, minParticipants: honest,
            deadlineSeconds: 5)
        let attacker = consortium.names.last!
        let modelBytes = parameters * 4
        let target = 2 * modelBytes + 64 << 20
        let calm = try runMode(consortium, attackerName: attacker, flood: false)
        let flooded = try runMode(consortium, attackerName: attacker, flood: true)
        let added = flooded.peakSampledBytes - calm.peakSampledBytes
        Measure.emit([
            "benchmark": "flood",
            "honest_participants": honest, "attacker_connections": connections, "parameters": parameters,
            "rounds": rounds,
            "model_bytes": modelBytes,
            "announced_frame_bytes": consortium.maxUpdateFrameBytes,
            "sent_per_connection_bytes": consortium.maxUpdateFrameBytes / 2,
            "coordinator_idle_rss_mb": Double(flooded.idleBytes) / 1e6,
            "coordinator_rss_under_flood_before_rounds_mb": Double(flooded.afterFloodBytes) / 1e6,
            "coordinator_peak_rss_mb_honest_only": Double(calm.peakSampledBytes) / 1e6,
            "coordinator_peak_rss_mb_flooded": Double(flooded.peakSampledBytes) / 1e6,
            "coordinator_vmhwm_mb_honest_only": Double(calm.coordinatorHighWaterBytes) / 1e6,
            "coordinator_vmhwm_mb_flooded": Double(flooded.coordinatorHighWaterBytes) / 1e6,
            "rss_added_by_flood_mb": Double(added) / 1e6,
            "target_mb": Double(target) / 1e6,
            "meets_target_added": added <= target,
            "meets_target_absolute": flooded.peakSampledBytes <= target,
            "flood_outcomes": flooded.floodOutcomes,
            "honest_rounds_closed_flooded": flooded.roundsClosed, "honest_rounds_closed_honest_only": calm.roundsClosed,
            "round_seconds_flooded": flooded.roundSeconds, "round_seconds_honest_only": calm.roundSeconds,
            "note":
                "RSS sampled every 20 ms from /proc/<pid>/status (VmRSS); MB = 10^6 bytes; target = 2 x model bytes + 64 MiB, "
                + "checked against what the flood adds to the honest-only peak (the honest round buffers are there either way) "
                + "and, for reference, against the absolute peak",
        ])
    }

    struct ModeResult {
        var idleBytes = 0
        var afterFloodBytes = 0
        var peakSampledBytes = 0
        var coordinatorHighWaterBytes = 0
        var roundsClosed = 0
        var roundSeconds: [Double] = []
        var floodOutcomes: [String: Int] = [:]
    }

    private func runMode(_ consortium: BenchConsortium, attackerName: String, flood: Bool) throws -> ModeResult {
        let tag = flood ? "flooded" : "honest"
        let portFile = consortium.directory + "/port-\(tag)"
        let coordinator = try Child(
            executable: Child.executable,
            arguments: [
                "round-coordinator", "--policy", consortium.policyPath, "--state",
                consortium.directory + "/state-\(tag)",
                // Under the flood the attacker's newest connection holds a session: rounds start
                // once it and every honest participant are in (it is invited and never answers).
                "--port-file", portFile, "--parameters", String(parameters), "--participants",
                String(honest + (flood ? 1 : 0)),
                "--contributors", String(honest), "--rounds", String(rounds),
            ],
            log: consortium.directory + "/coordinator-\(tag).log")
        let port = try coordinator.waitForPort(file: portFile)
        let sampler = RSSSampler(pid: coordinator.process.processIdentifier)
        var result = ModeResult()
        result.idleBytes = Measure.residentBytes(ofProcess: coordinator.process.processIdentifier) ?? 0
        var attack: Flood?
        if flood {
            let running = try Flood(
                consortium: consortium, attacker: attackerName, port: port, connections: connections)
            result.floodOutcomes = running.outcomes
            attack = running
            // Whatever the flood left the coordinator holding, before any round.
            Thread.sleep(forTimeInterval: 0.5)
            result.afterFloodBytes = Measure.residentBytes(ofProcess: coordinator.process.processIdentifier) ?? 0
        }
        let children = try consortium.names.dropLast().map { name in
            try Child(
                executable: Child.participantExecutable,
                arguments: [
                    "--identity", consortium.directory + "/" + name, "--name", name, "--port", String(port),
                    "--parameters", String(parameters), "--data", consortium.directory + "/" + name + "/data.csv",
                    "--schema", consortium.schemaPath, "--clipping-bound", String(BenchConsortium.clippingBound),
                ],
                log: consortium.directory + "/\(name)-\(tag).log")
        }
        let figures = try coordinator.result()
        _ = children.map { try? $0.result() }
        attack?.stop()
        result.peakSampledBytes = sampler.stop()
        result.coordinatorHighWaterBytes = figures["peak_rss_bytes"] as? Int ?? -1
        result.roundSeconds = figures["round_seconds"] as? [Double] ?? []
        result.roundsClosed = result.roundSeconds.count
        return result
    }
}

/// Samples a process's resident set every 20 ms on a thread of its own; `stop()` returns the peak.
final class RSSSampler: @unchecked Sendable {
    // @unchecked Sendable: `peak` and `running` are only touched under `lock`.
    private let lock = NSLock()
    private var peak = 0
    private var running = true

    init(pid: Int32) {
        Thread { [self] in loop(pid: pid) }.start()
    }

    private func loop(pid: Int32) {
        while true {
            let bytes = Measure.residentBytes(ofProcess: pid) ?? 0
            lock.lock()
            peak = max(peak, bytes)
            let more = running
            lock.unlock()
            guard more, bytes > 0 else { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    func stop() -> Int {
        lock.lock()
        defer { lock.unlock() }
        running = false
        return peak
    }
}

/// The attack: `connections` TLS connections with the attacker's certificate, opened at once.
/// Each says hello, waits for an answer, sends its attestation, then a header announcing the
/// largest update frame and half of its payload, and keeps the connection open. Bytes are written
/// raw, below the frame codec, since no well-behaved writer sends half a frame.
final class Flood {
    private let channels: [any Channel]
    /// How each connection ended up: `holding` (open with half a frame sent), `closed`, `failed`.
    let outcomes: [String: Int]

    init(consortium: BenchConsortium, attacker: String, port: Int, connections: Int) throws {
        let identity = IdentityFiles(directory: consortium.directory + "/" + attacker, name: attacker)
        let context = try NIOSSLContext(
            configuration: TLSConfigurationFactory(identity: identity).makeClientConfiguration())
        let attestation = try FeatureSchema.load(path: consortium.schemaPath).prepare(
            csvPath: identity.directory + "/data.csv", keyedHoldout: KeyedPRF(key: KeyedPRF.generateKey()),
            testFraction: 0.2
        ).0.attestation
        let attestationFrame = Self.encoded(Frame(Attestation(json: Array(try JSONEncoder().encode(attestation)))))
        let helloFrame = Self.encoded(Frame(Hello(participantName: attacker)))
        var half = ByteBuffer()
        let announced = consortium.maxUpdateFrameBytes
        FrameEncoder.encode(Frame(type: .update, payload: ByteBuffer()), into: &half)
        // The header's length field (the last four of its twelve bytes) announces the largest frame.
        half.setInteger(UInt32(announced), at: half.writerIndex - 4, endianness: .big)
        half.writeRepeatingByte(0x5A, count: announced / 2)
        let group = MultiThreadedEventLoopGroup.singleton
        let firstReads = (0..<connections).map { _ in group.next().makePromise(of: Void.self) }
        let opened: [EventLoopFuture<any Channel>] = firstReads.map { firstRead in
            ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                        try channel.pipeline.syncOperations.addHandler(FirstReadHandler(firstRead: firstRead))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
        }
        var channels: [any Channel] = []
        var answered: [EventLoopFuture<Void>] = []
        var outcomes: [String: Int] = [:]
        for (future, firstRead) in zip(opened, firstReads) {
            guard let channel = try? future.wait() else {
                outcomes["failed", default: 0] += 1
                firstRead.succeed()
                continue
            }
            channels.append(channel)
            // Hello on every connection at once; the attestation once the coordinator has answered.
            answered.append(channel.writeAndFlush(helloFrame).flatMap { firstRead.futureResult })
        }
        for (channel, future) in zip(channels, answered) {
            guard (try? future.wait()) != nil, channel.isActive else { continue }
            channel.writeAndFlush(attestationFrame, promise: nil)
        }
        Thread.sleep(forTimeInterval: 0.2)
        let sent = channels.filter(\.isActive).map { $0.writeAndFlush(half) }
        for future in sent { _ = try? future.wait() }
        Thread.sleep(forTimeInterval: 0.5)
        for channel in channels { outcomes[channel.isActive ? "holding" : "closed", default: 0] += 1 }
        self.channels = channels
        self.outcomes = outcomes
    }

    func stop() {
        for channel in channels { channel.close(promise: nil) }
    }

    private static func encoded(_ frame: Frame) -> ByteBuffer {
        var buffer = ByteBuffer()
        FrameEncoder.encode(frame, into: &buffer)
        return buffer
    }
}

/// Completes `firstRead` when the coordinator first sends anything (its welcome or its refusal).
final class FirstReadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let firstRead: EventLoopPromise<Void>

    init(firstRead: EventLoopPromise<Void>) {
        self.firstRead = firstRead
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        firstRead.succeed()
    }

    func channelInactive(context: ChannelHandlerContext) {
        firstRead.succeed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
