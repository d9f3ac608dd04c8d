#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Binary logistic regression, p(y = 1 | x) = σ(w·x + b), with all parameters in one flat
/// float32 vector `[w₁ … w_d, b]` of length d + 1 — the shape that travels on the wire, is clipped,
/// noised and checkpointed. Arithmetic runs in double precision; only storage is float32.
public struct LogisticRegression: Sendable, Equatable {
    /// Weights followed by the bias.
    public var parameters: [Float]

    /// A model with all parameters zero (every prediction 0.5).
    public init(featureCount: Int) {
        precondition(featureCount >= 1, "a model needs at least one feature")
        parameters = [Float](repeating: 0, count: featureCount + 1)
    }

    /// A model from a flat `[weights…, bias]` vector.
    public init(parameters: [Float]) throws(ModelError) {
        guard parameters.count >= 2 else {
            throw ModelError(
                code: "model.invalid_parameters",
                message: "a logistic regression needs at least 2 parameters (weights and bias), got \(parameters.count)"
            )
        }
        guard parameters.allSatisfy(\.isFinite) else {
            throw ModelError(
                code: "model.non_finite_parameters",
                message: "the model parameters contain NaN or infinity; restart from the last good checkpoint")
        }
        self.parameters = parameters
    }

    /// The number of features d (parameters.count − 1).
    public var featureCount: Int { parameters.count - 1 }
    /// The weights w.
    public var weights: ArraySlice<Float> { parameters[0..<featureCount] }
    /// The bias b.
    public var bias: Float { parameters[featureCount] }

    /// w·x + b for one encoded record.
    @inline(__always)
    public func logit(_ row: ArraySlice<Float>) -> Double {
        precondition(row.count == featureCount, "record has \(row.count) features, the model \(featureCount)")
        return parameters.withUnsafeBufferPointer { p in
            var z = Double(p[featureCount])
            var j = 0
            for x in row {
                z += Double(p[j]) * Double(x)
                j += 1
            }
            return z
        }
    }

    /// The logits of every record of `data`.
    public func logits(_ data: EncodedDataset) throws(ModelError) -> [Double] {
        try checkDimension(data)
        return (0..<data.count).map { logit(data.row($0)) }
    }

    /// The predicted probabilities of the positive class for every record of `data`.
    public func probabilities(_ data: EncodedDataset) throws(ModelError) -> [Double] {
        try logits(data).map(Self.sigmoid)
    }

    /// Metrics of the model on `data` (threshold 0.5 on the probability).
    public func evaluate(_ data: EncodedDataset) throws(ModelError) -> BinaryClassificationMetrics {
        var accumulator = MetricsAccumulator()
        for (index, z) in try logits(data).enumerated() {
            accumulator.add(logit: z, isPositive: data.isPositive(index))
        }
        return accumulator.metrics()
    }

    /// Mean log-loss on `data` plus (l2/2)·‖w‖² (the bias is not regularised), and its gradient.
    public func lossAndGradient(
        _ data: EncodedDataset, l2: Double = 0
    ) throws(ModelError) -> (loss: Double, gradient: [Double]) {
        try checkDimension(data)
        var gradient = [Double](repeating: 0, count: parameters.count)
        var loss = 0.0
        for index in 0..<data.count {
            let row = data.row(index)
            let z = logit(row)
            let y = Double(data.labels[index])
            loss += Self.logLoss(logit: z, label: y)
            Self.accumulate(&gradient, row: row, scale: Self.sigmoid(z) - y)
        }
        let n = Double(max(data.count, 1))
        for j in gradient.indices { gradient[j] /= n }
        loss /= n
        if l2 > 0 {
            for j in 0..<featureCount {
                let w = Double(parameters[j])
                loss += 0.5 * l2 * w * w
                gradient[j] += l2 * w
            }
        }
        return (loss, gradient)
    }

    /// The numerically stable logistic function: never evaluates exp of a positive argument,
    /// so it neither overflows nor loses the tiny tail probabilities.
    @inline(__always)
    public static func sigmoid(_ z: Double) -> Double {
        if z >= 0 { return 1 / (1 + exp(-z)) }
        let e = exp(z)
        return e / (1 + e)
    }

    /// The log-loss −[y log σ(z) + (1 − y) log(1 − σ(z))] computed from the logit as
    /// softplus(z) − y·z, with softplus(z) = max(z, 0) + log1p(exp(−|z|)): exact for any finite z,
    /// where computing log σ(z) from a rounded probability would give −∞ for |z| ≳ 37.
    @inline(__always)
    public static func logLoss(logit z: Double, label y: Double) -> Double {
        max(z, 0) + log1p(exp(-abs(z))) - y * z
    }

    /// gradient[0..<d] += scale·x, gradient[d] += scale (the per-record gradient is (σ(z) − y)·[x, 1]).
    @inline(__always)
    static func accumulate(_ gradient: inout [Double], row: ArraySlice<Float>, scale: Double) {
        gradient.withUnsafeMutableBufferPointer { g in
            var j = 0
            for x in row {
                g[j] += scale * Double(x)
                j += 1
            }
            g[j] += scale
        }
    }

    func checkDimension(_ data: EncodedDataset) throws(ModelError) {
        guard data.dimension == featureCount else {
            throw ModelError(
                code: "model.dimension_mismatch",
                message: "the data has \(data.dimension) encoded features but the model expects \(featureCount); "
                    + "participants and coordinator must use the same feature schema"
            )
        }
    }
}
