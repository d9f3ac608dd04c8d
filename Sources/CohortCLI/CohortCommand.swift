import ArgumentParser

/// The `cohort` command: operator and auditor tools.
public struct CohortCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Cohort: federated learning with differential-privacy accounting.",
        subcommands: [BudgetCommand.self, CertsCommand.self]
    )

    public init() {}
}
