import Foundation
import Testing

/// `cohort-participant --holdout-key PATH`: the key is created there (0600) with a log line that
/// names the file and not the key, reused on the next run, and refused when others can read it.
@Suite struct ParticipantHoldoutKeyOptionTests {
    @Test func holdoutKeyOptionCreatesReusesAndRefuses() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-holdout-option-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: work + "/silo", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let key = work + "/keys/silo.holdout.key"
        try FileManager.default.createDirectory(atPath: work + "/keys", withIntermediateDirectories: true)
        let arguments = [
            "--coordinator", "127.0.0.1:1", "--identity", work + "/silo", "--data",
            root + "/Data/breast_cancer_wdbc.csv",
            "--schema", root + "/Data/schemas/wdbc.json", "--holdout-key", key,
        ]
        let participant = try BuiltBinary("cohort-participant")
        // No identity files: the run stops after the data step, with the key made.
        let first = try participant.run(arguments)
        #expect(first.status != 0)
        #expect(first.stderr.contains("created a new holdout key"))
        #expect(first.stderr.contains(key))
        let line = try String(contentsOfFile: key, encoding: .utf8)
        let secret = String(line.split(separator: " ")[3].dropLast())
        #expect(!first.stderr.contains(secret))
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int)
        #expect(mode & 0o777 == 0o600)
        #expect(
            !FileManager.default.fileExists(atPath: work + "/silo/silo.holdout.key"),
            "the option replaces the default path")

        let second = try participant.run(arguments)
        #expect(!second.stderr.contains("created a new holdout key"))
        #expect(try String(contentsOfFile: key, encoding: .utf8) == line)

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        let refused = try participant.run(arguments)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("[crypto.key_permissions]"))
        #expect(refused.stderr.contains("holdout key"))
        #expect(refused.stderr.contains(key))
        #expect(refused.stderr.contains("chmod 600"))
        #expect(!refused.stderr.contains(secret))
        #expect(try String(contentsOfFile: key, encoding: .utf8) == line)
    }
}
