import CohortCrypto
import CohortTesting
import Testing

@testable import CohortLedger

/// The genesis entry's optional `initial_model_sha256`: absent unless the policy names an initial
/// model (so existing ledgers keep their bytes), round-trips when present, refused when malformed.
@Suite struct GenesisInitialModelTests {
    @Test func presentOnlyWhenGivenAndRoundTrips() throws {
        let key = Fixtures.testKey()
        let plain = Fixtures.genesis(key: key)
        #expect(plain.data["initial_model_sha256"] == nil)
        #expect(try GenesisPayload(data: plain.data).initialModelSHA256 == nil)
        let digest = String(repeating: "ab", count: 32)
        let withModel = GenesisPayload(
            ledgerPublicKey: key.publicKey, policySHA256: Fixtures.policyDigest, epsilonMax: 8, delta: Fixtures.delta,
            initialModelSHA256: digest)
        #expect(try GenesisPayload(data: withModel.data).initialModelSHA256 == digest)
        guard case .object(var members) = withModel.data else {
            Issue.record("genesis data is not an object")
            return
        }
        members["initial_model_sha256"] = .string("not-a-digest")
        let error = ledgerError { _ = try GenesisPayload(data: .object(members)) }
        #expect(error?.message.contains("initial_model_sha256") == true)
    }

    @Test func ledgerWithAnInitialModelDigestVerifies() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key,
            genesis: GenesisPayload(
                ledgerPublicKey: key.publicKey, policySHA256: Fixtures.policyDigest, epsilonMax: 8,
                delta: Fixtures.delta,
                initialModelSHA256: String(repeating: "0f", count: 32)))
        try Fixtures.writeRound(1, to: writer)
        let result = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true)
        #expect(result.state.lastClosedRound == 1)
        #expect(
            try GenesisPayload(data: result.entries[0].data).initialModelSHA256 == String(repeating: "0f", count: 32))
    }
}
