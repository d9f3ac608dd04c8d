import ArgumentParser

/// The `cohort` command: operator and auditor tools.
public struct CohortCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Cohort: federated learning with differential-privacy accounting.",
        subcommands: [
            BudgetCommand.self, CertsCommand.self, LedgerCommand.self, DemoCommand.self, RoundCommand.self,
            ParticipantsCommand.self,
            PolicyCommand.self, ModelCommand.self,
        ]
    )

    public init() {}
}
