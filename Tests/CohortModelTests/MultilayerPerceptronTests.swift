@_spi(CohortTesting) import CohortCrypto
import Foundation
import Testing

@_spi(CohortTesting) @testable import CohortModel

/// The built-in MLP: back-propagated per-record gradients against central finite differences,
/// per-record clipping over the concatenation of all tensors, the seeded start, and the layout
/// that names its tensors.
@Suite struct MultilayerPerceptronTests {
    /// A small random data set (F features, n records, both classes).
    static func data(features: Int, records: Int, seed: UInt64) -> EncodedDataset {
        var generator = SeededGenerator(seed: seed)
        let values = (0..<(features * records)).map { _ in Float.random(in: -2...2, using: &generator) }
        let labels = (0..<records).map { Float($0 % 2) }
        return EncodedDataset(featureNames: (0..<features).map { "f\($0)" }, features: values, labels: labels)
    }

    /// The log-loss of one record as a function of the parameters, in double precision.
    static func loss(
        _ model: MultilayerPerceptron, _ parameters: [Double], row: ArraySlice<Float>, label: Double
    )
        throws -> Double
    {
        // Float parameters would round the ±h step away; evaluate the forward pass in double by hand.
        let widths = [model.featureCount] + model.hidden + [1]
        var input = row.map(Double.init)
        for layer in 0..<(widths.count - 1) {
            let w = model.layout.offsets[2 * layer]
            let b = model.layout.offsets[2 * layer + 1]
            var output = [Double](repeating: 0, count: widths[layer + 1])
            for o in output.indices {
                var sum = parameters[b + o]
                for i in input.indices { sum += parameters[w + o * widths[layer] + i] * input[i] }
                output[o] = layer == widths.count - 2 ? sum : (model.activation == .relu ? max(sum, 0) : tanh(sum))
            }
            input = output
        }
        return LogisticRegression.logLoss(logit: input[0], label: label)
    }

