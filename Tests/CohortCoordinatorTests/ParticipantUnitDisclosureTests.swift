import CohortCoordinator
import CohortCrypto
import CohortLedger
import CohortParticipant
import CohortStorage
import CohortTesting
import Foundation
import Testing

/// Participant unit over real mutual-TLS rounds: the ledger never names who was sampled or who
/// contributed; it commits to both, and the coordinator's sample store (0600) opens the
/// commitments. The record unit keeps naming its contributors (EndToEndTests).
@Suite(.serialized) struct ParticipantUnitDisclosureTests {
    @Test func participantUnitLedgerNamesNoParticipantAndItsCommitmentsOpen() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        let consortium = try await Consortium(unit: "participant", samplingRate: 0.9, noiseMultiplier: 2)
        let tasks = names.map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(3)
        var outcomes: [RoundOutcome] = []
        for _ in 0..<2 { outcomes.append(try await consortium.coordinator.runRound()) }
        let entries = try consortium.ledgerEntries()
        // Every round entry, and the gate decisions made over the sampled updates, name no one.
        let sampleGates: Set<String> = ["update_checks", "anomaly", "risk", "evaluation"]
        for entry in entries
        where entry.kind.hasPrefix("round.") || entry.kind == "evaluation.recorded"
            || (entry.kind == "gate.decision" && sampleGates.contains(entry.data["gate"]?.stringValue ?? ""))
        {
            let line = String(decoding: entry.canonicalLine, as: UTF8.self)
            for name in names { #expect(!line.contains(name), "\(entry.kind) names \(name): \(line)") }
            #expect(entry.data["contributors"] == nil && entry.data["update_digests"] == nil)
        }
        // The commitments open with the salts and names the coordinator kept, mode 0600.
        let storePath = ParticipantSampleStore.path(stateDirectory: consortium.stateDirectory)
        #expect(try DurableFile.permissions(of: storePath) == 0o600)
        let stored = try ParticipantSampleStore.read(path: storePath)
        var closedOrAborted = 0
        for (index, outcome) in outcomes.enumerated() {
            let round = index + 1
            let opened = try #require(
                entries.first { $0.kind == "round.opened" && $0.data["round"]?.intValue == round })
            let sampled = try #require(stored.first { $0.round == round && $0.set == .sampled })
            #expect(opened.data["sample_commitment"]?.stringValue == sampled.commitment)
            #expect(
                opened.data["sample_commitment"]?.stringValue
                    == ParticipantSampleCommitment.commitment(salt: sampled.salt, participants: sampled.participants))
            #expect(opened.data["participants_sampled"] == nil)
            #expect(Set(sampled.participants).isSubset(of: Set(names)))
            if let charged = entries.first(where: { $0.kind == "round.charged" && $0.data["round"]?.intValue == round })
            {
                let contributors = try #require(stored.first { $0.round == round && $0.set == .contributors })
                #expect(charged.data["contributors_commitment"]?.stringValue == contributors.commitment)
                #expect(Set(contributors.participants).isSubset(of: Set(sampled.participants)))
                #expect(Set(contributors.updateDigests.keys) == Set(contributors.participants))
            }
            // The round's end carries no count either: k of n would reveal the sampling outcome.
            let end = try #require(
                entries.first {
                    ($0.kind == "round.closed" || $0.kind == "round.aborted") && $0.data["round"]?.intValue == round
                })
            #expect(end.data["participants_sampled"] == nil && end.data["contributors_count"] == nil)
            if case .closed = outcome { #expect(end.kind == "round.closed") }
            closedOrAborted += 1
        }
        #expect(closedOrAborted == 2)
        let verified = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey(), keepEntries: true)
        // The operator's store opens every commitment and gives the sizes the ledger withholds.
        let opened = try ParticipantSampleStore.check(path: storePath, against: verified.entries)
        let charges = entries.filter { $0.kind == "round.charged" }.count
        #expect(opened.commitmentsChecked == 2 + charges)
        for round in 1...2 {
            let drawn = try #require(stored.first { $0.round == round && $0.set == .sampled })
            #expect(opened.counts[round]?.sampled == drawn.participants.count)
        }
        await consortium.shutdown()
        for task in tasks { _ = try? await task.value }
    }

    /// Issue 12: under the participant unit nothing an auditor reads counts the sampled or
    /// contributing participants — no count field in any entry, at any depth, and no number but
    /// the policy's minimum in an abort reason.
    @Test func participantUnitLedgerCountsNoSampledOrContributingParticipant() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        // min_participants 3 with q 0.6: most rounds sample fewer than three, which the participant
        // unit charges and releases anyway; nothing about the shortfall may reach the ledger.
        let consortium = try await Consortium(
            minParticipants: 3, unit: "participant", samplingRate: 0.6, noiseMultiplier: 2)
        let tasks = names.map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(3)
        for _ in 0..<4 { _ = try await consortium.coordinator.runRound() }
        let entries = try consortium.ledgerEntries()
        let countKeys: Set<String> = [
            "participants_sampled", "contributors_count", "contributors", "update_digests", "participants_contributed",
            "sampled", "updates_received", "updates_accepted",
        ]
        func keys(_ value: JSONValue, path: String) -> [String] {
            if let object = value.objectValue {
                return object.flatMap { key, inner in
                    (countKeys.contains(key) ? [path + "." + key] : []) + keys(inner, path: path + "." + key)
                }
            }
            return value.arrayValue?.flatMap { keys($0, path: path + "[]") } ?? []
        }
        for entry in entries where entry.kind != "genesis" && entry.kind != "policy.adopted" {
            let found = keys(entry.data, path: "data")
            #expect(found.isEmpty, "seq \(entry.seq) \(entry.kind) carries \(found)")
            if entry.kind == "round.aborted", let reason = entry.data["reason"]?.stringValue {
                let numbers = reason.split(whereSeparator: { !$0.isNumber }).map(String.init)
                #expect(numbers.allSatisfy { $0 == "3" }, "an abort reason states a count: \(reason)")
            }
        }
        #expect(entries.contains { $0.kind == "round.opened" })
        await consortium.shutdown()
        for task in tasks { _ = try? await task.value }
    }

    /// With `rounds.collect_until_deadline`, a participant-unit round collects for its whole
    /// deadline even when every sampled participant answered long before: the gap between
    /// `round.opened` and `round.charged` in the ledger no longer depends on whom it sampled.
    @Test func collectionUntilTheDeadlineHidesHowFastTheSampleAnswered() async throws {
        let deadline = 3.0
        let consortium = try await Consortium(
            deadlineSeconds: deadline, unit: "participant", samplingRate: 0.9, noiseMultiplier: 2,
            collectUntilDeadline: true)
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        let tasks = names.map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(3)
        for _ in 0..<2 { _ = try await consortium.coordinator.runRound() }
        let entries = try consortium.ledgerEntries()
        for round in 1...2 {
            let opened = try #require(
                entries.first { $0.kind == "round.opened" && $0.data["round"]?.intValue == round })
            // Charged and released whatever the sample was, but only once the deadline passed.
            let charged = try #require(
                entries.first { $0.kind == "round.charged" && $0.data["round"]?.intValue == round })
            let collected = charged.time.millisecondsSinceEpoch - opened.time.millisecondsSinceEpoch
            #expect(collected >= Int64(deadline * 1000), "round \(round) charged \(collected) ms after opening")
        }
        await consortium.shutdown()
        for task in tasks { _ = try? await task.value }
    }

    @Test func recordUnitStillNamesItsContributors() async throws {
        let consortium = try await Consortium()
        let tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        try await consortium.waitForConnected(3)
        guard case .closed = try await consortium.coordinator.runRound() else {
            Issue.record("round did not close")
            await consortium.shutdown()
            return
        }
        let entries = try consortium.ledgerEntries()
        let opened = try #require(entries.first { $0.kind == "round.opened" })
        let charged = try #require(entries.first { $0.kind == "round.charged" })
        let closed = try #require(entries.first { $0.kind == "round.closed" })
        #expect(opened.data["participants_sampled"]?.intValue == 3 && opened.data["sample_commitment"] == nil)
        #expect(charged.data["contributors"] == .array(["hospital-a", "hospital-b", "hospital-c"]))
        #expect(charged.data["update_digests"]?.objectValue?.count == 3)
        #expect(closed.data["participants_sampled"] == nil && closed.data["contributors_count"] == nil)
        #expect(!DurableFile.exists(ParticipantSampleStore.path(stateDirectory: consortium.stateDirectory)))
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }
}

