import Foundation
import Testing

@testable import CohortPolicy

let validPolicy = """
    version: 1
    name: wdbc-hospitals
    coordinator:
      listen: 127.0.0.1:7443
      ca_certificate: certs/ca.pem
      certificate: certs/coordinator.pem
      private_key: certs/coordinator.key.pem
      sealing_key: certs/coordinator.x25519.key
      ledger_key: certs/coordinator.ed25519.key
    participants:
      - name: hospital-a
        signing_key: certs/hospital-a.ed25519.pub
      - name: hospital-b
        signing_key: certs/hospital-b.ed25519.pub
      - name: hospital-c
        signing_key: certs/hospital-c.ed25519.pub
    privacy:
      unit: record
      sampling_rate: 0.05
      noise_multiplier: 1.1
      clipping_bound: 1.0
      delta: 1e-5
      epsilon_max: 3.0
    rounds:
      count: 40
      min_participants: 2
      deadline_seconds: 30
    model:
      version: lr-v1
      schema: schemas/wdbc.json
      server_learning_rate: 0.5
    """

let coordinatorOnly = """
    version: 1
    name: x
    coordinator:
      ca_certificate: a
      certificate: b
      private_key: c
      sealing_key: d
      ledger_key: e

    """

/// Replaces the first line containing `old` with `new` (nil removes it).
func mutate(_ old: String, _ new: String?) -> String {
    var lines = validPolicy.components(separatedBy: "\n")
    let index = lines.firstIndex { $0.contains(old) }!
    if let new {
        let indent = lines[index].prefix { $0 == " " }
        lines[index] = indent + new
    } else {
        lines.remove(at: index)
    }
    return lines.joined(separator: "\n")
}

@Suite struct PolicyTests {
    @Test func validPolicyParsesWithDefaults() throws {
        let policy = try PolicyLoader.parse(validPolicy)
        #expect(policy.participants.map(\.name) == ["hospital-a", "hospital-b", "hospital-c"])
        #expect(policy.privacy.unit == .record)
        #expect(policy.privacy.delta == 1e-5)
        #expect(policy.privacy.gridInflation == 1e-3)
        #expect(policy.rounds.count == 40)
        #expect(policy.rounds.idleTimeoutSeconds == 300)
        // The evaluation window defaults to the round deadline, at most 10 s, and can be raised.
        #expect(policy.rounds.evaluationTimeoutSeconds == min(policy.rounds.deadlineSeconds, 10))
        let slow = try PolicyLoader.parse(
            mutate("deadline_seconds:", "deadline_seconds: 120\n  evaluation_timeout_seconds: 90"))
        #expect(slow.rounds.evaluationTimeoutSeconds == 90)
        // Collection ends when every invited participant answered unless the policy says otherwise.
        #expect(policy.rounds.collectUntilDeadline == false)
        let fixed = try PolicyLoader.parse(
            mutate("deadline_seconds:", "deadline_seconds: 30\n  collect_until_deadline: true"))
        #expect(fixed.rounds.collectUntilDeadline == true)
        #expect(policy.model.kind == "logistic_regression")
        #expect(policy.limits.maxUpdateBytes == 64 << 20)
    }

    /// A participant-unit policy whose rounds end when the sample has answered lets timing reveal
    /// the sample: it is listed (and warned about at start) until `collect_until_deadline` is set.
    @Test func participantUnitTimingIsNamedUntilCollectionRunsToTheDeadline() throws {
        let timing = "rounds.collect_until_deadline"
        #expect(!(try PolicyLoader.parse(validPolicy)).guaranteeTradingOptions.map(\.field).contains(timing))
        let participant = mutate("unit: record", "unit: participant")
        #expect(try PolicyLoader.parse(participant).guaranteeTradingOptions.map(\.field) == [timing])
        let fixed = participant.replacingOccurrences(
            of: "deadline_seconds:", with: "collect_until_deadline: true\n  deadline_seconds:")
        #expect(try PolicyLoader.parse(fixed).guaranteeTradingOptions.isEmpty)
    }

