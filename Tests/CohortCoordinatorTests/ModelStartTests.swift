import CohortCrypto
import CohortLedger
import CohortModel
import CohortPolicy
import CohortTesting
import Foundation
import Logging
import Testing

@testable import CohortCoordinator

/// The coordinator's start from the policy's model section: d from the layout, the seeded MLP
/// start, and an initial model refused (before any ledger exists) when a tensor does not fit.
@Suite struct ModelStartTests {
    @Test func mlpPolicyStartsFromItsSeededInitialisation() async throws {
        let files = try ConsortiumFiles(modelYAML: "kind: mlp\nhidden: [8]\nactivation: tanh\nseed: 11")
        let coordinator = try files.makeCoordinator(logger: Logger(label: "test"))
        let start = try ModelStart(policy: try PolicyLoader.load(path: files.policyPath), featureCount: 30)
        #expect(start.layout.parameterCount == 30 * 8 + 8 + 8 + 1)
        #expect(
            start.parameters
                == (try MultilayerPerceptron.initialParameters(
                    featureCount: 30, hidden: [8], activation: .tanh, seed: 11)))
        #expect(start.initialModelSHA256 == nil)
        #expect(await coordinator.globalModel == start.parameters)
    }

    @Test(arguments: [
        (
            ["layers.0.weight": [4, 29], "layers.0.bias": [4], "layers.1.weight": [1, 4], "layers.1.bias": [1]],
            "model.tensor_shape", "layers.0.weight"
        ),
        (
            ["layers.0.weight": [4, 30], "layers.1.weight": [1, 4], "layers.1.bias": [1]], "model.tensor_missing",
            "layers.0.bias"
        ),
    ])
    func badInitialModelIsRefusedNamingTheTensorAndLeavesNoLedger(
        tensors: [String: [Int]], code: String, name: String
    )
        throws
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-init-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/initial.safetensors"
        try SafetensorsFile(
            tensors: tensors.sorted { $0.key < $1.key }.map {
                ($0.key, try Tensor(shape: $0.value, values: [Float](repeating: 0.1, count: $0.value.reduce(1, *))))
            }
        ).write(path: path)
        let files = try ConsortiumFiles(modelYAML: "kind: mlp\nhidden: [4]\nseed: 1\ninitial_model: \(path)")
        do {
            _ = try files.makeCoordinator(logger: Logger(label: "test"))
            Issue.record("the coordinator started with a bad initial model")
        } catch let error as CoordinatorError {
            #expect(error.code == code, "\(error)")
            #expect(error.message.contains("`\(name)`"), "\(error)")
            #expect(error.message.contains("model"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory)))
    }
}
