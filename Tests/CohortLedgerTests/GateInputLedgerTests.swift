import CohortCrypto
import CohortStorage
import CohortTesting
import Foundation
import Testing

@testable import CohortLedger

/// The gate-input store and the `inputs_sha256` commitment: the auditor-readable ledger keeps a
/// gate's decision and rule, never the exact record statistics it judged (docs/LEDGER.md §5).
@Suite("Gate decisions commit to the gate-input store")
struct GateInputLedgerTests {
    static let exactAnomaly: [String: JSONValue] = [
        "median": .number(0.8125), "mad": .number(0.01), "scale": .number(0.0148), "z": ["bank-a": .number(1.25)],
        "cosine": ["bank-a": .number(0.97)], "flags": .object([:]), "norm_z_threshold": .number(4),
    ]

    /// A planned round whose anomaly decision (after the charge) has `inputs` and `commitment`.
    static func ledger(anomalyInputs: [String: JSONValue], commitment: String?) throws -> [UInt8] {
        let passing = ChargeMethodLedgerTests.preRoundGates(round: 1, projected: 0)
        // The round's entries, then the anomaly decision, signed onto one chain.
        let records = try Fixtures.lines(try DisclosureLedgerTests.plannedRound(passing)).map {
            line -> (String, JSONValue) in
            let entry = try LedgerEntry(json: JSONParser.parse(line))
            return (entry.kind, entry.data)
        }
        let decision = GateDecisionPayload(
            round: 1, gate: "anomaly", passed: true, reason: "no update flagged", inputs: anomalyInputs,
            inputsSHA256: commitment)
        return Fixtures.forge(records + [("gate.decision", decision.data)], key: Fixtures.testKey())
    }

    @Test("a committed decision carrying an exact record statistic fails; the older form still verifies")
    func committedDecisionWithholdsStatistics() throws {
        let commitment = SHA256.hexDigest(utf8: "line")
        // Older ledgers: the exact inputs, no commitment.
        #expect(DisclosureLedgerTests.verify(try Self.ledger(anomalyInputs: Self.exactAnomaly, commitment: nil)) == nil)
        // New form: decisions and thresholds only.
        let kept = Self.exactAnomaly.filter { ["flags", "norm_z_threshold"].contains($0.key) }
        #expect(DisclosureLedgerTests.verify(try Self.ledger(anomalyInputs: kept, commitment: commitment)) == nil)
        for key in ["median", "mad", "scale", "z", "cosine"] {
            var leaking = kept
            leaking[key] = Self.exactAnomaly[key]
            let error = try #require(
                DisclosureLedgerTests.verify(try Self.ledger(anomalyInputs: leaking, commitment: commitment)))
            #expect(error.code == .badEntry && error.message.contains("inputs.\(key)"), "\(error)")
        }
        // Data quality lists its inputs by participant: a row count there is refused too.
        let quality = GateDecisionPayload(
            round: 1, gate: "data_quality", passed: true, reason: "ok",
            inputs: ["participants": ["bank-a": ["passed": true, "rows": 189]]], inputsSHA256: commitment)
        let error = try #require(ledgerError { _ = try GateDecisionPayload(data: quality.data) })
        #expect(error.code == .badEntry && error.message.contains("participants.bank-a.rows"), "\(error)")
        var notHex = quality
        notHex.inputsSHA256 = "x"
        notHex.inputs = [:]
        #expect(ledgerError { _ = try GateDecisionPayload(data: notHex.data) }?.code == .badEntry)
    }

    @Test("the gate-input store: salted canonical lines, 0600, and every commitment checked against it")
    func store() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let record = GateInputRecord(
            round: 1, gate: "anomaly", passed: true, reason: "exact", inputs: Self.exactAnomaly)
        let again = GateInputRecord(round: 1, gate: "anomaly", passed: true, reason: "exact", inputs: Self.exactAnomaly)
        // A fresh salt per line: equal inputs give unrelated commitments (nothing to test guesses against).
        #expect(record.salt.count == 32 && record.sha256 != again.sha256)
        let commitment = try GateInputStore.append(record, stateDirectory: directory.path)
        #expect(commitment == record.sha256)
        let path = GateInputStore.path(stateDirectory: directory.path)
        #expect(try DurableFile.permissions(of: path) == 0o600)
        #expect(try GateInputStore.read(path: path).map(\.record) == [record])
        let kept = Self.exactAnomaly.filter { ["flags", "norm_z_threshold"].contains($0.key) }
        let bytes = try Self.ledger(anomalyInputs: kept, commitment: commitment)
        let entries = try LedgerVerifier.verify(
            bytes: bytes, publicKey: Fixtures.testKey().publicKey, keepEntries: true
        )
        .entries
        #expect(
            try GateInputStore.check(path: path, against: entries) == .init(commitmentsChecked: 1, unreferencedLines: 0)
        )
        // An altered figure no longer matches the commitment.
        var altered = record
        altered.inputs["median"] = .number(0.9)
        Fixtures.write(altered.line + [0x0A], to: path)
        let error = try #require(ledgerError { _ = try GateInputStore.check(path: path, against: entries) })
        #expect(error.code == .commitmentMismatch, "\(error)")
        Fixtures.write(Array(#"{"round":1}"#.utf8) + [0x0A], to: path)
        #expect(ledgerError { _ = try GateInputStore.read(path: path) }?.code == .badStore)
    }
}
