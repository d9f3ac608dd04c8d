import ArgumentParser
import CohortParticipant
import CohortTransport
import Foundation
import Logging

/// `cohort-participant`: one silo joining a Cohort coordinator.
@main
struct ParticipantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-participant",
        abstract: "Join a Cohort coordinator: validate local data, train on invitation, send sealed signed updates."
    )

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

    @Option(help: ArgumentHelp(
        "The secret key file deciding which local records are held out of training (created, mode 0600, when absent).",
        discussion: "Default: <identity>/<name>.holdout.key. Keep it with the participant's state: a new key re-deals the holdout.",
        valueName: "path"))
    var holdoutKey: String?

    func validate() throws {
        if trainerEvaluates && trainer == nil {
            throw ValidationError("--trainer-evaluates needs --trainer: it says the trainer command has an "
                + "evaluate hook")
        }
        guard let colon = coordinator.lastIndex(of: ":"), Int(coordinator[coordinator.index(after: colon)...]) != nil else {
            throw ValidationError("--coordinator must be HOST:PORT, got `\(coordinator)`")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "cohort.participant")
        logger.logLevel = .info
        let colon = coordinator.lastIndex(of: ":")!
        let participantName = name ?? URL(fileURLWithPath: identity).lastPathComponent
        var configuration = ParticipantConfiguration(
            host: String(coordinator[..<colon]), port: Int(coordinator[coordinator.index(after: colon)...])!,
            identity: IdentityFiles(directory: identity, name: participantName),
            dataPath: data, schemaPath: schema, expectedLabel: label, trainerCommand: trainer, holdoutKeyPath: holdoutKey
        )
        configuration.trainerEvaluates = trainerEvaluates
        do {
            let summary = try await Participant(configuration: configuration, logger: logger).run()
            logger.info("finished", metadata: ["cohort.rounds": "\(summary.roundsContributed.count)"])
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
