import CohortCrypto
import CohortLedger
import Foundation
import Testing

/// `cohort ledger verify` end to end, through the built binary, in both signature modes.
@Suite struct LedgerCommandTests {
    /// A 60-entry synthetic ledger and its key file in a fresh directory.
    struct Files {
        let directory: String
        let key: Ed25519.KeyPair
        var ledger: String { directory + "/ledger.jsonl" }
        var publicKey: String { directory + "/ledger.pub" }

        init() throws {
            directory = NSTemporaryDirectory() + "cohort-cli-ledger-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            key = Ed25519.KeyPair.generate()
            try Data(LedgerBenchmark.syntheticLedger(entries: 60, key: key)).write(to: URL(fileURLWithPath: ledger))
            try KeyFile.writePublic(key.publicKey, kind: .ed25519Public, to: publicKey)
        }

        /// Replaces line `index` (0-based) with the same entry signed by another key; the chain is left as it is.
        func resignLine(_ index: Int) throws {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: ledger)))
            var lines = bytes.split(separator: UInt8(ascii: "\n")).map(Array.init)
            let entry = try LedgerEntry(json: JSONParser.parse(lines[index]))
            lines[index] =
                LedgerEntry.signed(
                    seq: entry.seq, time: entry.time, kind: entry.kind, prev: entry.prev, data: entry.data,
                    key: .generate()
                ).canonicalLine
            try Data(lines.flatMap { $0 + [UInt8(ascii: "\n")] }).write(to: URL(fileURLWithPath: ledger))
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func intactLedgerVerifiesInBothModes() throws {
        let files = try Files()
        defer { files.remove() }
        let cohort = try BuiltBinary("cohort")
        let byDefault = try cohort.run(["ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey])
        #expect(byDefault.status == 0, "\(byDefault.stdout)\(byDefault.stderr)")
        #expect(byDefault.stdout.hasPrefix("OK: 60 entries"))
        #expect(byDefault.stdout.contains("signatures: last entry"))
        let all = try cohort.run([
            "ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey, "--signatures", "all",
            "--json",
        ])
        #expect(all.status == 0, "\(all.stdout)\(all.stderr)")
        let object = try json(all.stdout)
        #expect(object["ok"] as? Bool == true)
        #expect(object["signatures_checked"] as? String == "all")
    }

    @Test func reSignedEntryIsNamedInBothModes() throws {
        let files = try Files()
        defer { files.remove() }
        try files.resignLine(20)
        let cohort = try BuiltBinary("cohort")
        for mode in ["last", "all"] {
            let result = try cohort.run([
                "ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey, "--signatures", mode,
                "--json",
            ])
            #expect(result.status == 1, "\(mode): \(result.stdout)\(result.stderr)")
            let object = try json(result.stdout)
            #expect(object["ok"] as? Bool == false)
            #expect(object["code"] as? String == "ledger.bad_signature", "\(mode)")
            #expect(object["line"] as? Int == 21, "\(mode)")
            #expect(object["seq"] as? Int == 20, "\(mode)")
        }
        let text = try cohort.run(["ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey])
        #expect(text.status == 1)
        #expect(text.stdout.hasPrefix("FAILED: "))
        #expect(text.stdout.contains("line 21"))
    }

    /// A file that is not a ledger fails fast with the line-length limit instead of being read whole.
    @Test func devZeroFailsFastWithTheLineLimit() throws {
        let files = try Files()
        defer { files.remove() }
        let cohort = try BuiltBinary("cohort")
        let started = Date()
        let result = try cohort.run([
            "ledger", "verify", "--ledger", "/dev/zero", "--public-key", files.publicKey, "--json",
        ])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let object = try json(result.stdout)
        #expect(object["code"] as? String == "ledger.line_too_long")
        #expect(object["line"] as? Int == 1)
        #expect(
            (object["message"] as? String)?.contains("/dev/zero: line 1 is longer than the limit of 8388608 bytes")
                == true)
        #expect(Date().timeIntervalSince(started) < 30)
    }

    /// A planned record-unit round whose close commits to a line of an evaluation store written
    /// next to it: the ledger, its key and the store.
    static func committedEvaluation(in directory: String) throws -> (ledger: String, key: String, store: String) {
        let key = Ed25519.KeyPair.generate()
        let writer = try LedgerWriter.create(
            stateDirectory: directory, signingKey: key,
            genesis: GenesisPayload(
                ledgerPublicKey: key.publicKey, policySHA256: SHA256.hexDigest(utf8: "p"), epsilonMax: 8, delta: 1e-5))
        let plan = RoundPlanRecord(
            unit: .record, samplingRate: 0.2, noiseMultiplier: 2.41, clippingBound: 1, gridStep: 1e-4,
            sensitivity: 1.01, dimension: 31, records: 400, delta: 1e-5)
        let projected = try writer.state.projectedCharge(plan: plan)
        try writer.append(
            GateDecisionPayload(
                round: 1, gate: "budget", passed: true, reason: "within",
                inputs: ["projected_epsilon": .number(projected.cumulativeEpsilon)]))
        try writer.append(
            RoundOpenedPayload(
                round: 1, participantsSampled: 2, participantsEligible: 2, mechanism: "m", plan: plan))
        try writer.append(
            RoundChargedPayload(
                round: 1, plan: plan, projected: projected, contributors: ["a"],
                updateDigests: ["a": SHA256.hexDigest(utf8: "u")]))
        let model = SHA256.hexDigest(utf8: "model")
        let commitment = try EvaluationStore.append(
            EvaluationRecord(round: 1, modelSHA256: model, metrics: ["accuracy": 0.9, "count": 40], participants: 2),
            stateDirectory: directory)
        try writer.append(
            RoundClosedPayload(
                round: 1, modelSHA256: model, checkpoint: "round-000001.safetensors", evaluationSHA256: commitment))
        let keyPath = directory + "/ledger.pub"
        try KeyFile.writePublic(key.publicKey, kind: .ed25519Public, to: keyPath)
        return (
            LedgerWriter.ledgerPath(stateDirectory: directory), keyPath, EvaluationStore.path(stateDirectory: directory)
        )
    }

    @Test func evaluationStoreIsCheckedWhenGivenAndNeverRequired() throws {
        let files = try Files()
        defer { files.remove() }
        let (ledger, key, store) = try Self.committedEvaluation(in: files.directory + "/state")
        let cohort = try BuiltBinary("cohort")
        let without = try cohort.run(["ledger", "verify", "--ledger", ledger, "--public-key", key])
        #expect(without.status == 0, "\(without.stdout)\(without.stderr)")
        let with = try cohort.run(["ledger", "verify", "--ledger", ledger, "--public-key", key, "--evaluations", store])
        #expect(with.status == 0, "\(with.stdout)\(with.stderr)")
        #expect(with.stdout.contains("evaluation store: 1 commitments match"))
        let shown = try cohort.run(["ledger", "show", "--ledger", ledger, "--evaluations", store])
        #expect(shown.stdout.contains("accuracy 0.9000") && shown.stdout.contains("operators only"), "\(shown.stdout)")
        // An altered store no longer matches the ledger's commitment: named, exit 1.
        let text = try String(contentsOfFile: store, encoding: .utf8).replacingOccurrences(of: "0.9", with: "0.95")
        try text.write(toFile: store, atomically: false, encoding: .utf8)
        let altered = try cohort.run([
            "ledger", "verify", "--ledger", ledger, "--public-key", key, "--evaluations", store,
        ])
        #expect(altered.status == 1)
        #expect(altered.stdout.contains("ledger.commitment_mismatch"), "\(altered.stdout)")
        #expect(altered.stdout.contains("line 5"), "\(altered.stdout)")
        // A missing store is an input error (exit 2) naming the file.
        let missing = try cohort.run([
            "ledger", "verify", "--ledger", ledger, "--public-key", key, "--evaluations", store + ".missing",
        ])
        #expect(missing.status == 2 && missing.stderr.contains("evaluations.jsonl.missing"), "\(missing.stderr)")
    }

    /// A participant-unit round as a current coordinator writes it (commitments, no counts), with
    /// its sample store next to the ledger: the ledger, its key and the store.
    static func participantRound(in directory: String) throws -> (ledger: String, key: String, store: String) {
        let key = Ed25519.KeyPair.generate()
        let writer = try LedgerWriter.create(
            stateDirectory: directory, signingKey: key,
            genesis: GenesisPayload(
                ledgerPublicKey: key.publicKey, policySHA256: SHA256.hexDigest(utf8: "p"), epsilonMax: 8, delta: 1e-5))
        let plan = RoundPlanRecord(
            unit: .participant, samplingRate: 0.9, noiseMultiplier: 2, clippingBound: 1, gridStep: 1e-4,
            sensitivity: 1.01, dimension: 31, records: 0, delta: 1e-5)
        let projected = try writer.state.projectedCharge(plan: plan)
        try writer.append(
            GateDecisionPayload(
                round: 1, gate: "budget", passed: true, reason: "within",
                inputs: ["projected_epsilon": .number(projected.cumulativeEpsilon)]))
        let sampled = try ParticipantSampleStore.append(
            ParticipantSampleCommitment(round: 1, set: .sampled, participants: ["bank-a", "bank-c"]),
            stateDirectory: directory)
        try writer.append(
            RoundOpenedPayload(
                round: 1, participantsSampled: nil, participantsEligible: 3, mechanism: "m", plan: plan,
                sampleCommitment: sampled))
        let contributors = try ParticipantSampleStore.append(
            ParticipantSampleCommitment(
                round: 1, set: .contributors, participants: ["bank-c"],
                updateDigests: ["bank-c": SHA256.hexDigest(utf8: "u")]),
            stateDirectory: directory)
        try writer.append(
            RoundChargedPayload(
                round: 1, plan: plan, projected: projected, contributors: [], updateDigests: [:],
                contributorsCommitment: contributors))
        let model = SHA256.hexDigest(utf8: "model")
        let evaluation = try EvaluationStore.append(
            EvaluationRecord(round: 1, modelSHA256: model, metrics: ["accuracy": 0.9, "count": 40], participants: 3),
            stateDirectory: directory)
        try writer.append(
            RoundClosedPayload(
                round: 1, modelSHA256: model, checkpoint: "round-000001.safetensors", evaluationSHA256: evaluation))
        let keyPath = directory + "/ledger.pub"
        try KeyFile.writePublic(key.publicKey, kind: .ed25519Public, to: keyPath)
        return (
            LedgerWriter.ledgerPath(stateDirectory: directory), keyPath,
            ParticipantSampleStore.path(stateDirectory: directory)
        )
    }

    @Test func sampleStoreOpensTheCommitmentsAndTheReportSaysWhatTheLedgerWithholds() throws {
        let files = try Files()
        defer { files.remove() }
        let (ledger, key, store) = try Self.participantRound(in: files.directory + "/state")
        let cohort = try BuiltBinary("cohort")
        let ledgerText = try String(contentsOfFile: ledger, encoding: .utf8)
        #expect(!ledgerText.contains("participants_sampled") && !ledgerText.contains("contributors_count"))
        let without = try cohort.run(["ledger", "verify", "--ledger", ledger, "--public-key", key])
        #expect(without.status == 0, "\(without.stdout)\(without.stderr)")
        let with = try cohort.run(["ledger", "verify", "--ledger", ledger, "--public-key", key, "--samples", store])
        #expect(with.status == 0, "\(with.stdout)\(with.stderr)")
        #expect(with.stdout.contains("participant-sample store: 2 commitments open"), "\(with.stdout)")
        #expect(with.stdout.contains("1: 2/1"), "\(with.stdout)")
        let json = try cohort.run([
            "ledger", "verify", "--ledger", ledger, "--public-key", key, "--samples", store, "--json",
        ])
        let object = try self.json(json.stdout)
        #expect(object["sample_commitments_checked"] as? Int == 2)
        #expect(((object["sample_sizes"] as? [String: Any])?["1"] as? [String: Any])?["sampled"] as? Int == 2)
        // The report reads the store next to the ledger: one bar, 1 contributor of 2 sampled.
        let page = files.directory + "/report.html"
        let reported = try cohort.run(["ledger", "report", "--ledger", ledger, "--html", page])
        #expect(reported.status == 0, "\(reported.stdout)\(reported.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("<rect data-series=\"contributors\""), "\(html)")
        #expect(html.contains("round 1: 1 contributed of 2 invited"))
        #expect(!html.contains("data-withheld"))
        // Without the store the report says the count is withheld, and draws no bar for it.
        try FileManager.default.moveItem(atPath: store, toPath: store + ".kept")
        _ = try cohort.run(["ledger", "report", "--ledger", ledger, "--html", page])
        let withheld = try String(contentsOfFile: page, encoding: .utf8)
        #expect(withheld.contains("data-withheld=\"contributors\""))
        #expect(!withheld.contains("data-series=\"contributors\""))
        // A store whose names no longer open the commitment: named, exit 1; the report refuses it.
        let lines = try String(contentsOfFile: store + ".kept", encoding: .utf8)
        let other = ParticipantSampleCommitment(round: 1, set: .sampled, participants: ["bank-a", "bank-b"])
        let replaced =
            String(decoding: other.line, as: UTF8.self) + "\n"
            + lines.split(separator: "\n").dropFirst().joined(separator: "\n") + "\n"
        try replaced.write(toFile: store, atomically: false, encoding: .utf8)
        let altered = try cohort.run(["ledger", "verify", "--ledger", ledger, "--public-key", key, "--samples", store])
        #expect(altered.status == 1 && altered.stdout.contains("ledger.commitment_mismatch"), "\(altered.stdout)")
        let refused = try cohort.run(["ledger", "report", "--ledger", ledger, "--html", page])
        #expect(refused.status == 2 && refused.stderr.contains("participant-samples.jsonl"), "\(refused.stderr)")
    }
}
