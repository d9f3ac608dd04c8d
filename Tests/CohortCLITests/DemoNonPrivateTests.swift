import Foundation
import Testing

/// `cohort demo --non-private`: the federated baseline without clipping or noise runs, says on
/// every channel that it is not private, and writes no policy, coordinator state or ledger.
@Suite struct DemoNonPrivateTests {
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    @Test func runsTheBaselineAndSaysItIsNotPrivate() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-non-private-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let result = try BuiltBinary("cohort").run([
            "demo", "--dataset", "wdbc", "--non-private", "--json", "--workdir", work, "--data-directory",
            Self.repositoryRoot + "/Data",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("NOT PRIVATE"))
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["private"] as? Bool == false)
        #expect((summary["warning"] as? String)?.hasPrefix("NOT PRIVATE") == true)
        #expect(summary["rounds"] as? Int == 50)
        #expect(summary["sampling_rate"] as? Double == 0.2)
        // 455 demo training records over three silos, each keeping about a fifth as its holdout.
        let trainingRecords = try #require(summary["training_records"] as? Int)
        #expect(trainingRecords > 300 && trainingRecords < 430, "\(trainingRecords)")
        let federated = try #require(summary["federated"] as? [String: Any])
        let accuracy = try #require(federated["accuracy"] as? Double)
        #expect(accuracy > 0.9, "non-private federated accuracy \(accuracy)")
        #expect(summary["centralised_reference"] is [String: Any])
        // The silos' holdout keys were made as the participant makes them; nothing of the DP run was.
        for silo in ["hospital-a", "hospital-b", "hospital-c"] {
            let key = "\(work)/\(silo)/\(silo).holdout.key"
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int)
            #expect(mode & 0o777 == 0o600)
        }
        for absent in ["policy.yaml", "state", "coordinator.log"] {
            #expect(!FileManager.default.fileExists(atPath: work + "/" + absent), "\(absent) should not exist")
        }
        // Human output says it too.
        let plain = try BuiltBinary("cohort").run([
            "demo", "--dataset", "wdbc", "--non-private", "--workdir", work, "--data-directory",
            Self.repositoryRoot + "/Data",
        ])
        #expect(plain.status == 0)
        #expect(plain.stdout.components(separatedBy: "NOT PRIVATE").count >= 4)
    }
}
