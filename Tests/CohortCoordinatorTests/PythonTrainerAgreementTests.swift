import CohortModel
import CohortParticipant
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// The Python example trainer computes what the Swift participant computes: at q = 1 (every
/// record sampled) its record-unit update equals `RecordLevelTraining.clippedGradientSum` over all
/// records, clipped to C / (1 + 1e-9), to float32 rounding; every clipped gradient stays within C.
@Suite struct PythonTrainerAgreementTests {
    @Test func recordUnitMatchesTheSwiftParticipant() async throws {
        try Python.require(["numpy", "safetensors"])
        let schema = try FeatureSchema.load(path: ConsortiumFiles.repositoryRoot + "/Data/schemas/wdbc.json")
        let prepared = try schema.prepare(csvPath: ConsortiumFiles.repositoryRoot + "/Data/breast_cancer_wdbc.csv")
        let data = prepared.dataset.subset(Array(0..<200))
        // A model far from zero so that most gradients are clipped.
        let global = (0...data.dimension).map { Float(($0 % 7) - 3) * 0.4 }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-py-agree-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: work) }
        var trainer = ExternalTrainer(
            command: "python3 " + ConsortiumFiles.repositoryRoot + "/Examples/python-trainer/train.py",
            workDirectory: work)
        try trainer.prepare(data: data)
        for clip in [0.5, 1.0, 4.0] {
            let parameters = TrainingParameters(
                unit: "record", samplingRate: 1, clippingBound: clip, localEpochs: 1, localLearningRate: 0.1,
                batchSize: 32)
            let python = try await trainer.train(
                round: 1, globalModel: global, layout: try .logisticRegression(featureCount: data.dimension),
                architecture: .logisticRegression, parameters: parameters
            ).values
            let swift = try RecordLevelTraining.clippedGradientSum(
                model: try LogisticRegression(parameters: global), data: data, indices: Array(0..<data.count),
                clippingBound: clip)
            #expect(python.count == swift.count)
            for (p, s) in zip(python, swift) {
                #expect(abs(p - s) <= 1e-5 * max(1, abs(s)), "C = \(clip): python \(p), swift \(s)")
            }
            // 200 clipped gradients: the sum's norm is at most 200·C.
            let norm = python.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(norm <= 200 * clip)
        }
    }
}
