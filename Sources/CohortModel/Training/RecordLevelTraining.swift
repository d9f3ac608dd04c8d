/// The participant's side of record-level DP-FedSGD (DP-SGD of Abadi et al. 2016, "Deep Learning
/// with Differential Privacy", Algorithm 1, with the batch spread over silos).
///
/// Each round the participant Poisson-samples its records with rate q, computes each sampled
/// record's log-loss gradient at the global model, clips it to L2 norm ≤ C, and returns the SUM.
/// It adds no noise and does not divide: the coordinator adds one Gaussian draw of standard
/// deviation σ·C to the total over all participants and divides by the expected batch size q·N
/// (`ServerOptimizer.applyNoisedGradientSum`). Adding or removing one record changes the total by
/// at most C in L2 (add-or-remove neighbours), which is the sensitivity the accountant charges.
///
/// Nothing else leaves the participant: not the realised batch size, not the pre-clip norms —
/// both depend on the records and are not covered by the noise.
public enum RecordLevelTraining {
    /// The sum of clipped per-record gradients over a Poisson sample of `data`.
    ///
    /// For logistic regression the per-record gradient is g = (σ(z) − y)·[x, 1], whose norm is
    /// |σ(z) − y|·√(‖x‖² + 1); it is scaled by min(1, C/‖g‖) in double precision before summing.
    /// The float32 result differs from the exact sum by float rounding only (≤ ½ ulp per
    /// coordinate), which the coordinator's sensitivity must absorb like its grid rounding.
    /// - Parameters:
    ///   - model: the global model of this round.
    ///   - data: the participant's encoded training records.
    ///   - samplingRate: q ∈ (0, 1], the per-record inclusion probability.
    ///   - clippingBound: C > 0, the per-record L2 bound.
    ///   - sampler: the CSPRNG-driven Poisson sampler.
    /// - Returns: d + 1 floats, the clipped gradient sum (zeros when no record was sampled).
    public static func clippedGradientSum(
        model: LogisticRegression,
        data: EncodedDataset,
        samplingRate: Double,
        clippingBound: Double,
        sampler: inout PoissonSampler
    ) throws(ModelError) -> [Float] {
        try model.checkDimension(data)
        let sample = try sampler.sample(count: data.count, rate: samplingRate)
        return try clippedGradientSum(model: model, data: data, indices: sample, clippingBound: clippingBound)
    }

    /// The relative margin by which per-record clipping stays under C, covering the rounding of
    /// the double-precision norm (see `clippedGradientSum(model:data:indices:clippingBound:)`).
    public static let normErrorMargin = 1e-9

    /// The sum of clipped per-record gradients over the records at `indices` (no sampling).
    public static func clippedGradientSum(
        model: LogisticRegression,
        data: EncodedDataset,
        indices: [Int],
        clippingBound: Double
    ) throws(ModelError) -> [Float] {
        try model.checkDimension(data)
        guard clippingBound.isFinite, clippingBound > 0 else {
            throw ModelError(
                code: "model.invalid_clipping_bound",
                message: "the clipping bound C must be finite and > 0, got \(clippingBound)")
        }
        // The norm is computed in double precision, within about (d + 3)·2⁻⁵³ of the true one,
        // and scaling rounds each coordinate once more: clipping to C / (1 + normErrorMargin)
        // keeps every clipped gradient's true norm at or below C for up to ~10⁷ features.
        let target = clippingBound / (1 + Self.normErrorMargin)
        // Compensated, so the sum's rounding stays within the coordinator's margin for any batch
        // a silo can hold (`CompensatedVectorSum`).
        var sum = CompensatedVectorSum(count: model.parameters.count)
        let bias = model.featureCount
        for index in indices {
            let row = data.row(index)
            let residual = LogisticRegression.sigmoid(model.logit(row)) - Double(data.labels[index])
            var squaredNorm = 1.0
            for x in row { squaredNorm += Double(x) * Double(x) }
            let norm = abs(residual) * squaredNorm.squareRoot()
            let factor = norm > target ? target / norm : 1
            let scale = residual * factor
            var j = 0
            for x in row {
                sum.add(scale * Double(x), at: j)
                j += 1
            }
            sum.add(scale, at: bias)
        }
        return sum.result.map { Float($0) }
    }
}

