/// The global model as the coordinator holds it: the flat float32 vector of any model's
/// parameters — logistic regression's `[w…, b]`, an MLP's layers, or an external model's named
/// tensors concatenated in the policy's order (``ModelLayout``). This is the vector that travels
/// on the wire, is clipped, noised, stepped by ``ServerOptimizer`` and checkpointed; what the
/// numbers mean is the architecture's business (``BuiltInModel``, ``ModelLayout``), not this type's.
public struct ModelParameters: Sendable, Equatable {
    /// The parameters, in the layout's order.
    public var parameters: [Float]

    /// A vector of `count` zeros.
    public init(zeros count: Int) {
        precondition(count >= 1, "a model needs at least one parameter")
        parameters = [Float](repeating: 0, count: count)
    }

    /// A model from its flat vector: at least one value, all finite.
    public init(parameters: [Float]) throws(ModelError) {
        guard !parameters.isEmpty else {
            throw ModelError(
                code: "model.invalid_parameters",
                message: "a model needs at least 1 parameter, got none")
        }
        guard parameters.allSatisfy(\.isFinite) else {
            throw ModelError(
                code: "model.non_finite_parameters",
                message: "the model parameters contain NaN or infinity; restart from the last good checkpoint")
        }
        self.parameters = parameters
    }

    /// d, the number of parameters.
    public var count: Int { parameters.count }
}
