import ArgumentParser

/// `cohort-bench`: release-build benchmarks that print one JSON object per line.
/// Targets are checked by reading the figures, never inside unit tests (shared machines are noisy).
@main
struct CohortBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort-bench",
        abstract: "Cohort benchmarks; each prints JSON lines.",
        subcommands: [CoreBenchmarks.self],
        defaultSubcommand: CoreBenchmarks.self
    )
}