/// A participant-unit round left open by a crash is aborted at the next start without its
/// sample's counts, which stay in the sample store the coordinator wrote before the entries.
@Suite(.serialized) struct ParticipantUnitRestartTests {
    @Test func roundLeftOpenIsAbortedWithoutItsCountsAtRestart() async throws {
        let files = try ConsortiumFiles(unit: "participant", samplingRate: 0.9, noiseMultiplier: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        // The first coordinator creates the ledger; it holds the ledger's lock until deallocated.
        do {
            let first = try files.makeCoordinator(logger: capture.logger("first"))
            await first.stop()
        }
        // What a crash after the opening leaves: the sample's store line, the budget decision and
        // round.opened with its commitment, and nothing after.
        let key = try Ed25519.KeyPair(
            secretKey: KeyFile.readSecret(kind: .ed25519Secret, from: files.coordinatorIdentity.ed25519SecretKey))
        let writer = try LedgerWriter.open(stateDirectory: files.stateDirectory, signingKey: key)
        let plan = RoundPlanRecord(
            unit: .participant, samplingRate: 0.9, noiseMultiplier: 2, clippingBound: 1, gridStep: 1e-4,
            sensitivity: 1.01, dimension: 31,
            records: 0, delta: 1e-5)
        let projected = try writer.state.projectedCharge(plan: plan)
        let commitment = try ParticipantSampleStore.append(
            ParticipantSampleCommitment(round: 1, set: .sampled, participants: ["hospital-a", "hospital-c"]),
            stateDirectory: files.stateDirectory)
        try writer.append(
            GateDecisionPayload(
                round: 1, gate: "budget", passed: true, reason: "within",
                inputs: ["projected_epsilon": .number(projected.cumulativeEpsilon)]))
        try writer.append(
            RoundOpenedPayload(
                round: 1, participantsSampled: nil, participantsEligible: 3, mechanism: "m", plan: plan,
                sampleCommitment: commitment))
        writer.close()
        do {
            let restarted = try files.makeCoordinator(logger: capture.logger("restarted"))
            await restarted.stop()
        }
        let ledger = LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory)
        let aborted = try #require(try LedgerReader.read(file: ledger).entries.last)
        #expect(aborted.kind == "round.aborted")
        #expect(aborted.data["participants_sampled"] == nil && aborted.data["contributors_count"] == nil)
        #expect(aborted.data["charged"] == .bool(false))
        _ = try LedgerVerifier.verify(file: ledger, publicKey: files.ledgerPublicKey())
    }

