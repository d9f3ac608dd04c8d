import ArgumentParser
import CohortParticipant
import CohortTransport
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `cohort-participant`: one silo joining a Cohort coordinator.
@main
struct ParticipantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-participant",
        abstract: "Join a Cohort coordinator: validate local data, train on invitation, send sealed signed updates."
    )

    /// Process-wide settings first, on the main thread, before the concurrency pool's threads
    /// exist: glibc's arena limit (``LargeAllocations/reuseLargeBuffers()``) binds only threads
    /// that have not allocated yet.
    static func main() async {
        ProcessSetup.forServer()
        await main(nil)
    }

    @Option(help: "Coordinator address, HOST:PORT.")
    var coordinator: String

    @Option(help: "Identity directory holding <name>.pem, <name>.key.pem, <name>.ed25519.key and ca.pem.")
    var identity: String

    @Option(help: "This participant's name (as in its certificate); default: the identity directory's name.")
    var name: String?

    @Option(help: "The local CSV file.")
    var data: String

    @Option(help: "The feature schema (JSON) shared by the consortium.")
    var schema: String

    @Option(help: "The label column; must match the schema's.")
    var label: String?

    @Option(help: "An external trainer command exchanging safetensors files (trainer contract 2, docs/TRAINER.md).")
    var trainer: String?

    @Flag(help: "The trainer implements the evaluate hook (COHORT_TASK=evaluate) and scores the holdout itself.")
    var trainerEvaluates = false

    @Option(
        help: ArgumentHelp(
            "The secret key file deciding which local records are held out of training (created, mode 0600, when absent).",
            discussion:
                "Default: <identity>/<name>.holdout.key. Keep it with the participant's state: a new key re-deals the holdout.",
            valueName: "path"))
    var holdoutKey: String?

    @Option(
        help: ArgumentHelp(
            "Reconnection attempts after consecutive failures before giving up (exit 2, participant.gave_up); "
                + "0 never reconnects.",
            discussion: "After a lost or refused connection the participant waits a jittered, exponentially growing "
                + "delay (from --reconnect-initial-delay, capped at --reconnect-max-delay) and joins again.",
            valueName: "count"))
    var reconnectAttempts = 40

    @Option(help: ArgumentHelp("The first reconnection delay's upper bound, in seconds.", valueName: "seconds"))
    var reconnectInitialDelay = 0.25

    @Option(help: ArgumentHelp("The cap on any reconnection delay, in seconds.", valueName: "seconds"))
    var reconnectMaxDelay = 30.0

    func validate() throws {
        guard reconnectAttempts >= 0 else {
            throw ValidationError("--reconnect-attempts must be ≥ 0, got \(reconnectAttempts)")
        }
        guard reconnectInitialDelay.isFinite, reconnectInitialDelay > 0, reconnectInitialDelay <= 3_600 else {
            throw ValidationError(
                "--reconnect-initial-delay must be in (0, 3600] seconds, got \(reconnectInitialDelay)")
        }
        guard reconnectMaxDelay.isFinite, reconnectMaxDelay >= reconnectInitialDelay, reconnectMaxDelay <= 3_600 else {
            throw ValidationError(
                "--reconnect-max-delay must be in [--reconnect-initial-delay, 3600] seconds, got \(reconnectMaxDelay)")
        }
        if trainerEvaluates && trainer == nil {
            throw ValidationError(
                "--trainer-evaluates needs --trainer: it says the trainer command has an "
                    + "evaluate hook")
        }
        guard let colon = coordinator.lastIndex(of: ":"), Int(coordinator[coordinator.index(after: colon)...]) != nil
        else {
            throw ValidationError("--coordinator must be HOST:PORT, got `\(coordinator)`")
        }
    }

    func run() async throws {
        // Process-wide settings (`main()`) belong to the executable, not to the Participant library.
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "cohort.participant")
        logger.logLevel = .info
        let colon = coordinator.lastIndex(of: ":")!
        let participantName = name ?? URL(fileURLWithPath: identity).lastPathComponent
        var configuration = ParticipantConfiguration(
            host: String(coordinator[..<colon]), port: Int(coordinator[coordinator.index(after: colon)...])!,
            identity: IdentityFiles(directory: identity, name: participantName),
            dataPath: data, schemaPath: schema, expectedLabel: label, trainerCommand: trainer,
            holdoutKeyPath: holdoutKey
        )
        configuration.reconnect = ReconnectPolicy(
            initialDelay: .milliseconds(Int64(reconnectInitialDelay * 1000)),
            maximumDelay: .milliseconds(Int64(reconnectMaxDelay * 1000)), maximumAttempts: reconnectAttempts)
        configuration.trainerEvaluates = trainerEvaluates
        // SIGTERM / SIGINT: leave gracefully (the update in training is not sent, the coordinator
        // is told goodbye and drops this participant from the round), exit 0.
        let participant = Participant(configuration: configuration, logger: logger)
        let service = ParticipantService(participant: participant, logger: logger)
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
            throw ExitCode(2)
        }
    }
}

/// The participant process as a ServiceLifecycle service: graceful shutdown asks the participant
/// to stop (``ParticipantStop``), and the run returns its summary.
struct ParticipantService: Service {
    let participant: Participant
    let logger: Logger

    func run() async throws {
        let participant = participant
        let summary = try await withGracefulShutdownHandler {
            try await participant.run()
        } onGracefulShutdown: {
            participant.stop.request(reason: "the participant was stopped by its host")
        }
        let stopped = participant.stop.isRequested
        logger.info(
            stopped ? "stopped by signal" : "finished",
            metadata: ["cohort.rounds": "\(summary.roundsContributed.count)"])
    }
}