    /// Every malformed field: the error names its path and says what is allowed.
    @Test(arguments: [
        (mutate("version: 1", "version: 2"), "version", "policy.invalid_field"),
        (mutate("version: 1", nil), "version", "policy.missing_field"),
        (mutate("name: wdbc", "name: ''"), "name", "policy.invalid_field"),
        (mutate("listen:", "listen: localhost"), "coordinator.listen", "policy.invalid_field"),
        (mutate("listen:", "listen: 127.0.0.1:70000"), "coordinator.listen", "policy.invalid_field"),
        (mutate("ca_certificate:", nil), "coordinator.ca_certificate", "policy.missing_field"),
        (mutate("ledger_key:", "ledger_kye: x"), "coordinator.ledger_key", "policy.missing_field"),
        (mutate("- name: hospital-b", "- name: hospital-a"), "participants[1].name", "policy.invalid_field"),
        (mutate("- name: hospital-c", "- name: 'bad name!'"), "participants[2].name", "policy.invalid_field"),
        (mutate("signing_key: certs/hospital-a", nil), "participants[0].signing_key", "policy.missing_field"),
        (mutate("unit: record", "unit: silo"), "privacy.unit", "policy.invalid_field"),
        (mutate("sampling_rate:", "sampling_rate: 0"), "privacy.sampling_rate", "policy.invalid_field"),
        (mutate("sampling_rate:", "sampling_rate: 1.5"), "privacy.sampling_rate", "policy.invalid_field"),
        (mutate("sampling_rate:", "sampling_rate: lots"), "privacy.sampling_rate", "policy.invalid_field"),
        (mutate("noise_multiplier:", "noise_multiplier: -1"), "privacy.noise_multiplier", "policy.invalid_field"),
        (mutate("noise_multiplier:", "noise_multiplier: .nan"), "privacy.noise_multiplier", "policy.invalid_field"),
        (mutate("clipping_bound:", "clipping_bound: 0"), "privacy.clipping_bound", "policy.invalid_field"),
        (mutate("delta:", "delta: 1"), "privacy.delta", "policy.invalid_field"),
        (mutate("epsilon_max:", "epsilon_max: -3"), "privacy.epsilon_max", "policy.invalid_field"),
        (mutate("epsilon_max:", "epsilon_max: .inf"), "privacy.epsilon_max", "policy.invalid_field"),
        (mutate("epsilon_max:", "epsilon_mx: 3"), "privacy.epsilon_max", "policy.missing_field"),
        (mutate("delta:", "delta: 1e-5\n  grid_inflation: 0.5"), "privacy.grid_inflation", "policy.invalid_field"),
        (mutate("count: 40", "count: 0"), "rounds.count", "policy.invalid_field"),
        (mutate("count: 40", "count: 4.5"), "rounds.count", "policy.invalid_field"),
        (mutate("min_participants:", "min_participants: 4"), "rounds.min_participants", "policy.invalid_field"),
        (mutate("deadline_seconds:", "deadline_seconds: 0"), "rounds.deadline_seconds", "policy.invalid_field"),
        (mutate("deadline_seconds:", "deadline_secs: 30"), "rounds.deadline_secs", "policy.unknown_field"),
        (
            mutate("deadline_seconds:", "deadline_seconds: 30\n  evaluation_timeout_seconds: 0"),
            "rounds.evaluation_timeout_seconds", "policy.invalid_field"
        ),
        (
            mutate("deadline_seconds:", "deadline_seconds: 30\n  collect_until_deadline: 3"),
            "rounds.collect_until_deadline", "policy.invalid_field"
        ),
        (mutate("version: lr-v1", "version: lr-v1\n  kind: transformer"), "model.kind", "policy.invalid_field"),
        (mutate("schema:", nil), "model.schema", "policy.missing_field"),
        (
            mutate("server_learning_rate:", "server_learning_rate: 0"), "model.server_learning_rate",
            "policy.invalid_field"
        ),
        (
            mutate("server_learning_rate:", "server_learning_rate: 0.5\n  server_momentum: 1"), "model.server_momentum",
            "policy.invalid_field"
        ),
        (validPolicy + "\nlimits:\n  max_update_bytes: 10", "limits.max_update_bytes", "policy.invalid_field"),
        (validPolicy + "\nlimits:\n  max_control_bytes: 1e12", "limits.max_control_bytes", "policy.invalid_field"),
        (validPolicy + "\nextra: 1", "extra", "policy.unknown_field"),
        ("version: 1\nname: x\ncoordinator: here", "coordinator", "policy.invalid_field"),
        (coordinatorOnly + "participants: none", "participants", "policy.invalid_field"),
        (coordinatorOnly + "participants:\n  - hospital-a", "participants[0]", "policy.invalid_field"),
    ])
    func malformedFieldNamesItsPath(text: String, field: String, code: String) {
        do {
            _ = try PolicyLoader.parse(text)
            Issue.record("accepted a policy with a bad `\(field)`")
        } catch {
            #expect(error.field == field, "\(error)")
            #expect(error.code == code, "\(error)")
            #expect(error.description.contains(field))
        }
    }

    @Test func invalidYAMLIsASyntaxError() {
        #expect(throws: PolicyError.self) { try PolicyLoader.parse("version: [1\nname: x") }
        do {
            _ = try PolicyLoader.parse("- just\n- a list")
        } catch {
            #expect(error.code == "policy.invalid_field")
        }
    }