/// Minibatch SGD on one participant's records: centralised training, and the local step of
/// participant-level DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018, "Learning Differentially
/// Private Recurrent Language Models", Algorithm 1: the coordinator clips each participant's
/// delta and noises the sum; local training itself needs no privacy mechanism).
public struct LocalTrainingConfiguration: Sendable, Codable, Equatable {
    /// Passes over the local records (E).
    public var epochs: Int
    /// Records per minibatch (B); the last batch of an epoch may be smaller.
    public var batchSize: Int
    /// Step size η.
    public var learningRate: Double
    /// L2 penalty λ on the weights (not the bias): the loss is mean log-loss + (λ/2)‖w‖².
    public var l2: Double

    public init(epochs: Int, batchSize: Int, learningRate: Double, l2: Double = 0) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.l2 = l2
    }

    enum CodingKeys: String, CodingKey {
        case epochs, l2
        case batchSize = "batch_size"
        case learningRate = "learning_rate"
    }

    func validate() throws(ModelError) {
        guard epochs >= 1, batchSize >= 1, learningRate.isFinite, learningRate > 0, l2.isFinite, l2 >= 0 else {
            throw ModelError(
                code: "model.invalid_training_configuration",
                message: "local training needs epochs ≥ 1, batch_size ≥ 1, a finite learning_rate > 0 and l2 ≥ 0; "
                    + "got epochs \(epochs), batch_size \(batchSize), learning_rate \(learningRate), l2 \(l2)"
            )
        }
    }
}

public enum LocalTraining {
    /// Trains `model` in place with minibatch SGD, reshuffling every epoch.
    ///
    /// `generator` only orders the records; it need not be cryptographic (in DP-FedAvg the
    /// coordinator's clipping and noise protect whatever the participant sends).
    public static func train(
        _ model: inout LogisticRegression,
        on data: EncodedDataset,
        configuration: LocalTrainingConfiguration,
        using generator: inout some RandomNumberGenerator
    ) throws(ModelError) {
        try configuration.validate()
        try model.checkDimension(data)
        guard data.count > 0 else { return }
        var order = Array(0..<data.count)
        var parameters = model.parameters.map(Double.init)
        var gradient = [Double](repeating: 0, count: parameters.count)
        let d = model.featureCount
        for _ in 0..<configuration.epochs {
            DeterministicShuffle.shuffle(&order, using: &generator)
            var start = 0
            while start < order.count {
                let end = min(start + configuration.batchSize, order.count)
                for j in gradient.indices { gradient[j] = 0 }
                let current = try LogisticRegression(parameters: parameters.map { Float($0) })
                for position in start..<end {
                    let index = order[position]
                    let row = data.row(index)
                    let residual = LogisticRegression.sigmoid(current.logit(row)) - Double(data.labels[index])
                    LogisticRegression.accumulate(&gradient, row: row, scale: residual)
                }
                let scale = configuration.learningRate / Double(end - start)
                for j in 0..<d {
                    parameters[j] -= scale * gradient[j] + configuration.learningRate * configuration.l2 * parameters[j]
                }
                parameters[d] -= scale * gradient[d]
                start = end
            }
        }
        model = try LogisticRegression(parameters: parameters.map { Float($0) })
    }

    /// DP-FedAvg's participant step: E epochs of SGD from the global model; returns the delta
    /// (local − global) that the participant sends for clipping and noising at the coordinator.
    public static func modelDelta(
        from global: LogisticRegression,
        on data: EncodedDataset,
        configuration: LocalTrainingConfiguration,
        using generator: inout some RandomNumberGenerator
    ) throws(ModelError) -> [Float] {
        var local = global
        try train(&local, on: data, configuration: configuration, using: &generator)
        return zip(local.parameters, global.parameters).map { $0 - $1 }
    }
}
