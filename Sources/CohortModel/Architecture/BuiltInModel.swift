/// A built-in model at given parameters: what a participant trains and evaluates, whichever
/// kind the policy names. `external` models have none (their trainer does both).
public enum BuiltInModel: Sendable, Equatable {
    case logisticRegression(LogisticRegression)
    case mlp(MultilayerPerceptron)

    /// The built-in model of `architecture` for `featureCount` encoded features at `parameters`.
    /// - Throws: `model.not_built_in` for an external model; `model.dimension_mismatch` when
    ///   `parameters` does not fit the layout (another schema or model); other `model.*` errors.
    public init(architecture: ModelArchitecture, featureCount: Int, parameters: [Float]) throws(ModelError) {
        switch architecture {
        case .logisticRegression:
            guard parameters.count == featureCount + 1 else {
                throw ModelError(
                    code: "model.dimension_mismatch",
                    message: "a logistic regression on \(featureCount) features has \(featureCount + 1) parameters, "
                        + "the vector \(parameters.count); participants and coordinator must use the same "
                        + "schema and model"
                )
            }
            self = .logisticRegression(try LogisticRegression(parameters: parameters))
        case .mlp(let hidden, let activation, _):
            self = .mlp(
                try MultilayerPerceptron(
                    featureCount: featureCount, hidden: hidden, activation: activation, parameters: parameters))
        case .external:
            throw ModelError(
                code: "model.not_built_in",
                message:
                    "model.kind is `external`: Cohort has no built-in model for it; run the participant with a trainer "
                    + "(--trainer, docs/TRAINER.md) that trains it and answers evaluation requests")
        }
    }

    /// The flat parameter vector.
    public var parameters: [Float] {
        switch self {
        case .logisticRegression(let model): model.parameters
        case .mlp(let model): model.parameters
        }
    }

    /// The logit of every record of `data`.
    public func logits(_ data: EncodedDataset) throws(ModelError) -> [Double] {
        switch self {
        case .logisticRegression(let model): return try model.logits(data)
        case .mlp(let model): return try model.logits(data)
        }
    }

    /// The evaluation accumulator of the model on `data` (what a participant sends for its holdout).
    public func accumulator(_ data: EncodedDataset) throws(ModelError) -> MetricsAccumulator {
        var accumulator = MetricsAccumulator()
        for (index, z) in try logits(data).enumerated() {
            accumulator.add(logit: z, isPositive: data.isPositive(index))
        }
        return accumulator
    }

    /// Metrics on `data` (threshold 0.5; ROC AUC exact, from every score).
    public func evaluate(_ data: EncodedDataset) throws(ModelError) -> BinaryClassificationMetrics {
        switch self {
        case .logisticRegression(let model): return try model.evaluate(data)
        case .mlp(let model): return try model.evaluate(data)
        }
    }

    /// Record-level DP-FedSGD's participant step: the sum of clipped per-record gradients over a
    /// Poisson sample of `data` (see ``RecordLevelTraining``).
    public func clippedGradientSum(
        data: EncodedDataset, samplingRate: Double, clippingBound: Double, sampler: inout PoissonSampler
    ) throws(ModelError) -> [Float] {
        switch self {
        case .logisticRegression(let model):
            return try RecordLevelTraining.clippedGradientSum(
                model: model, data: data, samplingRate: samplingRate, clippingBound: clippingBound, sampler: &sampler)
        case .mlp(let model):
            return try RecordLevelTraining.clippedGradientSum(
                model: model, data: data, samplingRate: samplingRate, clippingBound: clippingBound, sampler: &sampler)
        }
    }

    /// The UNCLIPPED sum of the per-record log-loss gradients over `indices` — for non-private
    /// baselines only (`cohort demo --non-private`); a private round uses
    /// ``clippedGradientSum(data:samplingRate:clippingBound:sampler:)``.
    public func gradientSum(data: EncodedDataset, indices: [Int]) throws(ModelError) -> [Float] {
        // A bound no finite gradient reaches: the clipping factor is 1 for every record.
        let unbounded = Double.greatestFiniteMagnitude
        switch self {
        case .logisticRegression(let model):
            return try RecordLevelTraining.clippedGradientSum(
                model: model, data: data, indices: indices, clippingBound: unbounded)
        case .mlp(let model):
            return try RecordLevelTraining.clippedGradientSum(
                model: model, data: data, indices: indices, clippingBound: unbounded)
        }
    }

    /// DP-FedAvg's participant step: local SGD from this model; returns the delta.
    public func modelDelta(
        on data: EncodedDataset, configuration: LocalTrainingConfiguration,
        using generator: inout some RandomNumberGenerator
    ) throws(ModelError) -> [Float] {
        switch self {
        case .logisticRegression(let model):
            return try LocalTraining.modelDelta(from: model, on: data, configuration: configuration, using: &generator)
        case .mlp(let model):
            return try LocalTraining.modelDelta(from: model, on: data, configuration: configuration, using: &generator)
        }
    }
}

extension MultilayerPerceptron {
    /// The logits of every record of `data`.
    public func logits(_ data: EncodedDataset) throws(ModelError) -> [Double] {
        try checkDimension(data)
        return (0..<data.count).map { logit(data.row($0)) }
    }

