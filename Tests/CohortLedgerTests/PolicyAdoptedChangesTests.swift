import CohortCrypto
import CohortLedger
import CohortTesting
import Testing

/// `policy.adopted` names what an adoption changed, and ledgers written before that member
/// existed still verify.
@Suite struct PolicyAdoptedChangesTests {
    @Test("changed fields round-trip through a signed, verified ledger; long values by digest")
    func changesAreRecordedAndVerify() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 1, epsilonMax: 8)
        let long = String(repeating: "/very/long/path", count: 20)
        let changes = [
            PolicyAdoptedPayload.FieldChange(field: "api", old: nil, new: "x"),
            PolicyAdoptedPayload.FieldChange(field: "participants[3].signing_key", old: nil, new: long),
            PolicyAdoptedPayload.FieldChange(field: "privacy.epsilon_max", old: "8.0", new: "10.0"),
            PolicyAdoptedPayload.FieldChange(field: "rounds.count", old: "3", new: nil),
        ]
        #expect(changes[1].new == .sha256(SHA256.hexDigest(utf8: long)))
        #expect(changes[0].old == .absent && changes[2].old == .text("8.0"))
        let payload = PolicyAdoptedPayload(
            policySHA256: SHA256.hexDigest(utf8: "v2"), oldEpsilonMax: 8, newEpsilonMax: 10, operatorName: "ops-alice",
            changes: changes)
        let entry = try writer.append(payload)
        #expect(entry.data["changes"]?.arrayValue?.count == 4)
        #expect(
            entry.data["changes"]?.arrayValue?[1].objectValue?["new_sha256"]?.stringValue
                == SHA256.hexDigest(utf8: long))
        #expect(entry.data["changes"]?.arrayValue?[0].objectValue?["old"] == .null)

        let result = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true)
        #expect(result.state.epsilonMax == 10)
        guard case .policyAdopted(let read) = try result.entries.last!.record() else {
            Issue.record("the last entry is not policy.adopted")
            return
        }
        #expect(read == payload)
        let shown = LedgerRendering.table(result.entries)
        #expect(shown.contains("changed: api (absent) → x"))
        #expect(shown.contains("privacy.epsilon_max 8.0 → 10.0"))
        #expect(shown.contains("participants[3].signing_key (absent) → sha256:"))
        let report = LedgerHTMLReport.render(entries: result.entries, title: "t")
        #expect(report.contains("privacy.epsilon_max: 8.0 → 10.0"))
    }

    @Test("an adoption entry without `changes` (an older ledger) decodes and verifies")
    func entriesWithoutChangesStillVerify() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 1, epsilonMax: 8)
        try writer.append(
            kind: PolicyAdoptedPayload.kind,
            data: [
                "policy_sha256": .string(SHA256.hexDigest(utf8: "v2")), "old_epsilon_max": 8, "new_epsilon_max": 9,
                "operator": "ops-alice",
            ])
        let result = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true)
        #expect(result.state.epsilonMax == 9)
        guard case .policyAdopted(let read) = try result.entries.last!.record() else {
            Issue.record("the last entry is not policy.adopted")
            return
        }
        #expect(read.changes == nil)
        #expect(!LedgerRendering.table(result.entries).contains("changed:"))
    }

    @Test("a malformed `changes` member is a bad entry")
    func malformedChangesAreRefused() throws {
        for bad: JSONValue in [
            "privacy.epsilon_max",
            [["field": "", "old": "1", "new": "2"]],
            [["field": "x", "old": 1, "new": "2"]],
            [["field": "x", "old": "1", "new_sha256": "not-a-digest"]],
            [["field": "x", "old": "1", "new": "2", "new_sha256": .string(SHA256.hexDigest(utf8: "2"))]],
        ] {
            let data: JSONValue = [
                "policy_sha256": .string(SHA256.hexDigest(utf8: "v2")), "old_epsilon_max": 8, "new_epsilon_max": 9,
                "operator": "o",
                "changes": bad,
            ]
            #expect(ledgerError { _ = try PolicyAdoptedPayload(data: data) }?.code == .badEntry, "\(bad)")
        }
    }
}
