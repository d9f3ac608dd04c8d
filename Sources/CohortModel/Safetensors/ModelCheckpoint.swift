/// The global model and server optimizer state after a round, stored as safetensors.
///
/// Tensors: the model's, with the policy's names and shapes — for logistic regression `weight`
/// of shape [1, d] and `bias` of shape [1] (the layout of a one-output linear layer, so an
/// external trainer can load them directly), for other models the tensors of their
/// ``ModelLayout`` — and `velocity` [d] when the server optimizer uses momentum. Metadata (all
/// strings): `cohort.format` = `cohort.checkpoint`, `cohort.version`, `cohort.round`,
/// `cohort.schema_digest`, and the optimizer's hyper-parameters.
///
/// Version 1 is logistic regression's `weight`/`bias`; version 2 (written for any other layout)
/// adds `cohort.layout`, the layout as JSON (`{"tensors": [{"name", "shape"}, …]}`), so the file
/// reads back without the policy. Logistic-regression checkpoints are still written as version 1.
public struct ModelCheckpoint: Sendable, Equatable {
    /// The newest checkpoint format version this code writes and reads.
    public static let currentVersion = 2
    static let format = "cohort.checkpoint"

    /// The round after which this model was released (0 = initial model).
    public var round: Int
    /// The global model.
    public var model: ModelParameters
    /// The server optimizer state, when the run has one.
    public var optimizer: ServerOptimizer?
    /// `FeatureSchema.digest()` of the schema the model's inputs follow.
    public var schemaDigest: String
    /// The tensors `model.parameters` holds; nil means logistic regression's `weight`/`bias`.
    public var layout: ModelLayout?

    /// A checkpoint. `model` is the flat parameter vector of any model; `layout` names its
    /// tensors (nil: logistic regression's `weight`/`bias`).
    public init(
        round: Int, model: ModelParameters, optimizer: ServerOptimizer? = nil, schemaDigest: String,
        layout: ModelLayout? = nil
    ) {
        self.round = round
        self.model = model
        self.optimizer = optimizer
        self.schemaDigest = schemaDigest
        self.layout = layout
    }

    /// The layout to write: nil when it is logistic regression's (written as version 1).
    private var nonLogisticLayout: ModelLayout? {
        guard let layout else { return nil }
        return (try? ModelLayout.logisticRegression(featureCount: model.count - 1)) == layout ? nil : layout
    }

    /// The checkpoint as a safetensors file.
    public func safetensors() throws(ModelError) -> SafetensorsFile {
        var tensors: [(name: String, tensor: Tensor)]
        var metadata = [
            "cohort.format": Self.format,
            "cohort.version": "1",
            "cohort.round": String(round),
            "cohort.schema_digest": schemaDigest,
        ]
        if let layout = nonLogisticLayout {
            tensors = try layout.safetensors(model.parameters).tensors
            metadata["cohort.version"] = "2"
            metadata["cohort.layout"] = try layout.json()
        } else {
            // Version 1: logistic regression's `[w…, b]` as a one-output linear layer.
            let logistic = try LogisticRegression(parameters: model.parameters)
            tensors = [
                ("weight", try Tensor(shape: [1, logistic.featureCount], values: Array(logistic.weights))),
                ("bias", Tensor(vector: [logistic.bias])),
            ]
        }
        if let optimizer {
            metadata["cohort.server_learning_rate"] = String(optimizer.learningRate)
            metadata["cohort.server_momentum"] = String(optimizer.momentum)
            metadata["cohort.server_weight_decay"] = String(optimizer.weightDecay)
            if !optimizer.velocity.isEmpty { tensors.append(("velocity", Tensor(vector: optimizer.velocity))) }
        }
        return SafetensorsFile(tensors: tensors, metadata: metadata)
    }

    /// Reads a checkpoint written by `safetensors()`.
    public init(safetensors file: SafetensorsFile) throws(ModelError) {
        func invalid(_ problem: String) -> ModelError {
            ModelError(code: "model.invalid_checkpoint", message: "not a Cohort checkpoint: \(problem)")
        }
        guard file.metadata["cohort.format"] == Self.format else {
            throw invalid("metadata cohort.format is not '\(Self.format)'")
        }
        guard let version = file.metadata["cohort.version"].flatMap({ Int($0) }),
            (1...Self.currentVersion).contains(version)
        else {
            throw invalid(
                "unsupported cohort.version \(file.metadata["cohort.version"] ?? "(absent)"); this "
                    + "build reads 1…\(Self.currentVersion)")
        }
        guard let round = file.metadata["cohort.round"].flatMap({ Int($0) }), round >= 0 else {
            throw invalid("cohort.round is missing")
        }
        guard let digest = file.metadata["cohort.schema_digest"] else {
            throw invalid("cohort.schema_digest is missing")
        }
        var layout: ModelLayout? = nil
        let model: ModelParameters
        if version >= 2 {
            guard let json = file.metadata["cohort.layout"] else {
                throw invalid(
                    "a version 2 checkpoint needs "
                        + "cohort.layout")
            }
            let decoded = try ModelLayout(json: json)
            model = try ModelParameters(
                parameters: try decoded.flatten(file, source: "checkpoint", ignoring: ["velocity"]))
            layout = decoded
        } else {
            model = try ModelParameters(parameters: LogisticRegression(weightAndBias: file).parameters)
        }
        var optimizer: ServerOptimizer? = nil
        if let rate = file.metadata["cohort.server_learning_rate"].flatMap({ Double($0) }) {
            let velocity = file.tensor(named: "velocity")?.values ?? []
            guard velocity.isEmpty || velocity.count == model.parameters.count else {
                throw invalid("velocity has \(velocity.count) values, the model \(model.parameters.count)")
            }
            optimizer = try ServerOptimizer(
                learningRate: rate,
                momentum: file.metadata["cohort.server_momentum"].flatMap { Double($0) } ?? 0,
                weightDecay: file.metadata["cohort.server_weight_decay"].flatMap { Double($0) } ?? 0,
                velocity: velocity
            )
        }
        self.init(round: round, model: model, optimizer: optimizer, schemaDigest: digest, layout: layout)
    }
}

extension LogisticRegression {
    /// The model as `weight` [1, d] and `bias` [1] tensors — the exchange format of an external
    /// trainer (it reads the global model from, and writes its result to, such a file).
    public func safetensors(metadata: [String: String] = [:]) throws(ModelError) -> SafetensorsFile {
        SafetensorsFile(
            tensors: [
                ("weight", try Tensor(shape: [1, featureCount], values: Array(weights))),
                ("bias", Tensor(vector: [bias])),
            ],
            metadata: metadata
        )
    }

    /// A model from a file's `weight` ([d] or [1, d]) and `bias` ([1] or scalar) tensors.
    public init(weightAndBias file: SafetensorsFile) throws(ModelError) {
        guard let weight = file.tensor(named: "weight"), let bias = file.tensor(named: "bias") else {
            throw ModelError(
                code: "model.invalid_checkpoint",
                message: "the file needs tensors 'weight' and 'bias'; found \(file.tensors.map(\.name))")
        }
        guard weight.shape.count == 1 || (weight.shape.count == 2 && weight.shape[0] == 1), bias.values.count == 1
        else {
            throw ModelError(
                code: "model.invalid_checkpoint",
                message:
                    "expected weight of shape [d] or [1, d] and a single bias, got \(weight.shape) and \(bias.shape)")
        }
        try self.init(parameters: weight.values + bias.values)
    }
}
