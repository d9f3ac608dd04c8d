import CohortModel
import CohortStorage
import CohortTransport
import Foundation

/// Runs a consortium member's own trainer (PyTorch, scikit-learn, …) as a child process that
/// exchanges safetensors files, so a team can take part without writing Swift.
///
/// Per round, in a private working directory (mode 0700):
/// - `data.safetensors`: `features` [n, d−1] and `labels` [n] (float32), already validated and
///   encoded by the consortium schema; written once per session.
/// - `global.safetensors`: `parameters` [d], the global model (weights, then bias).
/// - `parameters.json`: the round's `TrainingParameters` plus `round`.
/// The command runs through `/bin/sh -c` with `COHORT_DATA`, `COHORT_GLOBAL_MODEL`,
/// `COHORT_PARAMETERS` and `COHORT_OUTPUT` set, and must write `update.safetensors` with one
/// tensor `update` [d]: the sum of per-record gradients each clipped to C over a Poisson sample
/// with rate q (record unit), or the model delta (participant unit). The participant checks its
/// shape and finiteness before sealing it; the records never leave this machine.
public struct ExternalTrainer: Sendable {
    /// The shell command line.
    public let command: String
    /// The working directory for the exchange files.
    public let workDirectory: String

    public init(command: String, workDirectory: String) {
        self.command = command
        self.workDirectory = workDirectory
    }

    /// Writes the encoded local data for the trainer.
    public func prepare(data: EncodedDataset) throws {
        try DurableFile.createDirectory(workDirectory, mode: 0o700)
        let file = SafetensorsFile(tensors: [
            ("features", try Tensor(shape: [data.count, data.dimension], values: data.features)),
            ("labels", try Tensor(shape: [data.count], values: data.labels)),
        ], metadata: ["format": "cohort-trainer-data-v1"])
        try file.write(path: workDirectory + "/data.safetensors")
    }

    /// Runs the trainer for one round and returns its update.
    public func train(round: UInt64, globalModel: [Float], parameters: TrainingParameters) async throws -> [Float] {
        let globalPath = workDirectory + "/global.safetensors"
        let parametersPath = workDirectory + "/parameters.json"
        let outputPath = workDirectory + "/update.safetensors"
        try? FileManager.default.removeItem(atPath: outputPath)
        try SafetensorsFile(tensors: [("parameters", Tensor(vector: globalModel))]).write(path: globalPath)
        var json = try JSONSerialization.jsonObject(with: Data(parameters.encoded())) as? [String: Any] ?? [:]
        json["round"] = round
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: URL(fileURLWithPath: parametersPath))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["COHORT_DATA"] = workDirectory + "/data.safetensors"
        environment["COHORT_GLOBAL_MODEL"] = globalPath
        environment["COHORT_PARAMETERS"] = parametersPath
        environment["COHORT_OUTPUT"] = outputPath
        process.environment = environment
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        guard status == 0 else {
            throw ParticipantError(code: "participant.trainer_failed",
                message: "the trainer command exited with status \(status) in round \(round); run it by hand with the COHORT_* files in \(workDirectory) to see why")
        }
        let output: SafetensorsFile
        do {
            output = try SafetensorsFile.read(path: outputPath)
        } catch {
            throw ParticipantError(code: "participant.trainer_output",
                message: "the trainer did not write a readable \(outputPath): \(error); it must write one float32 tensor `update`")
        }
        guard let update = output.tensor(named: "update"), update.values.count == globalModel.count else {
            throw ParticipantError(code: "participant.trainer_output",
                message: "\(outputPath) must hold a tensor `update` with \(globalModel.count) values (the model's size)")
        }
        guard update.values.allSatisfy(\.isFinite) else {
            throw ParticipantError(code: "participant.trainer_output", message: "the trainer's update contains NaN or infinite values; nothing was sent")
        }
        return update.values
    }
}
