import ArgumentParser
import CohortLedger

/// Ledger verification time on a synthetic ledger, for both signature-checking modes.
struct LedgerBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Seconds to verify a synthetic ledger (file read included), every-entry and last-entry signature checks."
    )

    @Option(help: "Entries in the synthetic ledger.")
    var entries = 100_000

    func validate() throws {
        guard entries >= 1 else { throw ValidationError("--entries must be at least 1") }
    }

    func run() throws {
        #if DEBUG
        Measure.emit(["warning": "debug build: run `swift run -c release cohort-bench ledger` for meaningful figures"])
        #endif
        for (mode, label) in [(LedgerVerifier.SignatureCheck.everyEntry, "every_entry"), (.lastEntryOnly, "last_entry_only")] {
            // Generation (signing every entry) is not timed; see LedgerBenchmark.verifyThroughput.
            let seconds = try LedgerBenchmark.verifyThroughput(entries: entries, signatures: mode)
            Measure.emit([
                "benchmark": "ledger_verify", "entries": entries, "signatures": label,
                "seconds": seconds, "entries_per_second": Double(entries) / seconds,
            ])
        }
    }
}
