import CohortCrypto
import CohortStorage
import CohortTesting
import Foundation
import Testing

@testable import CohortLedger

/// What the ledger may reveal about the participant unit's sample and about holdout evaluations,
/// and the pre-round gate rule, as the verifier enforces them (docs/LEDGER.md §5, §6, §10).
@Suite("Sample commitments, the evaluation store and pre-round gates in the ledger")
struct DisclosureLedgerTests {
    static func verify(_ bytes: [UInt8]) -> LedgerError? { ChargeMethodLedgerTests.verify(bytes) }

    static let names = ["hospital-c", "hospital-a"]

    /// Genesis and one participant-unit round in the current form: gates, opened with a sample
    /// commitment, charged with a contributors commitment, closed with an evaluation commitment
    /// and no count (`legacyCounts`: with the counts, as ledgers written before they were
    /// withheld). The commitments are those of `sampled` and `contributors`.
    static func participantRound(
        sampled: ParticipantSampleCommitment, contributors: ParticipantSampleCommitment, evaluation: EvaluationRecord,
        legacyCounts: Bool = false, edit: (inout [(String, JSONValue)]) -> Void = { _ in }
    ) throws -> [UInt8] {
        let key = Fixtures.testKey()
        let plan = ChargeMethodLedgerTests.plan(unit: .participant)
        let projected = try LedgerState.afterGenesis(delta: Fixtures.delta).projectedCharge(plan: plan)
        var records: [(String, JSONValue)] = [("genesis", Fixtures.genesis(key: key).data)]
        records += ChargeMethodLedgerTests.preRoundGates(round: 1, projected: projected.cumulativeEpsilon).map {
            ("gate.decision", $0.data)
        }
        records.append(
            (
                "round.opened",
                RoundOpenedPayload(
                    round: 1, participantsSampled: nil, participantsEligible: 3, mechanism: "m", plan: plan,
                    sampleCommitment: sampled.commitment
                ).data
            ))
        records.append(
            (
                "round.charged",
                RoundChargedPayload(
                    round: 1, plan: plan, projected: projected, contributors: [], updateDigests: [:],
                    contributorsCommitment: contributors.commitment
                ).data
            ))
        records.append(
            (
                "evaluation.recorded",
                EvaluationRecordedPayload(
                    round: 1, evaluationSHA256: evaluation.sha256, participantsEvaluated: evaluation.participants
                ).data
            ))
        records.append(
            (
                "round.closed",
                RoundClosedPayload(
                    round: 1, modelSHA256: evaluation.modelSHA256, checkpoint: "checkpoints/round-000001.safetensors",
                    evaluationSHA256: evaluation.sha256,
                    participantsSampled: legacyCounts ? sampled.participants.count : nil,
                    contributorsCount: legacyCounts ? contributors.participants.count : nil
                ).data
            ))
        edit(&records)
        return Fixtures.forge(records, key: key)
    }

    static let sampled = ParticipantSampleCommitment(round: 1, set: .sampled, participants: names)
    static let contributors = ParticipantSampleCommitment(
        round: 1, set: .contributors, participants: ["hospital-a"],
        updateDigests: ["hospital-a": SHA256.hexDigest(utf8: "u")])
    static let evaluation = EvaluationRecord(
        round: 1, modelSHA256: SHA256.hexDigest(utf8: "model"), metrics: ChargeMethodLedgerTests.metrics,
        participants: 3)

