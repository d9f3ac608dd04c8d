/// Which model the consortium trains: a built-in one Cohort trains and evaluates itself, or an
/// external one described only by its named tensors (trained and evaluated by the silos' own
/// trainers, see docs/TRAINER.md).
///
/// It travels to participants inside the round's training parameters as JSON:
/// `{"kind": "logistic_regression"}`, `{"kind": "mlp", "hidden": [16], "activation": "tanh",
/// "seed": 7}` or `{"kind": "external", "tensors": [{"name": …, "shape": […]}, …]}`.
public enum ModelArchitecture: Sendable, Equatable, Hashable, Codable {
    /// Binary logistic regression, layout ``ModelLayout/logisticRegression(featureCount:)``;
    /// starts from zeros (the loss is convex, so the start does not matter).
    case logisticRegression
    /// A multilayer perceptron with the given hidden widths and activation, layout
    /// ``ModelLayout/mlp(featureCount:hidden:)``; starts from the initialisation `seed` fixes
    /// (``MultilayerPerceptron/initialParameters(featureCount:hidden:activation:seed:)``), never
    /// zeros (a zero MLP has zero gradients in every hidden unit but the bias).
    case mlp(hidden: [Int], activation: MultilayerPerceptron.Activation, seed: UInt64)
    /// A model Cohort knows only as tensors; an external trainer trains and evaluates it.
    case external(ModelLayout)

    /// The policy's `model.kind`: `logistic_regression`, `mlp` or `external`.
    public var kind: String {
        switch self {
        case .logisticRegression: "logistic_regression"
        case .mlp: "mlp"
        case .external: "external"
        }
    }

    /// Whether Cohort trains and evaluates this model itself.
    public var isBuiltIn: Bool {
        if case .external = self { return false }
        return true
    }

    /// The model's tensors for data with `featureCount` encoded features.
    public func layout(featureCount: Int) throws(ModelError) -> ModelLayout {
        switch self {
        case .logisticRegression: try .logisticRegression(featureCount: featureCount)
        case .mlp(let hidden, _, _): try .mlp(featureCount: featureCount, hidden: hidden)
        case .external(let layout): layout
        }
    }

    /// The model's starting parameters when the policy names no initial model: zeros for logistic
    /// regression and external models, the seeded initialisation for an MLP.
    public func initialParameters(featureCount: Int) throws(ModelError) -> [Float] {
        switch self {
        case .logisticRegression, .external:
            return [Float](repeating: 0, count: try layout(featureCount: featureCount).parameterCount)
        case .mlp(let hidden, let activation, let seed):
            return try MultilayerPerceptron.initialParameters(
                featureCount: featureCount, hidden: hidden, activation: activation, seed: seed)
        }
    }

    enum CodingKeys: String, CodingKey {
        case kind, hidden, activation, seed, tensors
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "logistic_regression":
            self = .logisticRegression
        case "mlp":
            let hidden = try container.decode([Int].self, forKey: .hidden)
            guard !hidden.isEmpty, hidden.count <= MultilayerPerceptron.maximumLayers,
                hidden.allSatisfy({ $0 >= 1 && $0 <= MultilayerPerceptron.maximumWidth })
            else {
                throw DecodingError.dataCorruptedError(
                    forKey: .hidden, in: container,
                    debugDescription:
                        "hidden must list 1…\(MultilayerPerceptron.maximumLayers) widths in "
                        + "1…\(MultilayerPerceptron.maximumWidth)"
                )
            }
            self = .mlp(
                hidden: hidden,
                activation: try container.decode(MultilayerPerceptron.Activation.self, forKey: .activation),
                seed: try container.decode(UInt64.self, forKey: .seed))
        case "external":
            self = .external(try ModelLayout(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: container,
                debugDescription: "unknown model kind; expected logistic_regression, mlp or external")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .logisticRegression:
            break
        case .mlp(let hidden, let activation, let seed):
            try container.encode(hidden, forKey: .hidden)
            try container.encode(activation, forKey: .activation)
            try container.encode(seed, forKey: .seed)
        case .external(let layout):
            try container.encode(layout.tensors, forKey: .tensors)
        }
    }
}