    @Test(arguments: [MultilayerPerceptron.Activation.tanh, .relu])
    func gradientMatchesFiniteDifferences(activation: MultilayerPerceptron.Activation) throws {
        let data = Self.data(features: 5, records: 6, seed: 11)
        let parameters = try MultilayerPerceptron.initialParameters(
            featureCount: 5, hidden: [4, 3], activation: activation, seed: 3)
        let model = try MultilayerPerceptron(
            featureCount: 5, hidden: [4, 3], activation: activation, parameters: parameters)
        #expect(model.parameters.count == 5 * 4 + 4 + 4 * 3 + 3 + 3 + 1)
        var gradient = [Double](repeating: 0, count: model.parameters.count)
        let h = 1e-6
        for record in 0..<data.count {
            let row = data.row(record)
            let label = Double(data.labels[record])
            let z = model.recordGradient(row, label: label, into: &gradient)
            #expect(abs(z - model.logit(row)) < 1e-12)
            let base = model.parameters.map(Double.init)
            for j in base.indices {
                var plus = base
                var minus = base
                plus[j] += h
                minus[j] -= h
                let numeric =
                    (try Self.loss(model, plus, row: row, label: label)
                        - Self.loss(model, minus, row: row, label: label)) / (2 * h)
                // relu: no pre-activation of these random records lies within h of its kink.
                #expect(
                    abs(numeric - gradient[j]) <= 1e-6 * max(1, abs(numeric)),
                    "record \(record), parameter \(j): backprop \(gradient[j]), finite difference \(numeric)")
            }
        }
    }

    @Test func clippingBoundsEveryRecordOverAllTensors() throws {
        let data = Self.data(features: 6, records: 40, seed: 5)
        let parameters = try MultilayerPerceptron.initialParameters(
            featureCount: 6, hidden: [8], activation: .tanh, seed: 9)
        // Scaled up so that most per-record gradients exceed C.
        let model = try MultilayerPerceptron(
            featureCount: 6, hidden: [8], activation: .tanh, parameters: parameters.map { $0 * 3 })
        let bound = 0.05
        var gradient = [Double](repeating: 0, count: model.parameters.count)
        var clippedCount = 0
        var expected = [Double](repeating: 0, count: model.parameters.count)
        for record in 0..<data.count {
            _ = model.recordGradient(data.row(record), label: Double(data.labels[record]), into: &gradient)
            let norm = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > bound { clippedCount += 1 }
            let factor = min(1, bound / (1 + RecordLevelTraining.normErrorMargin) / norm)
            // A single record's clipped contribution never exceeds C.
            let single = try RecordLevelTraining.clippedGradientSum(
                model: model, data: data, indices: [record], clippingBound: bound)
            let singleNorm = single.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(singleNorm <= bound * (1 + 1e-6), "record \(record): clipped norm \(singleNorm) > C = \(bound)")
            for j in expected.indices { expected[j] += factor * gradient[j] }
        }
        #expect(clippedCount > data.count / 2, "the test must exercise clipping")
        let sum = try RecordLevelTraining.clippedGradientSum(
            model: model, data: data, indices: Array(0..<data.count), clippingBound: bound)
        for j in sum.indices { #expect(abs(Double(sum[j]) - expected[j]) <= 1e-6) }
        // A bound above every norm leaves the sum unclipped.
        let loose = try RecordLevelTraining.clippedGradientSum(
            model: model, data: data, indices: [0, 1], clippingBound: 1e6)
        var raw = [Double](repeating: 0, count: model.parameters.count)
        for record in [0, 1] {
            _ = model.recordGradient(data.row(record), label: Double(data.labels[record]), into: &gradient)
            for j in raw.indices { raw[j] += gradient[j] }
        }
        for j in loose.indices { #expect(abs(Double(loose[j]) - raw[j]) <= 1e-5 * max(1, abs(raw[j]))) }
        _ = expectModelError("model.invalid_clipping_bound") {
            _ = try RecordLevelTraining.clippedGradientSum(model: model, data: data, indices: [0], clippingBound: 0)
        }
    }

    @Test func seededStartIsReproducibleAndNotZero() throws {
        let a = try MultilayerPerceptron.initialParameters(featureCount: 30, hidden: [16], activation: .relu, seed: 7)
        let b = try MultilayerPerceptron.initialParameters(featureCount: 30, hidden: [16], activation: .relu, seed: 7)
        let c = try MultilayerPerceptron.initialParameters(featureCount: 30, hidden: [16], activation: .relu, seed: 8)
        #expect(a == b)
        #expect(a != c)
        let layout = try ModelLayout.mlp(featureCount: 30, hidden: [16])
        #expect(layout.parameterCount == 513)
        let firstWeights = a[layout.range(of: "layers.0.weight")!]
        #expect(firstWeights.allSatisfy { $0 != 0 && abs($0) <= Float((6.0 / 30).squareRoot()) })
        #expect(a[layout.range(of: "layers.0.bias")!].allSatisfy { $0 == 0 })
        #expect(
            try ModelArchitecture.mlp(hidden: [16], activation: .relu, seed: 7).initialParameters(featureCount: 30) == a
        )
    }

    @Test func learnsASeparableProblemCentrally() throws {
        // y = 1 when x₀·x₁ > 0 (XOR-like): no linear model gets far above chance; an MLP does.
        var generator = SeededGenerator(seed: 1)
        var features: [Float] = []
        var labels: [Float] = []
        for _ in 0..<400 {
            let x0 = Float.random(in: -1...1, using: &generator)
            let x1 = Float.random(in: -1...1, using: &generator)
            features += [x0, x1]
            labels.append(x0 * x1 > 0 ? 1 : 0)
        }
        let data = EncodedDataset(featureNames: ["a", "b"], features: features, labels: labels)
        var model = try MultilayerPerceptron(
            featureCount: 2, hidden: [8], activation: .tanh,
            parameters: try MultilayerPerceptron.initialParameters(
                featureCount: 2, hidden: [8], activation: .tanh, seed: 2))
        let before = try model.meanLogLoss(data)
        try LocalTraining.train(
            &model, on: data, configuration: LocalTrainingConfiguration(epochs: 300, batchSize: 16, learningRate: 0.5),
            using: &generator)
        #expect(try model.meanLogLoss(data) < before / 2)
        #expect(try model.evaluate(data).accuracy > 0.9)
    }

    @Test func layoutNamesTensorsAndChecksFiles() throws {
        let layout = try ModelLayout.mlp(featureCount: 3, hidden: [2])
        #expect(layout.tensors.map(\.name) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"])
        #expect(layout.tensors.map(\.shape) == [[2, 3], [2], [1, 2], [1]])
        #expect(layout.offsets == [0, 6, 8, 10])
        let flat = (0..<11).map(Float.init)
        let file = try layout.safetensors(flat)
        #expect(try layout.flatten(SafetensorsFile.decode(file.encoded()), source: "x") == flat)
        #expect(try ModelLayout.logisticRegression(featureCount: 4).tensors.map(\.name) == ["weight", "bias"])

        var missing = file
        missing.tensors.removeLast()
        let absent = expectModelError("model.tensor_missing") {
            _ = try layout.flatten(missing, source: "update.safetensors")
        }
        #expect(absent?.message.contains("`layers.1.bias`") == true)
        var reshaped = file
        reshaped.tensors[0] = ("layers.0.weight", try Tensor(shape: [3, 2], values: Array(flat[0..<6])))
        let shape = expectModelError("model.tensor_shape") {
            _ = try layout.flatten(reshaped, source: "update.safetensors")
        }
        #expect(shape?.message.contains("`layers.0.weight` has shape [3, 2]; the model needs [2, 3]") == true)
        var extra = file
        extra.tensors.append(("head.weight", Tensor(vector: [1])))
        let unexpected = expectModelError("model.tensor_unexpected") {
            _ = try layout.flatten(extra, source: "update.safetensors")
        }
        #expect(unexpected?.message.contains("`head.weight`") == true)
        _ = expectModelError("model.invalid_layout") {
            _ = try ModelLayout(tensors: [TensorSpec(name: "a", shape: [2]), TensorSpec(name: "a", shape: [3])])
        }
        _ = expectModelError("model.invalid_layout") {
            _ = try ModelLayout(tensors: [TensorSpec(name: "a", shape: [0])])
        }
        _ = expectModelError("model.invalid_layout") {
            _ = try ModelLayout(tensors: [TensorSpec(name: "a b", shape: [1])])
        }
        _ = expectModelError("model.invalid_layout") { _ = try ModelLayout(tensors: []) }
    }

    @Test func checkpointRoundTripsAnMLPWithItsTensorNames() throws {
        let layout = try ModelLayout.mlp(featureCount: 4, hidden: [3])
        let parameters = try MultilayerPerceptron.initialParameters(
            featureCount: 4, hidden: [3], activation: .relu, seed: 1)
        let optimizer = try ServerOptimizer(
            learningRate: 0.5, momentum: 0.5, velocity: [Float](repeating: 0.25, count: parameters.count))
        let checkpoint = ModelCheckpoint(
            round: 3, model: try ModelParameters(parameters: parameters), optimizer: optimizer, schemaDigest: "abc",
            layout: layout)
        let file = try checkpoint.safetensors()
        #expect(
            file.tensors.map(\.name) == [
                "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "velocity",
            ])
        #expect(file.metadata["cohort.version"] == "2")
        let back = try ModelCheckpoint(safetensors: SafetensorsFile.decode(file.encoded()))
        #expect(back == checkpoint)
        // Logistic regression is still written as version 1 with weight and bias.
        let lr = ModelCheckpoint(
            round: 1, model: try ModelParameters(parameters: [1, 2, 3]), schemaDigest: "abc",
            layout: try ModelLayout.logisticRegression(featureCount: 2))
        #expect(try lr.safetensors().metadata["cohort.version"] == "1")
        #expect(try lr.safetensors().tensors.map(\.name) == ["weight", "bias"])
    }

    @Test func builtInModelRefusesExternalAndMismatchedVectors() throws {
        let external = ModelArchitecture.external(try ModelLayout(tensors: [TensorSpec(name: "w", shape: [2])]))
        _ = expectModelError("model.not_built_in") {
            _ = try BuiltInModel(architecture: external, featureCount: 1, parameters: [0, 0])
        }
        _ = expectModelError("model.dimension_mismatch") {
            _ = try BuiltInModel(
                architecture: .mlp(hidden: [2], activation: .tanh, seed: 1), featureCount: 3, parameters: [0, 0, 0, 0])
        }
        _ = expectModelError("model.dimension_mismatch") {
            _ = try BuiltInModel(architecture: .logisticRegression, featureCount: 3, parameters: [0, 0, 0, 0, 0])
        }
    }

    @Test func architectureTravelsAsJSON() throws {
        for architecture in [
            ModelArchitecture.logisticRegression, .mlp(hidden: [16, 4], activation: .tanh, seed: 42),
            .external(
                try ModelLayout(tensors: [
                    TensorSpec(name: "a.weight", shape: [3, 2]), TensorSpec(name: "a.bias", shape: [3]),
                ])),
        ] {
            let json = try JSONEncoder().encode(architecture)
            #expect(try JSONDecoder().decode(ModelArchitecture.self, from: json) == architecture)
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(
                ModelArchitecture.self, from: Data(#"{"kind":"mlp","hidden":[0],"activation":"relu","seed":1}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(ModelArchitecture.self, from: Data(#"{"kind":"cnn"}"#.utf8))
        }
    }
}
