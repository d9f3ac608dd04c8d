@_spi(CohortTesting) import CohortCrypto
import CohortTesting
import Foundation
import Testing

@_spi(CohortTesting) @testable import CohortModel

@Suite struct TrainingTests {
    static let toy = EncodedDataset(
        featureNames: ["a", "b"],
        features: [1, 2, -1, 0.5, 3, -2, 0, 0, -2, 1],
        labels: [1, 0, 1, 0, 1]
    )

    @Test func sigmoidAndLogLossAreStable() {
        #expect(LogisticRegression.sigmoid(1000) == 1)
        #expect(LogisticRegression.sigmoid(-1000) == 0)
        #expect(LogisticRegression.sigmoid(0) == 0.5)
        #expect(abs(LogisticRegression.sigmoid(-40) - exp(-40)) < 1e-30)
        #expect(LogisticRegression.logLoss(logit: 1000, label: 0) == 1000)
        #expect(LogisticRegression.logLoss(logit: -1000, label: 1) == 1000)
        #expect(abs(LogisticRegression.logLoss(logit: 0, label: 1) - log(2)) < 1e-15)
        #expect(abs(LogisticRegression.logLoss(logit: 2, label: 1) + log(LogisticRegression.sigmoid(2))) < 1e-15)
    }

    @Test func gradientMatchesFiniteDifferences() throws {
        let model = try LogisticRegression(parameters: [0.3, -0.7, 0.1])
        let (_, gradient) = try model.lossAndGradient(Self.toy, l2: 0.1)
        for j in 0..<3 {
            var plus = model.parameters.map(Double.init)
            var minus = plus
            let h = 1e-3
            plus[j] += h
            minus[j] -= h
            // Float storage limits the precision of the difference quotient.
            let up = try LogisticRegression(parameters: plus.map { Float($0) }).lossAndGradient(Self.toy, l2: 0.1).loss
            let down = try LogisticRegression(parameters: minus.map { Float($0) }).lossAndGradient(Self.toy, l2: 0.1)
                .loss
            #expect(abs((up - down) / (2 * h) - gradient[j]) < 1e-3)
        }
    }