    @Test("a participant-unit round in the new form verifies and names no participant")
    func participantUnitNewFormVerifies() throws {
        let bytes = try Self.participantRound(
            sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation)
        #expect(Self.verify(bytes) == nil)
        let text = String(decoding: bytes, as: UTF8.self)
        for name in Self.names { #expect(!text.contains(name)) }
        #expect(!text.contains("accuracy") && !text.contains("\"metrics\""))
    }

    @Test("a committed round that names its contributors is a bad entry; its end carries no count (older ones may)")
    func committedRoundRules() throws {
        let named = try Self.participantRound(
            sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation
        ) { records in
            var data = records[4].1.objectValue!
            data["contributors_commitment"] = nil
            data["contributors"] = ["hospital-a"]
            data["update_digests"] = ["hospital-a": .string(SHA256.hexDigest(utf8: "u"))]
            records[4].1 = .object(data)
        }
        let namedError = try #require(Self.verify(named))
        #expect(namedError.code == .badEntry && namedError.line == 5, "\(namedError)")
        // Current form: no count at the round's end (participantUnitNewFormVerifies). Ledgers
        // written before the counts were withheld recorded both at the end, and still verify.
        let bytes = try Self.participantRound(
            sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("participants_sampled"))
        let legacy = try Self.participantRound(
            sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation, legacyCounts: true)
        #expect(Self.verify(legacy) == nil)
        #expect(String(decoding: legacy, as: UTF8.self).contains("\"participants_sampled\":2"))
        // One count without the other is malformed.
        let half = try Self.participantRound(
            sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation, legacyCounts: true
        ) { records in
            var data = records[6].1.objectValue!
            data["contributors_count"] = nil
            records[6].1 = .object(data)
        }
        let halfError = try #require(Self.verify(half))
        #expect(halfError.code == .badEntry && halfError.line == 7, "\(halfError)")
        // A sample commitment next to the count, or in a record-unit round, is malformed.
        let both = try Self.participantRound(
            sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation
        ) { records in
            var data = records[3].1.objectValue!
            data["participants_sampled"] = 2
            records[3].1 = .object(data)
        }
        #expect(Self.verify(both)?.code == .badEntry)
        let record = RoundOpenedPayload(
            round: 1, participantsSampled: nil, participantsEligible: 3, mechanism: "m",
            plan: ChargeMethodLedgerTests.plan(), sampleCommitment: Self.sampled.commitment)
        #expect(ledgerError { _ = try RoundOpenedPayload(data: record.data) }?.code == .badEntry)
    }

    @Test("the commitments are SHA-256 over the salt and the sorted names, and the store keeps them 0600")
    func sampleStore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var message = Self.sampled.salt
        for name in ["hospital-a", "hospital-c"] { message += Array(name.utf8) + [0x0A] }
        #expect(Self.sampled.commitment == SHA256.hexDigest(message))
        #expect(Self.sampled.salt.count == 32 && Self.sampled.salt != Self.contributors.salt)
        try ParticipantSampleStore.append(Self.sampled, stateDirectory: directory.path)
        try ParticipantSampleStore.append(Self.contributors, stateDirectory: directory.path)
        let path = ParticipantSampleStore.path(stateDirectory: directory.path)
        #expect(try DurableFile.permissions(of: path) == 0o600)
        let stored = try ParticipantSampleStore.read(path: path)
        #expect(stored == [Self.sampled, Self.contributors])
        // A line whose names no longer give its commitment is caught.
        var text = String(decoding: Fixtures.read(path), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"hospital-c\"", with: "\"hospital-x\"")
        Fixtures.write(Array(text.utf8), to: path)
        #expect(ledgerError { _ = try ParticipantSampleStore.read(path: path) }?.code == .commitmentMismatch)
    }

