import ArgumentParser
import CohortBenchSupport
import CohortPrivacy
import CohortTransport
import Foundation

/// Full federated rounds over real mutual TLS on 127.0.0.1, with synthetic updates.
///
/// The coordinator (the real `Coordinator` actor, in the hidden `round-coordinator` subcommand of
/// this binary) and every participant (the `cohort-bench-participant` executable built next to
/// it, which links what `cohort-participant` links) run as separate processes, so each reports its
/// own peak RSS (VmHWM) and CPU time. This process only sets up the consortium files, starts the
/// children, collects their figures and prints them.
struct RoundBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round",
        abstract: "Full rounds over mutual TLS on loopback: median round time, coordinator and participant peak RSS, with and without noise."
    )

    @Option(help: "Participant processes; all are invited every round.")
    var participants = 8

    @Option(help: "Model parameters (float32) per update.")
    var parameters = 1_000_000

    @Option(help: "Timed rounds per run.")
    var rounds = 5

    @Flag(help: "Run only without noise (the coordinator's benchmark-only switch skips the draw).")
    var noNoise = false

    @Flag(help: "Run only with noise.")
    var noiseOnly = false

    @Option(help: "Keep the consortium files and child logs here instead of a temporary directory that is removed.")
    var directory: String?

    @Flag(help: "Skip the Flower reference measured in the same run (Scripts/reference/flower_round.py, needs flwr).")
    var noReference = false

    @Option(help: "The Flower reference script.")
    var flowerScript = "Scripts/reference/flower_round.py"

    // Figures of the issue this benchmark reports against, and of Flower 1.42 (gRPC) on the
    // same machine class and workload (8 clients, 10⁶ parameters).
    static let targetRoundSecondsNoNoise = 0.08
    static let targetRoundSecondsNoise = 0.13
    static let targetCoordinatorMB = 120.0
    static let targetParticipantMBBeforeModel = 30.0
    static let flowerRoundSecondsNoNoise = 0.25
    static let flowerRoundSecondsNoise = 0.40
    static let flowerCoordinatorMB = 472.0
    static let flowerParticipantMB = 234.0

    func validate() throws {
        guard (1...64).contains(participants) else { throw ValidationError("--participants must lie in 1…64") }
        // The update frame must fit the policy's largest max_update_bytes (1 GiB).
        guard (1...200_000_000).contains(parameters) else { throw ValidationError("--parameters must lie in 1…200000000") }
        guard (1...10_000).contains(rounds) else { throw ValidationError("--rounds must lie in 1…10000") }
        guard !(noNoise && noiseOnly) else { throw ValidationError("--no-noise and --noise-only exclude each other") }
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
            root = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-round-bench-\(UUID().uuidString)").path
        }
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        let consortium = try BenchConsortium.create(
            directory: root, participants: participants, parameters: parameters, rounds: rounds)

        var modes: [Bool] = []  // with noise?
        if !noiseOnly { modes.append(false) }
        if !noNoise { modes.append(true) }
        let noiseDraw = modes.contains(true) ? try measureNoiseDraw(consortium) : 0
        let floor = try CryptoFloor.measure(parameters: parameters)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let cryptoRound = floor.roundCPUSeconds(participants: participants)
        let fsync = try CryptoFloor.fsyncSeconds(directory: root)
        Measure.emit([
            "benchmark": "round_crypto_floor", "parameters": parameters, "participants": participants, "cores": cores,
            "seconds_per_model_sized_buffer": [
                "seal_libsodium_sealed_box": floor.sealSeconds, "open_libsodium_sealed_box": floor.openSeconds,
                "sha256": floor.sha256Seconds, "aes128_gcm_encrypt": floor.aesGCMEncryptSeconds, "aes128_gcm_decrypt": floor.aesGCMDecryptSeconds,
                "aes128_gcm_pass_used": floor.aesGCMSeconds,
            ],
            "ledger_fsync_seconds": fsync,
            "durable_steps_in_sequence_per_round": 4,
            "crypto_cpu_seconds_per_round": cryptoRound,
            "floor_round_seconds_no_noise": cryptoRound / Double(cores),
            "floor_round_seconds_noise": (cryptoRound + noiseDraw) / Double(cores),
            "target_round_seconds_no_noise": Self.targetRoundSecondsNoNoise, "target_round_seconds_noise": Self.targetRoundSecondsNoise,
            "note": "seal, SHA-256 and TLS encryption of every update on its participant, TLS decryption, SHA-256 and opening on the "
                + "coordinator, the global model through TLS once per participant (and the noise draw), each timed alone on one thread "
                + "and summed over the round, divided by the cores: a round cannot be faster on this machine. Kernel copies, page faults, "
                + "framing, clipping, summing, evaluation and the round's four fsynced ledger steps in sequence come on top.",
        ])
        for withNoise in modes {
            let run = try consortium.runRounds(withNoise: withNoise)
            // Measured right after ours, on the same machine state, so the ratio means something.
            let flower: FlowerReference.Outcome = noReference
                ? .unavailable("skipped (--no-reference)")
                : FlowerReference.measure(script: flowerScript, participants: participants, parameters: parameters, rounds: rounds, dp: withNoise)
            report(run, withNoise: withNoise, flower: flower)
        }
    }

    /// Times one draw of the round's noise vector alone, single-threaded, with the σ the
    /// coordinator derives from the benchmark policy. In a round the draw runs in a background
    /// task while updates arrive, so it adds to the round time only what it cannot overlap.
    private func measureNoiseDraw(_ consortium: BenchConsortium) throws -> Double {
        let grid = try FixedPointGrid(clippingBound: BenchConsortium.clippingBound, dimension: parameters, inflation: 1e-3)
        let distribution = try grid.noise(
            noiseMultiplier: BenchConsortium.noiseMultiplier, clippingBound: BenchConsortium.clippingBound, dimension: parameters)
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

    private func report(_ run: BenchConsortium.Run, withNoise: Bool, flower: FlowerReference.Outcome) {
        let times = run.roundSeconds
        let sorted = times.sorted()
        let median = sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let targetRound = withNoise ? Self.targetRoundSecondsNoise : Self.targetRoundSecondsNoNoise
        let flowerRound = withNoise ? Self.flowerRoundSecondsNoise : Self.flowerRoundSecondsNoNoise
        let coordinatorMB = Double(run.coordinatorPeakBytes) / 1e6
        let participantMBs = run.participantPeakBytes.map { Double($0) / 1e6 }
        let participantMB = participantMBs.max() ?? 0
        let modelMB = Double(parameters * 4) / 1e6
        let targetParticipant = Self.targetParticipantMBBeforeModel + modelMB
        // All the work of a round, in every process, over the cores it can run on: no schedule of
        // this work finishes a round faster than that, whatever overlaps.
        let rounds = Double(times.count)
        let coordinatorCPU = run.coordinatorCPUSeconds / rounds
        let participantsCPU = run.participantCPUSeconds.reduce(0, +) / rounds
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let cpuBoundRound = (coordinatorCPU + participantsCPU) / Double(cores)
        var fields: [String: Any] = [:]
        switch flower {
        case .measured(let reference):
            fields["flower_measured"] = [
                "median_round_seconds": reference.medianRoundSeconds, "round_seconds": reference.roundSeconds,
                "server_peak_rss_mb": reference.serverPeakMB, "client_peak_rss_mb": reference.clientPeakMB,
                "mode": withNoise ? "DifferentialPrivacyServerSideFixedClipping(FedAvg)" : "FedAvg",
            ] as [String: Any]
            fields["round_ratio_to_flower_measured"] = median / reference.medianRoundSeconds
            fields["coordinator_rss_ratio_to_flower_measured"] = coordinatorMB / reference.serverPeakMB
            fields["participant_rss_ratio_to_flower_measured"] = participantMB / reference.clientPeakMB
        case .unavailable(let reason):
            fields["flower_measured"] = NSNull()
            fields["flower_measured_unavailable"] = reason
        }
        let figures: [String: Any] = [
            "benchmark": "round",
            "noise": withNoise ? "drawn" : "skipped",
            "measured": withNoise
                ? "full rounds with the exact discrete-Gaussian noise (drawn in a background task while updates arrive, as in production)"
                : "full rounds without the noise draw (coordinator benchmark-only switch; aggregation path unchanged, noise = 0)",
            "round_scope": "Coordinator.runRound(): gates, ledger open, invitations with the 4-byte-per-parameter global model, "
                + "participants reseal and sign, verify/open/clip/sum of every update, fsynced charge, noised mean, "
                + "fsynced checkpoint and close",
            "transport": "mutual TLS 1.3 over 127.0.0.1; coordinator and participants are separate processes",
            "participants": participants, "parameters": parameters, "rounds": self.rounds,
            "cpu_seconds_per_round": ["coordinator": coordinatorCPU, "participants_total": participantsCPU, "all": coordinatorCPU + participantsCPU],
            "cores": cores, "cpu_bound_round_seconds": cpuBoundRound,
            "cpu_bound_note": "CPU seconds of all processes per round divided by the cores: a lower bound on the round time on this machine",
            "median_round_to_cpu_bound": median / cpuBoundRound,
            "round_seconds": times, "median_round_seconds": median,
            "target_round_seconds": targetRound, "meets_round_target": median <= targetRound,
            "flower_round_seconds": flowerRound, "round_ratio_to_flower": median / flowerRound,
            "coordinator_peak_rss_mb": coordinatorMB,
            "target_coordinator_rss_mb": Self.targetCoordinatorMB, "meets_coordinator_rss_target": coordinatorMB <= Self.targetCoordinatorMB,
            "flower_coordinator_rss_mb": Self.flowerCoordinatorMB, "coordinator_rss_ratio_to_flower": coordinatorMB / Self.flowerCoordinatorMB,
            "participant_peak_rss_mb": participantMB, "participant_peak_rss_mb_each": participantMBs,
            // VmHWM counts the shared code pages of the executable and the Swift runtime
            // (~29 MB here, mapped once for all processes); peak minus them estimates private memory.
            "coordinator_rss_file_mb": Double(run.coordinatorFileBytes) / 1e6,
            "coordinator_peak_private_mb_estimate": Double(run.coordinatorPeakBytes - run.coordinatorFileBytes) / 1e6,
            "participant_peak_private_mb_estimate":
                zip(run.participantPeakBytes, run.participantFileBytes).map { Double($0 - $1) / 1e6 }.max() ?? 0,
            "target_participant_rss_mb": targetParticipant, "meets_participant_rss_target": participantMB <= targetParticipant,
            "flower_participant_rss_mb": Self.flowerParticipantMB, "participant_rss_ratio_to_flower": participantMB / Self.flowerParticipantMB,
            "units": "seconds on the monotonic clock; MB = 10^6 bytes of peak RSS (VmHWM); ratios are ours / Flower's (below 1 is better); "
                + "flower_* without _measured are the issue's figures for this machine class",
        ]
        Measure.emit(figures.merging(fields) { $1 })
    }
}

