import CohortModel
import CohortStorage
import CohortTransport
import Foundation

/// Runs a consortium member's own trainer (PyTorch, numpy, …) as a child process that exchanges
/// safetensors files, so a team can take part without writing Swift. The contract is versioned;
/// docs/TRAINER.md specifies it (this is a summary).
///
/// Contract 2, per round, in a private working directory (mode 0700):
/// - `data.safetensors`: `features` [n, F] and `labels` [n] (float32), the training split,
///   validated and encoded by the consortium schema; written once per session.
///   `holdout.safetensors` (same tensors) holds the local holdout, written only for an
///   `evaluate` run and removed when it ends: training never sees it.
/// - `model.safetensors`: the global model as the policy's named tensors and shapes
///   (metadata `cohort.contract` = `2`).
/// - `parameters.json`: the round's `TrainingParameters` (including `model`, the architecture with
///   its tensor list), plus `round` and `contract`.
/// The command runs through `/bin/sh -c` (it is the participant operator's own command line,
/// never text from a peer) with `COHORT_CONTRACT=2`, `COHORT_TASK` (`train` or `evaluate`),
/// `COHORT_DATA`, `COHORT_MODEL`, `COHORT_PARAMETERS`, `COHORT_OUTPUT` (and `COHORT_HOLDOUT` for
/// `evaluate`). Training writes `COHORT_OUTPUT` with the model's tensors — the sum of per-record
/// clipped gradients over its Poisson sample (record unit) with metadata `cohort.batch_size`, or
/// the model delta (participant unit). Evaluation writes one tensor `scores` [n_holdout]: the
/// logit of each holdout record (any finite number), or — with metadata `cohort.scores` =
/// `probabilities` — the probability of the positive class (each in [0, 1]). Names and shapes are
/// checked, naming the tensor.
///
/// Contract 1 (one tensor `update` [d] read from `COHORT_GLOBAL_MODEL`'s `parameters` [d]) is
/// still accepted for logistic regression, the only model it was defined for; `global.safetensors`
/// is written for it. For any other model a v1 answer is refused with how to migrate.
public struct ExternalTrainer: Sendable {
    /// The contract version this participant speaks.
    public static let contractVersion = 2
    /// The shell command line.
    public let command: String
    /// The working directory for the exchange files.
    public let workDirectory: String
    /// Whether the trainer implements the evaluate hook (`COHORT_TASK=evaluate`).
    public let evaluates: Bool
    /// The local holdout, kept in memory and handed over only for an evaluate run.
    private var holdout: EncodedDataset?

    public init(command: String, workDirectory: String, evaluates: Bool = false) {
        self.command = command
        self.workDirectory = workDirectory
        self.evaluates = evaluates
    }

    /// What a training run returned, checked against the layout.
    public struct Output: Sendable, Equatable {
        /// The flat update (layout order).
        public var values: [Float]
        /// The realised Poisson batch size the trainer reports (record unit, contract 2).
        public var batchSize: Int?
        /// The contract the answer followed (1 or 2).
        public var contract: Int
    }

    /// Writes the encoded local data for the trainer and keeps the holdout (when it evaluates)
    /// for `evaluate`, which alone writes it to the work directory (docs/TRAINER.md).
    public mutating func prepare(data: EncodedDataset, holdout: EncodedDataset? = nil) throws {
        try DurableFile.createDirectory(workDirectory, mode: 0o700)
        try Self.dataFile(data).write(path: workDirectory + "/data.safetensors")
        self.holdout = evaluates ? holdout : nil
    }

    /// Where an evaluate run finds the holdout.
    var holdoutPath: String { workDirectory + "/holdout.safetensors" }

    static func dataFile(_ data: EncodedDataset) throws -> SafetensorsFile {
        SafetensorsFile(
            tensors: [
                ("features", try Tensor(shape: [data.count, data.dimension], values: data.features)),
                ("labels", try Tensor(shape: [data.count], values: data.labels)),
            ], metadata: ["format": "cohort-trainer-data-v1"])
    }

