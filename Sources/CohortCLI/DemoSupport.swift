import CohortLedger
import CohortModel
import CohortTransport
import Foundation

/// The coordinator and participant executables, found next to the running `cohort`.
struct DemoBinaries {
    let coordinator: String
    let participant: String

    static func locate() throws -> DemoBinaries {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().path
        let coordinator = directory + "/cohort-coordinator"
        let participant = directory + "/cohort-participant"
        for path in [coordinator, participant] where !FileManager.default.isExecutableFile(atPath: path) {
            throw CommandFailure(
                code: "demo.missing_binary",
                message: "\(path) is missing; build all products (`swift build -c release`) first")
        }
        return DemoBinaries(coordinator: coordinator, participant: participant)
    }
}

/// Child processes of the demo, each with its output in a log file; all are stopped on exit.
struct DemoProcesses {
    private(set) var processes: [Process] = []

    mutating func start(_ executable: String, _ arguments: [String], log: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes.append(process)
    }

    func isRunning(_ index: Int) -> Bool { processes[index].isRunning }

    func wait(_ index: Int) -> Int32 {
        processes[index].waitUntilExit()
        return processes[index].terminationStatus
    }

    func terminateAll() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
    }
}

/// Reads new complete lines of a ledger file as the coordinator appends them.
final class LedgerWatcher {
    enum Event {
        case closed(round: Int, contributors: Int, epsilon: Double, checkpoint: String)
        case refused(round: Int, gate: String, reason: String)
        case aborted(round: Int, reason: String)
        /// A governance gate failed (refusals arrive as `refused`).
        case gateFailed(round: Int, gate: String, reason: String)
    }

    /// Decisions seen per gate: passed and failed counts.
    private(set) var gateCounts: [String: (passed: Int, failed: Int)] = [:]
    /// Rounds whose model the promotion gates approved.
    private(set) var promoted: Set<Int> = []

    let path: String
    let checkpoints: String
    private var offset = 0
    private var contributors: [Int: Int] = [:]
    private var epsilon = 0.0

    init(path: String, checkpoints: String) {
        self.path = path
        self.checkpoints = checkpoints
    }

    var hasUnread: Bool {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return size > offset
    }

    func poll() throws -> [Event] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        let data = handle.readDataToEndOfFile()
        guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = data[data.startIndex...lastNewline]
        offset += complete.count
        var events: [Event] = []
        for line in complete.split(separator: UInt8(ascii: "\n")) {
            let json = try JSONParser.parse(Array(line))
            guard let kind = json["kind"]?.stringValue, let data = json["data"] else { continue }
            let round = data["round"]?.intValue ?? 0
            switch kind {
            case "round.charged":
                contributors[round] = data["contributors"]?.arrayValue?.count ?? 0
                epsilon = data["cumulative_epsilon"]?.doubleValue ?? epsilon
            case "round.closed":
                events.append(
                    .closed(
                        round: round, contributors: contributors[round] ?? 0, epsilon: epsilon,
                        checkpoint: checkpoints + "/" + (data["checkpoint"]?.stringValue ?? "")))
            case "round.refused":
                events.append(
                    .refused(
                        round: round, gate: data["gate"]?.stringValue ?? "?", reason: data["reason"]?.stringValue ?? "")
                )
            case "round.aborted":
                events.append(.aborted(round: round, reason: data["reason"]?.stringValue ?? ""))
            case "gate.decision":
                let gate = data["gate"]?.stringValue ?? "?"
                let passed = data["passed"]?.boolValue ?? false
                var counts = gateCounts[gate] ?? (0, 0)
                if passed { counts.passed += 1 } else { counts.failed += 1 }
                gateCounts[gate] = counts
                if gate == "evaluation" && data["inputs"]?["promoted"]?.boolValue == true { promoted.insert(round) }
                // A failed pre-round refusal gate is reported by its `round.refused`.
                if !passed && !["budget", "quorum", "model_version"].contains(gate) {
                    events.append(.gateFailed(round: round, gate: gate, reason: data["reason"]?.stringValue ?? ""))
                }
            default:
                continue
            }
        }
        return events
    }
}

struct DemoRound {
    let round: Int
    let contributors: Int
    let epsilon: Double
    let metrics: BinaryClassificationMetrics
}

/// How the governance gates judged the run, for the summary.
struct DemoGovernance: Encodable {
    /// Per gate: decisions that passed and that failed.
    let gates: [String: [String: Int]]
    /// Rounds whose model was promoted to approved.
    let approvedRounds: [Int]
    /// Alerts the alert hook received (one JSON object per line in `alerts.jsonl`).
    let alerts: Int

    enum CodingKeys: String, CodingKey {
        case gates, alerts
        case approvedRounds = "approved_rounds"
    }
}

struct DemoSummary: Encodable {
    let dataset: String
    /// The policy's `model.kind`.
    let model: String
    /// The model's parameter count d (what the ledger's sensitivity covers).
    let parameters: Int
    let participants: Int
    let rounds: Int
    let epsilon: Double
    let epsilonMax: Double
    let delta: Double
    let noiseMultiplier: Double
    let federated: BinaryClassificationMetrics
    let centralisedReference: BinaryClassificationMetrics
    let refusals: [String]
    let ledgerEntries: Int
    let ledgerVerified: Bool
    let governance: DemoGovernance
    let workdir: String

    enum CodingKeys: String, CodingKey {
        case dataset, model, parameters, participants, rounds, epsilon, delta, refusals, workdir, federated, governance
        case epsilonMax = "epsilon_max"
        case noiseMultiplier = "noise_multiplier"
        case centralisedReference = "centralised_reference"
        case ledgerEntries = "ledger_entries"
        case ledgerVerified = "ledger_verified"
    }
}

/// The demo's policy file.
enum DemoPolicy {
    static func yaml(
        name: String, coordinator: IdentityFiles, participants: [IdentityFiles], schema: String,
        plan: DPFedSGDPlan, noiseMultiplier: Double, epsilonMax: Double, governance: String,
        architecture: ModelArchitecture = .logisticRegression
    ) -> String {
        var text = """
            version: 1
            name: \(name)
            coordinator:
              listen: 127.0.0.1:0
              ca_certificate: \(coordinator.caCertificate)
              certificate: \(coordinator.certificate)
              private_key: \(coordinator.privateKey)
              sealing_key: \(coordinator.x25519SecretKey)
              ledger_key: \(coordinator.ed25519SecretKey)
            participants:

            """
        for participant in participants {
            text += "  - name: \(participant.name)\n    signing_key: \(participant.ed25519PublicKey)\n"
        }
        text += """
            privacy:
              unit: record
              sampling_rate: \(plan.samplingRate)
              noise_multiplier: \(noiseMultiplier)
              clipping_bound: \(plan.clippingBound)
              delta: \(plan.delta)
              epsilon_max: \(epsilonMax)
            rounds:
              count: \(plan.rounds + 1)
              min_participants: \(participants.count - 1)
              deadline_seconds: 30
            model:

            """
        if case .mlp(let hidden, let activation, let seed) = architecture {
            text += """
                  kind: mlp
                  hidden: [\(hidden.map(String.init).joined(separator: ", "))]
                  activation: \(activation.rawValue)
                  seed: \(seed)
                  version: mlp-v1

                """
        } else {
            text += "  version: logistic-regression-v1\n"
        }
        text += """
              schema: \(schema)
              server_learning_rate: \(plan.serverLearningRate)
              server_momentum: \(plan.serverMomentum)

            """
        return text + governance
    }
}
