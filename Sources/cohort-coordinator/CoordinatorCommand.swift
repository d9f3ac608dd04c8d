import ArgumentParser
import CohortCoordinator
import CohortOperatorAPI
import CohortPolicy
import CohortTransport
import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `cohort-coordinator`: serves participants over mutual TLS and runs the policy's rounds, or
/// (`--serve`) waits for operators to start rounds through the operator API.
@main
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-coordinator",
        abstract: "Run the Cohort coordinator: mutual-TLS participant port, rounds, ledger."
    )

    /// Process-wide settings first, on the main thread, before the concurrency pool's threads
    /// exist: glibc's arena limit (``LargeAllocations/reuseLargeBuffers()``) binds only threads
    /// that have not allocated yet.
    static func main() async {
        ProcessSetup.forServer()
        await main(nil)
    }

    @Option(help: "The policy file (YAML).")
    var policy: String

    @Option(help: "The state directory (ledger.jsonl, checkpoints/).")
    var state: String

    @Option(help: "Listen on this port instead of the policy's (0 = any free port).")
    var port: Int?

    @Option(help: "Write the bound port to this file once listening.")
    var portFile: String?

    @Option(help: "Rounds to run (default: the policy's rounds.count).")
    var rounds: Int?

    @Option(help: "Seconds to wait for a quorum before refusing a round.")
    var quorumWait: Double = 60

    @Option(
        help:
            "Serve the operator API (HTTPS, mutual TLS) on HOST:PORT (0 = any free port); default: the policy's api.listen, if any."
    )
    var apiListen: String?

    @Option(help: "Write the operator API's bound port to this file once listening.")
    var apiPortFile: String?

    @Option(
        help: ArgumentHelp(
            "Run this executable (an absolute path; no shell) for each governance alert, with the alert JSON on its standard input.",
            valueName: "path"))
    var alertCommand: String?

    @Option(help: ArgumentHelp("An argument for --alert-command, passed as is (repeat for more).", valueName: "arg"))
    var alertArgument: [String] = []

    @Option(help: ArgumentHelp("POST each governance alert's JSON to this http:// or https:// URL.", valueName: "url"))
    var alertWebhook: String?

    @Option(help: "Seconds each alert delivery may take before it is abandoned.")
    var alertTimeout: Double = 10

    @Flag(
        help: "Start no rounds on launch: run the rounds operators request (`cohort round start`) until SIGTERM/SIGINT."
    )
    var serve = false

    func validate() throws {
        if let apiListen, OperatorSettings.hostAndPort(apiListen) == nil {
            throw ValidationError("--api-listen must be HOST:PORT, e.g. 127.0.0.1:7444, got \(apiListen)")
        }
        if serve && rounds != nil { throw ValidationError("--rounds and --serve exclude each other") }
        if !alertArgument.isEmpty && alertCommand == nil {
            throw ValidationError("--alert-argument needs --alert-command")
        }
        guard alertTimeout > 0, alertTimeout <= 600 else {
            throw ValidationError("--alert-timeout must lie in (0, 600] seconds, got \(alertTimeout)")
        }
    }

    /// The host's alert hook from the flags, validated; throws `AlertConfigurationError`.
    func alertDispatcher(logger: Logger) throws(AlertConfigurationError) -> AlertDispatcher? {
        let command = try alertCommand.map { path throws(AlertConfigurationError) in
            try AlertCommand(executable: path, arguments: alertArgument)
        }
        if let alertWebhook { try AlertDispatcher.validateWebhookURL(alertWebhook) }
        guard command != nil || alertWebhook != nil else { return nil }
        return AlertDispatcher(
            command: command, webhookURL: alertWebhook, timeout: .milliseconds(Int64(alertTimeout * 1000)),
            logger: logger)
    }

    func run() async throws {
        // Process-wide settings (`main()`) belong to the executable: an alert command that exits
        // without reading must not kill the coordinator (SIGPIPE), and model-sized buffers are reused.
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "cohort.coordinator")
        logger.logLevel = .info
        let loaded: PolicyLoader.Loaded
        do {
            loaded = try PolicyLoader.load(path: policy)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let alerts: AlertDispatcher?
        do {
            alerts = try alertDispatcher(logger: Logger(label: "cohort.alerts"))
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        // Metrics go to a registry of our own, exposed on the API's /metrics.
        let registry = PrometheusCollectorRegistry()
        var configuration = CoordinatorConfiguration(
            policy: loaded, stateDirectory: state, portOverride: port, quorumWaitSeconds: quorumWait)
        configuration.metricsFactory = PrometheusMetricsFactory(registry: registry)
        configuration.alertSink = alerts?.sink
        let coordinator: Coordinator
        do {
            // Every start-up check (keys and their modes, the TLS identity, schema, noise range)
            // runs here, before a new ledger is created.
            coordinator = try Coordinator(configuration: configuration, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("error: cannot start the coordinator: \(error)\n".utf8))
            throw ExitCode(3)
        }
        // The policy in force (possibly one adopted since the ledger began) decides the API.
        let settings = OperatorSettings.resolve(
            apiListenOption: apiListen, policyInForce: await coordinator.policyInForce)
        if apiPortFile != nil && settings.apiListen == nil {
            await coordinator.stop(reason: "--api-port-file without an operator API")
            FileHandle.standardError.write(
                Data(
                    "error: --api-port-file needs the operator API: give --api-listen or an `api` section in the policy\n"
                        .utf8))
            throw ExitCode(2)
        }
        let tls = coordinator.tls
        let bound = try await coordinator.start(tls: tls.makeServerConfiguration())
        logger.info("listening", metadata: ["cohort.port": "\(bound)"])
        // Port files are written by the service once SIGTERM is handled: a script that waits for
        // them may stop the coordinator at once.
        var readyFiles: [(path: String, text: String)] = []
        if let portFile { readyFiles.append((portFile, String(bound))) }
        var api: OperatorAPIServer?
        if let listen = settings.apiListen, let (host, apiPort) = OperatorSettings.hostAndPort(listen) {
            do {
                api = try await OperatorAPIServer.bind(
                    host: host, port: apiPort, tls: tls.makeServerConfiguration(), coordinator: coordinator,
                    registry: registry,
                    logger: Logger(label: "cohort.api"))
            } catch {
                await coordinator.stop(reason: "the operator API could not start")
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                throw ExitCode(3)
            }
            logger.info("operator API listening", metadata: ["cohort.api_port": "\(api?.port ?? 0)"])
            if await coordinator.policyInForce.api == nil {
                logger.warning(
                    "the policy in force has no `api` section, so it lists no operators or auditors: every API request is refused"
                )
            }
            if let apiPortFile { readyFiles.append((apiPortFile, String(api?.port ?? 0))) }
        }
        // SIGTERM / SIGINT shut the service group down gracefully: the current round is aborted
        // (charged if updates arrived), participants are told goodbye, the ledger is closed, exit 0.
        let service = CoordinatorService(
            coordinator: coordinator, api: api, serve: serve, rounds: rounds, readyFiles: readyFiles, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(
                        service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup)
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(4)
        }
    }
}
