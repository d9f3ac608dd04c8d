/// The coordinator's global update: SGD with optional heavy-ball momentum and weight decay,
/// applied to the released (already noised) aggregate.
///
/// Momentum and weight decay are post-processing of DP releases (Dwork & Roth 2014, Prop. 2.1),
/// so they cost no privacy. The state (`velocity`) is part of a checkpoint.
public struct ServerOptimizer: Sendable, Codable, Equatable {
    /// Server learning rate η_s.
    public var learningRate: Double
    /// Momentum coefficient μ ∈ [0, 1): v ← μ·v + g, w ← w − η_s·v.
    public var momentum: Double
    /// Weight decay λ on every parameter but the last (logistic regression's bias), added to the
    /// gradient: g ← g + λ·w.
    public var weightDecay: Double
    /// The momentum buffer, empty until the first step.
    public private(set) var velocity: [Float]

    public init(
        learningRate: Double, momentum: Double = 0, weightDecay: Double = 0, velocity: [Float] = []
    ) throws(ModelError) {
        guard learningRate.isFinite, learningRate > 0, momentum.isFinite, momentum >= 0, momentum < 1,
            weightDecay.isFinite, weightDecay >= 0
        else {
            throw ModelError(
                code: "model.invalid_server_optimizer",
                message:
                    "the server optimizer needs a finite learning rate > 0, momentum in [0, 1) and weight decay ≥ 0; "
                    + "got \(learningRate), \(momentum), \(weightDecay)"
            )
        }
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.velocity = velocity
    }

    enum CodingKeys: String, CodingKey {
        case momentum, velocity
        case learningRate = "learning_rate"
        case weightDecay = "weight_decay"
    }

    /// Record-level DP-FedSGD: turns the noised sum of clipped gradients into a gradient estimate
    /// by dividing by the **expected** batch size q·N — a fixed, data-independent denominator; the
    /// realised count would itself leak (Abadi et al. 2016, Alg. 1; the "fixed denominator"
    /// estimator of McMahan et al. 2018, Sec. 3) — and takes one step.
    /// - Parameters:
    ///   - noisedGradientSum: Σ clipped per-record gradients over all participants, plus noise.
    ///   - expectedBatchSize: q × total records of all participants (> 0).
    ///   - model: the global model, updated in place.
    public mutating func applyNoisedGradientSum(
        _ noisedGradientSum: [Float], expectedBatchSize: Double, to model: inout ModelParameters
    ) throws(ModelError) {
        guard expectedBatchSize.isFinite, expectedBatchSize > 0 else {
            throw ModelError(
                code: "model.invalid_batch_size",
                message: "the expected batch size q·N must be finite and > 0, got \(expectedBatchSize)")
        }
        try noisedGradientSum.withUnsafeBufferPointer { sum throws(ModelError) in
            try step(count: sum.count, model: &model) { Double(sum[$0]) / expectedBatchSize }
        }
    }

    /// Participant-level DP-FedAvg: applies the noised mean of clipped deltas. A delta points
    /// downhill already, so the step is w ← w + η_s·(momentum-filtered) delta.
    public mutating func applyAverageDelta(
        _ averageDelta: [Float], to model: inout ModelParameters
    ) throws(ModelError) {
        try averageDelta.withUnsafeBufferPointer { delta throws(ModelError) in
            try step(count: delta.count, model: &model) { -Double(delta[$0]) }
        }
    }

    /// One step along `gradient(j)` for j in 0..<count, read twice (check, then update) instead
    /// of materialised: at 10⁶ parameters a Double copy of the aggregate is 8 MB per round.
    private mutating func step(count: Int, model: inout ModelParameters, gradient: (Int) -> Double) throws(ModelError) {
        guard count == model.parameters.count else {
            throw ModelError(
                code: "model.dimension_mismatch",
                message: "the aggregate has \(count) values but the model \(model.parameters.count)"
            )
        }
        guard (0..<count).allSatisfy({ gradient($0).isFinite }) else {
            throw ModelError(
                code: "model.non_finite_update",
                message: "the aggregate contains NaN or infinity; the round must be aborted")
        }
        if velocity.count != count { velocity = [Float](repeating: 0, count: count) }
        let d = count - 1
        var parameters = model.parameters
        for j in 0..<count {
            var g = gradient(j)
            if j < d { g += weightDecay * Double(parameters[j]) }
            let v = momentum * Double(velocity[j]) + g
            velocity[j] = Float(v)
            parameters[j] = Float(Double(parameters[j]) - learningRate * v)
        }
        model = try ModelParameters(parameters: parameters)
    }
}
