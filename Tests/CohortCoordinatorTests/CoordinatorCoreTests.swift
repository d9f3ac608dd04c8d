import CohortCoordinator
import CohortLedger
import CohortModel
import CohortParticipant
import CohortPolicy
import CohortTesting
import CohortTransport
import Foundation
import Logging
import Testing

/// The coordinator core's events, deadlines, aborts, fan-out and persisted queue.
@Suite(.serialized) struct CoordinatorCoreTests {
    static let operatorPrincipal = try! PeerIdentity(role: .operator, name: "ops-alice")

    /// The quorum wait is measured on the injected clock: an hour's wait ends as soon as the
    /// test moves its clock past it, with the quorum refusal ledgered.
    @Test(.timeLimit(.minutes(2)))
    func quorumWaitEndsOnTheInjectedClock() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let clock = ManualClock()
        var configuration = CoordinatorConfiguration(
            policy: try PolicyLoader.load(path: files.policyPath), stateDirectory: files.stateDirectory,
            portOverride: 0,
            quorumWaitSeconds: 3600)
        configuration.clock = CoordinatorClock(clock)
        let coordinator = try Coordinator(
            configuration: configuration, logger: LogCapture().logger("cohort.coordinator"))
        let started = ContinuousClock.now
        let round = Task { try await coordinator.runRound() }
        // The round waits for a quorum on the manual clock; nothing else moves it.
        try await clock.waitForSleepers(1)
        clock.advance(by: .seconds(3599))
        try await clock.waitForSleepers(1)
        #expect(await coordinator.status().state == .idle)
        clock.advance(by: .seconds(2))
        let outcome = try await round.value
        guard case .refused(1, "quorum", _) = outcome else {
            Issue.record("expected a quorum refusal of round 1, got \(outcome)")
            return
        }
        // An hour on the injected clock, far less in real time: the wait did not run on a wall clock.
        #expect(ContinuousClock.now - started < .seconds(600))
        let kinds = try LedgerReader.read(file: LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory)).entries
            .map(\.kind)
        #expect(kinds.last == "round.refused")
        await coordinator.shutdown()
    }

    /// An abort that arrives while the round evaluates its candidate ends that round — charged,
    /// its candidate discarded (model unchanged, no checkpoint) — and the next round runs and closes.
    @Test(.timeLimit(.minutes(2)))
    func abortDuringEvaluationAbortsThatRoundNotTheNext() async throws {
        let names = ["hospital-a", "hospital-b"]
        // The coordinator's deadlines run on a manual clock that never moves: the evaluation
        // timeout cannot end round 1 before the abort arrives, however loaded the machine.
        let consortium = try await Consortium(names: names, minParticipants: 2, clock: CoordinatorClock(ManualClock()))
        let (evaluating, evaluatingSink) = AsyncStream<String>.makeStream()
        let peers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in names {
                    group.addTask {
                        try await consortium.scripted(name) { session in
                            let dimension = Int(session.welcome.model.dimension)
                            // Round 1: contribute, then hold the evaluation request unanswered.
                            var invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                            try await session.outbound.send(
                                session.update(for: invite, values: [Float](repeating: 0.01, count: dimension)))
                            _ = try await session.reply()
                            _ = try await session.next(.evaluateRequest)
                            evaluatingSink.yield(name)
                            // Round 2: contribute and evaluate.
                            invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                            try await session.outbound.send(
                                session.update(for: invite, values: [Float](repeating: 0.01, count: dimension)))
                            let request = try await session.next(.evaluateRequest).decode(EvaluateRequest.self)
                            try await session.outbound.send(
                                EvaluationResult(
                                    round: request.round, json: Array(JSONEncoder().encode(MetricsAccumulator()))))
                            _ = try await session.next(.roundResult)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await consortium.waitForConnected(2)
        let coordinator = consortium.coordinator
        let modelBefore = await coordinator.globalModel
        let first = Task { try await coordinator.runRound() }
        var arrivals = evaluating.makeAsyncIterator()
        _ = await arrivals.next()
        _ = await arrivals.next()
        // Both participants hold the evaluation request: round 1 is past its charge and evaluating.
        #expect(await coordinator.status().currentRound?.phase == "aggregated")
        _ = try await coordinator.abortRound(reason: "stop this one", by: Self.operatorPrincipal)
        let outcome = try await first.value
        #expect(outcome == .aborted(round: 1, reason: "aborted by operator ops-alice: stop this one", charged: true))
        #expect(await coordinator.globalModel == modelBefore)
        #expect(
            !FileManager.default.fileExists(atPath: consortium.stateDirectory + "/checkpoints/round-000001.safetensors")
        )
        let round1 = try consortium.ledgerEntries().filter { $0.data["round"]?.intValue == 1 }.map(\.kind)
        #expect(round1.contains("round.charged") && round1.last == "round.aborted" && !round1.contains("round.closed"))
        // The abort was round 1's: round 2 runs to its close.
        let second = try await coordinator.runRound()
        guard case .closed(2, let contributors, _, _) = second else {
            Issue.record("expected round 2 to close, got \(second)")
            await consortium.shutdown()
            return
        }
        #expect(contributors.sorted() == names)
        try await peers.value
        await consortium.shutdown()
    }

    /// A participant that stops reading its socket (real TLS, `autoRead` off) cannot stall a round:
    /// the frames for it are cut off at its deadline, its connection is closed with
    /// `session.send_timeout`, and the others' round closes.
    @Test(.timeLimit(.minutes(3)))
    func participantThatStopsReadingDoesNotStallTheRound() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        let files = try ConsortiumFiles(names: names, minParticipants: 2, deadlineSeconds: 15)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        var configuration = CoordinatorConfiguration(
            policy: try PolicyLoader.load(path: files.policyPath), stateDirectory: files.stateDirectory,
            portOverride: 0,
            quorumWaitSeconds: 30, modelDimension: 3_000_000)
        // 12 MB frames: more than the kernel's socket buffers and the channel's watermark hold.
        configuration.peerSendTimeoutSeconds = 3
        let coordinator = try Coordinator(configuration: configuration, logger: capture.logger("cohort.coordinator"))
        let port = try await coordinator.start(
            tls: TLSConfigurationFactory(identity: files.coordinatorIdentity).makeServerConfiguration())
        let stalled = try await StalledPeer.connect(files: files, name: "hospital-c", port: port)
        let honest = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in names.prefix(2) {
                    group.addTask {
                        try await files.scripted(name, port: port, logger: capture.logger("cohort.scripted")) {
                            session in
                            let dimension = Int(session.welcome.model.dimension)
                            let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                            try await session.outbound.send(
                                session.update(for: invite, values: [Float](repeating: 0, count: dimension)))
                            let request = try await session.next(.evaluateRequest).decode(EvaluateRequest.self)
                            try await session.outbound.send(
                                EvaluationResult(
                                    round: request.round, json: Array(JSONEncoder().encode(MetricsAccumulator()))))
                            _ = try await session.next(.roundResult)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        for _ in 0..<1500 where await coordinator.connectedParticipants.count < 3 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await coordinator.connectedParticipants == names)
        let outcome = try await coordinator.runRound()
        guard case .closed(1, let contributors, _, _) = outcome else {
            Issue.record("expected round 1 to close, got \(outcome)")
            await stalled.close()
            await coordinator.shutdown()
            return
        }
        #expect(contributors.sorted() == ["hospital-a", "hospital-b"])
        #expect(!(await coordinator.connectedParticipants.contains("hospital-c")))
        #expect(capture.text.contains("frame not delivered") && capture.text.contains("cohort.participant=hospital-c"))
        try await honest.value
        await stalled.close()
        await coordinator.shutdown()
    }

    /// Rounds an operator queued survive a restart of the coordinator on the same state
    /// directory (`queue.json`, fsynced before the request is acknowledged); an abort drops them
    /// durably too.
    @Test(.timeLimit(.minutes(2)))
    func operatorQueuedRoundsSurviveARestart() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let first = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        _ = try await first.pause(by: Self.operatorPrincipal)
        let queued = try await first.requestRounds(3, by: Self.operatorPrincipal)
        #expect(queued.roundsQueued == 3)
        // A clean stop, then a new coordinator opens the directory: queue.json is all that carries
        // the rounds over. (The same after kill -9 of a real process, with participant processes
        // that finish the rounds: LifecycleProcessTests.operatorQueuedRoundsSurviveAKillNine….)
        await first.shutdown(reason: "restart")
        let second = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        #expect(await second.status().roundsQueued == 3)
        // The operator's pause survives the restart too: the queued rounds wait for a resume.
        #expect(await second.status().state == .paused)
        #expect(capture.text.contains("paused by an operator before the restart"))
        // An abort drops them for good: a third start finds none.
        _ = try await second.abortRound(reason: "not today", by: Self.operatorPrincipal)
        #expect(await second.status().roundsQueued == 0)
        await second.shutdown(reason: "restart")
        let third = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        #expect(await third.status().roundsQueued == 0)
        await third.shutdown()
    }

    /// The queued rounds run after the restart once participants are there, and each taken
    /// round is recorded before it runs.
    @Test(.timeLimit(.minutes(2)))
    func restoredQueueRunsWhenServingResumes() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let first = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        _ = try await first.pause(by: Self.operatorPrincipal)
        _ = try await first.requestRounds(1, by: Self.operatorPrincipal)
        await first.shutdown(reason: "restart")

        let coordinator = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        #expect(await coordinator.status().state == .paused)
        _ = try await coordinator.resume(by: Self.operatorPrincipal)
        #expect(capture.text.contains("operator-queued rounds resume") == false)
        let port = try await coordinator.start(
            tls: TLSConfigurationFactory(identity: files.coordinatorIdentity).makeServerConfiguration())
        var participants: [Task<Void, any Error>] = []
        for identity in files.participants {
            let configuration = ParticipantConfiguration(
                host: "127.0.0.1", port: port, identity: identity, dataPath: identity.directory + "/data.csv",
                schemaPath: files.schemaPath)
            let participant = Participant(configuration: configuration, logger: capture.logger("cohort.participant"))
            participants.append(Task { _ = try await participant.run() })
        }
        let serving = Task { try await coordinator.serveRequests() }
        var status = await coordinator.status()
        for _ in 0..<3000 where status.lastRound == nil || status.state != .idle {
            try await Task.sleep(for: .milliseconds(20))
            status = await coordinator.status()
        }
        #expect(status.lastRound?.round == 1 && status.lastRound?.outcome == "closed")
        #expect(status.roundsQueued == 0)
        let queueFile = try String(contentsOfFile: files.stateDirectory + "/queue.json", encoding: .utf8)
        #expect(queueFile.contains(#""paused":false,"queued_rounds":0,"version":2"#))
        serving.cancel()
        _ = try? await serving.value
        await coordinator.stop()
        for task in participants { _ = try? await task.value }
        await coordinator.shutdown()
    }

    /// A queue file that cannot be read stops the start with a clear error, and loses nothing:
    /// the file stays as it was for the operator to fix.
    @Test func unreadableQueueFileIsRefusedWithItsPath() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        // Create the state directory with a first start, then damage the queue file.
        let first = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        await first.shutdown()
        let path = files.stateDirectory + "/queue.json"
        for bad in [
            #"{"version":1,"queued_rounds":-2}"#, #"{"version":9,"queued_rounds":1}"#, "not json",
            #"{"version":2,"queued_rounds":1}"#, #"{"version":2,"queued_rounds":1,"paused":"yes"}"#,
            #"{"version":2,"queued_rounds":1,"paused":false,"taken_round":0}"#,
            #"{"version":2,"queued_rounds":1,"paused":false,"taken_round":"1"}"#,
        ] {
            try bad.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
                Issue.record("a queue file of \(bad) was accepted")
            } catch let error as CoordinatorError {
                #expect(error.code == "coordinator.queue_unreadable")
                #expect(error.message.contains(path))
            }
            #expect(try String(contentsOfFile: path, encoding: .utf8) == bad)
        }
    }

    /// A queue file written before pauses were recorded (version 1) still restores its rounds,
    /// not paused; the next write upgrades it to version 2.
    @Test func versionOneQueueFileRestoresItsRoundsUnpaused() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let first = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        await first.shutdown()
        let path = files.stateDirectory + "/queue.json"
        try #"{"queued_rounds":4,"version":1}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let coordinator = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        let status = await coordinator.status()
        #expect(status.roundsQueued == 4 && status.state != .paused)
        _ = try await coordinator.pause(by: Self.operatorPrincipal)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == #"{"paused":true,"queued_rounds":4,"version":2}"#)
        await coordinator.shutdown()
    }

    /// A pause that cannot be recorded is refused and changes nothing: the coordinator keeps
    /// running and the file keeps what it held.
    @Test func pauseThatCannotBeRecordedIsRefused() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let coordinator = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        _ = try await coordinator.requestRounds(2, by: Self.operatorPrincipal)
        let path = files.stateDirectory + "/queue.json"
        let before = try String(contentsOfFile: path, encoding: .utf8)
        // A directory where the temporary file of the atomic write must go makes the write fail.
        let blocker = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: blocker) }
        do {
            _ = try await coordinator.pause(by: Self.operatorPrincipal)
            Issue.record("a pause that could not be recorded was acknowledged")
        } catch {
            #expect(error.code == "control.storage")
            #expect(error.message.contains("still running"))
        }
        #expect(await coordinator.status().state != .paused)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
        await coordinator.shutdown()
    }

    /// The queue cannot grow past what `queue.json` accepts at start-up: a request that would is
    /// refused, and what is queued still loads after a restart.
    @Test func requestsBeyondTheQueueLimitAreRefused() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let first = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        await first.shutdown()
        // docs/ERRORS.md `control.queue_full`: one million rounds at most.
        let limit = 1_000_000
        try #"{"paused":true,"queued_rounds":\#(limit - 1),"version":2}"#.write(
            toFile: files.stateDirectory + "/queue.json", atomically: true, encoding: .utf8)
        let coordinator = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        do {
            _ = try await coordinator.requestRounds(2, by: Self.operatorPrincipal)
            Issue.record("a request past the queue limit was accepted")
        } catch {
            #expect(error.code == "control.queue_full")
        }
        #expect(try await coordinator.requestRounds(1, by: Self.operatorPrincipal).roundsQueued == limit)
        await coordinator.shutdown()
        let restarted = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        #expect(await restarted.status().roundsQueued == limit)
        await restarted.shutdown()
    }

    /// A crash in the middle of appending to the participant-sample store leaves half a line; the
    /// next start cuts it (its ledger entry was never written) instead of refusing the store.
    @Test func startCutsATornStoreLine() async throws {
        let files = try ConsortiumFiles(minParticipants: 2)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let first = try files.makeCoordinator(logger: LogCapture().logger("cohort.coordinator"))
        await first.shutdown()
        let store = files.stateDirectory + "/participant-samples.jsonl"
        let fragment = Array(#"{"commitment":"0f3a"#.utf8)
        #expect(
            FileManager.default.createFile(
                atPath: store, contents: Data(fragment), attributes: [.posixPermissions: 0o600]))
        let capture = LogCapture()
        let coordinator = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: store)).isEmpty)
        #expect(capture.text.contains("an interrupted append was cut from a store"))
        await coordinator.shutdown()
    }
}
