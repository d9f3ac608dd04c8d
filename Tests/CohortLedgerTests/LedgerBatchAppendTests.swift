import CohortCrypto
import CohortLedger
import CohortTesting
import Testing

@Suite("LedgerWriter.appendAll")
struct LedgerBatchAppendTests {
    @Test("a batch becomes durable as consecutive verified entries")
    func batchVerifies() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key))
        let entries = try writer.appendAll([
            GateDecisionPayload(
                round: 1, gate: "budget", passed: true, reason: "ok", inputs: ["projected_epsilon": .number(0.5)]),
            GateDecisionPayload(round: 1, gate: "quorum", passed: true, reason: "ok", inputs: [:]),
            RoundOpenedPayload(
                round: 1, participantsSampled: 2, participantsEligible: 2, mechanism: "discrete-gaussian"),
        ])
        #expect(entries.map(\.seq) == [1, 2, 3])
        let state = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey).state
        #expect(state.entryCount == 4)
        #expect(state.unfinishedRound == 1)
    }

    @Test("a batch with one invalid entry writes nothing")
    func invalidBatchWritesNothing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key))
        let before = Fixtures.read(writer.path)
        // Closing a round that was never opened or charged breaks the ledger's round order.
        let error = ledgerError {
            _ = try writer.appendAll([
                GateDecisionPayload(round: 1, gate: "budget", passed: true, reason: "ok", inputs: [:]),
                RoundClosedPayload(
                    round: 1, modelSHA256: String(repeating: "0", count: 64), checkpoint: "round-000001.safetensors",
                    metrics: [:]),
            ])
        }
        #expect(error?.code == .roundOrder)
        #expect(Fixtures.read(writer.path) == before)
        #expect(writer.state.entryCount == 1)
    }
}
