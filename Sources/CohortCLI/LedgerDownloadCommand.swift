import ArgumentParser
import CohortAPIClient
import CohortStorage

extension LedgerCommand {
    /// `cohort ledger download --out FILE`: the running coordinator's ledger, over the API.
    struct Download: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Download the running coordinator's ledger (operators and auditors); verify it with `cohort ledger verify`.",
            discussion:
                "Exit codes: 0 ok, 1 refused by the API, 2 cannot write FILE, 3 forbidden (role), 4 API unreachable."
        )
        @Option(name: .long, help: "Where to write the ledger (JSON Lines).")
        var out: String
        @OptionGroup var options: APIOptions

        struct Output: Encodable {
            let path: String
            let bytes: Int
            let entries: Int
        }

        func run() async throws {
            try await options.run { client in
                let bytes = try await client.ledger()
                do {
                    try DurableFile.writeAtomically(bytes, to: out, mode: 0o644)
                } catch {
                    throw CommandFailure(code: "cli.unwritable_file", message: "cannot write \(out): \(error)")
                }
                let entries = bytes.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
                if options.json {
                    try options.printJSON(Output(path: out, bytes: bytes.count, entries: entries))
                } else {
                    print("wrote \(entries) entries (\(bytes.count) bytes) to \(out)")
                }
            }
        }
    }
}