    /// Under the participant unit a round whose sample came out empty is charged and released
    /// (noise only) like any other: aborting it would tell a ledger reader the secret sample's size.
    @Test func emptySampleIsChargedAndReleasedNotAborted() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        // q = 0.01: a round samples no one with probability 0.97.
        let consortium = try await Consortium(unit: "participant", samplingRate: 0.01, noiseMultiplier: 2)
        let tasks = names.map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(3)
        let storePath = ParticipantSampleStore.path(stateDirectory: consortium.stateDirectory)
        var emptyRound: Int?
        for round in 1...8 where emptyRound == nil {
            let outcome = try await consortium.coordinator.runRound()
            let sampled = try ParticipantSampleStore.read(path: storePath).first {
                $0.round == round && $0.set == .sampled
            }
            guard try #require(sampled).participants.isEmpty else { continue }
            emptyRound = round
            guard case .closed = outcome else {
                Issue.record("round \(round) sampled no one and ended \(outcome), not closed")
                continue
            }
            let entries = try consortium.ledgerEntries()
            #expect(entries.contains { $0.kind == "round.charged" && $0.data["round"]?.intValue == round })
            #expect(!entries.contains { $0.kind == "round.aborted" && $0.data["round"]?.intValue == round })
        }
        #expect(emptyRound != nil, "eight rounds at q = 0.01 never sampled no one")
        _ = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey())
        await consortium.shutdown()
        for task in tasks { _ = try? await task.value }
    }
}
