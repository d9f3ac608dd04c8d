import CohortCoordinator
import CohortLedger
import CohortModel
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// Input that arrives too late or was altered at rest: each is refused with its own code and a
/// message that says what to do, and nothing the coordinator holds is lost or rewritten.
@Suite(.serialized) struct LateAndTamperedInputTests {
    /// A checkpoint altered on disk between two runs stops the restart with
    /// `coordinator.checkpoint_mismatch`, naming the file and the round; the ledger and the
    /// altered file stay as they were, and restoring the checkpoint lets the coordinator resume.
    @Test(.timeLimit(.minutes(3)))
    func tamperedCheckpointStopsTheRestartAndChangesNothing() async throws {
        let names = ["hospital-a", "hospital-b"]
        let consortium = try await Consortium(names: names, minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: consortium.directory) }
        let participants = names.map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(2)
        let outcome = try await consortium.coordinator.runRound()
        guard case .closed(1, _, _, _) = outcome else {
            Issue.record("round 1 did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        let released = await consortium.coordinator.globalModel
        await consortium.coordinator.shutdown()
        for task in participants { _ = try await task.value }

        let checkpoint = URL(fileURLWithPath: consortium.stateDirectory + "/checkpoints/round-000001.safetensors")
        let ledger = URL(fileURLWithPath: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory))
        let original = try Data(contentsOf: checkpoint)
        var tampered = original
        tampered[tampered.count - 1] ^= 0x01  // one bit of the last weight
        try tampered.write(to: checkpoint)
        let ledgerBefore = try Data(contentsOf: ledger)

        let capture = LogCapture()
        do {
            _ = try consortium.files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
            Issue.record("a coordinator started over a checkpoint that does not match its ledger digest")
        } catch let error as CoordinatorError {
            #expect(error.code == "coordinator.checkpoint_mismatch")
            #expect(error.message.contains(checkpoint.path), "names the file: \(error.message)")
            #expect(error.message.contains("round 1"), "names the round: \(error.message)")
            #expect(error.message.contains("restore it from backup"), "says what to do: \(error.message)")
        }
        // The refused start wrote nothing: the ledger is byte for byte what it was and still
        // verifies with round 1 closed; the altered file is left for the operator to inspect.
        #expect(try Data(contentsOf: ledger) == ledgerBefore)
        let verified = try LedgerVerifier.verify(file: ledger.path, publicKey: consortium.ledgerPublicKey())
        #expect(verified.state.lastClosedRound == 1)
        #expect(try Data(contentsOf: checkpoint) == tampered)

        // The remedy works: with the checkpoint restored the coordinator starts on round 1's model.
        try original.write(to: checkpoint)
        let restarted = try consortium.files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        #expect(await restarted.globalModel == released)
        await restarted.shutdown()
    }

