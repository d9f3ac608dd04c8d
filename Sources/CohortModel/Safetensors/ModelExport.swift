#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A released model packaged for use outside Cohort: one safetensors file with the model's
/// tensors under the policy's names and everything needed to apply it to a new CSV row.
///
/// Tensors: the model tensors of the checkpoint (today `weight` [1, F] and `bias` [1] for
/// logistic regression), without the server optimizer's state. Metadata (all strings):
///
/// | key | value |
/// |---|---|
/// | `cohort.format` | `cohort.model` |
/// | `cohort.version` | `1` |
/// | `cohort.model_kind` | the model family (`logistic_regression`) |
/// | `cohort.round` | the round that released the model |
/// | `cohort.approved` | `true` when the evaluation gate promoted this round's model |
/// | `cohort.checkpoint_sha256` | SHA-256 of the checkpoint file, as in the ledger's `round.closed` |
/// | `cohort.schema_digest` | `FeatureSchema.digest()` of the schema below |
/// | `cohort.schema` | the feature schema as JSON: column names, imputation values, scaling means and standard deviations, category lists, label classes |
/// | `cohort.encoded_features` | JSON array of the encoded feature names, in vector order |
/// | `cohort.layout` | when the checkpoint has one: its tensor layout, as the checkpoint records it |
///
/// The schema is the encoding: numeric features in order, each missing cell replaced by its
/// imputation value, then `(x − mean) / standard_deviation`, then one indicator per category
/// (plus `<missing>`) for each categorical feature; every encoded value rounded to float32, as
/// Cohort trains on it (docs/MODEL.md, "Exported models").
public struct ModelExport: Sendable {
    /// The export format version this code writes and reads.
    public static let currentVersion = 1
    static let format = "cohort.model"
    /// Tensors of a checkpoint that are optimizer state, not model: left out of an export.
    public static let optimizerTensorNames: Set<String> = ["velocity"]

    /// The model family, as the policy names it.
    public var modelKind: String
    /// The model tensors, in file order.
    public var tensors: [(name: String, tensor: Tensor)]
    /// The round that released the model.
    public var round: Int
    /// Whether the evaluation gate approved (promoted) this round's model.
    public var approved: Bool
    /// SHA-256 (hex) of the checkpoint file the tensors came from.
    public var checkpointSHA256: String
    /// The feature schema the model's inputs follow.
    public var schema: FeatureSchema
    /// Model-describing metadata carried over from the checkpoint (e.g. `cohort.layout`).
    public var modelMetadata: [String: String]

    /// Checkpoint metadata keys that describe the model and travel into an export.
    public static let modelMetadataKeys: Set<String> = ["cohort.layout", "cohort.architecture"]

    public init(
        modelKind: String, tensors: [(name: String, tensor: Tensor)], round: Int, approved: Bool,
        checkpointSHA256: String, schema: FeatureSchema, modelMetadata: [String: String] = [:]
    ) {
        self.modelKind = modelKind
        self.tensors = tensors
        self.round = round
        self.approved = approved
        self.checkpointSHA256 = checkpointSHA256
        self.schema = schema
        self.modelMetadata = modelMetadata
    }

    /// The export of a checkpoint file's model.
    ///
    /// The model tensors are taken as the checkpoint names them (whatever the layout), without
    /// the optimizer state; the kind is `modelKind` (the policy's `model.kind`) when given, else
    /// the checkpoint's `cohort.model_kind`, else `logistic_regression` for a checkpoint with
    /// logistic regression's layout (no `cohort.layout`). Layout metadata is carried over.
    /// - Throws: `export.schema_mismatch` when the checkpoint was trained on another schema;
    ///   `export.unknown_kind` when the kind cannot be known.
    public init(
        checkpoint file: SafetensorsFile, checkpointSHA256: String, approved: Bool, schema: FeatureSchema,
        modelKind: String? = nil
    ) throws(ModelError) {
        let checkpoint = try ModelCheckpointHeader(file)
        let digest = try schema.digest()
        guard checkpoint.schemaDigest == digest else {
            throw ModelError(
                code: "export.schema_mismatch",
                message: "the checkpoint of round \(checkpoint.round) was trained on the schema with digest "
                    + "\(checkpoint.schemaDigest), not the given schema (\(digest)); pass the schema the run used "
                    + "(the policy's model.schema)"
            )
        }
        let layoutKind: String? = file.metadata["cohort.layout"] == nil ? "logistic_regression" : nil
        guard let kind = modelKind ?? file.metadata["cohort.model_kind"] ?? layoutKind else {
            throw ModelError(
                code: "export.unknown_kind",
                message: "the checkpoint of round \(checkpoint.round) does not name its model kind; "
                    + "pass the policy's model.kind (--model-kind)"
            )
        }
        self.init(
            modelKind: kind,
            tensors: file.tensors.filter { !Self.optimizerTensorNames.contains($0.name) },
            round: checkpoint.round, approved: approved, checkpointSHA256: checkpointSHA256, schema: schema,
            modelMetadata: file.metadata.filter { Self.modelMetadataKeys.contains($0.key) }
        )
    }

