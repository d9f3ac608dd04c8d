import CohortModel
import CohortParticipant
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// The Python MLP trainers compute what the Swift MLP computes: at q = 1 (every record sampled)
/// their record-unit answer equals `RecordLevelTraining.clippedGradientSum` for the same tanh MLP,
/// clipped over all tensors to C / (1 + 1e-9), to float32 rounding, and reports batch = n.
///
/// numpy: required (Scripts/test.sh installs it); its absence fails the test.
/// PyTorch: optional and heavy. When torch is missing the PyTorch test is reported as NOT RUN
/// with the reason in the test output (Swift Testing's skip report, never silent); with
/// COHORT_REQUIRE_TORCH=1 (set it in CI jobs that install torch) its absence is a FAILURE naming
/// the package, so a CI image that lost torch cannot pass unnoticed.
@Suite struct PythonMLPAgreementTests {
    static let python = ConsortiumFiles.repositoryRoot + "/python"
    static let torchRequired = ProcessInfo.processInfo.environment["COHORT_REQUIRE_TORCH"] == "1"
    static let torchAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import torch, numpy, safetensors"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    func agree(script: String) async throws {
        let schema = try FeatureSchema.load(path: ConsortiumFiles.repositoryRoot + "/Data/schemas/wdbc.json")
        let prepared = try schema.prepare(csvPath: ConsortiumFiles.repositoryRoot + "/Data/breast_cancer_wdbc.csv")
        let data = prepared.dataset.subset(Array(0..<150))
        let architecture = ModelArchitecture.mlp(hidden: [4], activation: .tanh, seed: 5)
        let layout = try architecture.layout(featureCount: data.dimension)
        // Scaled up so most records are clipped.
        let global = try architecture.initialParameters(featureCount: data.dimension).map { $0 * 3 }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-py-mlp-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: work) }
        var trainer = ExternalTrainer(
            command: "PYTHONPATH='\(Self.python)' python3 '\(Self.python)/examples/\(script)'", workDirectory: work)
        try trainer.prepare(data: data)
        let swiftModel = try MultilayerPerceptron(
            featureCount: data.dimension, hidden: [4], activation: .tanh, parameters: global)
        for clip in [0.1, 1.0] {
            let parameters = TrainingParameters(
                unit: "record", samplingRate: 1, clippingBound: clip, localEpochs: 1, localLearningRate: 0.1,
                batchSize: 32,
                model: .external(layout))
            let output = try await trainer.train(
                round: 1, globalModel: global, layout: layout, architecture: .external(layout), parameters: parameters)
            #expect(output.contract == 2 && output.batchSize == data.count)
            let swift = try RecordLevelTraining.clippedGradientSum(
                model: swiftModel, data: data, indices: Array(0..<data.count), clippingBound: clip)
            for (index, (p, s)) in zip(output.values, swift).enumerated() {
                #expect(
                    abs(p - s) <= 1e-4 * max(1, abs(s)),
                    "\(script), C = \(clip), parameter \(index): python \(p), swift \(s)")
            }
            var checks = TrainerChecks()
            try checks.check(
                update: output.values, batchSize: data.count, records: data.count, samplingRate: 1, clippingBound: clip)
        }
    }

    @Test func numpyTrainerMatchesTheSwiftMLP() async throws {
        if let missing = ExternalModelEndToEndTests.missingPython() {
            Issue.record("\(missing): run Scripts/test.sh (it installs them) or `pip install ./python`")
            return
        }
        try await agree(script: "numpy_mlp_trainer.py")
    }

    @Test(
        .enabled(
            if: torchAvailable || torchRequired,
            "NOT RUN: python package `torch` missing (pip install './python[torch]'); COHORT_REQUIRE_TORCH=1 fails"
        ))
    func torchTrainerMatchesTheSwiftMLP() async throws {
        guard Self.torchAvailable else {
            let message =
                "COHORT_REQUIRE_TORCH=1 but python3 cannot import `torch` (with numpy and safetensors): "
                + "pip install './python[torch]'"
            Issue.record(Comment(rawValue: message))
            return
        }
        try await agree(script: "torch_trainer.py")
    }
}
