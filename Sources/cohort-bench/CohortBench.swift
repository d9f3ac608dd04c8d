import ArgumentParser

/// `cohort-bench`: release-build benchmarks that print one JSON object per line.
/// Targets are checked by reading the figures, never inside unit tests (shared machines are noisy).
@main
struct CohortBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-bench",
        abstract: "Cohort benchmarks; each prints JSON lines.",
        // The round-* commands are the child processes of `round`, hidden from help.
        subcommands: [
            CoreBenchmarks.self, RoundBenchmark.self, LedgerBenchmarks.self,
            RoundCoordinatorCommand.self, RoundParticipantCommand.self,
        ],
        defaultSubcommand: CoreBenchmarks.self
    )
}