    /// The predicted probabilities of the positive class.
    public func probabilities(_ data: EncodedDataset) throws(ModelError) -> [Double] {
        try logits(data).map(LogisticRegression.sigmoid)
    }

    /// Metrics on `data`: threshold 0.5, exact ROC AUC, mean log-loss.
    public func evaluate(_ data: EncodedDataset) throws(ModelError) -> BinaryClassificationMetrics {
        BinaryMetrics.evaluate(probabilities: try probabilities(data), labels: (0..<data.count).map(data.isPositive))
    }

    /// Mean log-loss on `data`.
    public func meanLogLoss(_ data: EncodedDataset) throws(ModelError) -> Double {
        let logits = try logits(data)
        guard !logits.isEmpty else { return 0 }
        return logits.enumerated().reduce(0) {
            $0 + LogisticRegression.logLoss(logit: $1.element, label: Double(data.labels[$1.offset]))
        }
            / Double(logits.count)
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

extension RecordLevelTraining {
    /// The sum of clipped per-record gradients of an MLP over a Poisson sample of `data`.
    public static func clippedGradientSum(
        model: MultilayerPerceptron, data: EncodedDataset, samplingRate: Double, clippingBound: Double,
        sampler: inout PoissonSampler
    ) throws(ModelError) -> [Float] {
        try model.checkDimension(data)
        let sample = try sampler.sample(count: data.count, rate: samplingRate)
        return try clippedGradientSum(model: model, data: data, indices: sample, clippingBound: clippingBound)
    }

    /// The sum over `indices` of the MLP's per-record log-loss gradients, each scaled by
    /// min(1, C′/‖g‖) with C′ = C / (1 + ``normErrorMargin``), the margin that keeps every clipped
    /// gradient's true norm ≤ C despite rounding (as for logistic regression). The gradient of
    /// every record is computed whole (back-propagation of that record alone), so the bound holds
    /// over the concatenation of all tensors — the vector the coordinator noises.
    public static func clippedGradientSum(
        model: MultilayerPerceptron, data: EncodedDataset, indices: [Int], clippingBound: Double
    ) throws(ModelError) -> [Float] {
        try model.checkDimension(data)
        guard clippingBound.isFinite, clippingBound > 0 else {
            throw ModelError(
                code: "model.invalid_clipping_bound",
                message: "the clipping bound C must be finite and > 0, got \(clippingBound)")
        }
        let target = clippingBound / (1 + normErrorMargin)
        // Compensated, as for logistic regression (`CompensatedVectorSum`).
        var sum = CompensatedVectorSum(count: model.parameters.count)
        var gradient = [Double](repeating: 0, count: model.parameters.count)
        for index in indices {
            _ = model.recordGradient(data.row(index), label: Double(data.labels[index]), into: &gradient)
            var squaredNorm = 0.0
            for g in gradient { squaredNorm += g * g }
            let norm = squaredNorm.squareRoot()
            let factor = norm > target ? target / norm : 1
            for j in gradient.indices { sum.add(factor * gradient[j], at: j) }
        }
        return sum.result.map { Float($0) }
    }
}

extension LocalTraining {
    /// Minibatch SGD on an MLP (mean log-loss gradient per batch), reshuffling every epoch.
    public static func train(
        _ model: inout MultilayerPerceptron, on data: EncodedDataset, configuration: LocalTrainingConfiguration,
        using generator: inout some RandomNumberGenerator
    ) throws(ModelError) {
        try configuration.validate()
        try model.checkDimension(data)
        guard data.count > 0 else { return }
        var order = Array(0..<data.count)
        var parameters = model.parameters.map(Double.init)
        var gradient = [Double](repeating: 0, count: parameters.count)
        var total = [Double](repeating: 0, count: parameters.count)
        for _ in 0..<configuration.epochs {
            DeterministicShuffle.shuffle(&order, using: &generator)
            var start = 0
            while start < order.count {
                let end = min(start + configuration.batchSize, order.count)
                for j in total.indices { total[j] = 0 }
                let current = try model.replacing(parameters: parameters.map { Float($0) })
                for position in start..<end {
                    let index = order[position]
                    _ = current.recordGradient(data.row(index), label: Double(data.labels[index]), into: &gradient)
                    for j in total.indices { total[j] += gradient[j] }
                }
                let scale = configuration.learningRate / Double(end - start)
                for j in parameters.indices {
                    parameters[j] -= scale * total[j] + configuration.learningRate * configuration.l2 * parameters[j]
                }
                start = end
            }
        }
        model = try model.replacing(parameters: parameters.map { Float($0) })
    }

    /// DP-FedAvg's participant step for an MLP: the delta (local − global) after local SGD.
    public static func modelDelta(
        from global: MultilayerPerceptron, on data: EncodedDataset, configuration: LocalTrainingConfiguration,
        using generator: inout some RandomNumberGenerator
    ) throws(ModelError) -> [Float] {
        var local = global
        try train(&local, on: data, configuration: configuration, using: &generator)
        return zip(local.parameters, global.parameters).map { $0 - $1 }
    }
}
