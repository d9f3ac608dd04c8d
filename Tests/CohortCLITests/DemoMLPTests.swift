import CohortLedger
import Foundation
import Testing

/// `cohort demo --model mlp`: a real DP run of the built-in MLP (processes, mutual TLS, ledger)
/// with no Python; the policy names the MLP and its seed, the ledger's d is the MLP's.
@Suite struct DemoMLPTests {
    @Test func mlpDemoRunsAndItsLedgerVerifies() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-demo-mlp-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let result = try BuiltBinary("cohort").run([
            "demo", "--dataset", "wdbc", "--model", "mlp", "--init-seed", "4", "--json", "--workdir", work,
            "--data-directory", DemoNonPrivateTests.repositoryRoot + "/Data",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["model"] as? String == "mlp")
        #expect(summary["parameters"] as? Int == 513)
        #expect(summary["ledger_verified"] as? Bool == true)
        let epsilon = try #require(summary["epsilon"] as? Double)
        #expect(epsilon > 2.9 && epsilon <= 3)
        // A floor far below the measured mean (0.956, docs/MODEL.md) so noise cannot flake it,
        // far above what a model that did not learn reaches (0.63 predicting the majority class).
        let accuracy = try #require((summary["federated"] as? [String: Any])?["accuracy"] as? Double)
        #expect(accuracy > 0.85, "DP MLP accuracy \(accuracy)")
        let policy = try String(contentsOfFile: work + "/policy.yaml", encoding: .utf8)
        #expect(policy.contains("kind: mlp") && policy.contains("hidden: [16]") && policy.contains("seed: 4"))
        let ledger = try String(contentsOfFile: work + "/state/ledger.jsonl", encoding: .utf8)
        #expect(ledger.contains("\"dimension\":513"))

        // The MLP's holdout log-loss is in the evaluation store (read as the verifier reads it)
        // and the report plots it: an inline SVG loss series with a point per evaluated round.
        let store = try EvaluationStore.read(path: work + "/state/evaluations.jsonl")
        let losses = store.compactMap { $0.record.metrics["loss"] }
        #expect(losses.count >= 2 && losses.count == store.count, "\(store.map(\.record.metrics))")
        // Below the loss of a constant 0.5 prediction (ln 2): the MLP learned.
        #expect(try #require(losses.last) < log(2.0), "\(losses)")
        let html = work + "/report.html"
        let report = try BuiltBinary("cohort").run([
            "ledger", "report", "--ledger", work + "/state/ledger.jsonl", "--html", html,
        ])
        #expect(report.status == 0, "\(report.stderr)")
        let plots = DemoRunToolsTests.plots(try String(contentsOfFile: html, encoding: .utf8))
        #expect(plots.count >= 2, "\(plots.keys)")
        let lossPlot = try #require(plots["holdout-loss"])
        let lossPoints = try #require(DemoRunToolsTests.points(lossPlot, series: "loss"))
        #expect(lossPoints >= 2 && lossPoints == losses.count)
    }

    @Test func nonPrivateBaselineTrainsTheMLPToo() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-demo-mlp-np-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let result = try BuiltBinary("cohort").run([
            "demo", "--dataset", "wdbc", "--model", "mlp", "--non-private", "--json", "--workdir", work,
            "--data-directory", DemoNonPrivateTests.repositoryRoot + "/Data",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("NOT PRIVATE"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["model"] as? String == "mlp")
        #expect(summary["private"] as? Bool == false)
        let accuracy = try #require((summary["federated"] as? [String: Any])?["accuracy"] as? Double)
        #expect(accuracy > 0.9, "non-private federated MLP accuracy \(accuracy)")
    }
}
