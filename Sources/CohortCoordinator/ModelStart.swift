import CohortCrypto
import CohortModel
import CohortPolicy
import CohortStorage

extension Policy.Model {
    /// The architecture the policy's `model` section declares (validated by `PolicyLoader`).
    /// - Throws: `model.invalid_layout` naming the tensor, for an `external` list that is not a layout.
    public func architecture() throws(ModelError) -> ModelArchitecture {
        switch kind {
        case "mlp":
            return .mlp(
                hidden: hidden, activation: MultilayerPerceptron.Activation(rawValue: activation) ?? .relu,
                seed: UInt64(max(seed ?? 0, 0)))
        case "external":
            return .external(try ModelLayout(tensors: tensors.map { TensorSpec(name: $0.name, shape: $0.shape) }))
        default:
            return .logisticRegression
        }
    }
}

/// The model a new run starts from: the architecture and layout the policy declares, and the
/// starting parameters — the policy's `initial_model` file when it names one (its SHA-256 goes
/// into the genesis entry), else the architecture's own start (zeros, or the seeded MLP
/// initialisation).
public struct ModelStart: Sendable {
    public let architecture: ModelArchitecture
    public let layout: ModelLayout
    /// The flat starting vector (layout order).
    public let parameters: [Float]
    /// SHA-256 (hex) of the `initial_model` file, when the policy names one.
    public let initialModelSHA256: String?

    /// Reads the policy's model section for data with `featureCount` encoded features.
    /// - Throws: `model.*` errors naming the tensor or file (an initial model whose tensors do not
    ///   match the layout is refused, naming the tensor and the expected shape).
    public init(policy loaded: PolicyLoader.Loaded, featureCount: Int) throws {
        let model = loaded.policy.model
        architecture = try model.architecture()
        layout = try architecture.layout(featureCount: featureCount)
        if let initial = model.initialModel {
            let path = loaded.resolve(initial)
            let bytes = try DurableFile.read(path)
            let file = try SafetensorsFile.decode(bytes, source: path)
            parameters = try layout.flatten(file, source: "model.initial_model `\(path)`")
            initialModelSHA256 = SHA256.hexDigest(bytes)
        } else {
            parameters = try architecture.initialParameters(featureCount: featureCount)
            initialModelSHA256 = nil
        }
    }

    /// A logistic-regression start of `dimension` parameters (benchmarks with synthetic updates).
    init(benchmarkDimension dimension: Int) throws {
        architecture = .logisticRegression
        layout = try ModelLayout.logisticRegression(featureCount: dimension - 1)
        parameters = [Float](repeating: 0, count: dimension)
        initialModelSHA256 = nil
    }
}
