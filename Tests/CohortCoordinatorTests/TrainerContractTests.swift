import CohortModel
import Foundation
import Testing

@testable import CohortParticipant

/// Trainer contract 2's checks: the answer's tensors by name and shape, contract 1 only for
/// logistic regression, the batch size against the Poisson law and the norm against C × batch.
@Suite struct TrainerContractTests {
    static let layout = try! ModelLayout.mlp(featureCount: 3, hidden: [2])
    static let architecture = ModelArchitecture.mlp(hidden: [2], activation: .tanh, seed: 1)

    static func answer(batch: String? = "5", drop: String? = nil, reshape: String? = nil) throws -> SafetensorsFile {
        var file = try layout.safetensors([Float](repeating: 0.01, count: layout.parameterCount))
        if let drop { file.tensors.removeAll { $0.name == drop } }
        if let reshape, let index = file.tensors.firstIndex(where: { $0.name == reshape }) {
            let values = file.tensors[index].tensor.values
            file.tensors[index] = (reshape, try Tensor(shape: [values.count], values: values))
        }
        if let batch { file.metadata["cohort.batch_size"] = batch }
        return file
    }

    static func code(_ body: () throws -> Void) -> (code: String, message: String)? {
        do {
            try body()
            return nil
        } catch let error as ParticipantError {
            return (error.code, error.message)
        } catch {
            return ("other", "\(error)")
        }
    }

    @Test func contract2AnswerIsReadByName() throws {
        let output = try ExternalTrainer.check(
            output: try Self.answer(), layout: Self.layout, architecture: Self.architecture, unit: "record", path: "u")
        #expect(output.values.count == 11 && output.batchSize == 5 && output.contract == 2)
        let delta = try ExternalTrainer.check(
            output: try Self.answer(batch: nil), layout: Self.layout, architecture: Self.architecture,
            unit: "participant", path: "u")
        #expect(delta.batchSize == nil)
    }

    @Test func badAnswersAreRefusedNamingTheTensor() throws {
        let missing = Self.code {
            _ = try ExternalTrainer.check(
                output: try Self.answer(drop: "layers.1.bias"), layout: Self.layout, architecture: Self.architecture,
                unit: "record", path: "u")
        }
        #expect(missing?.code == "participant.trainer_output")
        #expect(missing?.message.contains("`layers.1.bias`") == true)
        let shape = Self.code {
            _ = try ExternalTrainer.check(
                output: try Self.answer(reshape: "layers.0.weight"), layout: Self.layout,
                architecture: Self.architecture, unit: "record", path: "u")
        }
        #expect(shape?.code == "participant.trainer_output")
        #expect(shape?.message.contains("`layers.0.weight` has shape [6]; the model needs [2, 3]") == true)
        for batch in [nil, "-1", "many"] as [String?] {
            let noBatch = Self.code {
                _ = try ExternalTrainer.check(
                    output: try Self.answer(batch: batch), layout: Self.layout, architecture: Self.architecture,
                    unit: "record", path: "u")
            }
            #expect(noBatch?.code == "participant.trainer_output")
            #expect(noBatch?.message.contains("cohort.batch_size") == true)
        }
    }

    @Test func contract1IsAcceptedForLogisticRegressionOnlyAndOtherwiseSaysHowToMigrate() throws {
        let v1 = SafetensorsFile(tensors: [("update", Tensor(vector: [Float](repeating: 0, count: 11)))])
        let refused = Self.code {
            _ = try ExternalTrainer.check(
                output: v1, layout: Self.layout, architecture: Self.architecture, unit: "record", path: "u")
        }
        #expect(refused?.code == "participant.trainer_contract")
        #expect(refused?.message.contains("Migrate to contract 2") == true)
        #expect(refused?.message.contains("`layers.0.weight` [2, 3]") == true)
        let lrLayout = try ModelLayout.logisticRegression(featureCount: 10)
        let accepted = try ExternalTrainer.check(
            output: v1, layout: lrLayout, architecture: .logisticRegression, unit: "record", path: "u")
        #expect(accepted.contract == 1 && accepted.batchSize == nil)
    }