    /// The export as a safetensors file.
    public func safetensors() throws(ModelError) -> SafetensorsFile {
        let schemaJSON = String(decoding: try schema.canonicalJSON(), as: UTF8.self)
        let features: [String] = schema.encodedFeatureNames
        let featuresJSON: String
        do {
            featuresJSON = String(decoding: try JSONEncoder().encode(features), as: UTF8.self)
        } catch {
            throw ModelError(code: "export.encoding_failed", message: "cannot encode the feature names: \(error)")
        }
        return SafetensorsFile(
            tensors: tensors,
            metadata: modelMetadata.merging([
                "cohort.format": Self.format,
                "cohort.version": String(Self.currentVersion),
                "cohort.model_kind": modelKind,
                "cohort.round": String(round),
                "cohort.approved": approved ? "true" : "false",
                "cohort.checkpoint_sha256": checkpointSHA256,
                "cohort.schema_digest": try schema.digest(),
                "cohort.schema": schemaJSON,
                "cohort.encoded_features": featuresJSON,
            ]) { _, ours in ours }
        )
    }

    /// Reads an export written by ``safetensors()``, checking its format, version and that the
    /// embedded schema matches its digest.
    public init(safetensors file: SafetensorsFile, source: String = "model") throws(ModelError) {
        func invalid(_ problem: String) -> ModelError {
            ModelError(code: "export.invalid_file", message: "\(source) is not a Cohort model export: \(problem)")
        }
        guard file.metadata["cohort.format"] == Self.format else {
            throw invalid("metadata cohort.format is not '\(Self.format)'")
        }
        guard file.metadata["cohort.version"] == String(Self.currentVersion) else {
            throw invalid(
                "unsupported cohort.version \(file.metadata["cohort.version"] ?? "(absent)"); this build reads \(Self.currentVersion)"
            )
        }
        guard let kind = file.metadata["cohort.model_kind"] else { throw invalid("cohort.model_kind is missing") }
        guard let round = file.metadata["cohort.round"].flatMap({ Int($0) }), round >= 0 else {
            throw invalid("cohort.round is missing")
        }
        guard let approved = file.metadata["cohort.approved"].flatMap({ Bool($0) }) else {
            throw invalid("cohort.approved is missing")
        }
        guard let sha = file.metadata["cohort.checkpoint_sha256"] else {
            throw invalid("cohort.checkpoint_sha256 is missing")
        }
        guard let schemaText = file.metadata["cohort.schema"] else { throw invalid("cohort.schema is missing") }
        let schema = try FeatureSchema.decode(json: Array(schemaText.utf8), source: "\(source) (cohort.schema)")
        guard try schema.digest() == file.metadata["cohort.schema_digest"] else {
            throw invalid("the embedded schema does not match cohort.schema_digest")
        }
        self.init(
            modelKind: kind, tensors: file.tensors, round: round, approved: approved, checkpointSHA256: sha,
            schema: schema,
            modelMetadata: file.metadata.filter { Self.modelMetadataKeys.contains($0.key) }
        )
    }

    /// The model, ready to score encoded records.
    ///
    /// The seam for new model families: each kind maps its named tensors to a ``ScoringModel``.
    /// - Throws: `export.unsupported_kind` for a kind this build cannot evaluate.
    public func scoringModel() throws(ModelError) -> any ScoringModel {
        let file = SafetensorsFile(tensors: tensors)
        switch modelKind {
        case "logistic_regression":
            let model = try LogisticRegression(weightAndBias: file)
            guard model.featureCount == schema.encodedDimension else {
                throw ModelError(
                    code: "export.dimension_mismatch",
                    message:
                        "the weight has \(model.featureCount) values, the schema encodes \(schema.encodedDimension) "
                        + "features: the export was altered or mixes two runs; write it again with `cohort model export`"
                )
            }
            return model
        default:
            throw ModelError(
                code: "export.unsupported_kind",
                message:
                    "this build cannot score a '\(modelKind)' model; use the tensors with your own implementation of that kind"
            )
        }
    }

    /// P(positive class) for every record of `data`, encoded with ``schema``.
    public func probabilities(_ data: EncodedDataset) throws(ModelError) -> [Double] {
        let model = try scoringModel()
        guard data.dimension == model.inputDimension else {
            throw ModelError(
                code: "export.dimension_mismatch",
                message:
                    "the records have \(data.dimension) encoded features, the model takes \(model.inputDimension); "
                    + "encode them with the schema embedded in the export"
            )
        }
        return (0..<data.count).map { model.probability(data.row($0)) }
    }
}

/// A model that scores one encoded record: what an exported model needs to be applied.
public protocol ScoringModel: Sendable {
    /// The number of encoded features a record must have.
    var inputDimension: Int { get }
    /// P(positive class | record), for a record encoded as the schema says.
    func probability(_ row: ArraySlice<Float>) -> Double
}

extension LogisticRegression: ScoringModel {
    /// The number of features d.
    public var inputDimension: Int { featureCount }

    /// σ(w·x + b).
    public func probability(_ row: ArraySlice<Float>) -> Double {
        Self.sigmoid(logit(row))
    }
}

/// The round and schema digest of a checkpoint, read without assuming its tensor layout.
struct ModelCheckpointHeader {
    let round: Int
    let schemaDigest: String

    init(_ file: SafetensorsFile) throws(ModelError) {
        func invalid(_ problem: String) -> ModelError {
            ModelError(code: "model.invalid_checkpoint", message: "not a Cohort checkpoint: \(problem)")
        }
        guard file.metadata["cohort.format"] == ModelCheckpoint.format else {
            throw invalid("metadata cohort.format is not '\(ModelCheckpoint.format)'")
        }
        guard let round = file.metadata["cohort.round"].flatMap({ Int($0) }), round >= 0 else {
            throw invalid("cohort.round is missing")
        }
        guard let digest = file.metadata["cohort.schema_digest"] else {
            throw invalid("cohort.schema_digest is missing")
        }
        self.round = round
        self.schemaDigest = digest
    }
}
