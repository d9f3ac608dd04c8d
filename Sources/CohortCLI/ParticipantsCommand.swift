import ArgumentParser
import CohortAPIClient
import CohortAPITypes

/// `cohort participants list|suspend|resume`.
struct ParticipantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "participants",
        abstract: "List the policy's participants, suspend or resume one (operator API).",
        discussion:
            "Exit codes: 0 ok, 1 refused by the API, 2 unreadable local file, 3 forbidden (role), 4 API unreachable.",
        subcommands: [List.self, Suspend.self, Resume.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connection, records, suspension and anomaly flags of every participant.")
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let participants = try await client.participants()
                if options.json {
                    try options.printJSON(ParticipantList(participants: participants))
                } else {
                    for participant in participants { print(StatusRendering.participantLine(participant)) }
                }
            }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Exclude a participant from sampling until resumed (operators).")
        @Argument(help: "The participant's name.")
        var name: String
        @Option(name: .long, help: "Why; shown in status.")
        var reason: String?
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let participant = try await client.suspend(name, reason: reason)
                if options.json {
                    try options.printJSON(participant)
                } else {
                    print(StatusRendering.participantLine(participant))
                }
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a suspended participant eligible again (operators).")
        @Argument(help: "The participant's name.")
        var name: String
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let participant = try await client.reinstate(name)
                if options.json {
                    try options.printJSON(participant)
                } else {
                    print(StatusRendering.participantLine(participant))
                }
            }
        }
    }
}