    /// A damaged `suspended.json` stops the start with `coordinator.suspensions_unreadable`,
    /// naming the file and what to do; the file and the ledger are left as they were.
    @Test func damagedSuspensionsFileStopsTheStartAndIsLeftAsItWas() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let first = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        await first.shutdown()
        let path = files.stateDirectory + "/suspended.json"
        let ledger = URL(fileURLWithPath: LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory))
        let ledgerBefore = try Data(contentsOf: ledger)
        for bad in [#"["hospital-a"]"#, #"{"hospital-a": 3}"#, "{\"hospital-a\": \"poisoned", ""] {
            try bad.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
                Issue.record("a suspensions file of \(bad) was accepted")
            } catch let error as CoordinatorError {
                #expect(error.code == "coordinator.suspensions_unreadable")
                #expect(error.message.contains(path), "names the file: \(error.message)")
                #expect(error.message.contains("fix or delete it"), "says what to do: \(error.message)")
            }
            #expect(try String(contentsOfFile: path, encoding: .utf8) == bad)
            #expect(try Data(contentsOf: ledger) == ledgerBefore)
        }
        // The remedy: a valid file loads and its suspension holds.
        try #"{"hospital-a": "operator: investigating"}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let restarted = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        await restarted.shutdown()
    }

    /// An update for a round whose deadline ended its collection is refused with
    /// `round.deadline_passed` (the silo is too slow for `rounds.deadline_seconds`), not
    /// `round.not_open`; the round closes with the updates that came in time.
    @Test(.timeLimit(.minutes(3)))
    func updateAfterTheDeadlineIsToldTheDeadlinePassed() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        // The round deadline (20 s) passes only when the test moves this clock.
        let clock = ManualClock()
        let consortium = try await Consortium(names: names, minParticipants: 2, clock: CoordinatorClock(clock))
        let (contributed, contributedSink) = AsyncStream<String>.makeStream()
        let onTime = ["hospital-a", "hospital-b"].map { name in
            Task {
                try await consortium.scripted(name) { session in
                    let dimension = Int(session.welcome.model.dimension)
                    let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                    try await session.outbound.send(
                        session.update(for: invite, values: [Float](repeating: 0.01, count: dimension)))
                    #expect(try await session.reply().type == .updateAck)
                    contributedSink.yield(name)
                    try await Self.answerEvaluation(&session)
                    _ = try await session.next(.roundResult)
                }
            }
        }
        let late = Task { () -> WireError in
            try await consortium.scripted("hospital-c") { session in
                let dimension = Int(session.welcome.model.dimension)
                let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                let update = try session.update(for: invite, values: [Float](repeating: 0.01, count: dimension))
                // The evaluation request comes only once collection has ended: the update is late.
                let request = try await session.next(.evaluateRequest).decode(EvaluateRequest.self)
                try await session.outbound.send(update)
                let refusal = try await session.reply().decode(WireError.self)
                try await session.outbound.send(
                    EvaluationResult(round: request.round, json: Array(JSONEncoder().encode(MetricsAccumulator()))))
                _ = try await session.next(.roundResult)
                return refusal
            }
        }
        try await consortium.waitForConnected(3)
        let round = Task { try await consortium.coordinator.runRound() }
        var arrivals = contributed.makeAsyncIterator()
        _ = await arrivals.next()
        _ = await arrivals.next()
        // Both on-time updates are in; hospital-c has not answered, so only the deadline ends collection.
        #expect(await consortium.coordinator.status().currentRound?.phase == "collecting")
        clock.advance(by: .seconds(21))
        let outcome = try await round.value
        let refusal = try await late.value
        for task in onTime { try await task.value }

        #expect(refusal.code == "round.deadline_passed")
        #expect(refusal.message.contains("round 1") && refusal.message.contains("after the round's deadline (20.0 s)"))
        #expect(refusal.message.contains("rounds.deadline_seconds"), "says what to do: \(refusal.message)")
        #expect(!refusal.closesConnection)
        if case .closed(let round, _, _, _) = outcome { #expect(round == 1) }
        try expectClosedAndLedgerVerifies(outcome, consortium, contributors: ["hospital-a", "hospital-b"])
        await consortium.shutdown()
    }

    /// Sealed, correctly signed updates whose plaintext is not a CUPD v1 body of its declared
    /// length are refused with `update.malformed`, saying which part is wrong and what to run;
    /// the round closes with the honest updates only (one bad update per sender: a refused
    /// sender leaves the round).
    @Test(.timeLimit(.minutes(3)))
    func malformedUpdatePlaintextIsRefused() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c", "hospital-d", "hospital-e"]
        let consortium = try await Consortium(names: names, minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let hostile = ["hospital-c", "hospital-d", "hospital-e"].enumerated().map { kind, name in
            Task { () -> WireError in
                try await consortium.scripted(name) { session in
                    let dimension = Int(session.welcome.model.dimension)
                    let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                    var plaintext = UpdatePlaintext.encode(
                        round: invite.round, records: 10, values: [Float](repeating: 0.01, count: dimension))
                    switch kind {
                    case 0: plaintext.replaceSubrange(0..<4, with: Array("XXXX".utf8))
                    case 1: plaintext[4] = 2  // format version 2
                    default:
                        // The header declares one value fewer than the body carries (the sealed
                        // size still matches the model, so only the header check can see it).
                        plaintext[14] = UInt8(dimension - 1)
                    }
                    try await session.outbound.send(session.update(for: invite, plaintext: plaintext))
                    return try await session.reply().decode(WireError.self)
                }
            }
        }
        try await consortium.waitForConnected(5)
        let outcome = try await consortium.coordinator.runRound()
        var refusals: [WireError] = []
        for task in hostile { refusals.append(try await task.value) }
        #expect(refusals.map(\.code) == Array(repeating: "update.malformed", count: 3))
        #expect(refusals[0].message.contains("does not start with the CUPD header"))
        #expect(refusals[1].message.contains("format version 2 is not supported (expected 1)"))
        #expect(refusals[2].message.contains("declares 30 values but carries 124 bytes of them"))
        #expect(refusals.allSatisfy { $0.message.hasSuffix("run a participant of the coordinator's version") })
        if case .closed(let round, _, _, _) = outcome { #expect(round == 1) }
        try expectClosedAndLedgerVerifies(outcome, consortium, contributors: ["hospital-a", "hospital-b"])
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// `cohort-coordinator --alert-webhook` with a URL that is not http(s) with a host exits 2
    /// with `alerts.bad_webhook` before anything is created, without echoing the URL (webhook
    /// URLs often carry a token).
    @Test(.timeLimit(.minutes(2)))
    func badAlertWebhookStopsTheCoordinatorBeforeItStarts() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let state = files.directory + "/webhook-state"
        for url in ["ftp://hook-token-0451@alerts.example/hook", "https:///no-host?token=hook-token-0451"] {
            let process = try ChildProcess(
                builtExecutable("cohort-coordinator"),
                ["--policy", files.policyPath, "--state", state, "--port", "0", "--alert-webhook", url],
                log: files.directory + "/webhook.log")
            #expect(try await process.waitForExit() == .exited(2))
            let log = process.log
            #expect(log.contains("alerts.bad_webhook"), "\(log)")
            #expect(log.contains("--alert-webhook must be an http:// or https:// URL with a host"))
            #expect(!log.contains("hook-token-0451"), "the URL (and its token) is not echoed")
            #expect(!FileManager.default.fileExists(atPath: state), "nothing was created")
        }
    }

    /// Answers the next evaluation request with an empty (valid) result.
    static func answerEvaluation(_ session: inout ScriptedSession) async throws {
        let request = try await session.next(.evaluateRequest).decode(EvaluateRequest.self)
        try await session.outbound.send(
            EvaluationResult(round: request.round, json: Array(JSONEncoder().encode(MetricsAccumulator()))))
    }
}
