import ArgumentParser

/// `cohort-bench`: release-build benchmarks that print one JSON object per line.
/// Targets are checked by reading the figures, never inside unit tests (shared machines are noisy).
@main
struct CohortBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-bench",
        abstract: "Cohort benchmarks; each prints JSON lines.",
        // round-coordinator is the coordinator process of `round`, hidden from help; its
        // participants are the separate cohort-bench-participant executable.
        subcommands: [
            CoreBenchmarks.self, RoundBenchmark.self, FloodBenchmark.self, LedgerBenchmarks.self, FuzzCommand.self,
            RoundCoordinatorCommand.self,
        ],
        defaultSubcommand: CoreBenchmarks.self
    )
}
