import CohortBenchSupport
import CohortTransport
import Foundation

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
            role: .coordinator, name: "coordinator", outDirectory: directory + "/coordinator",
            hosts: ["localhost", "127.0.0.1"])
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
            try "x,y\n0.5,yes\n-1.25,no\n2.0,yes\n0.0,no\n".write(
                toFile: identity.directory + "/data.csv", atomically: true, encoding: .utf8)
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
        /// The coordinator's CPU seconds in each timed round (start to end of `runRound()`).
        var coordinatorRoundCPUSeconds: [Double] = []
        /// The coordinator's minor page faults over the timed rounds.
        var coordinatorMinorFaults = 0
        /// The coordinator's per-phase profile: phase → seconds per round.
        var phases: [String: Double] = [:]
        /// Each participant's mean seconds to seal and sign one update.
        var participantSealSeconds: [Double] = []
    }

    /// Starts a coordinator process with a fresh state directory, then the participant
    /// processes, waits for all of them and returns their figures.
    /// - Parameter tag: tells apart the state directory and logs of several runs of one mode.
    func runRounds(withNoise: Bool, tag runTag: String = "") throws -> Run {
        let tag = (withNoise ? "noise" : "no-noise") + (runTag.isEmpty ? "" : "-" + runTag)
        let portFile = directory + "/port-\(tag)"
        try? FileManager.default.removeItem(atPath: portFile)
        var coordinatorArguments = [
            "round-coordinator", "--policy", policyPath, "--state", directory + "/state-\(tag)", "--port-file",
            portFile,
            "--parameters", String(parameters), "--participants", String(participants), "--rounds", String(rounds),
        ]
        if !withNoise { coordinatorArguments.append("--no-noise") }
        let coordinator = try Child(
            executable: Child.executable, arguments: coordinatorArguments, log: directory + "/coordinator-\(tag).log")
        let port = try coordinator.waitForPort(file: portFile)
        var children: [Child] = []
        for name in names {
            children.append(
                try Child(
                    executable: Child.participantExecutable,
                    arguments: [
                        "--identity", directory + "/" + name, "--name", name, "--port", String(port),
                        "--parameters", String(parameters), "--data", directory + "/" + name + "/data.csv", "--schema",
                        schemaPath,
                        "--clipping-bound", String(Self.clippingBound),
                    ],
                    log: directory + "/\(name)-\(tag).log"))
        }
        let coordinatorResult = try coordinator.result()
        let participantResults = try children.map { try $0.result() }
        guard let times = coordinatorResult["round_seconds"] as? [Double],
            let peak = coordinatorResult["peak_rss_bytes"] as? Int
        else {
            throw BenchError("the coordinator reported no figures: \(coordinatorResult)")
        }
        var participantPeaks: [Int] = []
        var participantFiles: [Int] = []
        var participantCPU: [Double] = []
        var participantSeal: [Double] = []
        for (name, result) in zip(names, participantResults) {
            guard let rounds = result["rounds"] as? Int, rounds == self.rounds,
                let peak = result["peak_rss_bytes"] as? Int
            else {
                throw BenchError("participant \(name) did not contribute to every round: \(result)")
            }
            participantPeaks.append(peak)
            participantFiles.append(result["rss_file_bytes"] as? Int ?? 0)
            participantCPU.append(result["cpu_seconds"] as? Double ?? 0)
            participantSeal.append(result["seal_seconds_per_update"] as? Double ?? 0)
        }
        var phases: [String: Double] = [:]
        for case let (phase, figures as [String: Any]) in coordinatorResult["phases"] as? [String: Any] ?? [:] {
            phases[phase] = figures["seconds_per_round"] as? Double
        }
        var run = Run(
            roundSeconds: times, coordinatorPeakBytes: peak, participantPeakBytes: participantPeaks,
            coordinatorCPUSeconds: coordinatorResult["cpu_seconds"] as? Double ?? 0,
            participantCPUSeconds: participantCPU,
            coordinatorFileBytes: coordinatorResult["rss_file_bytes"] as? Int ?? 0,
            participantFileBytes: participantFiles)
        run.coordinatorRoundCPUSeconds = coordinatorResult["round_cpu_seconds"] as? [Double] ?? []
        run.coordinatorMinorFaults = coordinatorResult["minor_faults"] as? Int ?? 0
        run.phases = phases
        run.participantSealSeconds = participantSeal
        return run
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
        URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("cohort-bench-participant")
            .path
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
            throw BenchError(
                "\(process.arguments?.first ?? "child") exited with status \(process.terminationStatus): \(logTail())")
        }
        return object
    }

    func logTail() -> String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }
}