/// The files of a benchmark consortium (CA, identities, schema, data, policy) and the child
/// processes that use them.
struct BenchConsortium {
    static let clippingBound = 1.0
    static let noiseMultiplier = 1.0

    let directory: String
    let participants: Int
    let parameters: Int
    let rounds: Int
    let policyPath: String
    let schemaPath: String
    let names: [String]

    /// The policy's `limits.max_update_bytes`.
    var maxUpdateBytes: Int { max(64 << 20, parameters * 4 + (1 << 16)) }
    /// The largest update frame payload the coordinator accepts (see `FrameLimits`).
    var maxUpdateFrameBytes: Int { maxUpdateBytes + (1 << 20) }

    /// - Parameters:
    ///   - minParticipants: the quorum; every participant by default.
    ///   - deadlineSeconds: the round deadline; one no healthy round meets by default.
    static func create(
        directory: String, participants: Int, parameters: Int, rounds: Int, minParticipants: Int? = nil,
        deadlineSeconds: Double = 120
    ) throws -> BenchConsortium {
        let ca = try CertificateAuthority.initCA(outDirectory: directory + "/ca")
        let coordinator = try ca.issue(
            role: .coordinator, name: "coordinator", outDirectory: directory + "/coordinator", hosts: ["localhost", "127.0.0.1"])
        let names = (1...participants).map { String(format: "silo-%02d", $0) }
        // A one-feature schema and a few rows per silo: enough for a real DataQualityAttestation
        // (the participants compute it with FeatureSchema.prepare); the update itself is synthetic.
        let schemaPath = directory + "/schema.json"
        try #"""
            {"version": 1, "name": "bench", "label": {"column": "y", "positive_class": "yes", "negative_class": "no"},
             "numeric": [{"name": "x", "imputation": {"strategy": "mean", "value": 0}}], "categorical": []}
            """#.write(toFile: schemaPath, atomically: true, encoding: .utf8)
        var yaml = """
            version: 1
            name: round-bench
            coordinator:
              listen: 127.0.0.1:0
              ca_certificate: \(coordinator.caCertificate)
              certificate: \(coordinator.certificate)
              private_key: \(coordinator.privateKey)
              sealing_key: \(coordinator.x25519SecretKey)
              ledger_key: \(coordinator.ed25519SecretKey)
            participants:

            """
        for name in names {
            let identity = try ca.issue(role: .participant, name: name, outDirectory: directory + "/" + name)
            yaml += "  - name: \(name)\n    signing_key: \(identity.ed25519PublicKey)\n"
            try "x,y\n0.5,yes\n-1.25,no\n2.0,yes\n0.0,no\n".write(toFile: identity.directory + "/data.csv", atomically: true, encoding: .utf8)
        }
        // Participant unit with q = 1: every connected silo is invited and the coordinator clips
        // each whole update. A budget no benchmark reaches, a deadline no healthy round meets.
        yaml += """
            privacy:
              unit: participant
              sampling_rate: 1
              noise_multiplier: \(noiseMultiplier)
              clipping_bound: \(clippingBound)
              delta: 1e-5
              epsilon_max: 1e9
            rounds:
              count: \(rounds)
              min_participants: \(minParticipants ?? participants)
              deadline_seconds: \(deadlineSeconds)
            model:
              version: bench-v1
              schema: \(schemaPath)
              server_learning_rate: 1
            limits:
              max_update_bytes: \(max(64 << 20, parameters * 4 + (1 << 16)))

            """
        let policyPath = directory + "/policy.yaml"
        try yaml.write(toFile: policyPath, atomically: true, encoding: .utf8)
        return BenchConsortium(
            directory: directory, participants: participants, parameters: parameters, rounds: rounds,
            policyPath: policyPath, schemaPath: schemaPath, names: names)
    }

    struct Run {
        var roundSeconds: [Double]
        var coordinatorPeakBytes: Int
        var participantPeakBytes: [Int]
        /// CPU seconds (user + system) over the timed rounds, per process.
        var coordinatorCPUSeconds: Double
        var participantCPUSeconds: [Double]
        /// Resident file-backed bytes at exit (shared code), per process; see Measure.residentFileBytes.
        var coordinatorFileBytes: Int
        var participantFileBytes: [Int]
    }

    /// Starts a coordinator process with a fresh state directory, then the participant
    /// processes, waits for all of them and returns their figures.
    func runRounds(withNoise: Bool) throws -> Run {
        let tag = withNoise ? "noise" : "no-noise"
        let portFile = directory + "/port-\(tag)"
        try? FileManager.default.removeItem(atPath: portFile)
        var coordinatorArguments = [
            "round-coordinator", "--policy", policyPath, "--state", directory + "/state-\(tag)", "--port-file", portFile,
            "--parameters", String(parameters), "--participants", String(participants), "--rounds", String(rounds),
        ]
        if !withNoise { coordinatorArguments.append("--no-noise") }
        let coordinator = try Child(executable: Child.executable, arguments: coordinatorArguments, log: directory + "/coordinator-\(tag).log")
        let port = try coordinator.waitForPort(file: portFile)
        var children: [Child] = []
        for name in names {
            children.append(try Child(
                executable: Child.participantExecutable,
                arguments: [
                    "--identity", directory + "/" + name, "--name", name, "--port", String(port),
                    "--parameters", String(parameters), "--data", directory + "/" + name + "/data.csv", "--schema", schemaPath,
                    "--clipping-bound", String(Self.clippingBound),
                ],
                log: directory + "/\(name)-\(tag).log"))
        }
        let coordinatorResult = try coordinator.result()
        let participantResults = try children.map { try $0.result() }
        guard let times = coordinatorResult["round_seconds"] as? [Double], let peak = coordinatorResult["peak_rss_bytes"] as? Int else {
            throw BenchError("the coordinator reported no figures: \(coordinatorResult)")
        }
        var participantPeaks: [Int] = []
        var participantFiles: [Int] = []
        var participantCPU: [Double] = []
        for (name, result) in zip(names, participantResults) {
            guard let rounds = result["rounds"] as? Int, rounds == self.rounds, let peak = result["peak_rss_bytes"] as? Int else {
                throw BenchError("participant \(name) did not contribute to every round: \(result)")
            }
            participantPeaks.append(peak)
            participantFiles.append(result["rss_file_bytes"] as? Int ?? 0)
            participantCPU.append(result["cpu_seconds"] as? Double ?? 0)
        }
        return Run(
            roundSeconds: times, coordinatorPeakBytes: peak, participantPeakBytes: participantPeaks,
            coordinatorCPUSeconds: coordinatorResult["cpu_seconds"] as? Double ?? 0, participantCPUSeconds: participantCPU,
            coordinatorFileBytes: coordinatorResult["rss_file_bytes"] as? Int ?? 0, participantFileBytes: participantFiles)
    }
}

/// A child process (a hidden subcommand of this executable, or the participant executable); its
/// last stdout line is a JSON object with its figures, its stderr goes to a log file.
struct Child {
    let process: Process
    let output: Pipe
    let log: String

    init(executable: String, arguments: [String], log: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        output = Pipe()
        process.standardOutput = output
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        self.log = log
        try process.run()
    }

    /// This executable, so the children run exactly the build being measured.
    static let executable: String = {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }()

    /// `cohort-bench-participant` of the same build (the same directory as this executable).
    static let participantExecutable: String = {
        URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("cohort-bench-participant").path
    }()

    /// Fails with what to build when the participant executable is missing.
    static func requireParticipantExecutable() throws {
        guard FileManager.default.isExecutableFile(atPath: participantExecutable) else {
            throw BenchError(
                "\(participantExecutable) is missing: build it with the benchmark, "
                    + "`swift build -c release --product cohort-bench-participant`")
        }
    }

    /// Waits (up to 60 s) for a coordinator child to write the port it listens on to `file`.
    func waitForPort(file: String) throws -> Int {
        let giveUp = Date().addingTimeInterval(60)
        while true {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let port = Int(text) { return port }
            guard process.isRunning, Date() < giveUp else {
                process.terminate()
                throw BenchError("the coordinator did not start listening: \(logTail())")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    /// Waits for the child to exit and parses its last JSON line.
    func result() throws -> [String: Any] {
        // The children print a line or two, far below a pipe's capacity, so reading after exit
        // cannot deadlock.
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0,
            let line = text.split(separator: "\n").last,
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            throw BenchError("\(process.arguments?.first ?? "child") exited with status \(process.terminationStatus): \(logTail())")
        }
        return object
    }

    func logTail() -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }
}