    @Test func honestBatchesPassAndAnOversamplingTrainerIsCaught() throws {
        // An honest trainer: Binomial(n, q) batches over 50 rounds never trip the 1e-9 bound.
        var generator = SystemRandomNumberGenerator()
        var honest = TrainerChecks()
        for _ in 0..<50 {
            let batch = (0..<120).reduce(0) { count, _ in
                count + (Double.random(in: 0..<1, using: &generator) < 0.2 ? 1 : 0)
            }
            try honest.check(update: [0.5], batchSize: batch, records: 120, samplingRate: 0.2, clippingBound: 1)
        }
        // 2.5× oversampling on 360 records at q = 0.2 (expected 72, reports 180): caught in round 1.
        var large = TrainerChecks()
        let first = Self.code {
            try large.check(update: [0], batchSize: 180, records: 360, samplingRate: 0.2, clippingBound: 1)
        }
        #expect(first?.code == "participant.trainer_batch_size")
        #expect(first?.message.contains("expected 72") == true)
        // On 120 records (expected 24, reports 60) one round is within the bound; two rounds are not.
        var medium = TrainerChecks()
        try medium.check(update: [0], batchSize: 60, records: 120, samplingRate: 0.2, clippingBound: 1)
        let second = Self.code {
            try medium.check(update: [0], batchSize: 60, records: 120, samplingRate: 0.2, clippingBound: 1)
        }
        #expect(second?.code == "participant.trainer_batch_size")
        #expect(second?.message.contains("120 over 2 rounds") == true)
        // A small silo (13 records, expected 2.6 a round): 2.5× is plausible once but not over many rounds.
        var small = TrainerChecks()
        var caughtAt: Int?
        for round in 1...40 where caughtAt == nil {
            if Self.code({
                try small.check(update: [0], batchSize: 7, records: 13, samplingRate: 0.2, clippingBound: 1)
            }) != nil {
                caughtAt = round
            }
        }
        #expect(caughtAt != nil && caughtAt! > 1 && caughtAt! <= 20, "caught at round \(String(describing: caughtAt))")
        var impossible = TrainerChecks()
        #expect(
            Self.code {
                try impossible.check(update: [0], batchSize: 14, records: 13, samplingRate: 1, clippingBound: 1)
            }?.code
                == "participant.trainer_batch_size")
    }

    @Test func updateLongerThanCTimesBatchIsRefused() throws {
        var checks = TrainerChecks()
        // Norm 5 = 5·C: allowed.
        try checks.check(update: [3, 4], batchSize: 5, records: 100, samplingRate: 0.05, clippingBound: 1)
        let long = Self.code {
            try checks.check(update: [3, 4.1], batchSize: 5, records: 100, samplingRate: 0.05, clippingBound: 1)
        }
        #expect(long?.code == "participant.trainer_norm")
        let empty = Self.code {
            try checks.check(update: [0.001], batchSize: 0, records: 100, samplingRate: 0.05, clippingBound: 1)
        }
        #expect(empty?.code == "participant.trainer_norm")
    }
}

/// A participant whose data encodes to another model size than the coordinator's refuses the
/// round, naming both sizes (an MLP's d is not F + 1, so the check waits for the invitation).
@Suite struct ParticipantModelSizeTests {
    @Test func mismatchedModelSizeIsRefused() throws {
        try Participant.checkModelSize(
            .mlp(hidden: [16], activation: .tanh, seed: 1), featureCount: 30, coordinatorDimension: 513)
        try Participant.checkModelSize(.logisticRegression, featureCount: 30, coordinatorDimension: 31)
        do {
            try Participant.checkModelSize(
                .mlp(hidden: [16], activation: .tanh, seed: 1), featureCount: 29, coordinatorDimension: 513)
            Issue.record("accepted a model of another size")
        } catch let error as ParticipantError {
            #expect(error.code == "participant.schema_mismatch")
            #expect(error.message.contains("513") && error.message.contains("497"), "\(error)")
        }
    }
}