    @Test("the sample store opens the ledger's commitments and gives the sizes the ledger withholds")
    func sampleStoreCheck() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = ParticipantSampleStore.path(stateDirectory: directory.path)
        func entries(legacyCounts: Bool = false) throws -> [LedgerEntry] {
            try LedgerVerifier.verify(
                bytes: try Self.participantRound(
                    sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation,
                    legacyCounts: legacyCounts),
                publicKey: Fixtures.testKey().publicKey, keepEntries: true
            ).entries
        }
        try ParticipantSampleStore.append(Self.sampled, stateDirectory: directory.path)
        try ParticipantSampleStore.append(Self.contributors, stateDirectory: directory.path)
        let result = try ParticipantSampleStore.check(path: path, against: try entries())
        #expect(result.commitmentsChecked == 2)
        #expect(result.counts == [1: .init(sampled: 2, contributors: 1)])
        // Counts an older ledger recorded must agree with the store.
        #expect(try ParticipantSampleStore.check(path: path, against: try entries(legacyCounts: true)) == result)
        // Another round's line (same names, fresh salt) does not open this round's commitment.
        let other = ParticipantSampleCommitment(round: 2, set: .sampled, participants: Self.names)
        Fixtures.write(other.line + [0x0A] + Self.contributors.line + [0x0A], to: path)
        let missing = try #require(
            ledgerError { _ = try ParticipantSampleStore.check(path: path, against: try entries()) })
        #expect(missing.code == .commitmentMismatch && missing.line == 4, "\(missing)")
        // A contributor who was not sampled is caught.
        let stranger = ParticipantSampleCommitment(
            round: 1, set: .contributors, participants: ["hospital-b"],
            updateDigests: ["hospital-b": SHA256.hexDigest(utf8: "u")])
        Fixtures.write(Self.sampled.line + [0x0A] + stranger.line + [0x0A], to: path)
        let strangerLedger = try LedgerVerifier.verify(
            bytes: try Self.participantRound(
                sampled: Self.sampled, contributors: stranger, evaluation: Self.evaluation),
            publicKey: Fixtures.testKey().publicKey, keepEntries: true
        ).entries
        let notSampled = try #require(
            ledgerError { _ = try ParticipantSampleStore.check(path: path, against: strangerLedger) })
        #expect(notSampled.code == .commitmentMismatch && notSampled.line == 5, "\(notSampled)")
    }

    @Test("the evaluation store: one canonical line per round, 0600, and the ledger's commitment checked against it")
    func evaluationStore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let record = EvaluationRecord(
            round: 1, modelSHA256: SHA256.hexDigest(utf8: "model"), metrics: ["accuracy": 0.5, "count": 4],
            participants: 2)
        #expect(
            String(decoding: record.line, as: UTF8.self)
                == #"{"metrics":{"accuracy":0.5,"count":4},"model_sha256":"\#(SHA256.hexDigest(utf8: "model"))","#
                + #""participants":2,"round":1}"#
        )
        let commitment = try EvaluationStore.append(Self.evaluation, stateDirectory: directory.path)
        #expect(commitment == Self.evaluation.sha256)
        let path = EvaluationStore.path(stateDirectory: directory.path)
        #expect(try DurableFile.permissions(of: path) == 0o600)
        #expect(Fixtures.read(path) == Self.evaluation.line + [0x0A])
        let bytes = try Self.participantRound(
            sampled: Self.sampled, contributors: Self.contributors, evaluation: Self.evaluation)
        let entries = try LedgerVerifier.verify(
            bytes: bytes, publicKey: Fixtures.testKey().publicKey, keepEntries: true
        ).entries
        #expect(
            try EvaluationStore.check(path: path, against: entries)
                == .init(commitmentsChecked: 2, unreferencedLines: 0))
        // Altered metrics no longer match the commitment.
        var altered = Self.evaluation
        altered.metrics["accuracy"] = 0.99
        Fixtures.write(altered.line + [0x0A], to: path)
        let error = try #require(ledgerError { _ = try EvaluationStore.check(path: path, against: entries) })
        #expect(error.code == .commitmentMismatch && error.line == 6, "\(error)")
        // A store line out of range is refused as malformed.
        Fixtures.write(
            Array(
                (#"{"metrics":{"accuracy":1.5},"model_sha256":"\#(SHA256.hexDigest(utf8: "m"))","#
                    + #""participants":1,"round":1}"#).utf8) + [0x0A], to: path)
        #expect(ledgerError { _ = try EvaluationStore.read(path: path) }?.code == .badStore)
    }

    @Test("round.closed carries the metrics (older ledgers) or the commitment, never both")
    func closedForms() throws {
        var data = RoundClosedPayload(
            round: 1, modelSHA256: SHA256.hexDigest(utf8: "m"), checkpoint: "c",
            evaluationSHA256: Self.evaluation.sha256
        ).data.objectValue!
        #expect(data["metrics"] == nil)
        data["metrics"] = .object([:])
        #expect(ledgerError { _ = try RoundClosedPayload(data: .object(data)) }?.code == .badEntry)
        data["evaluation_sha256"] = nil
        #expect(try RoundClosedPayload(data: .object(data)).metrics.isEmpty)
    }

    // MARK: - Pre-round gates

    static func plannedRound(_ gates: [GateDecisionPayload], projectedShift: Double = 1) throws -> [UInt8] {
        let key = Fixtures.testKey()
        let plan = ChargeMethodLedgerTests.plan()
        let projected = try LedgerState.afterGenesis(delta: Fixtures.delta).projectedCharge(plan: plan)
        var records: [(String, JSONValue)] = [("genesis", Fixtures.genesis(key: key).data)]
        records += gates.map { gate in
            var gate = gate
            if gate.gate == "budget" {
                gate.inputs["projected_epsilon"] = .number(projected.cumulativeEpsilon * projectedShift)
            }
            return ("gate.decision", gate.data)
        }
        records.append(
            (
                "round.opened",
                RoundOpenedPayload(
                    round: 1, participantsSampled: 3, participantsEligible: 3, mechanism: "m", plan: plan
                ).data
            ))
        records.append(
            (
                "round.charged",
                RoundChargedPayload(
                    round: 1, plan: plan, projected: projected, contributors: ["bank-a"],
                    updateDigests: ["bank-a": SHA256.hexDigest(utf8: "u")]
                ).data
            ))
        return Fixtures.forge(records, key: key)
    }

    @Test(
        "a planned round opens on a passing budget decision, no failed refusal gate, and is charged its projection"
    )
    func preRoundGateRule() throws {
        let passing = ChargeMethodLedgerTests.preRoundGates(round: 1, projected: 0)
        #expect(Self.verify(try Self.plannedRound(passing)) == nil)
        let missing = try #require(Self.verify(try Self.plannedRound([passing[1]])))
        #expect(missing.code == .roundOrder && missing.line == 3 && missing.message.contains("budget"), "\(missing)")
        var failedQuorum = passing
        failedQuorum[1].passed = false
        let failed = try #require(Self.verify(try Self.plannedRound(failedQuorum)))
        #expect(failed.code == .roundOrder && failed.line == 4 && failed.message.contains("quorum"), "\(failed)")
        let versionFailed =
            passing + [GateDecisionPayload(round: 1, gate: "model_version", passed: false, reason: "no", inputs: [:])]
        #expect(Self.verify(try Self.plannedRound(versionFailed))?.code == .roundOrder)
        let differs = try #require(Self.verify(try Self.plannedRound(passing, projectedShift: 1.001)))
        #expect(
            differs.code == .epsilonMismatch && differs.line == 5 && differs.message.contains("budget"), "\(differs)")
    }

    /// An append a crash interrupted leaves a line without its line feed. The next append cuts
    /// that fragment instead of gluing a line to it, and start-up can cut it before reading, so
    /// the store stays readable and no acknowledged line is lost.
    @Test("a torn last line is cut before the next append and by the start-up repair, never glued to")
    func tornStoreTail() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = ParticipantSampleStore.path(stateDirectory: directory.path)
        try ParticipantSampleStore.append(Self.sampled, stateDirectory: directory.path)
        let intact = Fixtures.read(path)
        // The crash: half of the next line reached the disk.
        Fixtures.write(intact + Array(#"{"commitment":"ab"#.utf8), to: path)
        #expect(ledgerError { _ = try ParticipantSampleStore.read(path: path) }?.code == .badStore)
        try ParticipantSampleStore.append(Self.contributors, stateDirectory: directory.path)
        #expect(try ParticipantSampleStore.read(path: path) == [Self.sampled, Self.contributors])

        // At start-up: the repair cuts exactly the fragment, keeps the mode, and is a no-op after.
        let complete = Fixtures.read(path)
        Fixtures.write(complete + Array("{\"round\":".utf8), to: path)
        #expect(try DurableFile.cutUnterminatedLastLine(path) == 9)
        #expect(Fixtures.read(path) == complete)
        #expect(try DurableFile.cutUnterminatedLastLine(path) == 0)
        #expect(try DurableFile.permissions(of: path) == 0o600)
        // A store that is all fragment (the first append was torn) is emptied; an absent one is left absent.
        Fixtures.write(Array(String(repeating: "x", count: 5000).utf8), to: path)
        #expect(try DurableFile.cutUnterminatedLastLine(path) == 5000)
        #expect(Fixtures.read(path).isEmpty)
        #expect(try DurableFile.cutUnterminatedLastLine(directory.path + "/absent.jsonl") == 0)
    }
}