    @Test func perRecordGradientsAreClippedBeforeSumming() throws {
        let model = try LogisticRegression(parameters: [0.3, -0.7, 0.1])
        let bound = 0.5
        var expected = [Double](repeating: 0, count: 3)
        for index in 0..<Self.toy.count {
            let single = try RecordLevelTraining.clippedGradientSum(
                model: model, data: Self.toy, indices: [index], clippingBound: bound)
            let norm = single.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(norm <= bound * (1 + 1e-6))
            // The unclipped gradient is (σ(z) − y)·[x, 1].
            let row = Self.toy.row(index)
            let residual = LogisticRegression.sigmoid(model.logit(row)) - Double(Self.toy.labels[index])
            let raw = row.map { residual * Double($0) } + [residual]
            let rawNorm = raw.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let scale = min(1, bound / rawNorm)
            for j in 0..<3 {
                #expect(abs(Double(single[j]) - raw[j] * scale) < 1e-6)
                expected[j] += raw[j] * scale
            }
        }
        let sum = try RecordLevelTraining.clippedGradientSum(
            model: model, data: Self.toy, indices: Array(0..<5), clippingBound: bound)
        for j in 0..<3 { #expect(abs(Double(sum[j]) - expected[j]) < 1e-6) }
        _ = expectModelError("model.invalid_clipping_bound") {
            _ = try RecordLevelTraining.clippedGradientSum(model: model, data: Self.toy, indices: [0], clippingBound: 0)
        }
        let wrong = try LogisticRegression(parameters: [1, 2, 3, 4])
        _ = expectModelError("model.dimension_mismatch") {
            _ = try RecordLevelTraining.clippedGradientSum(model: wrong, data: Self.toy, indices: [0], clippingBound: 1)
        }
    }

    @Test func poissonSamplingRate() throws {
        var sampler = PoissonSampler(stream: ChaCha20KeyStream(testSeed: 5))
        let n = 100_000
        let q = 0.03
        let count = try sampler.sample(count: n, rate: q).count
        // Binomial(n, q): within 5 standard deviations.
        #expect(abs(Double(count) - Double(n) * q) < 5 * (Double(n) * q * (1 - q)).squareRoot())
        #expect(try sampler.sample(count: 50, rate: 1) == Array(0..<50))
        _ = expectModelError("model.invalid_sampling_rate") { _ = try sampler.sample(count: 5, rate: 0) }
        var production = PoissonSampler()
        #expect(try production.sample(count: 10, rate: 1).count == 10)
    }

    @Test func serverOptimizerArithmetic() throws {
        var model = try ModelParameters(parameters: [1, 1, 1])
        var optimizer = try ServerOptimizer(learningRate: 0.5, momentum: 0.5, weightDecay: 0.1)
        // g = sum / 4 + λ·w (not on the bias) = [0.5 + 0.1, 1 + 0.1, 2]; v = g; w −= 0.5·v.
        try optimizer.applyNoisedGradientSum([2, 4, 8], expectedBatchSize: 4, to: &model)
        #expect(model.parameters == [0.7, 0.45, 0])
        // Second step: g = [0.07, 0.045, 0]; v = 0.5·v + g.
        try optimizer.applyNoisedGradientSum([0, 0, 0], expectedBatchSize: 4, to: &model)
        #expect(abs(model.parameters[0] - Float(0.7 - 0.5 * (0.3 + 0.07))) < 1e-6)
        #expect(abs(model.parameters[2] - Float(0 - 0.5 * 1.0)) < 1e-6)
        _ = expectModelError("model.non_finite_update") {
            try optimizer.applyNoisedGradientSum([.nan, 0, 0], expectedBatchSize: 4, to: &model)
        }
        _ = expectModelError("model.invalid_batch_size") {
            try optimizer.applyNoisedGradientSum([0, 0, 0], expectedBatchSize: 0, to: &model)
        }
        var fedAvg = try ServerOptimizer(learningRate: 1)
        var averaged = try ModelParameters(parameters: [1, 1, 1])
        try fedAvg.applyAverageDelta([0.5, -0.5, 0], to: &averaged)
        #expect(averaged.parameters == [1.5, 0.5, 1])
    }

    @Test func globalModelVectorRefusesEmptyAndNonFiniteParameters() throws {
        // Any model's vector, not only logistic regression's: one parameter is a valid model.
        #expect(try ModelParameters(parameters: [0.5]).count == 1)
        _ = expectModelError("model.invalid_parameters") { _ = try ModelParameters(parameters: []) }
        _ = expectModelError("model.non_finite_parameters") { _ = try ModelParameters(parameters: [1, .infinity]) }
        var model = try ModelParameters(parameters: [1, 1])
        var optimizer = try ServerOptimizer(learningRate: 1)
        _ = expectModelError("model.dimension_mismatch") {
            try optimizer.applyAverageDelta([1, 2, 3], to: &model)
        }
        #expect(model.parameters == [1, 1])
    }

    @Test func fedAvgDeltaIsLocalMinusGlobalAndLowersLoss() throws {
        let global = LogisticRegression(featureCount: 2)
        var generator = SeededGenerator(seed: 1)
        let configuration = LocalTrainingConfiguration(epochs: 5, batchSize: 2, learningRate: 0.5)
        let delta = try LocalTraining.modelDelta(
            from: global, on: Self.toy, configuration: configuration, using: &generator)
        let local = try LogisticRegression(parameters: zip(global.parameters, delta).map { $0 + $1 })
        #expect(try local.lossAndGradient(Self.toy).loss < global.lossAndGradient(Self.toy).loss)
        _ = expectModelError("model.invalid_training_configuration") {
            _ = try LocalTraining.modelDelta(
                from: global, on: Self.toy,
                configuration: .init(epochs: 0, batchSize: 1, learningRate: 1), using: &generator)
        }
    }

    /// Non-private centralised training, the reference point for the DP runs.
    @Test func centralisedWDBC() throws {
        let (train, test) = try Experiments.wdbcSplit()
        var model = LogisticRegression(featureCount: train.dimension)
        var generator = SeededGenerator(seed: 2)
        let configuration = LocalTrainingConfiguration(epochs: 60, batchSize: 32, learningRate: 0.1, l2: 1e-3)
        try LocalTraining.train(&model, on: train, configuration: configuration, using: &generator)
        let metrics = try model.evaluate(test)
        let exact = BinaryMetrics.evaluate(
            probabilities: try model.probabilities(test), labels: (0..<test.count).map(test.isPositive))
        print(
            "centralised WDBC (held-out \(test.count)): accuracy \(metrics.accuracy), F1 \(metrics.f1), AUC \(exact.rocAUC ?? .nan)"
        )
        #expect(metrics.accuracy >= 0.96)
        #expect(try #require(exact.rocAUC) >= 0.98)
    }

    @Test func centralisedCredit() throws {
        let (train, test) = try Experiments.creditSplit()
        var model = LogisticRegression(featureCount: train.dimension)
        var generator = SeededGenerator(seed: 2)
        let configuration = LocalTrainingConfiguration(epochs: 15, batchSize: 64, learningRate: 0.1, l2: 1e-4)
        try LocalTraining.train(&model, on: train, configuration: configuration, using: &generator)
        let exact = BinaryMetrics.evaluate(
            probabilities: try model.probabilities(test), labels: (0..<test.count).map(test.isPositive))
        print(
            "centralised credit (held-out \(test.count)): accuracy \(exact.accuracy), F1 \(exact.f1), AUC \(exact.rocAUC ?? .nan)"
        )
        #expect(try #require(exact.rocAUC) >= 0.80)
    }
}

/// The train/test splits and silo partitions every training test uses.
enum Experiments {
    static let testFraction = 0.2
    static let splitSeed: UInt64 = 20_240_601

