import ArgumentParser
import CohortCrypto
import CohortLedger
import CohortStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `cohort ledger show|verify|export|report`: read, verify and present a privacy ledger offline.
///
/// Exit codes: 0 success; 1 the ledger failed verification or has unreadable lines; 2 an input
/// could not be read (missing file, wrong key file).
public struct LedgerCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Show, verify, export or report on a privacy-budget ledger (offline; no coordinator needed).",
        subcommands: [Show.self, Verify.self, Export.self, Report.self, Download.self]
    )

    public init() {}

    /// Exit status for an input that could not be read at all.
    static let inputError = CLIExit.inputError

    /// Writes a line to standard error (with write(2): the C `stderr` global is not concurrency-safe in Swift 6).
    static func printError(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { SystemCall.write(2, $0.baseAddress, $0.count) }
    }

    static func readEntries(_ path: String) throws -> LedgerReader.Contents {
        do {
            return try LedgerReader.read(file: path)
        } catch {
            printError("error: \(error)")
            throw inputError
        }
    }

    static func reportProblems(_ problems: [LedgerError]) {
        for problem in problems { printError("warning: \(problem)") }
    }

    /// `cohort ledger show`
    public struct Show: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract:
                "Print the ledger as a table: seq, time, kind, round, ε per round and cumulative, gate decisions and refusals.",
            discussion: "Signatures are not checked here; use `cohort ledger verify` for that."
        )

        @Option(name: .long, help: "The ledger file (ledger.jsonl).")
        var ledger: String

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The coordinator's evaluation store (<state>/evaluations.jsonl): list each round's exact metrics.",
                discussion: "For operators: the store holds exact holdout metrics, which the ledger only commits to."))
        var evaluations: String?

        public init() {}

        public func run() throws {
            let contents = try LedgerCommand.readEntries(ledger)
            print(LedgerRendering.table(contents.entries), terminator: "")
            if let evaluations {
                // Exact holdout metrics: un-protected data for the coordinator's operators only.
                print("\nevaluations (\(evaluations); operators only, not part of the ledger):")
                for line in try EvaluationStore.read(path: evaluations) {
                    let metrics = line.record.metrics.sorted { $0.key < $1.key }
                        .map { "\($0.key) \(String(format: "%.4f", $0.value))" }
                    print(
                        "round \(line.record.round) · model \(line.record.modelSHA256.prefix(12))… · "
                            + "\(line.record.participants) participants · "
                            + (metrics.isEmpty ? "not evaluated" : metrics.joined(separator: ", ")))
                }
            }
            LedgerCommand.reportProblems(contents.problems)
            if !contents.problems.isEmpty { throw ExitCode.failure }
        }
    }

    /// `cohort ledger verify`
    public struct Verify: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Verify canonical form, hash chain, sequence, times, signatures and every ε charge.",
            discussion: """
                Exits 0 with a one-line summary when everything holds; otherwise exits 1 and names the first failing line and entry.

                Every line is always parsed, checked for canonical form, hashed into the chain, and every ε is recomputed.                 Signatures (docs/LEDGER.md §6.2): `last` (the default) checks the last entry's signature, which covers every                 earlier byte, signatures included, through the hash chain: any change made without the key is detected.                 `all` also checks every entry's own signature, on all cores; it additionally rejects a file in which the key                 holder itself wrote an entry with an invalid signature and signed later entries over it. Ed25519 checks                 dominate `all` (about 1 s per 10,000 entries per core here). Both modes name the same first failing entry:                 when `last` finds a failure, the lines up to it are re-checked with every signature before reporting.
                """
        )

        enum Signatures: String, ExpressibleByArgument, CaseIterable {
            case all, last
        }

        @Option(name: .long, help: "The ledger file (ledger.jsonl).")
        var ledger: String

        @Option(
            name: .long, help: "The coordinator's ledger public key file (`cohort-key v1 ed25519-public <base64>`).")
        var publicKey: String

        @Option(
            name: .long,
            help:
                "last: the last entry's signature, which covers the rest through the hash chain (default); all: every entry's signature too."
        )
        var signatures: Signatures = .last

        @Flag(name: .long, help: "Print the result as one JSON object.")
        var json = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The coordinator's evaluation store (<state>/evaluations.jsonl): also check every evaluation_sha256.",
                discussion:
                    "Optional: the store holds exact holdout metrics, for operators only; a ledger verifies without it."
            ))
        var evaluations: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The coordinator's gate-input store (<state>/gate-inputs.jsonl): also check every inputs_sha256.",
                discussion:
                    "Optional: the store holds exact record statistics, for operators only; a ledger verifies without it."
            ))
        var gateInputs: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The coordinator's participant-sample store (<state>/participant-samples.jsonl): also open every "
                    + "participant-unit sample_commitment and contributors_commitment.",
                discussion:
                    "Optional: the store names who was sampled, for operators only; a ledger verifies without it. "
                    + "With it, the output also gives each round's sample size, which the ledger withholds."))
        var samples: String?

        public init() {}

        public func run() throws {
            let key: [UInt8]
            do {
                key = try KeyFile.readPublic(kind: .ed25519Public, from: publicKey)
            } catch {
                LedgerCommand.printError("error: cannot read the public key: \(error)")
                throw LedgerCommand.inputError
            }
            do {
                let result = try LedgerVerifier.verify(
                    file: ledger, publicKey: key, signatures: signatures == .all ? .everyEntry : .lastEntryOnly,
                    keepEntries: evaluations != nil || gateInputs != nil || samples != nil
                )
                let state = result.state
                let store = try evaluations.map { path throws(LedgerError) in
                    try EvaluationStore.check(path: path, against: result.entries)
                }
                let gateStore = try gateInputs.map { path throws(LedgerError) in
                    try GateInputStore.check(path: path, against: result.entries)
                }
                let sampleStore = try samples.map { path throws(LedgerError) in
                    try ParticipantSampleStore.check(path: path, against: result.entries)
                }
                if json {
                    let object: JSONValue = [
                        "ok": true, "entries": .integer(state.entryCount),
                        "rounds_charged": .integer(state.roundsCharged),
                        "cumulative_epsilon": .number(state.cumulativeEpsilon),
                        "epsilon_max": .number(state.epsilonMax),
                        "delta": .number(state.delta), "last_hash": .string(state.lastHash),
                        "signatures_checked": .string(signatures.rawValue),
                        "unknown_kinds": .object(state.unknownKinds.mapValues { .integer($0) }),
                    ]
                    var members = object.objectValue ?? [:]
                    if let store { members["evaluation_commitments_checked"] = .integer(store.commitmentsChecked) }
                    if let gateStore {
                        members["gate_input_commitments_checked"] = .integer(gateStore.commitmentsChecked)
                    }
                    if let sampleStore {
                        members["sample_commitments_checked"] = .integer(sampleStore.commitmentsChecked)
                        members["sample_sizes"] = .object(
                            Dictionary(
                                uniqueKeysWithValues: sampleStore.counts.map {
                                    (
                                        String($0.key),
                                        JSONValue.object([
                                            "sampled": .integer($0.value.sampled),
                                            "contributors": .integer($0.value.contributors),
                                        ])
                                    )
                                }))
                    }
                    print(JSONValue.object(members).canonicalString)
                } else {
                    var line =
                        "OK: \(state.entryCount) entries, \(state.roundsCharged) rounds charged, cumulative ε \(state.cumulativeEpsilon) "
                        + "at δ \(state.delta) (cap \(state.epsilonMax)), last hash \(state.lastHash)"
                    line +=
                        signatures == .last
                        ? ", signatures: last entry (covers all through the chain)" : ", signatures: every entry"
                    if let store {
                        line +=
                            "; evaluation store: \(store.commitmentsChecked) commitments match"
                            + (store.unreferencedLines > 0
                                ? " (\(store.unreferencedLines) lines of unreleased models)" : "")
                    }
                    if let gateStore { line += "; gate-input store: \(gateStore.commitmentsChecked) commitments match" }
                    if let sampleStore {
                        line += "; participant-sample store: \(sampleStore.commitmentsChecked) commitments open"
                        if !sampleStore.counts.isEmpty {
                            line +=
                                " (sampled/contributed per round, operator-only: "
                                + sampleStore.counts.sorted { $0.key < $1.key }
                                .map { "\($0.key): \($0.value.sampled)/\($0.value.contributors)" }
                                .joined(separator: ", ")
                                + ")"
                        }
                    }
                    if !state.unknownKinds.isEmpty {
                        line +=
                            "; unknown kinds (chain and signature checked only): "
                            + state.unknownKinds.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(
                                separator: ", ")
                    }
                    print(line)
                }
            } catch {
                if error.code == .notFound || (error.code == .io && error.line == nil) {
                    LedgerCommand.printError("error: \(error)")
                    throw LedgerCommand.inputError
                }
                if json {
                    var object: [String: JSONValue] = [
                        "ok": false, "code": .string(error.code.rawValue), "message": .string(error.message),
                    ]
                    if let line = error.line { object["line"] = .integer(line) }
                    if let seq = error.seq { object["seq"] = .integer(seq) }
                    print(JSONValue.object(object).canonicalString)
                } else {
                    print("FAILED: \(error)")
                }
                throw ExitCode.failure
            }
        }
    }

    /// `cohort ledger export`
    public struct Export: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Export the entries as CSV or JSON to standard output or a file.")

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case csv, json
        }

        @Option(name: .long, help: "The ledger file (ledger.jsonl).")
        var ledger: String

        @Option(name: .long, help: "csv (one row per entry, data as canonical JSON) or json (an array of the entries).")
        var format: Format

        @Option(name: .long, help: "Write here instead of standard output.")
        var output: String?

        public init() {}

        public func run() throws {
            let contents = try LedgerCommand.readEntries(ledger)
            let text = format == .csv ? LedgerRendering.csv(contents.entries) : LedgerRendering.json(contents.entries)
            if let output {
                try LedgerCommand.write(text, to: output)
            } else {
                print(text, terminator: "")
            }
            LedgerCommand.reportProblems(contents.problems)
            if !contents.problems.isEmpty { throw ExitCode.failure }
        }
    }

    /// `cohort ledger report`
    public struct Report: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract:
                "Write a self-contained HTML report: plots of holdout accuracy, ROC AUC and loss, ε against the cap and contributors per round; rounds, governance decisions and refusals.",
            discussion: """
                Holdout metrics come from the coordinator's evaluations.jsonl: --evaluations PATH, or the file of that name \
                next to the ledger when there is one; otherwise from the ledger entries that carry metrics (older ledgers). \
                ε and contributors come from the ledger. The page has no scripts and loads nothing from the network.
                """
        )

        @Option(name: .long, help: "The ledger file (ledger.jsonl).")
        var ledger: String

        @Option(name: .long, help: "The HTML file to write.")
        var html: String

        @Option(name: .long, help: "Verify with this public key file and show the verdict in the report.")
        var publicKey: String?

        @Option(
            name: .long, help: "The coordinator's evaluations.jsonl (default: the one next to the ledger, if present).")
        var evaluations: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The coordinator's participant-samples.jsonl (default: the one next to the ledger, if present).",
                discussion: "Participant unit: the ledger withholds each round's sample size; the operator-only store, "
                    + "checked against the ledger's commitments, gives the contributors per round."))
        var samples: String?

        public init() {}

        public func run() throws {
            let contents = try LedgerCommand.readEntries(ledger)
            var evaluationsPath = evaluations
            if evaluationsPath == nil {
                let directory = ledger.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(
                    separator: "/")
                let sibling = (directory.isEmpty ? "" : directory + "/") + RoundEvaluations.fileName
                if DurableFile.exists(sibling) { evaluationsPath = sibling }
            }
            var samplesPath = samples
            if samplesPath == nil {
                let directory = ledger.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                    .joined(separator: "/")
                let sibling = (directory.isEmpty ? "" : directory + "/") + ParticipantSampleStore.fileName
                if DurableFile.exists(sibling) { samplesPath = sibling }
            }
            var sampleSizes: [Int: ParticipantSampleStore.SampleSize]? = nil
            if let samplesPath {
                do {
                    sampleSizes = try ParticipantSampleStore.check(path: samplesPath, against: contents.entries).counts
                } catch {
                    LedgerCommand.printError("error: \(error); no report written")
                    throw LedgerCommand.inputError
                }
            }
            var roundEvaluations: [RoundEvaluation]? = nil
            if let evaluationsPath {
                do {
                    roundEvaluations = try RoundEvaluations.read(file: evaluationsPath)
                } catch {
                    LedgerCommand.printError("error: \(error); no report written")
                    throw LedgerCommand.inputError
                }
            }
            var verdict: String? = nil
            if let publicKey {
                do {
                    let key = try KeyFile.readPublic(kind: .ed25519Public, from: publicKey)
                    let result = try LedgerVerifier.verify(
                        file: ledger, publicKey: key, keepEntries: evaluationsPath != nil)
                    verdict = "all \(result.state.entryCount) entries verified (chain, signatures, ε recomputation)"
                    // The plotted metrics are the store's: under a verified banner they must be the
                    // ones the ledger committed to.
                    if let evaluationsPath {
                        let store = try EvaluationStore.check(path: evaluationsPath, against: result.entries)
                        verdict! += "; \(store.commitmentsChecked) evaluation commitments match \(evaluationsPath)"
                    }
                } catch let error as LedgerError {
                    verdict = "FAILED — \(error)"
                } catch {
                    LedgerCommand.printError("error: cannot read the public key: \(error)")
                    throw LedgerCommand.inputError
                }
            }
            let title = ledger.split(separator: "/").last.map(String.init) ?? ledger
            let page = LedgerHTMLReport.render(
                entries: contents.entries, title: title, verification: verdict,
                evaluations: roundEvaluations, evaluationsSource: evaluationsPath,
                sampleSizes: sampleSizes, sampleSizesSource: samplesPath
            )
            try LedgerCommand.write(page, to: html)
            LedgerCommand.reportProblems(contents.problems)
            print("wrote \(html)")
            if !contents.problems.isEmpty { throw ExitCode.failure }
        }
    }

    static func write(_ text: String, to path: String) throws {
        do {
            try DurableFile.writeAtomically(Array(text.utf8), to: path)
        } catch {
            printError("error: \(error)")
            throw inputError
        }
    }
}
