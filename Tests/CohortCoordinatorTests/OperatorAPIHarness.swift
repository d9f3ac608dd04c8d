import CohortAPIClient
import CohortCoordinator
import CohortLedger
import CohortOperatorAPI
import CohortParticipant
import CohortPolicy
import CohortTesting
import CohortTransport
import Foundation
import Logging
import NIOCore
import Prometheus

/// A consortium with the operator API: the files of `ConsortiumFiles`, an in-process coordinator
/// whose metrics go to a Prometheus registry, `serveRequests()` running, the API on a real
/// mutual-TLS socket (127.0.0.1, any free port), and operator and auditor identities.
final class APIConsortium: @unchecked Sendable {
    // @unchecked Sendable: every stored property is immutable after init (the tasks are only cancelled).
    let files: ConsortiumFiles
    let capture = LogCapture()
    let coordinator: Coordinator
    let registry = PrometheusCollectorRegistry()
    let port: Int
    let api: OperatorAPIServer
    let operatorIdentity: IdentityFiles
    let auditorIdentity: IdentityFiles
    private let serving: Task<Void, any Error>
    private var participantTasks: [Task<Void, any Error>] = []

    init(
        names: [String] = ["hospital-a", "hospital-b", "hospital-c"], minParticipants: Int = 2, epsilonMax: Double = 10,
        apiConfiguration: OperatorAPIConfiguration = OperatorAPIConfiguration()
    ) async throws {
        files = try ConsortiumFiles(
            names: names, minParticipants: minParticipants, deadlineSeconds: 20, epsilonMax: epsilonMax)
        var configuration = CoordinatorConfiguration(
            policy: try PolicyLoader.load(path: files.policyPath), stateDirectory: files.stateDirectory,
            portOverride: 0, quorumWaitSeconds: 10)
        configuration.metricsFactory = PrometheusMetricsFactory(registry: registry)
        coordinator = try Coordinator(configuration: configuration, logger: capture.logger("cohort.coordinator"))
        let tls = try TLSConfigurationFactory(identity: files.coordinatorIdentity)
        port = try await coordinator.start(tls: tls.makeServerConfiguration())
        api = try await OperatorAPIServer.bind(
            host: "127.0.0.1", port: 0, tls: tls.makeServerConfiguration(), coordinator: coordinator,
            registry: registry,
            configuration: apiConfiguration, logger: capture.logger("cohort.api"))
        operatorIdentity = try files.ca.issue(role: .operator, name: "alice", outDirectory: files.directory + "/alice")
        auditorIdentity = try files.ca.issue(role: .auditor, name: "audrey", outDirectory: files.directory + "/audrey")
        let coordinator = coordinator
        serving = Task { try await coordinator.serveRequests() }
    }

    var directory: String { files.directory }
    var stateDirectory: String { files.stateDirectory }
    var baseURL: String { "https://127.0.0.1:\(api.port)" }

    func client(_ identity: IdentityFiles) throws -> ControlClient {
        try ControlClient(baseURL: baseURL, tls: TLSConfigurationFactory(identity: identity))
    }

    var operatorClient: ControlClient { get throws { try client(operatorIdentity) } }
    var auditorClient: ControlClient { get throws { try client(auditorIdentity) } }

    /// Starts honest in-process participants and waits until they are connected.
    func startParticipants(_ names: [String]? = nil) async throws {
        let names = names ?? files.participants.map(\.name)
        for name in names {
            let identity = files.identity(name)
            let participant = Participant(
                configuration: ParticipantConfiguration(
                    host: "127.0.0.1", port: port, identity: identity, dataPath: identity.directory + "/data.csv",
                    schemaPath: files.schemaPath),
                logger: capture.logger("cohort.participant"))
            participantTasks.append(Task { _ = try await participant.run() })
        }
        for _ in 0..<500 {
            if await coordinator.connectedParticipants.count >= names.count { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError(message: "participants did not connect")
    }

    /// Polls the status until `done` holds (at most `seconds`).
    func waitForStatus(seconds: Double = 60, _ done: (CoordinatorStatus) -> Bool) async throws -> CoordinatorStatus {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            let status = await coordinator.status()
            if done(status) { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError(message: "status did not reach the expected state: \(await coordinator.status())")
    }

    func ledgerKinds() throws -> [String] {
        try LedgerReader.read(file: LedgerWriter.ledgerPath(stateDirectory: stateDirectory)).entries.map(\.kind)
    }

    func shutdown() async {
        serving.cancel()
        _ = try? await serving.value
        await api.close()
        await coordinator.stop()
        for task in participantTasks { _ = try? await task.value }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Finds a product built next to the test bundle (`swift build --build-tests` builds every product).
enum BuiltProduct {
    static func url(_ name: String) -> URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs `executable` and waits for it (off the cooperative pool).
    static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    let process = Process()
                    process.executableURL = executable
                    process.arguments = arguments
                    if let environment { process.environment = environment }
                    let out = Pipe()
                    let err = Pipe()
                    process.standardOutput = out
                    process.standardError = err
                    try process.run()
                    let stdout = out.fileHandleForReading.readDataToEndOfFile()
                    let stderr = err.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(
                        returning: Result(
                            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                            stderr: String(decoding: stderr, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