    @Test func loadChecksFilesAndDigest() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy.yaml").path
        try validPolicy.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try PolicyLoader.load(path: path)
            Issue.record("missing files accepted")
        } catch {
            #expect(error.code == "policy.missing_file")
            #expect(error.field == "coordinator.ca_certificate")
            #expect(error.message.contains(directory.path + "/certs/ca.pem"))
        }
        for file in [
            "certs/ca.pem", "certs/coordinator.pem", "certs/coordinator.key.pem", "certs/coordinator.x25519.key",
            "certs/coordinator.ed25519.key", "schemas/wdbc.json", "certs/hospital-a.ed25519.pub",
            "certs/hospital-b.ed25519.pub", "certs/hospital-c.ed25519.pub",
        ] {
            let url = directory.appendingPathComponent(file)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data().write(to: url)
        }
        let loaded = try PolicyLoader.load(path: path)
        #expect(loaded.sha256.count == 64)
        #expect(loaded.resolve("certs/ca.pem") == directory.path + "/certs/ca.pem")
        #expect(loaded.resolve("/abs") == "/abs")
        #expect(throws: PolicyError.self) { try PolicyLoader.load(path: directory.path + "/missing.yaml") }
    }

    /// Text that reaches logs, the ledger and alerts: names in [A-Za-z0-9._-]{1,64}; every other
    /// string printable and at most 4,096 bytes. The error names the field and never echoes a
    /// control character.
    @Test(arguments: [
        (mutate("name: wdbc", "name: '$(touch pwned)'"), "name"),
        (mutate("name: wdbc", "name: \"wdbc\\nINFO forged log line\""), "name"),
        (mutate("name: wdbc", "name: \"wdbc\\e[2K\""), "name"),
        (mutate("name: wdbc", "name: \"wdbc\\u202Esnoitarepo\""), "name"),
        (mutate("name: wdbc", "name: " + String(repeating: "a", count: 65)), "name"),
        (mutate("name: wdbc", "name: 'wdbc hospitals'"), "name"),
        (mutate("- name: hospital-b", "- name: \"hospital-b\\a\""), "participants[1].name"),
        (mutate("version: lr-v1", "version: 'lr-v1; rm -rf /'"), "model.version"),
        (mutate("signing_key: certs/hospital-a", "signing_key: \"certs/a\\tb.pub\""), "participants[0].signing_key"),
        (mutate("schema:", "schema: " + String(repeating: "s", count: 4097)), "model.schema"),
        (mutate("listen:", "listen: \"127.0.0.1:7443\\r\""), "coordinator.listen"),
        (validPolicy + "\ngovernance:\n  approved_model_versions: ['$(id)']", "governance.approved_model_versions[0]"),
        (validPolicy + "\napi:\n  operators: [\"ops\\u2028alice\"]", "api.operators[0]"),
    ])
    func textFieldsHaveACharsetAndALength(text: String, field: String) {
        do {
            _ = try PolicyLoader.parse(text)
            Issue.record("accepted a policy with a bad `\(field)`")
        } catch {
            #expect(error.field == field && error.code == "policy.invalid_field", "\(error)")
            #expect(!error.description.unicodeScalars.contains { PrintableText.isForbidden($0) }, "\(error)")
            #expect(error.description.count < 600)
        }
    }

    @Test func aSyntaxErrorNeverEchoesControlCharacters() {
        do {
            _ = try PolicyLoader.parse("version: 1\nname: [x\n\u{1B}[2K\u{7}forged: y\n")
            Issue.record("accepted broken YAML")
        } catch {
            #expect(error.code == "policy.syntax", "\(error)")
            #expect(!error.description.unicodeScalars.contains { PrintableText.isForbidden($0) }, "\(error)")
            #expect(error.message.contains("3:1"), "\(error)")  // line:column
        }
    }

    @Test func invalidUTF8IsRefusedWithFileAndLine() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("policy.yaml").path
        // Line 2 holds a Latin-1 "é" (0xE9), which is not UTF-8.
        var bytes = Array("version: 1\nname: caf".utf8) + [0xE9] + Array("\n".utf8)
        bytes += Array(validPolicy.split(separator: "\n").dropFirst(2).joined(separator: "\n").utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try PolicyLoader.load(path: path)
            Issue.record("invalid UTF-8 accepted")
        } catch {
            #expect(error.code == "policy.invalid_utf8", "\(error)")
            #expect(
                error.message.contains(path) && error.message.contains("line 2") && error.message.contains("byte 21"),
                "\(error)")
        }
        // A truncated multi-byte character at the very end is refused too, on its line.
        #expect(throws: PolicyError.self) { try PolicyLoader.text(of: Array("a\nb\n".utf8) + [0xC3], file: "p.yaml") }
        do {
            _ = try PolicyLoader.text(of: Array("a\nb\n".utf8) + [0xC3], file: "p.yaml")
        } catch {
            #expect(error.message.contains("p.yaml line 3"))
        }
        #expect(try PolicyLoader.text(of: Array("café".utf8), file: "p.yaml") == "café")
    }

    @Test func aDirectoryWhereAFileIsNamedIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-policy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in [
            "certs/ca.pem", "certs/coordinator.pem", "certs/coordinator.key.pem", "certs/coordinator.x25519.key",
            "certs/coordinator.ed25519.key", "certs/hospital-a.ed25519.pub",
            "certs/hospital-b.ed25519.pub", "certs/hospital-c.ed25519.pub",
        ] {
            let url = directory.appendingPathComponent(file)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data().write(to: url)
        }
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("schemas/wdbc.json"), withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("policy.yaml").path
        try validPolicy.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try PolicyLoader.load(path: path)
            Issue.record("a directory accepted as the schema")
        } catch {
            #expect(error.code == "policy.not_a_file" && error.field == "model.schema", "\(error)")
        }
    }
}
