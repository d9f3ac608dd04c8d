import CohortCrypto
import CohortModel
import CohortParticipant
import CohortStorage
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// The participant's holdout: a keyed PRF of each record's raw cells under a silo-local key file
/// (`<identity>/<name>.holdout.key`, 0600, created once and reused).
@Suite struct ParticipantHoldoutTests {
    struct Files {
        let directory: String
        let table: CSVTable
        let identity: IdentityFiles

        init() throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("cohort-holdout-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(
                atPath: directory + "/hospital-a", withIntermediateDirectories: true)
            table = try CSVTable.read(path: ConsortiumFiles.repositoryRoot + "/Data/breast_cancer_wdbc.csv")
            identity = IdentityFiles(directory: directory + "/hospital-a", name: "hospital-a")
        }

        func configuration(data: String, holdoutKey: String? = nil) -> ParticipantConfiguration {
            ParticipantConfiguration(
                host: "127.0.0.1", port: 1, identity: identity, dataPath: data,
                schemaPath: ConsortiumFiles.repositoryRoot + "/Data/schemas/wdbc.json", holdoutKeyPath: holdoutKey)
        }

        /// Writes the records at `rows` (all when nil) as a CSV file.
        func write(_ name: String, rows: [Int]? = nil) throws -> String {
            let path = directory + "/" + name
            try table.selecting(rows: rows ?? Array(table.rows.indices)).write(path: path)
            return path
        }
    }

    @Test func removingOneRowOfTheFileMovesThatRowOnly() throws {
        let files = try Files()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let full = try Participant.loadLocalData(
            configuration: files.configuration(data: files.write("full.csv")), logger: capture.logger("test"))
        #expect(full.attestation.rows == files.table.rows.count)
        #expect(full.attestation.trainingRows == full.split.train.count)
        #expect(full.train.count == full.split.train.count && full.holdout.count == full.split.test.count)
        // About a fifth held out (569 records: 4 standard deviations ≈ 0.067).
        #expect(abs(Double(full.split.test.count) / Double(files.table.rows.count) - 0.2) < 0.07)
        var moved = 0
        for removed in [0, 1, 200, full.split.test.first!, full.split.train.last!, files.table.rows.count - 1] {
            let rows = files.table.rows.indices.filter { $0 != removed }
            let neighbour = try Participant.loadLocalData(
                configuration: files.configuration(data: files.write("minus-\(removed).csv", rows: rows)),
                logger: capture.logger("test"))
            let back = { (index: Int) in rows[index] }
            #expect(Set(neighbour.split.train.map(back)) == Set(full.split.train).subtracting([removed]))
            #expect(Set(neighbour.split.test.map(back)) == Set(full.split.test).subtracting([removed]))
            #expect(
                neighbour.attestation.trainingRows == full.split.train.count
                    - (full.split.train.contains(removed) ? 1 : 0))
            moved += 1
        }
        #expect(moved == 6)
        // The seeded shuffle this replaces re-dealt about a third of the file for such a change;
        // here the encoded training records are the full file's minus the one removed.
        let removed = full.split.train[10]
        let rows = files.table.rows.indices.filter { $0 != removed }
        let neighbour = try Participant.loadLocalData(
            configuration: files.configuration(data: files.write("minus-train.csv", rows: rows)),
            logger: capture.logger("test"))
        let expected = full.split.train.indices.filter { full.split.train[$0] != removed }
        #expect(neighbour.train == full.train.subset(expected))
        #expect(neighbour.holdout == full.holdout)
    }

    @Test func theKeyFileIsCreated0600OnceThenReused() throws {
        let files = try Files()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let data = try files.write("data.csv")
        let keyPath = files.identity.holdoutKey
        #expect(keyPath == files.directory + "/hospital-a/hospital-a.holdout.key")
        #expect(!FileManager.default.fileExists(atPath: keyPath))
        let capture = LogCapture()
        let first = try Participant.loadLocalData(
            configuration: files.configuration(data: data), logger: capture.logger("test"))
        #expect(try DurableFile.permissions(of: keyPath) & 0o777 == 0o600)
        let keyLine = try String(contentsOfFile: keyPath, encoding: .utf8)
        #expect(keyLine.hasPrefix("cohort-key v1 holdout-prf-secret "))
        let encodedKey = String(keyLine.split(separator: " ")[3].dropLast())
        #expect(capture.text.contains("created a new holdout key"))
        #expect(capture.text.contains(keyPath))
        #expect(!capture.text.contains(encodedKey), "the key must never be logged")

        let again = LogCapture()
        let second = try Participant.loadLocalData(
            configuration: files.configuration(data: data), logger: again.logger("test"))
        #expect(!again.text.contains("created"))
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == keyLine)
        #expect(second.split == first.split)

        // The same key under another path (--holdout-key) gives the same split; a fresh key a different one.
        let moved = files.directory + "/elsewhere.key"
        try FileManager.default.copyItem(atPath: keyPath, toPath: moved)
        let viaOption = try Participant.loadLocalData(
            configuration: files.configuration(data: data, holdoutKey: moved), logger: again.logger("test"))
        #expect(viaOption.split == first.split)
        let fresh = files.directory + "/fresh.key"
        let other = try Participant.loadLocalData(
            configuration: files.configuration(data: data, holdoutKey: fresh), logger: again.logger("test"))
        #expect(try DurableFile.permissions(of: fresh) & 0o777 == 0o600)
        #expect(other.split != first.split)
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        let files = try Files()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let data = try files.write("data.csv")
        _ = try Participant.loadLocalData(
            configuration: files.configuration(data: data), logger: LogCapture().logger("test"))
        let keyPath = files.identity.holdoutKey
        let keyLine = try String(contentsOfFile: keyPath, encoding: .utf8)
        #expect(chmod(keyPath, 0o644) == 0)
        do {
            _ = try Participant.loadLocalData(
                configuration: files.configuration(data: data), logger: LogCapture().logger("test"))
            Issue.record("a 0644 holdout key was accepted")
        } catch let error as ParticipantError {
            #expect(error.code == "crypto.key_permissions")
            #expect(error.message.contains("holdout key"))
            #expect(error.message.contains(keyPath))
            #expect(error.message.contains("644"))
            #expect(error.message.contains("chmod 600"))
            #expect(!error.message.contains(String(keyLine.split(separator: " ")[3].dropLast())))
        }
        // Not silently replaced either.
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == keyLine)

        // A file of another kind is refused by name.
        let notAKey = files.directory + "/not-a-key"
        try FileManager.default.copyItem(atPath: data, toPath: notAKey)
        #expect(chmod(notAKey, 0o600) == 0)
        do {
            _ = try Participant.loadLocalData(
                configuration: files.configuration(data: data, holdoutKey: notAKey), logger: LogCapture().logger("test")
            )
            Issue.record("a CSV file was accepted as a holdout key")
        } catch let error as ParticipantError {
            #expect(error.code == "crypto.key_format")
            #expect(error.message.contains(notAKey))
        }
    }
}
