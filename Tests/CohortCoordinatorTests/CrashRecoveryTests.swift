import CohortCrypto
import CohortLedger
import CohortTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of the real `cohort-coordinator` process at random points while three real
/// `cohort-participant` processes train with it, then restart on the same state directory, again
/// and again. After every kill (with no process running) the state on disk must keep the privacy
/// claim: the ledger verifies under the coordinator's key and only ever grows, cumulative ε never
/// decreases nor passes epsilon_max, no round number is used twice, and no checkpoint exists for a
/// round without an earlier durable charge (write-ahead spend).
@Suite(.serialized) struct CrashRecoveryTests {
    /// Kills land at a random point 50–800 ms after the quorum joined (every fourth restart: after
    /// the coordinator listens, so before the quorum is there): while a round collects, and after
    /// charges and closes.
    static let killWindowMilliseconds = 50...800
    static let minimumRestarts = 20
    /// More restarts are run while time allows, to reach kills in every phase of a round.
    static let maximumRestarts = 30
    /// Past this since the test began, no restart beyond the minimum is started (the whole test
    /// must stay well under 2 minutes, also when the rest of the suite shares the cores).
    static let timeBudget = Duration.seconds(60)

    @Test(.timeLimit(.minutes(2)))
    func killNineAtRandomPointsKeepsLedgerAndCheckpointsSound() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        // epsilon_max 3.3 allows about 185 charged rounds of q = 0.05, σ = 1.5 (record unit); a run
        // gets through 0–15 of them before its kill. So runs are killed mid-training for most of
        // the test, and on a fast machine the last ones meet the budget gate, which must refuse
        // the round rather than pass the cap. rounds.count is out of reach; deadlines are short.
        let files = try ConsortiumFiles(
            minParticipants: 3, deadlineSeconds: 2, epsilonMax: 3.3, samplingRate: 0.05, noiseMultiplier: 1.5,
            roundsCount: 100_000)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let coordinatorBinary = try builtExecutable("cohort-coordinator")
        let participantBinary = try builtExecutable("cohort-participant")
        let auditor = try LedgerAudit(files: files)
        var tally = KillTally()

