import ArgumentParser
import CohortCoordinator
import CohortPolicy
import CohortTransport
import Foundation
import Logging

/// `cohort-coordinator`: serves participants over mutual TLS and runs the policy's rounds.
@main
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-coordinator",
        abstract: "Run the Cohort coordinator: mutual-TLS participant port, rounds, ledger."
    )

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

    func run() async throws {
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
        let coordinator: Coordinator
        do {
            coordinator = try Coordinator(
                configuration: CoordinatorConfiguration(policy: loaded, stateDirectory: state, portOverride: port, quorumWaitSeconds: quorumWait),
                logger: logger)
        } catch {
            FileHandle.standardError.write(Data("error: cannot start the coordinator: \(error)\n".utf8))
            throw ExitCode(3)
        }
        let c = loaded.policy.coordinator
        let tls = try TLSConfigurationFactory(
            caCertificatePEM: String(contentsOfFile: loaded.resolve(c.caCertificate), encoding: .utf8),
            certificatePEM: String(contentsOfFile: loaded.resolve(c.certificate), encoding: .utf8),
            privateKeyPEM: String(contentsOfFile: loaded.resolve(c.privateKey), encoding: .utf8))
        let bound = try await coordinator.start(tls: tls.makeServerConfiguration())
        logger.info("listening", metadata: ["cohort.port": "\(bound)"])
        if let portFile { try String(bound).write(toFile: portFile, atomically: true, encoding: .utf8) }
        // SIGTERM / SIGINT: abort the current round cleanly (it stays charged if updates arrived).
        let work = Task { try await coordinator.runRounds(rounds) }
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT]) { work.cancel() }
        defer { signals.cancel() }
        let outcomes: [RoundOutcome]
        do {
            outcomes = try await work.value
        } catch where work.isCancelled {
            // SIGTERM/SIGINT: the current round is aborted (charged if updates arrived); a clean stop.
            await coordinator.stop(reason: "stopped by signal")
            logger.notice("stopped by signal")
            return
        } catch {
            await coordinator.stop(reason: "stopped: \(error)")
            logger.error("stopped on an error", metadata: ["cohort.reason": "\(error)"])
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(4)
        }
        await coordinator.stop()
        for outcome in outcomes { logger.info("round", metadata: ["cohort.outcome": "\(outcome)"]) }
    }
}
