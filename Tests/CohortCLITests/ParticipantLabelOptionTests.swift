import Foundation
import Testing

/// `cohort-participant --label NAME` guards against training on the wrong column: a label that is
/// not the schema's label column stops the run before anything is read, written or sent.
@Suite struct ParticipantLabelOptionTests {
    @Test func labelThatIsNotTheSchemasLabelColumnIsRefused() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-label-option-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: work + "/silo", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let key = work + "/silo.holdout.key"
        let arguments = [
            "--coordinator", "127.0.0.1:1", "--identity", work + "/silo", "--data",
            root + "/Data/breast_cancer_wdbc.csv", "--schema", root + "/Data/schemas/wdbc.json",
            "--holdout-key", key, "--label", "radius_mean",
        ]
        let refused = try BuiltBinary("cohort-participant").run(arguments)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("[participant.label_mismatch]"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--label radius_mean does not match the schema's label column `diagnosis`"))
        #expect(refused.stderr.contains("use the consortium's schema"))
        // Refused before the data step: no holdout key was made, nothing else was written.
        #expect(!FileManager.default.fileExists(atPath: key))
        #expect(try FileManager.default.contentsOfDirectory(atPath: work + "/silo").isEmpty)
    }
}