        var restart = 0
        while restart < Self.maximumRestarts
            && (restart < Self.minimumRestarts || clock.now - started < Self.timeBudget)
        {
            restart += 1
            // Every fifth restart also finds a torn tail: a power cut in the middle of writing a
            // line, which SIGKILL alone cannot produce (the kernel completes a write(2) to the
            // page cache). Recovery must truncate exactly that line.
            if restart % 5 == 0, try auditor.injectTornTail() { tally.tornTailsInjected += 1 }

            let run = try await CoordinatorRun.start(
                binary: coordinatorBinary, files: files, log: files.directory + "/coordinator-\(restart).log")
            // The port file is written after recovery: any torn tail is gone now.
            if auditor.tornTailPending {
                let recovered = await auditor.waitUntilTornTailRecovered()
                #expect(recovered, "restart \(restart): recovery did not truncate the torn tail")
                #expect(
                    run.coordinator.log.contains("removed an incomplete final line"),
                    "restart \(restart): recovery not logged")
                tally.tornTailsRecovered += recovered ? 1 : 0
            }
            var participants: [ChildProcess] = []
            for identity in files.participants {
                participants.append(
                    try ChildProcess(
                        participantBinary,
                        [
                            "--coordinator", "127.0.0.1:\(run.port)", "--identity", identity.directory,
                            "--data", identity.directory + "/data.csv", "--schema", files.schemaPath,
                        ], log: files.directory + "/\(identity.name)-\(restart).log"))
            }
            // The kill window starts when the quorum has joined, not when the port opened: on a
            // loaded machine participants take seconds to load their data and join, and a window
            // measured from the port file then ends before any round opens (no kill after a charge).
            // Every fourth restart keeps the old start (the port file), so some kills land before the quorum.
            let joinedBy = restart % 4 == 0 ? clock.now : clock.now + .seconds(30)
            while clock.now < joinedBy && run.coordinator.isRunning
                && run.coordinator.log.components(separatedBy: "participant joined").count - 1
                    < files.participants.count
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            let joined = restart % 4 == 0 ? run.listeningSince : clock.now
            let delay = Int.random(in: Self.killWindowMilliseconds)
            try await Task.sleep(until: joined + .milliseconds(delay))
            let exitedOnItsOwn = !run.coordinator.isRunning
            run.coordinator.signal(SIGKILL)
            for participant in participants { participant.signal(SIGKILL) }
            let status = try await run.coordinator.waitForExit()
            for participant in participants { _ = try await participant.waitForExit() }
            // Only the budget gate ends a run by itself (rounds.count is out of reach), which can
            // also happen between the check above and the kill: the exit status tells which.
            let finishedByItself = status == .exited(0)
            if finishedByItself {
                tally.finishedByBudgetGate += 1
            } else {
                #expect(
                    !exitedOnItsOwn,
                    "restart \(restart): the coordinator stopped by itself: \(status)\n\(run.coordinator.log)")
                #expect(status == .signalled(SIGKILL), "restart \(restart): \(status)\n\(run.coordinator.log)")
            }

            // Nothing runs now: the files are what a crash leaves behind.
            let audit = try auditor.check(after: "restart \(restart), killed after \(delay) ms")
            if finishedByItself {
                #expect(
                    audit.lastRoundStep == "round.refused",
                    "restart \(restart): the coordinator exited 0 without a refused round: \(run.coordinator.log)")
            }
            tally.record(audit, delay: delay, killed: !finishedByItself)
        }

        // One last start recovers the last kill's round; SIGTERM then stops it cleanly.
        let last = try await CoordinatorRun.start(
            binary: coordinatorBinary, files: files, log: files.directory + "/coordinator-final.log")
        // The SIGTERM handler is installed just after the port file is written; give it time.
        try await Task.sleep(for: .milliseconds(500))
        last.coordinator.signal(SIGTERM)
        let finalStatus = try await last.coordinator.waitForExit()
        #expect(finalStatus == .exited(0), "final coordinator: \(finalStatus)\n\(last.coordinator.log)")
        let final = try auditor.check(after: "the final clean stop")
        #expect(
            final.unfinishedRound == nil,
            "round \(final.unfinishedRound ?? 0) is still open after a restart and a clean stop")

        #expect(restart >= Self.minimumRestarts)
        #expect(tally.tornTailsRecovered == tally.tornTailsInjected + tally.tornTailsFromKills)
        // The test is only as good as where its kills land: some before any charge of their run,
        // some after one. (Timing on a loaded machine varies; the window is wide enough for both.)
        #expect(tally.killsBeforeAnyCharge > 0, "no kill landed before a charge: \(tally.summary)")
        #expect(tally.killsAfterACharge > 0, "no kill landed after a charge: \(tally.summary)")
        let elapsed = (clock.now - started).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        print(
            "crash-recovery: \(restart) restarts in \(String(format: "%.1f", seconds)) s; "
                + tally.summary + "; ledger: \(final.entries) entries, \(final.roundsCharged) rounds charged, "
                + "\(final.roundsClosed) closed, cumulative ε \(final.cumulativeEpsilon) of \(final.epsilonMax)")
    }
}

// MARK: - What the test tracks

/// What the kills hit.
struct KillTally {
    var killsBeforeAnyCharge = 0
    var killsAfterACharge = 0
    /// The round the kill interrupted, by the last durable step of that round.
    var killedWhileCollecting = 0
    var killedBetweenChargeAndClose = 0
    var killedBetweenRounds = 0
    var finishedByBudgetGate = 0
    var tornTailsInjected = 0
    /// Torn tails a kill left by itself (not expected: a write(2) to the page cache completes).
    var tornTailsFromKills = 0
    var tornTailsRecovered = 0
    var delays: [Int] = []

    mutating func record(_ audit: LedgerAudit.Finding, delay: Int, killed: Bool) {
        if audit.tornTail { tornTailsFromKills += 1 }
        guard killed else { return }
        delays.append(delay)
        if audit.chargesThisRun > 0 { killsAfterACharge += 1 } else { killsBeforeAnyCharge += 1 }
        switch audit.lastRoundStep {
        case "round.opened": killedWhileCollecting += 1
        case "round.charged": killedBetweenChargeAndClose += 1
        default: killedBetweenRounds += 1
        }
    }