    static func split(
        _ table: CSVTable, _ schema: FeatureSchema
    ) throws -> (train: EncodedDataset, test: EncodedDataset, trainRows: [Int]) {
        let labels = Datasets.labels(table, schema)
        let split = try DataSplit.stratifiedTrainTest(labels: labels, testFraction: testFraction, seed: splitSeed)
        let train = try schema.prepare(table.selecting(rows: split.train)).dataset
        let test = try schema.prepare(table.selecting(rows: split.test)).dataset
        return (train, test, split.train)
    }

    static func wdbcSplit() throws -> (EncodedDataset, EncodedDataset) {
        let (train, test, _) = try split(Datasets.wdbcTable, Datasets.wdbcSchema)
        return (train, test)
    }

    static func creditSplit() throws -> (EncodedDataset, EncodedDataset) {
        let (train, test, _) = try split(Datasets.creditTable, Datasets.creditSchema)
        return (train, test)
    }

    /// The demo's files: `silos` participants with Dirichlet label skew (α = 1) and a held-out
    /// test file, each read back and encoded from its own CSV file as a participant would.
    static func silos(
        _ table: CSVTable, _ schema: FeatureSchema, count: Int, directory: TemporaryDirectory
    )
        throws -> (silos: [EncodedDataset], test: EncodedDataset)
    {
        let files = try DataSplit.writeFederatedSplit(
            table, schema: schema, silos: count, testFraction: testFraction,
            seed: splitSeed, directory: directory.path, prefix: schema.name)
        let silos = try files.silos.map { try schema.prepare(csvPath: $0).dataset }
        let test = try schema.prepare(csvPath: files.test).dataset
        // The held-out file is the same one the centralised tests use.
        #expect(test == (try split(table, schema).test))
        return (silos, test)
    }
}
