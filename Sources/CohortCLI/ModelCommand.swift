import ArgumentParser
import CohortAPIClient
import CohortCrypto
import CohortLedger
import CohortModel
import CohortStorage

/// `cohort model export|download`: a released model as one safetensors file with its encoding,
/// so a hospital can apply it to new rows (docs/MODEL.md, "Exported models").
public struct ModelCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Export a released model (tensors + the schema's encoding) for use outside Cohort.",
        subcommands: [Export.self, Download.self]
    )

    public init() {}

    /// Options shared by export and download: which model.
    struct Selection: ParsableArguments {
        @Option(name: .long, help: "Export the model released by this round.")
        var round: Int?

        @Flag(name: .long, help: "Export the latest model the evaluation gate approved.")
        var approved = false

        func validate() throws {
            guard (round != nil) != approved else {
                throw ValidationError("pass exactly one of --round N and --approved")
            }
            if let round, round < 1 {
                throw ValidationError("--round must be 1 or more (round 0 is the initial model)")
            }
        }

        var selection: ModelExporter.Selection { round.map { .round($0) } ?? .approved }
    }

    /// `cohort model export --state DIR --schema FILE (--round N | --approved) --out FILE [--public-key FILE]`.
    public struct Export: ParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract:
                "Write a released model from a coordinator's state directory as a safetensors file with its encoding.",
            discussion: """
                The ledger is verified first: with --public-key against the coordinator's ledger key, otherwise against \\
                the key its genesis entry names (consistency only). The checkpoint must have the SHA-256 the ledger recorded. \\
                Exit codes: 0 written, 1 refused (no such model, damaged checkpoint, ledger does not verify), 2 an input could not be read.
                """
        )

        @Option(name: .long, help: "The coordinator's state directory (ledger.jsonl, checkpoints/).")
        var state: String

        @Option(name: .long, help: "The run's feature schema (the policy's model.schema).")
        var schema: String

        @OptionGroup var which: Selection

        @Option(name: .long, help: "The file to write (safetensors).")
        var out: String

        @Option(name: .long, help: "The coordinator's ledger public key file, to verify the ledger against.")
        var publicKey: String?

        @Option(
            name: .long,
            help: "The policy's model.kind, for a checkpoint that does not record it (default: from the checkpoint).")
        var modelKind: String?

        @Flag(name: .long, help: "Print a JSON summary.")
        var json = false

        public init() {}

        public func run() throws {
            let schemaValue: FeatureSchema
            do {
                schemaValue = try FeatureSchema.load(path: schema)
            } catch {
                LedgerCommand.printError("error: \(error)")
                throw LedgerCommand.inputError
            }
            let ledgerPath = LedgerWriter.ledgerPath(stateDirectory: state)
            let contents = try LedgerCommand.readEntries(ledgerPath)
            let key: [UInt8]
            if let publicKey {
                do {
                    key = try KeyFile.readPublic(kind: .ed25519Public, from: publicKey)
                } catch {
                    LedgerCommand.printError("error: cannot read the public key: \(error)")
                    throw LedgerCommand.inputError
                }
            } else {
                guard case .genesis(let genesis)? = try? contents.entries.first?.record() else {
                    LedgerCommand.printError(
                        "error: \(ledgerPath) does not start with a genesis entry; it is not a Cohort ledger")
                    throw ExitCode.failure
                }
                key = genesis.ledgerPublicKey
            }
            let state: LedgerState
            do {
                state = try LedgerVerifier.verify(file: ledgerPath, publicKey: key).state
            } catch {
                LedgerCommand.printError("error: the ledger does not verify, nothing exported: \(error)")
                throw ExitCode.failure
            }
            let export: ModelExport
            let bytes: [UInt8]
            do {
                let scan = ReleasedModels.scan(contents.entries)
                export = try ModelExporter.export(
                    stateDirectory: self.state, released: scan.released, approvedRounds: scan.approved,
                    latestApprovedRound: state.latestApprovedRound,
                    schema: schemaValue, selection: which.selection, modelKind: modelKind
                )
                bytes = try export.safetensors().encoded()
            } catch {
                LedgerCommand.printError("error: \(error)")
                throw ExitCode.failure
            }
            do {
                try DurableFile.writeAtomically(bytes, to: out, mode: 0o644)
            } catch {
                LedgerCommand.printError("error: cannot write \(out): \(error)")
                throw LedgerCommand.inputError
            }
            if json {
                let object: JSONValue = [
                    "path": .string(out), "round": .integer(export.round), "approved": .bool(export.approved),
                    "model_kind": .string(export.modelKind), "checkpoint_sha256": .string(export.checkpointSHA256),
                    "tensors": .object(
                        Dictionary(
                            uniqueKeysWithValues: export.tensors.map {
                                ($0.name, JSONValue.array($0.tensor.shape.map { .integer($0) }))
                            })),
                    "ledger_key": .string(publicKey == nil ? "genesis" : "given"),
                ]
                print(object.canonicalString)
            } else {
                let shapes = export.tensors.map { "\($0.name) \($0.tensor.shape)" }.joined(separator: ", ")
                print(
                    "wrote \(out): round \(export.round) (\(export.approved ? "approved" : "NOT approved")), "
                        + "\(export.modelKind) [\(shapes)], encoding of schema '\(export.schema.name)'")
                if publicKey == nil {
                    print(
                        "note: the ledger was checked against its own genesis key; pass --public-key to check it is the coordinator's"
                    )
                }
            }
        }
    }

    /// `cohort model download (--round N | --approved) --out FILE`: the same file over the operator API.
    public struct Download: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract:
                "Download a released model from the running coordinator (operators), as `model export` writes it.",
            discussion:
                "Exit codes: 0 ok, 1 refused by the API (e.g. no approved model), 2 cannot write FILE, 3 forbidden, 4 API unreachable."
        )

        @OptionGroup var which: Selection

        @Option(name: .long, help: "The file to write (safetensors).")
        var out: String

        @OptionGroup var options: APIOptions

        public init() {}

        public func run() async throws {
            try await options.run { client in
                let bytes = try await client.model(round: which.round)
                let export: ModelExport
                do {
                    export = try ModelExport(safetensors: SafetensorsFile.decode(bytes, source: "the API's answer"))
                } catch {
                    throw CommandFailure(
                        code: "cli.bad_model",
                        message: "the coordinator sent a file that is not a model export: \(error)")
                }
                do {
                    try DurableFile.writeAtomically(bytes, to: out, mode: 0o644)
                } catch {
                    throw CommandFailure(code: "cli.unwritable_file", message: "cannot write \(out): \(error)")
                }
                print(
                    "wrote \(out): round \(export.round) (\(export.approved ? "approved" : "NOT approved")), \(export.modelKind)"
                )
            }
        }
    }
}
