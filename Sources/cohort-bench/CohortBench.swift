import ArgumentParser
import CohortTransport

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

    /// Process-wide settings first, on the main thread, before the concurrency pool's threads
    /// exist: glibc's arena limit (``LargeAllocations/reuseLargeBuffers()``) binds only threads
    /// that have not allocated yet.
    static func main() async {
        // The coordinator child (round-coordinator) must be set up as cohort-coordinator is.
        ProcessSetup.forServer()
        await main(nil)
    }
}
