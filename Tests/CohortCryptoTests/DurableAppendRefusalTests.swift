import CohortStorage
import CohortTesting
import Foundation
import Testing

/// The append-only stores (evaluations, participant samples, gate inputs) refuse to write where
/// they must not, each with its own code naming the path, and leave the store as it was.
@Suite struct DurableAppendRefusalTests {
    /// A private store whose mode was widened (0644) is not appended to: `storage.permissions`,
    /// with the chmod that restores it; its bytes and mode are left for the operator to inspect.
    @Test func storeWithWidenedPermissionsIsNotAppendedTo() throws {
        let directory = try TemporaryDirectory(prefix: "append")
        let path = directory.file("evaluations.jsonl")
        try DurableFile.appendLine(Array(#"{"round":1}"#.utf8), to: path, mode: 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            try DurableFile.appendLine(Array(#"{"round":2}"#.utf8), to: path, mode: 0o600)
            Issue.record("a line was appended to a store others can read")
        } catch {
            #expect(error.code == "storage.permissions")
            #expect(
                error.message
                    == "\(path) has mode 644, not 600; restore it (chmod 600) before the coordinator appends to it")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o644)
    }

    /// A store in a directory that does not exist: `storage.not_found`; where a directory
    /// stands in for the store: `storage.io` with the system's reason. Nothing is created.
    @Test func missingDirectoryAndDirectoryInPlaceOfTheStoreAreRefused() throws {
        let directory = try TemporaryDirectory(prefix: "append")
        let missing = directory.file("gone/samples.jsonl")
        do {
            try DurableFile.appendLine(Array("x".utf8), to: missing, mode: 0o600)
            Issue.record("appended into a directory that does not exist")
        } catch {
            #expect(error.code == "storage.not_found")
            #expect(error.message.contains(missing) && error.message.hasSuffix("check the path"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("gone")))
        let standIn = directory.file("store.jsonl")
        try FileManager.default.createDirectory(atPath: standIn, withIntermediateDirectories: false)
        do {
            try DurableFile.appendLine(Array("x".utf8), to: standIn, mode: 0o600)
            Issue.record("appended to a directory")
        } catch {
            #expect(error.code == "storage.io")
            #expect(error.message.contains(standIn) && error.message.contains("Is a directory"), "\(error.message)")
            #expect(error.message.hasSuffix("check the disk and the path"))
        }
    }
}
