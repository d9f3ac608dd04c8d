#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A binary-classification multilayer perceptron F → h₁ → … → h_k → 1 with one activation for
/// every hidden layer and a logistic output, p(y = 1 | x) = σ(z(x)).
///
/// Parameters live in one flat float32 vector laid out by ``ModelLayout/mlp(featureCount:hidden:)``
/// (`layers.i.weight` [out, in] row-major, then `layers.i.bias` [out], layer by layer) — the
/// vector that travels, is clipped, noised and checkpointed. Arithmetic runs in double precision.
/// Per-record gradients are computed by back-propagation one record at a time, which is what
/// per-record clipping (DP-SGD, Abadi et al. 2016) needs.
public struct MultilayerPerceptron: Sendable, Equatable {
    /// The hidden layers' nonlinearity.
    public enum Activation: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
        /// max(0, x); initialised with He-uniform weights.
        case relu
        /// tanh(x); initialised with Glorot-uniform weights.
        case tanh
    }

    /// The most hidden layers a policy may declare.
    public static let maximumLayers = 8
    /// The widest hidden layer a policy may declare.
    public static let maximumWidth = 4096

    /// Encoded input features F.
    public let featureCount: Int
    /// Hidden widths h₁ … h_k.
    public let hidden: [Int]
    public let activation: Activation
    /// The tensor layout of ``parameters``.
    public let layout: ModelLayout
    /// All weights and biases, flat, in ``layout`` order.
    public let parameters: [Float]
    /// `parameters` in double precision (read on every record).
    private let weights: [Double]

    /// A model from its flat parameter vector.
    /// - Throws: `model.invalid_layout` for bad widths, `model.dimension_mismatch` when the vector
    ///   does not have the layout's length, `model.non_finite_parameters` for NaN or infinity.
    public init(featureCount: Int, hidden: [Int], activation: Activation, parameters: [Float]) throws(ModelError) {
        guard featureCount >= 1, !hidden.isEmpty, hidden.count <= Self.maximumLayers,
            hidden.allSatisfy({ $0 >= 1 && $0 <= Self.maximumWidth })
        else {
            throw ModelError(
                code: "model.invalid_layout",
                message:
                    "an MLP needs ≥ 1 feature and 1…\(Self.maximumLayers) hidden widths in "
                    + "1…\(Self.maximumWidth), got \(hidden)"
            )
        }
        let layout = try ModelLayout.mlp(featureCount: featureCount, hidden: hidden)
        guard parameters.count == layout.parameterCount else {
            throw ModelError(
                code: "model.dimension_mismatch",
                message:
                    "an MLP \(featureCount)→\(hidden.map(String.init).joined(separator: "→"))→1 has "
                    + "\(layout.parameterCount) "
                    + "parameters, the vector \(parameters.count); participants and coordinator must use the "
                    + "same schema and model"
            )
        }
        guard parameters.allSatisfy(\.isFinite) else {
            throw ModelError(
                code: "model.non_finite_parameters",
                message: "the model parameters contain NaN or infinity; restart from the last good checkpoint")
        }
        self.featureCount = featureCount
        self.hidden = hidden
        self.activation = activation
        self.layout = layout
        self.parameters = parameters
        self.weights = parameters.map(Double.init)
    }

    /// The seeded initialisation: each weight matrix uniform in ±√(6/fan_in) (He, for relu) or
    /// ±√(6/(fan_in + fan_out)) (Glorot, for tanh and the output layer), biases zero. The same
    /// seed gives the same vector on every machine (xoshiro256** through SplitMix64, and an exact
    /// 53-bit uniform), so the policy's seed fixes the starting model.
    public static func initialParameters(
        featureCount: Int, hidden: [Int], activation: Activation, seed: UInt64
    ) throws(ModelError) -> [Float] {
        let layout = try ModelLayout.mlp(featureCount: featureCount, hidden: hidden)
        var generator = SeededGenerator(seed: seed)
        var flat = [Float](repeating: 0, count: layout.parameterCount)
        let widths = [featureCount] + hidden + [1]
        for layer in 0..<(widths.count - 1) {
            let fanIn = Double(widths[layer])
            let fanOut = Double(widths[layer + 1])
            let isOutput = layer == widths.count - 2
            let limit =
                (activation == .relu && !isOutput) ? (6 / fanIn).squareRoot() : (6 / (fanIn + fanOut)).squareRoot()
            for index in layout.range(ofTensorAt: 2 * layer) {
                let unit = Double(generator.next() >> 11) * 0x1p-53
                flat[index] = Float((2 * unit - 1) * limit)
            }
        }
        return flat
    }

    @inline(__always)
    private func activate(_ z: Double) -> Double {
        switch activation {
        case .relu: z > 0 ? z : 0
        case .tanh: hyperbolicTangent(z)
        }
    }

    /// The derivative of the activation, from its input z and output a.
    @inline(__always)
    private func derivative(input z: Double, output a: Double) -> Double {
        switch activation {
        case .relu: z > 0 ? 1 : 0
        case .tanh: 1 - a * a
        }
    }

    /// The forward pass: each layer's pre-activations and activations (the last is the logit).
    private func forward(_ row: ArraySlice<Float>) -> (pre: [[Double]], post: [[Double]]) {
        precondition(row.count == featureCount, "record has \(row.count) features, the model \(featureCount)")
        var input = row.map(Double.init)
        var pre: [[Double]] = []
        var post: [[Double]] = [input]
        let widths = [featureCount] + hidden + [1]
        for layer in 0..<(widths.count - 1) {
            let (inCount, outCount) = (widths[layer], widths[layer + 1])
            let w = layout.offsets[2 * layer]
            let b = layout.offsets[2 * layer + 1]
            var z = [Double](repeating: 0, count: outCount)
            weights.withUnsafeBufferPointer { p in
                for o in 0..<outCount {
                    var sum = p[b + o]
                    let rowStart = w + o * inCount
                    for i in 0..<inCount { sum += p[rowStart + i] * input[i] }
                    z[o] = sum
                }
            }
            pre.append(z)
            input = layer == widths.count - 2 ? z : z.map(activate)
            post.append(input)
        }
        return (pre, post)
    }

    /// The logit z(x) for one encoded record.
    public func logit(_ row: ArraySlice<Float>) -> Double {
        forward(row).post.last![0]
    }

    /// Writes the gradient of the log-loss at one record into `gradient` (overwritten; length
    /// ``ModelLayout/parameterCount``) by back-propagation, and returns the record's logit.
    public func recordGradient(_ row: ArraySlice<Float>, label y: Double, into gradient: inout [Double]) -> Double {
        precondition(gradient.count == parameters.count, "gradient buffer of the wrong length")
        let (pre, post) = forward(row)
        let z = post.last![0]
        let widths = [featureCount] + hidden + [1]
        // δ of the output layer: ∂/∂z of softplus(z) − y·z.
        var delta = [LogisticRegression.sigmoid(z) - y]
        for layer in stride(from: widths.count - 2, through: 0, by: -1) {
            let (inCount, outCount) = (widths[layer], widths[layer + 1])
            let w = layout.offsets[2 * layer]
            let b = layout.offsets[2 * layer + 1]
            let input = post[layer]
            var below = [Double](repeating: 0, count: layer > 0 ? inCount : 0)
            gradient.withUnsafeMutableBufferPointer { g in
                weights.withUnsafeBufferPointer { p in
                    for o in 0..<outCount {
                        let d = delta[o]
                        g[b + o] = d
                        let rowStart = w + o * inCount
                        for i in 0..<inCount {
                            g[rowStart + i] = d * input[i]
                            if layer > 0 { below[i] += p[rowStart + i] * d }
                        }
                    }
                }
            }
            if layer > 0 {
                for i in 0..<inCount { below[i] *= derivative(input: pre[layer - 1][i], output: input[i]) }
                delta = below
            }
        }
        return z
    }

    /// A model with the same architecture and `parameters`.
    public func replacing(parameters: [Float]) throws(ModelError) -> MultilayerPerceptron {
        try MultilayerPerceptron(
            featureCount: featureCount, hidden: hidden, activation: activation, parameters: parameters)
    }
}

/// tanh from the C library, named apart from `Activation.tanh`.
@inline(__always)
private func hyperbolicTangent(_ z: Double) -> Double { tanh(z) }
