import Foundation
import Testing

@testable import CohortPolicy

/// The `model` section's kinds: a built-in logistic regression or MLP, or an external model given
/// as named tensors; every misplaced or malformed field is refused, naming it.
@Suite struct ModelPolicyTests {
    static func withModel(_ lines: String) -> String {
        mutate(
            "version: lr-v1",
            "version: lr-v1\n" + lines.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
    }

    @Test func mlpAndExternalParse() throws {
        let mlp = try PolicyLoader.parse(Self.withModel("kind: mlp\nhidden: [16, 8]\nactivation: tanh\nseed: 42"))
        #expect(mlp.model.kind == "mlp")
        #expect(mlp.model.hidden == [16, 8])
        #expect(mlp.model.activation == "tanh")
        #expect(mlp.model.seed == 42)
        let defaults = try PolicyLoader.parse(Self.withModel("kind: mlp\nhidden: [4]\nseed: 0"))
        #expect(defaults.model.activation == "relu")
        let external = try PolicyLoader.parse(
            Self.withModel(
                """
                kind: external
                initial_model: start.safetensors
                tensors:
                  - {name: layers.0.weight, shape: [16, 30]}
                  - {name: layers.0.bias, shape: [16]}
                """))
        #expect(
            external.model.tensors == [
                Policy.TensorShape(name: "layers.0.weight", shape: [16, 30]),
                Policy.TensorShape(name: "layers.0.bias", shape: [16]),
            ])
        #expect(external.model.initialModel == "start.safetensors")
    }

    @Test(arguments: [
        ("kind: mlp\nseed: 1", "model.hidden", "policy.missing_field"),
        ("kind: mlp\nhidden: [16]", "model.seed", "policy.missing_field"),
        ("kind: mlp\nhidden: []\nseed: 1", "model.hidden", "policy.invalid_field"),
        ("kind: mlp\nhidden: [16, 0]\nseed: 1", "model.hidden[1]", "policy.invalid_field"),
        ("kind: mlp\nhidden: [16, x]\nseed: 1", "model.hidden[1]", "policy.invalid_field"),
        ("kind: mlp\nhidden: 16\nseed: 1", "model.hidden", "policy.invalid_field"),
        ("kind: mlp\nhidden: [16]\nseed: 1\nactivation: sigmoid", "model.activation", "policy.invalid_field"),
        ("kind: mlp\nhidden: [16]\nseed: -1", "model.seed", "policy.invalid_field"),
        ("hidden: [16]", "model.hidden", "policy.invalid_field"),
        ("seed: 3", "model.seed", "policy.invalid_field"),
        ("kind: external", "model.tensors", "policy.missing_field"),
        ("kind: external\ntensors:\n  - {name: w}", "model.tensors[0].shape", "policy.missing_field"),
        ("kind: external\ntensors:\n  - {shape: [2]}", "model.tensors[0].name", "policy.missing_field"),
        ("kind: external\ntensors:\n  - {name: w, shape: [2, 0]}", "model.tensors[0].shape[1]", "policy.invalid_field"),
        ("kind: external\ntensors:\n  - {name: 'a b', shape: [2]}", "model.tensors[0].name", "policy.invalid_field"),
        (
            "kind: external\ntensors:\n  - {name: w, shape: [2]}\n  - {name: w, shape: [3]}", "model.tensors[1].name",
            "policy.invalid_field"
        ),
        (
            "kind: external\ntensors:\n  - {name: w, shape: [2], dtype: f16}", "model.tensors[0].dtype",
            "policy.unknown_field"
        ),
        ("tensors:\n  - {name: w, shape: [2]}", "model.tensors", "policy.invalid_field"),
    ])
    func malformedModelFieldNamesItsPath(lines: String, field: String, code: String) {
        do {
            _ = try PolicyLoader.parse(Self.withModel(lines))
            Issue.record("accepted a policy with a bad `\(field)`")
        } catch {
            #expect(error.field == field, "\(error)")
            #expect(error.code == code, "\(error)")
        }
    }
}