    /// Runs the trainer for one round and returns its checked update.
    /// - Throws: `participant.trainer_failed` (non-zero exit), `participant.trainer_output`
    ///   (unreadable file, missing/extra/misshapen tensor — named —, non-finite values, a missing
    ///   or invalid `cohort.batch_size`), `participant.trainer_contract` (a v1 answer for a model
    ///   contract 1 cannot describe).
    public func train(
        round: UInt64, globalModel: [Float], layout: ModelLayout, architecture: ModelArchitecture,
        parameters: TrainingParameters
    ) async throws -> Output {
        let outputPath = workDirectory + "/update.safetensors"
        let modelPath = workDirectory + "/model.safetensors"
        try layout.safetensors(globalModel, metadata: ["cohort.contract": String(Self.contractVersion)]).write(
            path: modelPath)
        // Contract 1's input, for logistic-regression trainers not yet migrated.
        let globalPath = workDirectory + "/global.safetensors"
        try SafetensorsFile(tensors: [("parameters", Tensor(vector: globalModel))]).write(path: globalPath)
        let parametersPath = workDirectory + "/parameters.json"
        var json = try JSONSerialization.jsonObject(with: Data(parameters.encoded())) as? [String: Any] ?? [:]
        json["round"] = round
        json["contract"] = Self.contractVersion
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(
            to: URL(fileURLWithPath: parametersPath))
        try await run(
            task: "train", round: round, output: outputPath,
            extra: [
                "COHORT_MODEL": modelPath, "COHORT_GLOBAL_MODEL": globalPath, "COHORT_PARAMETERS": parametersPath,
            ])
        let output: SafetensorsFile
        do {
            output = try SafetensorsFile.read(path: outputPath)
        } catch {
            throw ParticipantError(
                code: "participant.trainer_output",
                message:
                    "the trainer did not write a readable \(outputPath): \(error); it must write the model's "
                    + "tensors (docs/TRAINER.md)"
            )
        }
        return try Self.check(
            output: output, layout: layout, architecture: architecture, unit: parameters.unit, path: outputPath)
    }

    /// Checks a training answer: contract 2 tensors by name and shape, or a contract 1 `update`
    /// for logistic regression; finite values; the batch size (record unit, contract 2).
    static func check(
        output: SafetensorsFile, layout: ModelLayout, architecture: ModelArchitecture, unit: String, path: String
    ) throws -> Output {
        let isVersion1 =
            output.tensors.count == 1 && output.tensors[0].name == "update" && layout.range(of: "update") == nil
        if isVersion1 {
            guard architecture == .logisticRegression else {
                let tensors = layout.tensors.map { "`\($0.name)` \($0.shape)" }.joined(separator: ", ")
                throw ParticipantError(
                    code: "participant.trainer_contract",
                    message:
                        "the trainer wrote one tensor `update` (trainer contract 1, logistic regression only); "
                        + "the policy's model is \(architecture.kind) with tensors \(tensors). "
                        + "Migrate to contract 2 (docs/TRAINER.md, \"Migrating from contract 1\"): read "
                        + "COHORT_MODEL and write those tensors"
                        + (unit == "record" ? " with metadata cohort.batch_size" : ""))
            }
            let values = output.tensors[0].tensor.values
            guard values.count == layout.parameterCount else {
                throw ParticipantError(
                    code: "participant.trainer_output",
                    message:
                        "\(path) must hold a tensor `update` with \(layout.parameterCount) values (the model's size)")
            }
            guard values.allSatisfy(\.isFinite) else {
                throw ParticipantError(
                    code: "participant.trainer_output",
                    message: "the trainer's update contains NaN or infinite values; nothing was sent")
            }
            return Output(values: values, batchSize: nil, contract: 1)
        }
        let values: [Float]
        do {
            values = try layout.flatten(output, source: "the trainer's \(path)")
        } catch {
            throw ParticipantError(code: "participant.trainer_output", message: "\(error.message); nothing was sent")
        }
        var batchSize: Int?
        if unit == "record" {
            guard let text = output.metadata["cohort.batch_size"], let size = Int(text), size >= 0 else {
                throw ParticipantError(
                    code: "participant.trainer_output",
                    message:
                        "\(path) needs metadata cohort.batch_size: the number of records the trainer's Poisson "
                        + "sample took "
                        + "this round (a whole number ≥ 0, as a string); nothing was sent")
            }
            batchSize = size
        }
        return Output(values: values, batchSize: batchSize, contract: 2)
    }

    /// The values `cohort.scores` may take in an evaluate hook's answer (absent means `logits`).
    public static let scoreKinds = ["logits", "probabilities"]

    /// The command as errors name it (the participant operator's own command line), shortened.
    var trainerName: String {
        let short = command.count > 80 ? String(command.prefix(77)) + "..." : command
        return "the trainer `\(short)`"
    }

