import CohortModel
import CohortTesting
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

/// The evaluate hook's scores, through a real child process: logits by default, probabilities
/// when the file says so, and a clear refusal naming the trainer for anything else.
@Suite struct EvaluateHookScoresTests {
    /// Runs `ExternalTrainer.evaluate` with a trainer that copies a prepared answer to
    /// `COHORT_OUTPUT`, for a holdout of three records.
    static func evaluate(_ values: [Float], kind: String?) async throws -> [Double] {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var answer = SafetensorsFile(tensors: [("scores", Tensor(vector: values))], metadata: [:])
        if let kind { answer.metadata["cohort.scores"] = kind }
        try answer.write(path: directory.file("answer.safetensors"))
        let trainer = ExternalTrainer(
            command: "cp '\(directory.file("answer.safetensors"))' \"$COHORT_OUTPUT\"", workDirectory: directory.path,
            evaluates: true)
        let layout = try ModelLayout.logisticRegression(featureCount: 2)
        return try await trainer.evaluate(round: 1, candidate: [0.5, -0.5, 0], layout: layout, holdoutCount: 3)
    }

    @Test func logitsByDefaultAndProbabilitiesWhenDeclared() async throws {
        #expect(try await Self.evaluate([-2, 0, 3], kind: nil) == [-2, 0, 3])
        #expect(try await Self.evaluate([-2, 0, 3], kind: "logits") == [-2, 0, 3])
        let logits = try await Self.evaluate([0, 0.5, 0.880797], kind: "probabilities")
        // p = 0 is clamped to 1e-15 (logit ln 1e-15 ≈ −34.54); σ(2) ≈ 0.880797.
        #expect(abs(logits[0] + MetricsAccumulator.maximumRecordLoss) < 1e-6)
        #expect(logits[1] == 0)
        #expect(abs(logits[2] - 2) < 1e-5)
    }

    /// The python/ helper's `Round.write_scores(…, probabilities=True)` is read as probabilities;
    /// out-of-range probabilities stop the trainer there, so the participant reports it failing.
    @Test func pythonHelperWritesProbabilitiesTheParticipantReads() async throws {
        try Python.require(["numpy", "safetensors"])
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let python = ConsortiumFiles.repositoryRoot + "/python"
        func trainer(_ scores: String) throws -> ExternalTrainer {
            let script = try directory.write(
                "hook-\(scores.count).py",
                "from cohort_trainer import Round\nRound().write_scores(\(scores), probabilities=True)\n")
            return ExternalTrainer(
                command: "PYTHONPATH='\(python)' python3 '\(script)'", workDirectory: directory.file("work"),
                evaluates: true)
        }
        let holdout = EncodedDataset(featureNames: ["x"], features: [1, 2, 3], labels: [0, 1, 1])
        let layout = try ModelLayout.logisticRegression(featureCount: 1)
        var good = try trainer("[0.5, 0.880797, 0.119203]")
        try good.prepare(data: holdout, holdout: holdout)
        let logits = try await good.evaluate(round: 1, candidate: [0, 0], layout: layout, holdoutCount: 3)
        #expect(abs(logits[0]) < 1e-6 && abs(logits[1] - 2) < 1e-5 && abs(logits[2] + 2) < 1e-5, "\(logits)")
        let bad = try trainer("[0.5, 1.25, 0.1]")
        do {
            _ = try await bad.evaluate(round: 1, candidate: [0, 0], layout: layout, holdoutCount: 3)
            Issue.record("probability 1.25 was accepted")
        } catch let error as ParticipantError {
            #expect(error.code == "participant.trainer_failed", "\(error.message)")
        }
    }

    @Test(arguments: [
        ([Float(0.2), 1.5, 0.3], "probabilities", "record 1 scores 1.5, outside [0, 1]"),
        ([Float(0.2), -0.01, 0.3], "probabilities", "outside [0, 1]"),
        ([Float(0.2), .nan, 0.3], "logits", "NaN or infinity at record 1"),
        ([Float(0.2), 0.4, .infinity], nil, "NaN or infinity at record 2"),
        ([Float(0.2), 0.4, 0.3], "percent", "cohort.scores = 'percent'"),
        ([Float(0.2), 0.4], nil, "without a tensor `scores` of shape [3]"),
    ])
    func badScoresAreRefusedNamingTheTrainer(values: [Float], kind: String?, expected: String) async throws {
        do {
            _ = try await Self.evaluate(values, kind: kind)
            Issue.record("scores \(values) (\(kind ?? "no kind")) were accepted")
        } catch let error as ParticipantError {
            #expect(error.code == "participant.trainer_output")
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(error.message.contains("the trainer `cp '"), "\(error.message)")
        }
    }
}

/// The holdout is handed to an external trainer only for its evaluate run (docs/TRAINER.md):
/// it is not in the work directory after start-up or during training, and is removed after.
@Suite struct TrainerHoldoutFileTests {
    @Test func holdoutExistsOnlyDuringEvaluate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let work = directory.file("work")
        let data = EncodedDataset(featureNames: ["a", "b", "c"], features: [0, 1, 2, 3, 4, 5], labels: [0, 1])
        let holdout = EncodedDataset(featureNames: ["a", "b", "c"], features: [6, 7, 8], labels: [1])
        // Exit 0 (writing no scores) only when the holdout is there; 9 otherwise.
        var trainer = ExternalTrainer(
            command: #"test -e "$COHORT_HOLDOUT" || exit 9"#, workDirectory: work, evaluates: true)
        try trainer.prepare(data: data, holdout: holdout)
        #expect(FileManager.default.fileExists(atPath: work + "/data.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: trainer.holdoutPath), "the holdout was written at start-up")
        do {
            _ = try await trainer.evaluate(
                round: 1, candidate: [Float](repeating: 0, count: TrainerContractTests.layout.parameterCount),
                layout: TrainerContractTests.layout, holdoutCount: 1)
            Issue.record("an evaluate run that wrote no scores was accepted")
        } catch let error as ParticipantError {
            // trainer_output (no scores), not trainer_failed: the command saw the holdout.
            #expect(error.code == "participant.trainer_output", "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: trainer.holdoutPath), "the holdout outlived the evaluate run")
    }
}
