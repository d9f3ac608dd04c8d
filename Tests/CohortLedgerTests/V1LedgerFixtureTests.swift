import CohortCrypto
import CohortPrivacy
import CohortTesting
import Foundation
import Testing

@testable import CohortLedger

/// A ledger written by the code as it was before charges named their method
/// (`mtz-add-zhu-wang-remove-v1`, no `charge_method` member), kept byte for byte in
/// `Fixtures/v1-ledger.jsonl` with its public key. It must keep verifying, with the v1 formula.
@Suite("v1 ledger fixture")
struct V1LedgerFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")
    static var ledgerPath: String { directory.appendingPathComponent("v1-ledger.jsonl").path }
    static var keyPath: String { directory.appendingPathComponent("v1-ledger.pub").path }

    /// Regenerates the fixture when COHORT_WRITE_V1_FIXTURE is set (only meaningful with the code
    /// that predates `charge_method`; kept to document how the file was made). A tool, not a check:
    /// reported as skipped with this reason otherwise.
    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["COHORT_WRITE_V1_FIXTURE"] != nil,
            "regenerates the v1 fixture on request"))
    func writeFixtureOnRequest() throws {
        let scratch = try TemporaryDirectory()
        defer { scratch.remove() }
        let key = Fixtures.testKey()
        let clock = TestClock()
        let writer = try LedgerWriter.create(
            stateDirectory: scratch.path, signingKey: key, genesis: Fixtures.genesis(key: key, epsilonMax: 8),
            clock: clock.now)
        let metrics: [String: Double] = [
            "count": 120, "accuracy": 0.925, "precision": 0.9, "recall": 0.875, "f1": 0.8875, "roc_auc": 0.95,
        ]
        func round(_ number: Int, q: Double, sigma: Double) throws {
            try writer.append(
                RoundOpenedPayload(
                    round: number, participantsSampled: 3, participantsEligible: 4,
                    mechanism: "poisson-subsampled-discrete-gaussian"))
            try writer.append(Fixtures.charge(round: number, state: writer.state, q: q, sigma: sigma))
            try writer.append(
                EvaluationRecordedPayload(
                    round: number, participants: ["bank-a": metrics, "bank-b": metrics], aggregate: metrics))
            try writer.append(
                RoundClosedPayload(
                    round: number, modelSHA256: SHA256.hexDigest(utf8: "model \(number)"),
                    checkpoint: "checkpoints/round-\(number).safetensors",
                    metrics: metrics))
        }
        try round(1, q: 0.05, sigma: 1.2)
        try round(2, q: 0.05, sigma: 1.2)
        try round(3, q: 0.2, sigma: 2.5)
        try writer.append(
            PolicyAdoptedPayload(
                policySHA256: SHA256.hexDigest(utf8: "policy: v2\n"), oldEpsilonMax: 8, newEpsilonMax: 9,
                operatorName: "alice"))
        try round(4, q: 1, sigma: 6)
        try round(5, q: 0.001, sigma: 0.9)
        try writer.append(
            RoundOpenedPayload(
                round: 6, participantsSampled: 3, participantsEligible: 4,
                mechanism: "poisson-subsampled-discrete-gaussian"))
        try writer.append(Fixtures.charge(round: 6, state: writer.state, q: 0.1, sigma: 3))
        try writer.append(RoundAbortedPayload(round: 6, reason: "evaluation timed out", charged: true))
        try writer.append(
            RoundRefusedPayload(
                round: 7, gate: "budget", reason: "projected ε above the cap", projectedEpsilon: 9.5, epsilonMax: 9))
        let bytes = Fixtures.read(scratch.ledgerPath)
        try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
        Fixtures.write(bytes, to: Self.ledgerPath)
        try? FileManager.default.removeItem(atPath: Self.keyPath)
        try KeyFile.writePublic(key.publicKey, kind: .ed25519Public, to: Self.keyPath)
        // The fixture written is the ledger just made, entry for entry.
        let written = try LedgerReader.read(file: Self.ledgerPath).entries
        #expect(written.count == (try LedgerReader.read(file: scratch.ledgerPath).entries.count))
        #expect(written.count > 20)
    }
}
