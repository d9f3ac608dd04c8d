import ArgumentParser
import CohortBenchSupport
import CohortCrypto
import CohortLedger
import Foundation

/// Ledger verification time on a synthetic ledger, for both signature-checking modes, with
/// reference costs measured on the same file in the same run.
struct LedgerBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract:
            "Seconds to verify a synthetic ledger (file read included), last-entry and every-entry signature checks.",
        discussion: """
            Prints one `ledger_reference` line (single-core SHA-256 of every line with libsodium and with the \
            verifier's hash, parsing with the canonical check, one Ed25519 verify), then one `ledger_verify` line \
            per mode with the median of --repetitions runs, its ratio to the 2 s target and its cost in units \
            of single Ed25519 verifies.
            """
    )

    enum Mode: String, ExpressibleByArgument, CaseIterable {
        case last, all, both
    }

    @Option(help: "Entries in the synthetic ledger.")
    var entries = 100_000

    @Option(help: "Signature mode(s) to time: last (the `cohort ledger verify` default), all, or both.")
    var signatures: Mode = .both

    @Option(help: "Timed runs per mode; the median is reported.")
    var repetitions = 3

    @Option(
        help:
            "Also copy the synthetic ledger and its public key file into this directory (ledger.jsonl, ledger.pub), e.g. to time `cohort ledger verify` on it."
    )
    var keepIn: String?

    static let targetSeconds = 2.0

    func validate() throws {
        guard entries >= 1 else { throw ValidationError("--entries must be at least 1") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
    }

    func run() throws {
        #if DEBUG
        Measure.emit(["warning": "debug build: run `swift run -c release cohort-bench ledger` for meaningful figures"])
        #endif
        // Generation (signing every entry) is not timed.
        let fixture = try LedgerBenchmark.makeFixture(entries: entries)
        defer { fixture.remove() }
        if let keepIn {
            try FileManager.default.createDirectory(atPath: keepIn, withIntermediateDirectories: true)
            let ledger = keepIn + "/ledger.jsonl"
            try? FileManager.default.removeItem(atPath: ledger)
            try FileManager.default.copyItem(atPath: fixture.path, toPath: ledger)
            try KeyFile.writePublic(fixture.publicKey, kind: .ed25519Public, to: keepIn + "/ledger.pub")
        }
        let references = try LedgerBenchmark.references(fixture)
        let megabytes = Double(fixture.bytes) / 1e6
        Measure.emit([
            "benchmark": "ledger_reference", "entries": entries, "file_megabytes": megabytes, "cores": references.cores,
            "sha256_libsodium_seconds": references.sha256LibsodiumSeconds,
            "sha256_libsodium_mb_per_second": megabytes / references.sha256LibsodiumSeconds,
            "sha256_verifier_seconds": references.sha256LineHashSeconds,
            "sha256_verifier_mb_per_second": megabytes / references.sha256LineHashSeconds,
            "parse_canonical_check_seconds": references.parseSeconds,
            "ed25519_verify_microseconds": references.ed25519VerifySeconds * 1e6,
            // Every signature, serially and perfectly spread over the cores: the floor of `all`.
            "all_signatures_serial_seconds": Double(entries) * references.ed25519VerifySeconds,
            "all_signatures_floor_seconds": Double(entries) * references.ed25519VerifySeconds
                / Double(references.cores),
        ])
        let modes: [(LedgerVerifier.SignatureCheck, String)] =
            switch signatures {
            case .last: [(.lastEntryOnly, "last")]
            case .all: [(.everyEntry, "all")]
            case .both: [(.lastEntryOnly, "last"), (.everyEntry, "all")]
            }
        for (mode, label) in modes {
            var times: [Double] = []
            for _ in 0..<repetitions { times.append(try LedgerBenchmark.timeVerify(fixture, signatures: mode)) }
            times.sort()
            let median = times[times.count / 2]
            Measure.emit([
                "benchmark": "ledger_verify", "entries": entries, "signatures": label,
                "seconds": median, "seconds_min": times[0], "seconds_max": times[times.count - 1],
                "repetitions": repetitions,
                "entries_per_second": Double(entries) / median,
                "target_seconds": Self.targetSeconds, "ratio_to_target": median / Self.targetSeconds,
                "in_ed25519_verifies": median / references.ed25519VerifySeconds,
                "ratio_to_sha256_libsodium": median / references.sha256LibsodiumSeconds,
            ])
        }
    }
}
