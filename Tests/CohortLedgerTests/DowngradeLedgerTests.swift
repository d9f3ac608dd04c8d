import CohortCrypto
import CohortTesting
import Foundation
import Testing

@testable import CohortLedger

/// Once a ledger freezes plans (and commits to participant samples), a later round cannot go
/// back to the older forms: an unplanned round.opened would escape the plan and budget checks, a
/// named sample would undo the participant unit's amplification (docs/LEDGER.md §6).
@Suite("No downgrade of planned or committed rounds")
struct DowngradeLedgerTests {
    @Test("a round.opened without a plan after a planned round is a bad entry")
    func unplannedAfterPlanned() throws {
        let (bytes, line) = try ChargeMethodLedgerTests.planned(editing: ChargeMethodLedgerTests.secondOpened) { data in
            data["plan"] = nil
        }
        let error = try #require(DisclosureLedgerTests.verify(bytes))
        #expect(error.code == .badEntry && error.line == line && error.message.contains("without a plan"), "\(error)")
    }

    /// Round 1 participant unit, committed; round 2 participant unit naming its sample and
    /// contributors (or, with `commit`, committing to them).
    static func twoParticipantRounds(commit: Bool) throws -> [UInt8] {
        let first = try DisclosureLedgerTests.participantRound(
            sampled: DisclosureLedgerTests.sampled, contributors: DisclosureLedgerTests.contributors,
            evaluation: DisclosureLedgerTests.evaluation)
        var records = try Fixtures.lines(first).map { line -> (String, JSONValue) in
            let entry = try LedgerEntry(json: JSONParser.parse(line))
            return (entry.kind, entry.data)
        }
        let state = try LedgerVerifier.verify(bytes: first, publicKey: Fixtures.testKey().publicKey).state
        let plan = ChargeMethodLedgerTests.plan(unit: .participant)
        let projected = try state.projectedCharge(plan: plan)
        records += ChargeMethodLedgerTests.preRoundGates(round: 2, projected: projected.cumulativeEpsilon).map {
            ("gate.decision", $0.data)
        }
        let sampled = ParticipantSampleCommitment(round: 2, set: .sampled, participants: ["hospital-a"])
        let contributors = ParticipantSampleCommitment(
            round: 2, set: .contributors, participants: ["hospital-a"],
            updateDigests: ["hospital-a": SHA256.hexDigest(utf8: "u2")])
        records.append(
            (
                "round.opened",
                RoundOpenedPayload(
                    round: 2, participantsSampled: commit ? nil : 1, participantsEligible: 3, mechanism: "m",
                    plan: plan,
                    sampleCommitment: commit ? sampled.commitment : nil
                ).data
            ))
        records.append(
            (
                "round.charged",
                RoundChargedPayload(
                    round: 2, plan: plan, projected: projected, contributors: commit ? [] : ["hospital-a"],
                    updateDigests: commit ? [:] : contributors.updateDigests,
                    contributorsCommitment: commit ? contributors.commitment : nil
                ).data
            ))
        return Fixtures.forge(records, key: Fixtures.testKey())
    }

    @Test("a participant-unit round naming its sample after a committed round is a bad entry")
    func namedSampleAfterCommitted() throws {
        #expect(DisclosureLedgerTests.verify(try Self.twoParticipantRounds(commit: true)) == nil)
        let bytes = try Self.twoParticipantRounds(commit: false)
        let error = try #require(DisclosureLedgerTests.verify(bytes))
        // Genesis and round 1 take 7 lines, round 2's decisions 2: its round.opened is line 10.
        #expect(error.code == .badEntry && error.line == 10 && error.message.contains("sample_commitment"), "\(error)")
    }
}
