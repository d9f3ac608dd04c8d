import CohortCrypto
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
    ///   - released: each round that released a model, with its checkpoint's SHA-256 as the
    ///     ledger recorded it (`ReleasedModels.scan` in CohortLedger).
    ///   - approvedRounds: the rounds whose released model the evaluation gate approved.
    ///   - latestApprovedRound: the latest approved round of the verified ledger state.
    ///   - schema: the feature schema of the run (the policy's `model.schema`).
    ///   - modelKind: the policy's `model.kind`, when known (else read from the checkpoint).
    /// - Throws: `export.no_approved_model`, `export.unknown_round`, `export.checkpoint_missing`,
    ///   `export.checkpoint_mismatch`, `export.schema_mismatch`, checkpoint decoding errors.
    public static func export(
        stateDirectory: String, released: [Int: String], approvedRounds: Set<Int>, latestApprovedRound: Int?,
        schema: FeatureSchema,
        selection: Selection,
        modelKind: String? = nil
    ) throws(ModelError) -> ModelExport {
        var approved = approvedRounds
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
        let path = stateDirectory + "/checkpoints/" + checkpointName(round: round)
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
            throw ModelError(
                code: "export.checkpoint_unreadable",
                message: "cannot read \(path): \(error.message); check its permissions, or restore it from backup")
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

    /// The checkpoint file name the coordinator writes for `round` (docs/LEDGER.md: `round-000042.safetensors`).
    public static func checkpointName(round: Int) -> String {
        let digits = String(round)
        return "round-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".safetensors"
    }
}
