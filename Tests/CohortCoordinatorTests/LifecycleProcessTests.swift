import CohortAPIClient
import CohortAPITypes
import CohortLedger
import CohortTesting
import CohortTransport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real `cohort-coordinator` and `cohort-participant` processes under ServiceLifecycle:
/// SIGTERM is a clean stop (exit 0, the round in progress aborted or finished, the ledger
/// verifying and closed), and participants reconnect to a coordinator that was killed and restarted.
@Suite(.serialized) struct LifecycleProcessTests {
    /// The ledger's entry kinds so far (empty while there is no ledger).
    /// The kinds of the ledger's complete lines. The coordinator appends while this reads, so the
    /// last line may be half written: it is left out (a full read would refuse the whole file, and
    /// a poll that keeps landing on a growing tail would never see the rounds).
    static func ledgerKinds(_ files: ConsortiumFiles) -> [String] {
        let path = LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory)
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        if data.last != 0x0A, !lines.isEmpty { lines.removeLast() }
        return lines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])?["kind"] as? String
        }
    }

    /// Polls the ledger until `condition` holds.
    static func waitForLedger(
        _ files: ConsortiumFiles, _ what: String, timeout: Duration = .seconds(90), _ condition: ([String]) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(ledgerKinds(files)) {
            guard ContinuousClock.now < deadline else {
                throw HarnessError(message: "the ledger never showed \(what): \(ledgerKinds(files))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func startCoordinator(
        _ files: ConsortiumFiles, port: Int, extra: [String] = [], log: String
    ) async throws -> (ChildProcess, Int) {
        let portFile = files.directory + "/coordinator.port"
        try? FileManager.default.removeItem(atPath: portFile)
        // A restarted coordinator must not be reached through the port its predecessor wrote.
        if let index = extra.firstIndex(of: "--api-port-file"), index + 1 < extra.count {
            try? FileManager.default.removeItem(atPath: extra[index + 1])
        }
        let process = try ChildProcess(
            try builtExecutable("cohort-coordinator"),
            [
                "--policy", files.policyPath, "--state", files.stateDirectory, "--port", "\(port)", "--port-file",
                portFile,
                "--quorum-wait", "20",
            ] + extra, log: log)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let bound = Int(text) {
                return (process, bound)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.signal(SIGKILL)
        _ = try await process.waitForExit()
        throw HarnessError(message: "the coordinator did not start listening:\n\(process.log)")
    }

    static func startParticipants(
        _ files: ConsortiumFiles, port: Int, tag: String, extra: [String] = []
    ) throws -> [ChildProcess] {
        try files.participants.map { identity in
            try ChildProcess(
                try builtExecutable("cohort-participant"),
                [
                    "--coordinator", "127.0.0.1:\(port)", "--identity", identity.directory,
                    "--data", identity.directory + "/data.csv", "--schema", files.schemaPath,
                ] + extra, log: files.directory + "/\(identity.name)-\(tag).log")
        }
    }

    /// The ledger verifies under the coordinator's key and no round is left open.
    static func expectSoundLedger(_ files: ConsortiumFiles, _ moment: String) throws {
        let auditor = try LedgerAudit(files: files)
        let finding = try auditor.check(after: moment)
        #expect(finding.unfinishedRound == nil, "\(moment): round \(finding.unfinishedRound ?? 0) is still open")
    }

    @Test(.timeLimit(.minutes(3)))
    func sigtermAbortsTheRoundInProgressExitsZeroAndLeavesAVerifyingLedger() async throws {
        // Rounds that cannot all finish before SIGTERM lands (1000 ran out in 40 s once on a loaded
        // machine before the test saw the second opening): the budget (ε 100) lasts far longer.
        let files = try ConsortiumFiles(
            minParticipants: 3, deadlineSeconds: 20, epsilonMax: 100, roundsCount: 1_000_000)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let (coordinator, port) = try await Self.startCoordinator(
            files, port: 0, log: files.directory + "/coordinator.log")
        let participants = try Self.startParticipants(
            files, port: port, tag: "term", extra: ["--reconnect-attempts", "0"])
        // Wait for a round to be open (a charge written is better still, but not needed).
        try await Self.waitForLedger(files, "a second round opened") { $0.count(where: { $0 == "round.opened" }) >= 2 }
        coordinator.signal(SIGTERM)
        let status = try await coordinator.waitForExit(timeout: .seconds(30))
        #expect(status == .exited(0), "coordinator: \(status)\n\(coordinator.log)")
        #expect(coordinator.log.contains("stopped by signal"), "the clean stop is logged:\n\(coordinator.log)")
        // The coordinator said goodbye: every participant ends cleanly too.
        for participant in participants {
            let ended = try await participant.waitForExit(timeout: .seconds(30))
            #expect(ended == .exited(0), "participant: \(ended)\n\(participant.log)")
        }
        let kinds = Self.ledgerKinds(files)
        #expect(
            kinds.last == "round.aborted" || kinds.last == "round.closed" || kinds.last == "round.refused",
            "\(kinds.suffix(4))")
        try Self.expectSoundLedger(files, "after SIGTERM")
        // The ledger lock was released: the state directory opens again at once.
        let (again, _) = try await Self.startCoordinator(
            files, port: 0, log: files.directory + "/coordinator-again.log")
        again.signal(SIGTERM)
        #expect(try await again.waitForExit(timeout: .seconds(30)) == .exited(0), "restart:\n\(again.log)")
    }

    /// A participant in a session (the coordinator serves operator requests, so no round ends the
    /// session first) stops on SIGTERM: goodbye to the coordinator, exit 0; the coordinator drops it.
    @Test(.timeLimit(.minutes(3)))
    func sigtermStopsAParticipantWithExitZeroAndTheCoordinatorDropsIt() async throws {
        let files = try ConsortiumFiles(minParticipants: 2, deadlineSeconds: 10, epsilonMax: 100, roundsCount: 3)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let (coordinator, port) = try await Self.startCoordinator(
            files, port: 0, extra: ["--serve"], log: files.directory + "/coordinator.log")
        let participants = try Self.startParticipants(files, port: port, tag: "term")
        // Joined: the coordinator logs each participant's session.
        let joinDeadline = ContinuousClock.now + .seconds(60)
        while coordinator.log.components(separatedBy: "participant joined").count - 1 < participants.count {
            guard ContinuousClock.now < joinDeadline else {
                throw HarnessError(message: "participants never joined:\n\(coordinator.log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        participants[0].signal(SIGTERM)
        let status = try await participants[0].waitForExit(timeout: .seconds(30))
        #expect(status == .exited(0), "participant: \(status)\n\(participants[0].log)")
        #expect(participants[0].log.contains("stopped by signal"), "\(participants[0].log)")
        // The others are still in their sessions; the coordinator's SIGTERM ends them with goodbye.
        for participant in participants.dropFirst() { #expect(participant.isRunning, "\(participant.log)") }
        coordinator.signal(SIGTERM)
        #expect(try await coordinator.waitForExit(timeout: .seconds(30)) == .exited(0), "\(coordinator.log)")
        for participant in participants.dropFirst() {
            #expect(try await participant.waitForExit(timeout: .seconds(30)) == .exited(0), "\(participant.log)")
        }
        try Self.expectSoundLedger(files, "after the participant's and the coordinator's SIGTERM")
    }

    /// kill -9 of the coordinator mid-run, restart on the same state directory and port: the same
    /// participant processes reconnect (jittered backoff) and finish the rounds the restarted
    /// coordinator runs, then exit 0 on its goodbye.
    @Test(.timeLimit(.minutes(4)))
    func participantsReconnectAfterTheCoordinatorIsKilledAndFinishTheRemainingRounds() async throws {
        // More rounds than can run before the kill (1000 once finished in 24 s, before the first
        // poll saw a close); the budget (ε 100) ends them long after.
        let files = try ConsortiumFiles(
            minParticipants: 3, deadlineSeconds: 15, epsilonMax: 100, roundsCount: 1_000_000)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let (first, port) = try await Self.startCoordinator(files, port: 0, log: files.directory + "/coordinator-1.log")
        let participants = try Self.startParticipants(
            files, port: port, tag: "reconnect",
            extra: ["--reconnect-initial-delay", "0.1", "--reconnect-max-delay", "1", "--reconnect-attempts", "200"])
        try await Self.waitForLedger(files, "a closed round") { $0.contains("round.closed") }
        first.signal(SIGKILL)
        #expect(try await first.waitForExit() == .signalled(SIGKILL))
        let closedBeforeRestart = Self.ledgerKinds(files).count(where: { $0 == "round.closed" })
        // Give the participants time to notice and fail at least one reconnection attempt.
        try await Task.sleep(for: .milliseconds(500))
        for participant in participants {
            #expect(participant.isRunning, "a participant exited when the coordinator died:\n\(participant.log)")
        }
        let remaining = 3
        let (second, samePort) = try await Self.startCoordinator(
            files, port: port, extra: ["--rounds", "\(remaining)"], log: files.directory + "/coordinator-2.log")
        #expect(samePort == port)
        let status = try await second.waitForExit(timeout: .seconds(150))
        #expect(status == .exited(0), "restarted coordinator: \(status)\n\(second.log)")
        let kinds = Self.ledgerKinds(files)
        let closedAfterRestart = kinds.count(where: { $0 == "round.closed" }) - closedBeforeRestart
        #expect(
            closedAfterRestart == remaining, "rounds closed after the restart: \(closedAfterRestart)\n\(second.log)")
        // The same processes took part: each reconnected (logged) and ended on the goodbye.
        for participant in participants {
            let ended = try await participant.waitForExit(timeout: .seconds(30))
            #expect(ended == .exited(0), "\(participant.log)")
            #expect(participant.log.contains("reconnecting"), "no reconnection logged:\n\(participant.log)")
        }
        try Self.expectSoundLedger(files, "after the kill, the restart and the remaining rounds")
    }

    /// `cohort-participant` with `--trainer COMMAND`: the command appends its shell's pid (its
    /// process group) to `<directory>/<name>.trainer` each run, then `body`.
    static func startParticipant(
        _ files: ConsortiumFiles, _ identity: IdentityFiles, port: Int, trainer body: String?, tag: String
    ) throws -> ChildProcess {
        let trainer = body.map { "echo $$ >> '\(files.directory)/\(identity.name).trainer'; \($0)" }
        return try ChildProcess(
            try builtExecutable("cohort-participant"),
            [
                "--coordinator", "127.0.0.1:\(port)", "--identity", identity.directory,
                "--data", identity.directory + "/data.csv", "--schema", files.schemaPath,
                "--reconnect-attempts", "0",
            ] + (trainer.map { ["--trainer", $0] } ?? []), log: files.directory + "/\(identity.name)-\(tag).log")
    }

    /// The trainer process groups `name`'s trainer started so far.
    static func trainerGroups(_ files: ConsortiumFiles, _ name: String) -> [pid_t] {
        let text = (try? String(contentsOfFile: files.directory + "/\(name).trainer", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// SIGTERM to a participant whose external trainer hangs (and ignores SIGTERM itself): the
    /// trainer's process group is killed and the participant exits 0 within seconds, though the
    /// round's deadline is ten minutes away (README: it skips the update it is training, exits 0).
    @Test(.timeLimit(.minutes(3)))
    func sigtermStopsAParticipantWhoseTrainerHangs() async throws {
        let files = try ConsortiumFiles(minParticipants: 3, deadlineSeconds: 600, epsilonMax: 100, roundsCount: 3)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let (coordinator, port) = try await Self.startCoordinator(
            files, port: 0, log: files.directory + "/coordinator.log")
        let participants = try files.participants.map { identity in
            try Self.startParticipant(files, identity, port: port, trainer: "trap '' TERM; sleep 1000", tag: "hang")
        }
        // Every trainer runs: the round is open and each participant is training.
        let deadline = ContinuousClock.now + .seconds(90)
        while files.participants.contains(where: { Self.trainerGroups(files, $0.name).isEmpty }) {
            guard ContinuousClock.now < deadline else {
                throw HarnessError(message: "the trainers never started:\n\(coordinator.log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        for (identity, participant) in zip(files.participants, participants) {
            participant.signal(SIGTERM)
            // SIGTERM to the trainer, SIGKILL 2 s later: seconds when idle; 60 s leaves room for
            // a loaded machine and is still far before the round's 600 s deadline.
            let status = try await participant.waitForExit(timeout: .seconds(60))
            #expect(status == .exited(0), "\(identity.name): \(status)\n\(participant.log)")
            #expect(participant.log.contains("stopped by signal"), "\(participant.log)")
            for group in Self.trainerGroups(files, identity.name) {
                #expect(try await TrainerStopTests.groupGone(group), "\(identity.name)'s trainer \(group) survived")
            }
        }
        coordinator.signal(SIGTERM)
        #expect(try await coordinator.waitForExit(timeout: .seconds(30)) == .exited(0), "\(coordinator.log)")
        try Self.expectSoundLedger(files, "after the participants' and the coordinator's SIGTERM")
    }

    /// A trainer still running at the round's deadline is killed (it ignores SIGTERM), the
    /// participant skips that update, says so naming the trainer and the round, and trains again
    /// in the next round: it stays in the session and exits 0 on the coordinator's goodbye.
    @Test(.timeLimit(.minutes(3)))
    func aTrainerPastTheDeadlineIsSkippedAndTheParticipantStays() async throws {
        let files = try ConsortiumFiles(minParticipants: 2, deadlineSeconds: 4, epsilonMax: 100, roundsCount: 3)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let (coordinator, port) = try await Self.startCoordinator(
            files, port: 0, log: files.directory + "/coordinator.log")
        let hung = files.participants[0]
        let participants = try files.participants.map { identity in
            try Self.startParticipant(
                files, identity, port: port, trainer: identity == hung ? "trap '' TERM; sleep 1000" : nil,
                tag: "deadline")
        }
        let status = try await coordinator.waitForExit(timeout: .seconds(120))
        #expect(status == .exited(0), "coordinator: \(status)\n\(coordinator.log)")
        #expect(Self.ledgerKinds(files).count(where: { $0 == "round.closed" }) == 3, "\(Self.ledgerKinds(files))")
        for participant in participants {
            #expect(try await participant.waitForExit(timeout: .seconds(30)) == .exited(0), "\(participant.log)")
        }
        let log = participants[0].log
        let skips = log.components(separatedBy: "the trainer missed the round's deadline").count - 1
        // It may join after the first invitation went out; it is invited to the later rounds.
        #expect(skips >= 2, "the hung trainer's rounds were not all skipped:\n\(log)")
        #expect(log.contains("trap '' TERM; sleep 1000"), "the log names the trainer:\n\(log)")
        #expect(log.contains("cohort.round=3"), "the log names the round:\n\(log)")
        let groups = Self.trainerGroups(files, hung.name)
        #expect(groups.count == skips, "one trainer per skipped round: \(groups)")
        for group in groups {
            #expect(try await TrainerStopTests.groupGone(group), "trainer \(group) survived its round")
        }
        try Self.expectSoundLedger(files, "after three rounds")
    }

    /// kill -9 of a `--serve` coordinator while rounds an operator queued through the API run,
    /// then a restart on the same state directory and port. What the code does, and so what is
    /// asserted: each round taken from the queue is recorded (`queue.json`, fsynced) before it
    /// opens; the restart aborts the round the kill interrupted in the ledger (`round.aborted`,
    /// charged exactly when its charge was durable) and runs the rounds still queued with the same
    /// participant processes, which reconnect by themselves. So every queued round ends closed or
    /// named as aborted in the ledger, none twice, and none is charged twice.
    @Test(.timeLimit(.minutes(5)))
    func operatorQueuedRoundsSurviveAKillNineAndTheSameParticipantsFinishThem() async throws {
        let queued = 4
        // rounds.collect_until_deadline: a round collects for its whole deadline, so the kill lands
        // inside a round with rounds still queued behind it, whatever the machine's speed. 5 s is
        // also ample for the participants to train and answer under CI's parallel load.
        let files = try ConsortiumFiles(
            minParticipants: 3, deadlineSeconds: 5, epsilonMax: 100, roundsCount: 1, collectUntilDeadline: true)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let operatorIdentity = try files.ca.issue(
            role: .operator, name: "alice", outDirectory: files.directory + "/alice")
        let apiPortFile = files.directory + "/api.port"
        let serve = ["--serve", "--api-port-file", apiPortFile]
        let (first, port) = try await Self.startCoordinator(
            files, port: 0, extra: serve, log: files.directory + "/coordinator-1.log")
        let participants = try Self.startParticipants(
            files, port: port, tag: "queue",
            extra: ["--reconnect-initial-delay", "0.1", "--reconnect-max-delay", "1", "--reconnect-attempts", "200"])
        try await Self.waitForJoined(first, participants.count)

        // The operator queues the rounds with the CLI; the API acknowledges once queue.json is durable.
        let apiURL = try await Self.apiURL(apiPortFile)
        let cohort = try builtExecutable("cohort")
        let request = try await BuiltProduct.run(
            cohort,
            [
                "round", "start", "--count", "\(queued)", "--json", "--api", apiURL, "--ca",
                operatorIdentity.caCertificate, "--cert", operatorIdentity.certificate, "--key",
                operatorIdentity.privateKey,
            ])
        #expect(request.status == 0, "cohort round start: \(request.stderr)")

        // A round closed and the next one collects (nothing is written while a round collects).
        try await Self.waitForLedger(files, "a closed round and the next one collecting", timeout: .seconds(120)) {
            $0.contains("round.closed") && $0.last == "round.opened"
        }
        let client = try ControlClient(baseURL: apiURL, tls: TLSConfigurationFactory(identity: operatorIdentity))
        let beforeKill = try await client.status()
        #expect(
            beforeKill.roundsQueued >= 1 && beforeKill.currentRound != nil,
            "the kill should land in a round with more queued: \(beforeKill)")
        first.signal(SIGKILL)
        #expect(try await first.waitForExit() == .signalled(SIGKILL))

        // What the kill left on disk: nothing lost yet. Every queued round is closed, open in the
        // ledger (the restart must abort it), or still in queue.json.
        let audit = try LedgerAudit(files: files)
        let atKill = try audit.check(after: "the kill")
        let stillQueued = try Self.queuedRoundsOnDisk(files)
        let interrupted = atKill.unfinishedRound
        #expect(interrupted != nil, "no round was open at the kill: \(Self.ledgerKinds(files))")
        let accounted = atKill.roundsClosed + (interrupted == nil ? 0 : 1) + stillQueued
        #expect(
            accounted == queued,
            "closed \(atKill.roundsClosed), open \(interrupted.map { "\($0)" } ?? "none"), in queue.json \(stillQueued)"
        )
        #expect(stillQueued >= 1, "no round was left in the queue at the kill")

        // The participants outlive the coordinator and keep trying to reconnect.
        for participant in participants {
            #expect(participant.isRunning, "a participant exited when the coordinator died:\n\(participant.log)")
        }
        try? FileManager.default.removeItem(atPath: apiPortFile)
        let (second, samePort) = try await Self.startCoordinator(
            files, port: port, extra: serve, log: files.directory + "/coordinator-2.log")
        #expect(samePort == port)
        let expectedClosed = queued - (interrupted == nil ? 0 : 1)
        try await Self.waitForLedger(files, "\(expectedClosed) closed rounds", timeout: .seconds(150)) {
            $0.count(where: { $0 == "round.closed" }) >= expectedClosed
        }
        // The restarted coordinator reports the queue drained.
        try await Self.expectQueueDrained(apiPortFile: apiPortFile, operatorIdentity: operatorIdentity)
        #expect(try Self.queuedRoundsOnDisk(files) == 0)
        second.signal(SIGTERM)
        #expect(try await second.waitForExit(timeout: .seconds(30)) == .exited(0), "\(second.log)")
        // The same processes (never restarted) reconnected, ran the rounds after the restart (the
        // quorum is all three) and ended on the restarted coordinator's goodbye.
        for participant in participants {
            let ended = try await participant.waitForExit(timeout: .seconds(30))
            #expect(ended == .exited(0), "\(participant.log)")
            #expect(participant.log.contains("reconnecting"), "no reconnection logged:\n\(participant.log)")
        }
        #expect(second.log.components(separatedBy: "participant joined").count - 1 >= participants.count)

        // The ledger verifies (LedgerAudit: every round opened and charged at most once, the
        // interrupted round aborted charged exactly when its charge was durable).
        let final = try audit.check(after: "the restart and the queued rounds")
        #expect(final.unfinishedRound == nil)
        let entries = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory), publicKey: files.ledgerPublicKey(),
            keepEntries: true
        ).entries
        func rounds(_ kind: String) -> [Int] {
            entries.filter { $0.kind == kind }.compactMap { $0.data["round"]?.intValue }
        }
        #expect(rounds("round.refused").isEmpty, "a queued round was refused: \(rounds("round.refused"))")
        #expect(rounds("round.closed").count == expectedClosed)
        let aborted = entries.filter { $0.kind == "round.aborted" }
        #expect(aborted.compactMap { $0.data["round"]?.intValue } == interrupted.map { [$0] } ?? [])
        for entry in aborted {
            #expect(
                entry.data["reason"]?.stringValue == "the coordinator stopped during the round and restarted",
                "\(entry.data)")
        }
        // Charged once each: every closed round, and the aborted one only if its charge was durable.
        let abortedCharged = aborted.filter { $0.data["charged"]?.boolValue == true }.count
        #expect(rounds("round.charged").count == expectedClosed + abortedCharged)
        #expect(Set(rounds("round.charged")).count == rounds("round.charged").count)
        #expect(final.roundsCharged == expectedClosed + abortedCharged)
    }

    /// kill -9 after a round was taken from the operator queue but before it opened (here: in
    /// its quorum wait, no participant connected yet): the ledger has no entry for it, so the
    /// restart queues it again (`taken_round` in queue.json) and both queued rounds run, once each.
    @Test(.timeLimit(.minutes(4)))
    func aQueuedRoundKilledBeforeItOpensIsQueuedAgain() async throws {
        let files = try ConsortiumFiles(minParticipants: 3, deadlineSeconds: 10, epsilonMax: 100, roundsCount: 1)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let (first, operatorIdentity, apiPortFile) = try await Self.coordinatorHoldingATakenRound(files)
        let path = files.stateDirectory + "/queue.json"
        first.signal(SIGKILL)
        #expect(try await first.waitForExit() == .signalled(SIGKILL))
        #expect(try Self.queuedRoundsOnDisk(files) == 1)
        #expect(!Self.ledgerKinds(files).contains { $0.hasPrefix("round.") }, "\(Self.ledgerKinds(files))")

        try? FileManager.default.removeItem(atPath: apiPortFile)
        let (second, port) = try await Self.startCoordinator(
            files, port: 0, extra: ["--serve", "--api-port-file", apiPortFile],
            log: files.directory + "/coordinator-2.log")
        #expect(second.log.contains("queued again"), "\(second.log)")
        let participants = try Self.startParticipants(files, port: port, tag: "taken")
        try await Self.waitForLedger(files, "two closed rounds", timeout: .seconds(150)) {
            $0.count(where: { $0 == "round.closed" }) >= 2
        }
        try await Self.expectQueueDrained(apiPortFile: apiPortFile, operatorIdentity: operatorIdentity)
        second.signal(SIGTERM)
        #expect(try await second.waitForExit(timeout: .seconds(30)) == .exited(0), "\(second.log)")
        for participant in participants {
            #expect(try await participant.waitForExit(timeout: .seconds(30)) == .exited(0), "\(participant.log)")
        }
        // Exactly the two rounds queued: opened, charged and closed once each; nothing else.
        let kinds = Self.ledgerKinds(files).filter { $0.hasPrefix("round.") }
        #expect(kinds == Array(repeating: ["round.opened", "round.charged", "round.closed"], count: 2).flatMap { $0 })
        try Self.expectSoundLedger(files, "after the kill before round 1 opened and the restart")
        #expect(try Self.queuedRoundsOnDisk(files) == 0)
        #expect(try !String(contentsOfFile: path, encoding: .utf8).contains("taken_round"))
    }

    /// SIGTERM while a round taken from the operator queue waits for its quorum: a clean stop
    /// (exit 0) that puts the round back in queue.json, since the ledger never saw it.
    @Test(.timeLimit(.minutes(2)))
    func aQueuedRoundStoppedBySigtermBeforeItOpensStaysQueued() async throws {
        let files = try ConsortiumFiles(minParticipants: 3, deadlineSeconds: 10, epsilonMax: 100, roundsCount: 1)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let (coordinator, _, _) = try await Self.coordinatorHoldingATakenRound(files)
        let path = files.stateDirectory + "/queue.json"
        #expect(try Self.queuedRoundsOnDisk(files) == 1)
        coordinator.signal(SIGTERM)
        #expect(try await coordinator.waitForExit(timeout: .seconds(30)) == .exited(0), "\(coordinator.log)")
        #expect(coordinator.log.contains("queued again"), "\(coordinator.log)")
        #expect(try Self.queuedRoundsOnDisk(files) == 2)
        #expect(try !String(contentsOfFile: path, encoding: .utf8).contains("taken_round"))
        #expect(!Self.ledgerKinds(files).contains { $0.hasPrefix("round.") }, "\(Self.ledgerKinds(files))")
        try Self.expectSoundLedger(files, "after SIGTERM in the quorum wait")
    }

    /// Waits until `count` participants joined `coordinator` (its log says so for each session).
    static func waitForJoined(_ coordinator: ChildProcess, _ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while coordinator.log.components(separatedBy: "participant joined").count - 1 < count {
            guard ContinuousClock.now < deadline, coordinator.isRunning else {
                throw HarnessError(message: "participants never joined:\n\(coordinator.log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The operator API's address, from the file `--api-port-file` wrote.
    /// A `--serve` coordinator whose operator queued two rounds through the API, the first of
    /// them taken from queue.json (`taken_round`) and waiting for a quorum that no participant
    /// gives (600 s, longer than any test); returns it, the operator identity and the API port file.
    static func coordinatorHoldingATakenRound(
        _ files: ConsortiumFiles
    ) async throws -> (ChildProcess, IdentityFiles, String) {
        let operatorIdentity = try files.ca.issue(
            role: .operator, name: "alice", outDirectory: files.directory + "/alice")
        let apiPortFile = files.directory + "/api.port"
        let (coordinator, _) = try await startCoordinator(
            files, port: 0, extra: ["--serve", "--api-port-file", apiPortFile, "--quorum-wait", "600"],
            log: files.directory + "/coordinator-1.log")
        let client = try ControlClient(
            baseURL: try await apiURL(apiPortFile), tls: TLSConfigurationFactory(identity: operatorIdentity))
        _ = try await client.startRounds(2)
        let path = files.stateDirectory + "/queue.json"
        let takenDeadline = ContinuousClock.now + .seconds(60)
        while !((try? String(contentsOfFile: path, encoding: .utf8))?.contains(#""taken_round":1"#) ?? false) {
            guard ContinuousClock.now < takenDeadline else {
                throw HarnessError(message: "round 1 was never taken from the queue:\n\(coordinator.log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (coordinator, operatorIdentity, apiPortFile)
    }

    /// Asks the serving coordinator's API (within 30 s) until it reports no queued round and idle.
    static func expectQueueDrained(apiPortFile: String, operatorIdentity: IdentityFiles) async throws {
        let client = try ControlClient(
            baseURL: try await apiURL(apiPortFile), tls: TLSConfigurationFactory(identity: operatorIdentity))
        var drained = try await client.status()
        let drainDeadline = ContinuousClock.now + .seconds(30)
        while drained.roundsQueued > 0 || drained.state != .idle, ContinuousClock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(100))
            drained = try await client.status()
        }
        #expect(drained.roundsQueued == 0 && drained.state == .idle, "\(drained)")
    }

    /// The operator API's URL, once the coordinator has written its port to `portFile` (the API
    /// may start after the participant listener whose port `startCoordinator` waits for).
    static func apiURL(_ portFile: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return "https://127.0.0.1:\(port)"
            }
            guard ContinuousClock.now < deadline else {
                throw HarnessError(message: "the coordinator wrote no API port to \(portFile) within 30 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The operator-queued rounds `queue.json` records as not started (0 without the file).
    static func queuedRoundsOnDisk(_ files: ConsortiumFiles) throws -> Int {
        let path = files.stateDirectory + "/queue.json"
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path)")
        return try #require(object["queued_rounds"] as? Int, "\(path): \(object)")
    }
}
