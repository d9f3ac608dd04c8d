import CohortCrypto
import CohortLedger
import CohortModel
import CohortStorage

/// Finds a released model in a coordinator's state directory and packages it as a
/// ``ModelExport`` (`cohort model export`, `GET /v1/models/...`).
///
/// The ledger decides what exists: a round's model is exportable only when the ledger has its
/// `round.closed` entry, and the checkpoint file must have the SHA-256 that entry recorded (a
/// replaced or damaged checkpoint is refused, never exported).
public enum ModelExporter {
    /// Which model to export.
    public enum Selection: Sendable, Equatable {
        /// The model released by this round.
        case round(Int)
        /// The latest model the evaluation gate approved.
        case approved
    }

    /// The export of the selected model.
    /// - Parameters:
    ///   - stateDirectory: the coordinator's state directory (`checkpoints/` in it).
    ///   - entries: the ledger's entries (read, and verified when the caller can).
    ///   - latestApprovedRound: the latest approved round of the verified ledger state.
    ///   - schema: the feature schema of the run (the policy's `model.schema`).
    ///   - modelKind: the policy's `model.kind`, when known (else read from the checkpoint).
    /// - Throws: `export.no_approved_model`, `export.unknown_round`, `export.checkpoint_missing`,
    ///   `export.checkpoint_mismatch`, `export.schema_mismatch`, checkpoint decoding errors.
    public static func export(
        stateDirectory: String, entries: [LedgerEntry], latestApprovedRound: Int?, schema: FeatureSchema,
        selection: Selection,
        modelKind: String? = nil
    ) throws(ModelError) -> ModelExport {
        var released: [Int: String] = [:]
        var promoted: Set<Int> = []
        var approved: Set<Int> = []
        for entry in entries {
            switch try? entry.record() {
            case .roundClosed(let closed)?:
                released[closed.round] = closed.modelSHA256
                if promoted.contains(closed.round) { approved.insert(closed.round) }
            case .gateDecision(let decision)?:
                // The rule of the ledger verifier: an evaluation pass with promoted: true,
                // effective when that round's model is released.
                if decision.gate == "evaluation" && decision.passed && decision.inputs["promoted"] == .bool(true) {
                    promoted.insert(decision.round)
                }
            default:
                break
            }
        }
        if let latestApprovedRound { approved.insert(latestApprovedRound) }
        let round: Int
        switch selection {
        case .approved:
            guard let latest = latestApprovedRound ?? approved.max() else {
                throw ModelError(
                    code: "export.no_approved_model",
                    message: "no round's model has been approved by the evaluation gate yet"
                        + (released.isEmpty
                            ? " (no round has released a model)" : "; released rounds: \(describe(released.keys))")
                        + ". Export one with --round N, knowing that it is not approved"
                )
            }
            round = latest
        case .round(let requested):
            round = requested
        }
        guard let sha = released[round] else {
            throw ModelError(
                code: "export.unknown_round",
                message: "round \(round) released no model (the ledger has no round.closed entry for it); "
                    + (released.isEmpty
                        ? "no round has released a model yet" : "released rounds: \(describe(released.keys))")
            )
        }
        let path = Coordinator.checkpointPath(stateDirectory: stateDirectory, round: round)
        guard DurableFile.exists(path) else {
            throw ModelError(
                code: "export.checkpoint_missing",
                message:
                    "the checkpoint of round \(round) (\(path)) is missing; restore the state directory's checkpoints/ from backup"
            )
        }
        let bytes: [UInt8]
        do {
            bytes = try DurableFile.read(path)
        } catch {
            throw ModelError(code: "export.checkpoint_unreadable", message: "cannot read \(path): \(error.message)")
        }
        guard SHA256.hexDigest(bytes) == sha else {
            throw ModelError(
                code: "export.checkpoint_mismatch",
                message: "\(path) does not have the SHA-256 the ledger recorded for round \(round) (\(sha)); "
                    + "it was replaced or damaged: restore it from backup"
            )
        }
        let file = try SafetensorsFile.decode(bytes, source: path)
        return try ModelExport(
            checkpoint: file, checkpointSHA256: sha, approved: approved.contains(round), schema: schema,
            modelKind: modelKind
        )
    }

    static func describe(_ rounds: Dictionary<Int, String>.Keys) -> String {
        let sorted = rounds.sorted()
        guard let first = sorted.first, let last = sorted.last else { return "none" }
        return sorted.count == last - first + 1
            ? (first == last ? "\(first)" : "\(first)–\(last)") : sorted.map(String.init).joined(separator: ", ")
    }
}

extension Coordinator {
    /// The export of a released model, for download over the operator API.
    /// - Throws: `ControlError` with the exporter's code: 404 for a round or approval that does
    ///   not exist, 500 for a missing or damaged checkpoint.
    public func exportModel(_ selection: ModelExporter.Selection, by principal: ControlPrincipal) throws(ControlError)
        -> [UInt8]
    {
        try authorize(principal, .readModel)
        let contents: LedgerReader.Contents
        do {
            contents = try LedgerReader.read(
                file: LedgerWriter.ledgerPath(stateDirectory: configuration.stateDirectory))
        } catch {
            throw ControlError(
                code: "control.ledger_unreadable", message: "cannot read the ledger: \(error.message)", status: 500)
        }
        do {
            let export = try ModelExporter.export(
                stateDirectory: configuration.stateDirectory, entries: contents.entries,
                latestApprovedRound: ledger.state.latestApprovedRound, schema: schema, selection: selection,
                modelKind: configuration.policy.policy.model.kind
            )
            return try export.safetensors().encoded()
        } catch {
            let notFound: Set<String> = ["export.no_approved_model", "export.unknown_round"]
            throw ControlError(
                code: error.code, message: error.message, status: notFound.contains(error.code) ? 404 : 500)
        }
    }
}