    var summary: String {
        "kills: \(delays.count) (delays \(delays.min() ?? 0)–\(delays.max() ?? 0) ms), \(killsBeforeAnyCharge) before any charge of their run, "
            + "\(killsAfterACharge) after one; round interrupted while collecting \(killedWhileCollecting), between charge and close "
            + "\(killedBetweenChargeAndClose), between rounds or before the first \(killedBetweenRounds); runs ended by the budget gate "
            + "\(finishedByBudgetGate); torn tails injected \(tornTailsInjected), left by kills \(tornTailsFromKills), recovered \(tornTailsRecovered)"
    }
}

/// Checks the state directory against everything seen before (call only while no coordinator runs).
final class LedgerAudit {
    let files: ConsortiumFiles
    let publicKey: [UInt8]
    let ledgerPath: String
    /// The complete lines seen at the previous check: the ledger may only grow past them.
    private var previous: [UInt8] = []
    private var previousEpsilon = 0.0
    private var previousUnfinished: Int?
    /// Bytes of an injected (or crash-made) torn tail, until a start truncates it.
    private(set) var tornTailPending = false

    struct Finding {
        let entries: Int
        let roundsCharged: Int
        let roundsClosed: Int
        let cumulativeEpsilon: Double
        let epsilonMax: Double
        let unfinishedRound: Int?
        let chargesThisRun: Int
        /// Kind of the last round entry of the run (`round.opened`, `round.charged`, …), if any.
        let lastRoundStep: String?
        /// Whether the ledger ended in an incomplete line (for the next start to truncate).
        let tornTail: Bool
    }

