import ArgumentParser
import CohortAPIClient
import Foundation

/// `cohort policy adopt FILE`.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Change the running coordinator's policy (operator API).",
        subcommands: [Adopt.self]
    )

    struct Adopt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Adopt a policy file from the next round on (operators).",
            discussion: """
                The coordinator validates it, refuses changes to frozen fields and an epsilon_max below the ε already \
                spent, and records a signed policy.adopted ledger entry. Relative paths in the file resolve against the \
                coordinator's original policy directory.
                """
        )
        @Argument(help: "The policy file (YAML).")
        var file: String
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let yaml: String
                do {
                    yaml = try String(contentsOfFile: file, encoding: .utf8)
                } catch {
                    throw CommandFailure(
                        code: "cli.unreadable_file", message: "cannot read \(file): \(error.localizedDescription)")
                }
                let adoption = try await client.adoptPolicy(yaml: yaml)
                if options.json {
                    try options.printJSON(adoption)
                } else {
                    print(
                        "adopted policy \(adoption.policySHA256) (ledger entry \(adoption.ledgerSeq)); epsilon_max "
                            + "\(adoption.oldEpsilonMax) → \(adoption.newEpsilonMax); changed: "
                            + (adoption.changedFields.isEmpty
                                ? "nothing" : adoption.changedFields.joined(separator: ", ")))
                }
            }
        }
    }
}