    /// The evaluate hook: the trainer scores every holdout record with `candidate`; returns one
    /// logit per holdout record. Scores are logits unless the file's metadata `cohort.scores` is
    /// `probabilities`; a probability p is turned into the logit ln(p / (1 − p)) after clamping p
    /// to [ε, 1 − ε] with ε = 1e-15 (`BinaryMetrics.logLossEpsilon`, the clamp the holdout loss uses).
    /// - Throws: `participant.trainer_failed`, or `participant.trainer_output` naming the trainer
    ///   when `scores` is missing, not [holdoutCount], not finite, or — for probabilities — outside
    ///   [0, 1], or when `cohort.scores` is neither `logits` nor `probabilities`.
    public func evaluate(
        round: UInt64, candidate: [Float], layout: ModelLayout, holdoutCount: Int
    ) async throws
        -> [Double]
    {
        let modelPath = workDirectory + "/candidate.safetensors"
        let outputPath = workDirectory + "/scores.safetensors"
        try layout.safetensors(candidate, metadata: ["cohort.contract": String(Self.contractVersion)]).write(
            path: modelPath)
        // The holdout exists in the work directory for this run only.
        if let holdout { try Self.dataFile(holdout).write(path: holdoutPath) }
        defer { try? FileManager.default.removeItem(atPath: holdoutPath) }
        try await run(
            task: "evaluate", round: round, output: outputPath,
            extra: ["COHORT_MODEL": modelPath, "COHORT_HOLDOUT": holdoutPath])
        let output: SafetensorsFile
        do {
            output = try SafetensorsFile.read(path: outputPath)
        } catch {
            throw ParticipantError(
                code: "participant.trainer_output",
                message:
                    "the trainer's evaluate hook did not write a readable \(outputPath): \(error); it must "
                    + "write a tensor `scores`"
            )
        }
        guard let scores = output.tensor(named: "scores"), scores.shape == [holdoutCount] else {
            throw ParticipantError(
                code: "participant.trainer_output",
                message:
                    "\(trainerName) wrote \(outputPath) without a tensor `scores` of shape [\(holdoutCount)]: it must "
                    + "hold one logit (or probability) per holdout record"
            )
        }
        return try Self.logits(
            scores: scores.values, kind: output.metadata["cohort.scores"], trainer: trainerName, path: outputPath)
    }

    /// Checks an evaluate hook's `scores` for its declared `kind` (nil: logits) and returns logits.
    static func logits(scores: [Float], kind: String?, trainer: String, path: String) throws -> [Double] {
        func refuse(_ problem: String) -> ParticipantError {
            ParticipantError(
                code: "participant.trainer_output",
                message: "\(trainer) wrote evaluation scores (\(path)) \(problem); nothing was evaluated or sent")
        }
        let kind = kind ?? "logits"
        guard scoreKinds.contains(kind) else {
            throw refuse(
                "with metadata cohort.scores = '\(kind.prefix(40))'; it must be 'logits' (the default) or "
                    + "'probabilities'")
        }
        if let index = scores.firstIndex(where: { !$0.isFinite }) {
            let unit = kind == "logits" ? "logit" : "probability"
            throw refuse("holding NaN or infinity at record \(index); write one finite \(unit) per record")
        }
        guard kind == "probabilities" else { return scores.map(Double.init) }
        if let index = scores.firstIndex(where: { !(0...1).contains($0) }) {
            throw refuse(
                "declared as probabilities but record \(index) scores \(scores[index]), outside [0, 1]; write "
                    + "sigmoid outputs, or logits without cohort.scores = 'probabilities'")
        }
        let epsilon = BinaryMetrics.logLossEpsilon
        return scores.map { value in
            let p = min(max(Double(value), epsilon), 1 - epsilon)
            return log(p) - log1p(-p)
        }
    }

    /// Runs the command once for `task`, with the exchange files in the environment.
    private func run(task: String, round: UInt64, output: String, extra: [String: String]) async throws {
        try? FileManager.default.removeItem(atPath: output)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["COHORT_CONTRACT"] = String(Self.contractVersion)
        environment["COHORT_TASK"] = task
        environment["COHORT_DATA"] = workDirectory + "/data.safetensors"
        environment["COHORT_OUTPUT"] = output
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        guard status == 0 else {
            throw ParticipantError(
                code: "participant.trainer_failed",
                message: "the trainer command (task \(task)) exited with status \(status) in round \(round); "
                    + "run it by hand with the COHORT_* files in \(workDirectory) to see why")
        }
    }
}