    init(files: ConsortiumFiles) throws {
        self.files = files
        publicKey = try files.ledgerPublicKey()
        ledgerPath = LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory)
    }

    /// Appends the first half of the last line again, without its newline, as a crash in the
    /// middle of that write would leave it. Returns false when there is no ledger yet.
    func injectTornTail() throws -> Bool {
        guard let bytes = FileManager.default.contents(atPath: ledgerPath).map(Array.init),
            bytes.last == UInt8(ascii: "\n")
        else {
            return false
        }
        let lastLine = bytes.dropLast().split(separator: UInt8(ascii: "\n")).last ?? []
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: ledgerPath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(lastLine.prefix(lastLine.count / 2)))
        try handle.close()
        tornTailPending = true
        return true
    }

    /// After a start: whether the ledger ends with a complete line again. Reads can race the
    /// coordinator's own appends (a budget refusal comes right after start), so a tail that still
    /// looks torn is read again a few times before it counts.
    func waitUntilTornTailRecovered() async -> Bool {
        for _ in 0..<50 {
            if let bytes = FileManager.default.contents(atPath: ledgerPath), bytes.last == UInt8(ascii: "\n") {
                tornTailPending = false
                return true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Every invariant of the crash-safe ledger, on the files as they are now.
    func check(after moment: String) throws -> Finding {
        let bytes = try #require(
            FileManager.default.contents(atPath: ledgerPath).map(Array.init), "\(moment): no ledger")
        // A kill inside a write(2) could leave a torn last line; the next start must remove it.
        var complete = bytes
        let torn = bytes.last != UInt8(ascii: "\n")
        if torn {
            complete = Array(bytes[..<((bytes.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1)])
            tornTailPending = true
        }
        // Only appended to, never rewritten: what was complete before is a prefix of it now.
        #expect(complete.starts(with: previous), "\(moment): the ledger's earlier lines changed")
        let verified: LedgerVerifier.Result
        do {
            verified = try LedgerVerifier.verify(bytes: complete, publicKey: publicKey, keepEntries: true)
        } catch {
            Issue.record("\(moment): the ledger does not verify: \(error)")
            throw error
        }
        let state = verified.state
        let entries = verified.entries
        #expect(
            state.cumulativeEpsilon >= previousEpsilon,
            "\(moment): cumulative ε fell from \(previousEpsilon) to \(state.cumulativeEpsilon)")
        #expect(
            state.cumulativeEpsilon <= state.epsilonMax,
            "\(moment): cumulative ε \(state.cumulativeEpsilon) passes epsilon_max \(state.epsilonMax)")

        // Positions of each round's entries, to check order and uniqueness independently of the verifier.
        var opened: [Int: [Int]] = [:]
        var charged: [Int: [Int]] = [:]
        var refused: [Int: [Int]] = [:]
        var closed: [Int: (index: Int, digest: String, checkpoint: String)] = [:]
        var aborted: [Int: Bool] = [:]
        for (index, entry) in entries.enumerated() {
            guard let round = entry.data["round"]?.intValue else { continue }
            switch entry.kind {
            case "round.opened": opened[round, default: []].append(index)
            case "round.charged": charged[round, default: []].append(index)
            case "round.refused": refused[round, default: []].append(index)
            case "round.closed":
                closed[round] = (
                    index, entry.data["model_sha256"]?.stringValue ?? "", entry.data["checkpoint"]?.stringValue ?? ""
                )
            case "round.aborted": aborted[round] = entry.data["charged"]?.boolValue
            default: break
            }
        }
        for (round, positions) in opened {
            #expect(positions.count == 1, "\(moment): round \(round) opened \(positions.count) times")
        }
        for (round, positions) in charged {
            #expect(positions.count == 1, "\(moment): round \(round) charged \(positions.count) times")
        }
        for round in refused.keys {
            #expect(opened[round] == nil && refused[round]?.count == 1, "\(moment): refused round \(round) reused")
        }
        // Every closed round: charged before it closed, and its checkpoint is the model the ledger names.
        for (round, close) in closed {
            let chargeIndex = try #require(charged[round]?.first, "\(moment): round \(round) closed without a charge")
            #expect(chargeIndex < close.index, "\(moment): round \(round) closed before its charge")
            let path = files.stateDirectory + "/checkpoints/" + close.checkpoint
            let checkpoint = try #require(
                FileManager.default.contents(atPath: path), "\(moment): round \(round)'s checkpoint \(path) is missing")
            #expect(
                SHA256.hexDigest(Array(checkpoint)) == close.digest,
                "\(moment): round \(round)'s checkpoint does not match its round.closed digest")
        }
        // Every checkpoint file, finished or a temporary one a kill interrupted: its round's charge is
        // durable (a noised aggregate never exists before its charge, so neither can a model).
        let names = (try? FileManager.default.contentsOfDirectory(atPath: files.stateDirectory + "/checkpoints")) ?? []
        for name in names {
            let digits = name.dropFirst("round-".count).prefix(while: \.isNumber)
            let round = try #require(Int(digits), "\(moment): unexpected file checkpoints/\(name)")
            #expect(
                charged[round] != nil, "\(moment): checkpoints/\(name) exists but round \(round) has no durable charge")
        }
        // The round a kill interrupted is aborted by the next start, charged exactly when its charge was durable.
        if let interrupted = previousUnfinished, interrupted != state.unfinishedRound {
            #expect(
                aborted[interrupted] == (charged[interrupted] != nil),
                "\(moment): interrupted round \(interrupted) not aborted truthfully")
        }

        let runEntries = entries.dropFirst(LedgerReader.read(bytes: previous).entries.count)
        let roundSteps = runEntries.map(\.kind).filter { $0.hasPrefix("round.") }
        let finding = Finding(
            entries: entries.count, roundsCharged: state.roundsCharged, roundsClosed: closed.count,
            cumulativeEpsilon: state.cumulativeEpsilon, epsilonMax: state.epsilonMax,
            unfinishedRound: state.unfinishedRound,
            chargesThisRun: roundSteps.count(where: { $0 == "round.charged" }), lastRoundStep: roundSteps.last,
            tornTail: torn)
        previous = complete
        previousEpsilon = state.cumulativeEpsilon
        previousUnfinished = state.unfinishedRound
        return finding
    }
}

// MARK: - Processes

/// A started `cohort-coordinator` process and the port it listens on.
struct CoordinatorRun {
    let coordinator: ChildProcess
    let port: Int
    /// When the port file appeared (recovery is done by then).
    let listeningSince: ContinuousClock.Instant

    static func start(binary: URL, files: ConsortiumFiles, log: String) async throws -> CoordinatorRun {
        let portFile = files.directory + "/coordinator.port"
        try? FileManager.default.removeItem(atPath: portFile)
        let process = try ChildProcess(
            binary,
            [
                "--policy", files.policyPath, "--state", files.stateDirectory, "--port", "0", "--port-file", portFile,
                "--quorum-wait", "10",
            ], log: log)
        for _ in 0..<1500 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) {
                return CoordinatorRun(coordinator: process, port: port, listeningSince: ContinuousClock.now)
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.signal(SIGKILL)
        _ = try await process.waitForExit()
        throw HarnessError(message: "the coordinator did not start listening:\n\(process.log)")
    }
}
