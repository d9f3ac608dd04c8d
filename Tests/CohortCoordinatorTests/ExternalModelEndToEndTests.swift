import CohortCrypto
import CohortLedger
import CohortModel
import CohortParticipant
import CohortTesting
import Foundation
import Testing

/// An external model end to end: the policy declares four named tensors of different shapes and
/// an initial model; every silo trains with the numpy MLP trainer of `python/` (trainer contract
/// 2) and scores its holdout with the trainer's evaluate hook. The ledger records the MLP's d and
/// the initial model's digest, and the evaluation gate reads the MLP's accuracy.
///
/// Needs python3 with numpy and safetensors, which Scripts/test.sh installs: without them this
/// test FAILS naming what is missing (never a silent skip). The same run with the PyTorch trainer
/// (`python/examples/torch_trainer.py`) runs when python3 imports torch and is reported NOT RUN
/// otherwise, as `PythonMLPAgreementTests` does (COHORT_REQUIRE_TORCH=1 makes its absence fail).
@Suite struct ExternalModelEndToEndTests {
    static let python = ConsortiumFiles.repositoryRoot + "/python"

    /// `nil` when python3 imports numpy and safetensors, else what is missing.
    static func missingPython() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy, safetensors"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "python3 is not installed" }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : "python3 cannot import numpy and safetensors"
    }

    @Test func numpyMLPTrainerWithEvaluateHook() async throws {
        if let missing = Self.missingPython() {
            Issue.record("\(missing): run Scripts/test.sh (it installs them) or `pip install ./python`")
            return
        }
        // Each evaluation starts python3 with numpy; under CI's parallel load that can take longer
        // than the default 10 s window. A round ends when every silo answered, so the wider window
        // costs nothing when the machine is quiet.
        try await runRound(script: "numpy_mlp_trainer.py", deadlineSeconds: 120, evaluationTimeoutSeconds: 120)
    }

    @Test(
        .enabled(
            if: PythonMLPAgreementTests.torchAvailable || PythonMLPAgreementTests.torchRequired,
            "NOT RUN: python package `torch` missing (pip install './python[torch]'); COHORT_REQUIRE_TORCH=1 fails"
        ))
    func torchMLPTrainerWithEvaluateHook() async throws {
        guard PythonMLPAgreementTests.torchAvailable else {
            Issue.record("COHORT_REQUIRE_TORCH=1 but python3 cannot import `torch` (with numpy and safetensors)")
            return
        }
        // `import torch` alone takes seconds; three silos start it at once on a loaded machine, to
        // train and again to evaluate (the default 10 s evaluation window is too short for that).
        try await runRound(script: "torch_trainer.py", deadlineSeconds: 180, evaluationTimeoutSeconds: 180)
    }

    /// One DP round of the external MLP, every silo training and evaluating with `script`.
    /// A consortium whose policy declares the four-tensor external MLP, started from a seeded
    /// initial model the example script writes into `work`; returns it and the model's path.
    static func externalMLPConsortium(
        work: String, deadlineSeconds: Double, evaluationTimeoutSeconds: Double? = nil
    ) async throws -> (consortium: Consortium, initialModel: String) {
        // A seeded start (an all-zero MLP has zero hidden gradients), written by the example script.
        let initial = work + "/initial.safetensors"
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        make.arguments = ["python3", Self.python + "/examples/make_initial_model.py", initial, "30", "4", "3"]
        try make.run()
        make.waitUntilExit()
        #expect(make.terminationStatus == 0)
        let modelYAML = """
            kind: external
            initial_model: \(initial)
            tensors:
              - {name: layers.0.weight, shape: [4, 30]}
              - {name: layers.0.bias, shape: [4]}
              - {name: layers.1.weight, shape: [1, 4]}
              - {name: layers.1.bias, shape: [1]}
            """
        let consortium = try await Consortium(
            deadlineSeconds: deadlineSeconds, modelYAML: modelYAML, evaluationTimeoutSeconds: evaluationTimeoutSeconds)
        return (consortium, initial)
    }

    /// An evaluate hook that fails costs that evaluation only: the participants keep training in
    /// the next round instead of stopping.
    @Test func failingEvaluateHookCostsTheEvaluationNotTheParticipant() async throws {
        if let missing = Self.missingPython() {
            Issue.record("\(missing)")
            return
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-ext-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        // Each silo starts python3 with numpy to train; the round ends when all three answered, so
        // a wide window costs nothing on a quiet machine and keeps CI's parallel load from cutting
        // a silo out.
        let (consortium, _) = try await Self.externalMLPConsortium(work: work, deadlineSeconds: 120)
        let command =
            #"if [ "$COHORT_TASK" = evaluate ]; then echo "no scores today" >&2; exit 7; fi; "#
            + "PYTHONPATH='\(Self.python)' python3 '\(Self.python)/examples/numpy_mlp_trainer.py'"
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        let tasks = names.map { name in
            Task { try await consortium.participant(name, trainer: command, trainerEvaluates: true).run() }
        }
        try await consortium.waitForConnected(3)
        for expectedRound in 1...2 {
            let outcome = try await consortium.coordinator.runRound()
            guard case .closed(let round, let contributors, _, _) = outcome else {
                Issue.record(
                    "round \(expectedRound) did not close: \(outcome)\n\(consortium.capture.text.suffix(3000))")
                break
            }
            #expect(round == expectedRound)
            #expect(Set(contributors) == Set(names), "round \(round): \(contributors)")
        }
        #expect(consortium.capture.text.contains("the evaluate hook failed; this candidate is not evaluated here"))
        await consortium.shutdown()
        for task in tasks { _ = try? await task.value }
    }

    func runRound(script: String, deadlineSeconds: Double = 20, evaluationTimeoutSeconds: Double? = nil) async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-ext-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (consortium, initial) = try await Self.externalMLPConsortium(
            work: work, deadlineSeconds: deadlineSeconds, evaluationTimeoutSeconds: evaluationTimeoutSeconds)
        let command = "PYTHONPATH='\(Self.python)' python3 '\(Self.python)/examples/\(script)'"
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        let tasks = names.map { name in
            Task { try await consortium.participant(name, trainer: command, trainerEvaluates: true).run() }
        }
        try await consortium.waitForConnected(3)
        let outcome = try await consortium.coordinator.runRound()
        guard case .closed(let round, let contributors, _, _) = outcome else {
            Issue.record("round did not close: \(outcome)\n\(consortium.capture.text.suffix(3000))")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == Set(names))
        let entries = try consortium.ledgerEntries()
        // d is the sum of the four tensors: 120 + 4 + 4 + 1 (a logistic regression would have 31).
        let opened = try #require(entries.first { $0.kind == "round.opened" })
        #expect(try RoundOpenedPayload(data: opened.data).plan?.dimension == 129)
        let genesis = try GenesisPayload(data: try #require(entries.first).data)
        #expect(
            genesis.initialModelSHA256 == SHA256.hexDigest(try Array(Data(contentsOf: URL(fileURLWithPath: initial)))))

        // The gate's accuracy is the MLP's on the participants' holdouts: recompute it in Swift
        // from the released checkpoint, read with the policy's tensor names as a tanh MLP.
        let checkpoint = try ModelCheckpoint(
            safetensors: SafetensorsFile.read(
                path: consortium.stateDirectory + "/checkpoints/round-\(String(format: "%06d", round)).safetensors"))
        #expect(
            checkpoint.layout?.tensors.map(\.name) == [
                "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
            ])
        let mlp = try BuiltInModel(
            architecture: .mlp(hidden: [4], activation: .tanh, seed: 0), featureCount: 30,
            parameters: checkpoint.model.parameters)
        var merged = MetricsAccumulator()
        for name in names {
            let identity = consortium.identity(name)
            let holdout = try Participant.loadLocalData(
                configuration: ParticipantConfiguration(
                    host: "127.0.0.1", port: consortium.port, identity: identity,
                    dataPath: identity.directory + "/data.csv",
                    schemaPath: consortium.schemaPath),
                logger: consortium.capture.logger("test")
            ).holdout
            try merged.merge(try mlp.accumulator(holdout))
        }
        // The evaluation gate read the aggregate the coordinator keeps in its evaluation store
        // (the ledger holds only its commitment): it is the MLP's accuracy, not an LR reading.
        let stored = try EvaluationStore.read(path: EvaluationStore.path(stateDirectory: consortium.stateDirectory))
        let evaluation = try #require(stored.first { $0.record.round == 1 })
        let gateAccuracy = try #require(evaluation.record.metrics["accuracy"])
        #expect(
            abs(gateAccuracy - merged.metrics().accuracy) < 1e-9,
            "gate \(gateAccuracy), MLP \(merged.metrics().accuracy)")
        // The holdout loss, from the hook's scores: the MLP's, weighted over the three holdouts
        // (float32 scores against Swift's double logits: equal to 1e-5).
        let loss = try #require(evaluation.record.metrics["loss"])
        #expect(abs(loss - merged.metrics().logLoss) < 1e-5, "store \(loss), MLP \(merged.metrics().logLoss)")
        #expect(evaluation.record.participants == 3)
        let recorded = try #require(entries.first { $0.kind == "evaluation.recorded" })
        #expect(recorded.data["evaluation_sha256"]?.stringValue == evaluation.sha256)
        let verified = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey())
        #expect(verified.state.lastClosedRound == 1)
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }
}
