import ArgumentParser
import CohortBenchSupport
import CohortPrivacy
import CohortTransport
import Foundation

/// Full federated rounds over real mutual TLS on 127.0.0.1, with synthetic updates, side by side
/// with Flower 1.42 over TLS measured in the same run.
///
/// The coordinator (the real `Coordinator` actor, in the hidden `round-coordinator` subcommand of
/// this binary) and every participant (the `cohort-bench-participant` executable built next to
/// it, which links what `cohort-participant` links) run as separate processes, so each reports its
/// own peak RSS (VmHWM) and CPU time. Flower runs through `Scripts/reference/flower_round.py`
/// (a server process and one process per client, or `--flower-clients-per-process` clients per
/// process, one thread and one connection each; gRPC over TLS). The two alternate: for each
/// repeat and each mode, Cohort then Flower, on the same machine state; the best median of each
/// over the repeats is compared, so a burst of load from elsewhere on a shared machine spoils one
/// repeat, not the ratio.
struct RoundBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round",
        abstract: "Full rounds over mutual TLS on loopback, side by side with Flower 1.42 over TLS: round time, "
            + "coordinator CPU per round and peak RSS, with and without noise."
    )

    @Option(help: "Participant processes; all are invited every round.")
    var participants = 8

    @Option(help: "Model parameters (float32) per update.")
    var parameters = 1_000_000

    @Option(help: "Timed rounds per run.")
    var rounds = 5

    @Option(help: "Runs of each system per mode, alternating; the best median of each is compared.")
    var repeats = 2

    @Flag(help: "Run only without noise (the coordinator's benchmark-only switch skips the draw).")
    var noNoise = false

    @Flag(help: "Run only with noise.")
    var noiseOnly = false

    @Option(help: "Keep the consortium files and child logs here instead of a temporary directory that is removed.")
    var directory: String?

    @Flag(help: "Skip the Flower reference measured in the same run (Scripts/reference/flower_round.py, needs flwr).")
    var noReference = false

    @Flag(help: "Flower also evaluates each aggregate on every client, as each Cohort round does.")
    var flowerEvaluates = false

    @Option(
        help: ArgumentHelp(
            "Flower clients per client process, one thread and one TLS connection each (1: one process each).",
            discussion: "More than 1 fits 128 Flower clients in memory; the clients of a process then share its "
                + "GIL, the server is unchanged."))
    var flowerClientsPerProcess = 1

    @Option(help: "The Flower reference script.")
    var flowerScript = "Scripts/reference/flower_round.py"

    /// The targets (docs/PERFORMANCE.md), as ratios measured in the same run.
    static let targetRoundRatio = 1.0 / 3.0
    static let targetCPURatio = 0.5
    /// Coordinator peak RSS at 8 participants × 10⁶ parameters.
    static let targetCoordinatorMB = 120.0

    func validate() throws {
        guard (1...256).contains(participants) else { throw ValidationError("--participants must lie in 1…256") }
        // The update frame must fit the policy's largest max_update_bytes (1 GiB).
        guard (1...200_000_000).contains(parameters) else {
            throw ValidationError("--parameters must lie in 1…200000000")
        }
        guard (1...10_000).contains(rounds) else { throw ValidationError("--rounds must lie in 1…10000") }
        guard (1...20).contains(repeats) else { throw ValidationError("--repeats must lie in 1…20") }
        guard !(noNoise && noiseOnly) else { throw ValidationError("--no-noise and --noise-only exclude each other") }
        guard (1...256).contains(flowerClientsPerProcess) else {
            throw ValidationError("--flower-clients-per-process must lie in 1…256")
        }
    }

    func run() throws {
        try Child.requireParticipantExecutable()
        #if DEBUG
        Measure.emit(["warning": "debug build: run `swift run -c release cohort-bench round` for meaningful figures"])
        #endif
        let root: String
        if let directory {
            root = directory
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } else {
            root =
                FileManager.default.temporaryDirectory.appendingPathComponent("cohort-round-bench-\(UUID().uuidString)")
                .path
        }
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        let consortium = try BenchConsortium.create(
            directory: root, participants: participants, parameters: parameters, rounds: rounds)

        var modes: [Bool] = []  // with noise?
        if !noiseOnly { modes.append(false) }
        if !noNoise { modes.append(true) }
        try emitCryptoFloor(directory: root, withNoise: modes.contains(true))
        var cohort: [Bool: [BenchConsortium.Run]] = [:]
        var flower: [Bool: [FlowerReference]] = [:]
        var flowerUnavailable: String? = noReference ? "skipped (--no-reference)" : nil
        for repeatIndex in 1...repeats {
            for withNoise in modes {
                let run = try consortium.runRounds(withNoise: withNoise, tag: "\(repeatIndex)")
                cohort[withNoise, default: []].append(run)
                emitRun(
                    system: "cohort", withNoise: withNoise, repeatIndex: repeatIndex, roundSeconds: run.roundSeconds,
                    cpu: run.coordinatorRoundCPUSeconds, peakMB: Double(run.coordinatorPeakBytes) / 1e6)
                // Right after ours, on the same machine state, so the ratio means something.
                guard flowerUnavailable == nil else { continue }
                switch FlowerReference.measure(
                    script: flowerScript, participants: participants, parameters: parameters, rounds: rounds,
                    dp: withNoise,
                    evaluate: flowerEvaluates, clientsPerProcess: flowerClientsPerProcess)
                {
                case .measured(let reference):
                    flower[withNoise, default: []].append(reference)
                    emitRun(
                        system: "flower", withNoise: withNoise, repeatIndex: repeatIndex,
                        roundSeconds: reference.roundSeconds,
                        cpu: reference.serverRoundCPUSeconds, peakMB: reference.serverPeakMB)
                case .unavailable(let reason):
                    flowerUnavailable = reason
                }
            }
        }
        for withNoise in modes {
            report(
                cohort: cohort[withNoise] ?? [], flower: flower[withNoise] ?? [], withNoise: withNoise,
                flowerUnavailable: flowerUnavailable)
        }
    }

    /// What Flower's `client_peak_rss_mb` is the peak of: a process hosting one client, or several.
    private var flowerClientPeakScope: String {
        if flowerClientsPerProcess == 1 { return "largest client process (one client each)" }
        let clients = String(flowerClientsPerProcess)
        return "largest client process (" + clients + " clients each, one thread and one TLS connection per client, "
            + "sharing one GIL)"
    }

    /// One line per run, so every repeat's figures are on record, not only the best.
    private func emitRun(
        system: String, withNoise: Bool, repeatIndex: Int, roundSeconds: [Double], cpu: [Double], peakMB: Double
    ) {
        Measure.emit([
            "benchmark": "round_run", "system": system, "noise": withNoise ? "drawn" : "skipped", "repeat": repeatIndex,
            "participants": participants, "parameters": parameters, "round_seconds": roundSeconds,
            "median_round_seconds": Self.median(roundSeconds), "coordinator_round_cpu_seconds": cpu,
            "coordinator_peak_rss_mb": peakMB,
        ])
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// The side-by-side line of one mode: each system's best run (lowest median round time), its
    /// coordinator CPU per round and peak RSS, and the ratios Cohort / Flower.
    private func report(
        cohort runs: [BenchConsortium.Run], flower references: [FlowerReference], withNoise: Bool,
        flowerUnavailable: String?
    ) {
        guard let best = runs.min(by: { Self.median($0.roundSeconds) < Self.median($1.roundSeconds) }) else { return }
        let median = Self.median(best.roundSeconds)
        let cpuMean = Self.mean(best.coordinatorRoundCPUSeconds)
        let cpuMedian = Self.median(best.coordinatorRoundCPUSeconds)
        // Peak RSS is a high-water mark: the largest over every run, not the best run's.
        let coordinatorMB = Double(runs.map(\.coordinatorPeakBytes).max() ?? 0) / 1e6
        let participantMB = Double(runs.flatMap(\.participantPeakBytes).max() ?? 0) / 1e6
        let timedRounds = Double(best.roundSeconds.count)
        var cohortFields: [String: Any] = [
            "median_round_seconds": median, "round_seconds": best.roundSeconds,
            "median_round_seconds_each_repeat": runs.map { Self.median($0.roundSeconds) },
            "coordinator_cpu_seconds_per_round_mean": cpuMean, "coordinator_cpu_seconds_per_round_median": cpuMedian,
            "coordinator_round_cpu_seconds": best.coordinatorRoundCPUSeconds,
            "coordinator_peak_rss_mb": coordinatorMB,
            "coordinator_peak_private_mb_estimate": Double(best.coordinatorPeakBytes - best.coordinatorFileBytes) / 1e6,
            "coordinator_minor_faults_per_round": Double(best.coordinatorMinorFaults) / timedRounds,
            "participant_peak_rss_mb": participantMB,
            "participant_cpu_seconds_per_round_total": best.participantCPUSeconds.reduce(0, +) / timedRounds,
            "participant_seal_seconds_per_update": Self.mean(best.participantSealSeconds),
            "coordinator_phase_seconds_per_round": best.phases,
        ]
        cohortFields["phase_note"] =
            "phases are summed over every task that ran them (updates are opened several at a time, "
            + "off the coordinator's actor), so they can add up to more than the round; noise_draw runs ahead of need, "
            + "noise_wait is what the round waited for it; evaluate is wall time"
        var fields: [String: Any] = [
            "benchmark": "round", "noise": withNoise ? "drawn" : "skipped",
            "participants": participants, "parameters": parameters, "rounds": rounds, "repeats": runs.count,
            "cores": ProcessInfo.processInfo.activeProcessorCount,
            "flower_clients_per_process": flowerClientsPerProcess,
            "cohort": cohortFields,
            "cohort_scope":
                "Coordinator.runRound(): gates, ledger open, invitations with the global model, participants seal and "
                + "sign, verify/open/clip/sum of every update, fsynced charge, noised mean, federated evaluation of "
                + "the candidate, "
                + "fsynced checkpoint and close; mutual TLS 1.3 over 127.0.0.1, every process separate",
            "targets": [
                "round_ratio_max": Self.targetRoundRatio, "coordinator_cpu_ratio_max": Self.targetCPURatio,
                "coordinator_peak_rss_mb_max_at_8x1e6": Self.targetCoordinatorMB,
            ],
            "units":
                "seconds on the monotonic clock; CPU = user + system of the whole process; MB = 10^6 bytes of VmHWM; "
                + "ratios are Cohort / Flower (below 1 is better)",
        ]
        if participants == 8 && parameters == 1_000_000 {
            fields["meets_coordinator_rss_target"] = coordinatorMB <= Self.targetCoordinatorMB
        }
        if let reference = references.min(by: { $0.medianRoundSeconds < $1.medianRoundSeconds }) {
            let flowerCPUMean = Self.mean(reference.serverRoundCPUSeconds)
            let flowerCPUMedian = Self.median(reference.serverRoundCPUSeconds)
            fields["flower"] =
                [
                    "median_round_seconds": reference.medianRoundSeconds, "round_seconds": reference.roundSeconds,
                    "median_round_seconds_each_repeat": references.map(\.medianRoundSeconds),
                    "server_cpu_seconds_per_round_mean": flowerCPUMean,
                    "server_cpu_seconds_per_round_median": flowerCPUMedian,
                    "server_round_cpu_seconds": reference.serverRoundCPUSeconds,
                    "server_peak_rss_mb": references.map(\.serverPeakMB).max() ?? reference.serverPeakMB,
                    "client_peak_rss_mb": references.map(\.clientPeakMB).max() ?? reference.clientPeakMB,
                    "strategy": withNoise ? "DifferentialPrivacyServerSideFixedClipping(FedAvg)" : "FedAvg",
                    "round_ends_at": flowerEvaluates
                        ? "aggregate_evaluate (federated evaluation of the aggregate on every client, as in Cohort)"
                        : "aggregate_fit (no federated evaluation; Cohort's rounds include one)",
                    "transport": "gRPC over TLS (server-authenticated), flwr 1.42 legacy start_server/start_client",
                    "clients_per_process": flowerClientsPerProcess,
                    "client_peak_rss_scope": flowerClientPeakScope,
                ] as [String: Any]
            let roundRatio = median / reference.medianRoundSeconds
            let cpuRatio = cpuMean / flowerCPUMean
            fields["ratios"] = [
                "round_time": roundRatio, "speedup": reference.medianRoundSeconds / median,
                "coordinator_cpu_mean": cpuRatio, "coordinator_cpu_median": cpuMedian / flowerCPUMedian,
                "coordinator_peak_rss": coordinatorMB / (references.map(\.serverPeakMB).max() ?? reference.serverPeakMB)
                ,
            ]
            fields["meets_round_target"] = roundRatio <= Self.targetRoundRatio
            fields["meets_cpu_target"] = cpuRatio <= Self.targetCPURatio
        } else {
            fields["flower"] = NSNull()
            fields["flower_unavailable"] = flowerUnavailable ?? "no Flower run completed"
        }
        Measure.emit(fields)
    }

    /// The cryptography of a round timed alone (``CryptoFloor``) and libsodium's AEADs on this CPU
    /// (``AEADSpeeds``), on model-sized buffers.
    private func emitCryptoFloor(directory: String, withNoise: Bool) throws {
        let noiseDraw = withNoise ? try measureNoiseDraw() : 0
        let floor = try CryptoFloor.measure(parameters: parameters)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let cryptoRound = floor.roundCPUSeconds(participants: participants)
        let fsync = try CryptoFloor.fsyncSeconds(directory: directory)
        Measure.emit([
            "benchmark": "round_crypto_floor", "parameters": parameters, "participants": participants, "cores": cores,
            "seconds_per_model_sized_buffer": [
                "seal_update": floor.sealSeconds, "open_update": floor.openSeconds,
                "sha256": floor.sha256Seconds, "aes128_gcm_encrypt": floor.aesGCMEncryptSeconds,
                "aes128_gcm_decrypt": floor.aesGCMDecryptSeconds, "aes128_gcm_pass_used": floor.aesGCMSeconds,
            ],
            "ledger_fsync_seconds": fsync,
            "crypto_cpu_seconds_per_round": cryptoRound,
            "floor_round_seconds_no_noise": cryptoRound / Double(cores),
            "floor_round_seconds_noise": (cryptoRound + noiseDraw) / Double(cores),
            "note":
                "sealing, SHA-256 and TLS encryption of every update on its participant, TLS decryption, SHA-256 and "
                + "opening "
                + "on the coordinator, the global model through TLS once per participant (and the noise draw), each "
                + "timed alone "
                + "on one thread and summed over the round, divided by the cores: a round cannot be faster on this "
                + "machine.",
        ])
        Measure.emit(AEADSpeeds.measure(bytes: parameters * 4).figures(bytes: parameters * 4))
    }

    /// Times one draw of the round's noise vector alone, single-threaded, with the σ the
    /// coordinator derives from the benchmark policy. In a round the draw runs in a background
    /// task while updates arrive, so it adds to the round time only what it cannot overlap.
    private func measureNoiseDraw() throws -> Double {
        let grid = try FixedPointGrid(
            clippingBound: BenchConsortium.clippingBound, dimension: parameters, inflation: 1e-3)
        let distribution = try grid.noise(
            noiseMultiplier: BenchConsortium.noiseMultiplier, clippingBound: BenchConsortium.clippingBound,
            dimension: parameters)
        var sampler = DiscreteGaussianSampler(distribution)
        var noise: [Int64] = []
        let seconds = Measure.seconds { noise = sampler.samples(parameters) }
        Measure.consume(noise)
        Measure.emit([
            "benchmark": "round_noise_draw", "parameters": parameters, "seconds": seconds,
            "sigma_grid_units": distribution.sigma, "threads": 1,
            "note": "one round's exact discrete-Gaussian noise vector, drawn alone in the parent process",
        ])
        return seconds
    }
}
