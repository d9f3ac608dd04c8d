import CohortCoordinator
import CohortCrypto
import CohortLedger
import CohortTesting
import CohortTransport
import Foundation
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A full disk under the coordinator's state directory: a real, size-limited tmpfs, filled up
/// while a round collects, so that the round's charge (phase A) or its close (phase B) cannot be
/// written. Either way the round must end before any release — no checkpoint, the model as it
/// was, a clear storage error — and the coordinator must carry on once space is freed.
@Suite(.serialized) struct StorageFailureTests {
    @Test(.timeLimit(.minutes(2)))
    func fullDiskAbortsTheRoundBeforeAnyReleaseAndTheCoordinatorRecovers() async throws {
        let files = try ConsortiumFiles(minParticipants: 3, deadlineSeconds: 10, epsilonMax: 1000, roundsCount: 1000)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let disk = try SmallTmpfs(at: files.directory + "/tmpfs", kilobytes: 512)
        defer { disk.unmount() }
        let state = disk.path + "/state"
        let capture = LogCapture()
        let gate = RoundGate()
        let ledger = LedgerFile(stateDirectory: state, publicKey: try files.ledgerPublicKey())

        var service = try await Service.start(files: files, stateDirectory: state, gate: gate, capture: capture)
        let first = try await service.coordinator.runRound()
        #expect(first.closedRound == 1, "the first round on the small disk did not close: \(first)")

        // Phase A: the charge line does not fit in what is left of the ledger's last page.
        try await service.runRoundsUntil(ledger) { slack, chargeLength in slack + LedgerFile.margin < chargeLength }
        let roundA = await service.coordinator.ledgerState.nextRound
        let failureA = try await service.failRound(roundA, filling: disk, ledger: ledger, gate: gate)
        #expect(failureA.code == "ledger.storage_full", "phase A: \(failureA.message)")
        #expect(
            failureA.entries.charged == false,
            "phase A: round \(roundA) was charged although the charge could not be written")
        #expect(
            capture.text.contains("cohort.code=ledger.storage_full"),
            "phase A: the failure was not logged with its code")
        // Space freed, the same coordinator goes on: the failed round is (or gets) its abort,
        // uncharged since its charge never became durable, and the next round closes.
        try disk.free()
        let afterA = try await service.coordinator.runRound()
        #expect(
            afterA.closedRound == roundA + 1, "after freeing space the coordinator did not close a round: \(afterA)")
        let entriesA = try ledger.verifiedRoundEntries(roundA)
        #expect(entriesA.map(\.kind).filter { $0.hasPrefix("round.") } == ["round.opened", "round.aborted"])
        #expect(entriesA.last?.data["charged"]?.boolValue == false)

        // Phase B: the charge fits in the page's slack; what follows it (gate decisions, checkpoint) does not.
        try await service.runRoundsUntil(ledger) { slack, chargeLength in slack >= chargeLength + LedgerFile.margin }
        let roundB = await service.coordinator.ledgerState.nextRound
        let chargedBefore = await service.coordinator.ledgerState.roundsCharged
        let failureB = try await service.failRound(roundB, filling: disk, ledger: ledger, gate: gate)
        // After the charge, the post-aggregate gate decisions (ledger) and then the checkpoint
        // (file) are written: whichever meets the full disk first fails the round.
        #expect(["storage.no_space", "ledger.storage_full"].contains(failureB.code), "phase B: \(failureB.message)")
        // Write-ahead: the charge became durable before the aggregate existed, and stays.
        #expect(failureB.entries.charged == true, "phase B: round \(roundB)'s charge is not in the ledger")
        #expect(await service.coordinator.ledgerState.roundsCharged == chargedBefore + 1)
        #expect(failureB.message.contains("charge is durable"))
        let modelBeforeB = failureB.modelBefore

        // Space freed, a fresh coordinator over the same state directory: it verifies the ledger,
        // records the abort if the full disk prevented it, restores the last released model, runs on.
        try disk.free()
        service = try await Service.restart(
            consume service, files: files, stateDirectory: state, gate: gate, capture: capture)
        #expect(
            await service.coordinator.globalModel == modelBeforeB, "the restored model is not the last released one")
        let afterB = try await service.coordinator.runRound()
        #expect(afterB.closedRound == roundB + 1, "the fresh coordinator did not close a round: \(afterB)")
        let entriesB = try ledger.verifiedRoundEntries(roundB)
        #expect(
            entriesB.map(\.kind).filter { $0.hasPrefix("round.") } == [
                "round.opened", "round.charged", "round.aborted",
            ])
        #expect(entriesB.last?.data["charged"]?.boolValue == true)
        let final = try ledger.verify()
        #expect(final.state.unfinishedRound == nil)
        #expect(final.state.lastClosedRound == roundB + 1)
        await service.stop()
        print(
            "storage-failure: phase A round \(roundA) [\(failureA.code)] slack \(failureA.slack) B, abort written at once: \(failureA.abortWritten); "
                + "phase B round \(roundB) [\(failureB.code)] slack \(failureB.slack) B, abort written at once: \(failureB.abortWritten); "
                + "\(final.state.entryCount) ledger entries, last closed round \(final.state.lastClosedRound ?? 0)")
    }
}

extension RoundOutcome {
    var closedRound: Int? {
        if case .closed(let round, _, _, _) = self { return round }
        return nil
    }
}

// MARK: - The coordinator under test

/// An in-process coordinator over the given state directory and three scripted participants
/// that answer each invitation unless the test holds that round at the gate.
final class Service {
    let coordinator: Coordinator
    let port: Int
    let peers: [Task<Void, Never>]

    private init(coordinator: Coordinator, port: Int, peers: [Task<Void, Never>]) {
        self.coordinator = coordinator
        self.port = port
        self.peers = peers
    }

    static func start(
        files: ConsortiumFiles, stateDirectory: String, gate: RoundGate, capture: LogCapture
    ) async throws -> Service {
        var coordinator: Coordinator?
        // A stopped coordinator keeps its ledger lock until its last reference (its server task)
        // is gone, a moment after `stop()`.
        for attempt in 0..<100 {
            do {
                coordinator = try files.makeCoordinator(
                    stateDirectory: stateDirectory, logger: capture.logger("cohort.coordinator"))
                break
            } catch let error as LedgerError where error.code == .locked && attempt < 99 {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let started = try #require(coordinator)
        let port = try await started.start(
            tls: TLSConfigurationFactory(identity: files.coordinatorIdentity).makeServerConfiguration())
        let logger = capture.logger("cohort.scripted")
        let peers = files.participants.map { identity in
            Task {
                _ = try? await files.scripted(identity.name, port: port, logger: logger) { session in
                    let values = [Float](repeating: 0.01, count: Int(session.welcome.model.dimension))
                    // Until the coordinator says goodbye (stop) or the connection ends.
                    while let frame = try await session.frames.next(), frame.type != .bye {
                        guard frame.type == .roundInvite else { continue }
                        let invite = try frame.decode(RoundInvite.self)
                        await gate.invited(invite.round)
                        while await gate.isHeld(invite.round) { try await Task.sleep(for: .milliseconds(5)) }
                        try await session.outbound.send(session.update(for: invite, values: values))
                    }
                }
            }
        }
        for _ in 0..<500 where await started.connectedParticipants.count < peers.count {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await started.connectedParticipants.count == peers.count)
        return Service(coordinator: started, port: port, peers: peers)
    }

    /// Stops `old` and starts a fresh coordinator over the same state directory. The old one
    /// holds its ledger lock until it is deallocated, so this must hold the last reference to it.
    static func restart(
        _ old: consuming Service, files: ConsortiumFiles, stateDirectory: String, gate: RoundGate, capture: LogCapture
    ) async throws -> Service {
        await old.stop()
        _ = consume old
        return try await start(files: files, stateDirectory: stateDirectory, gate: gate, capture: capture)
    }

    func stop() async {
        await coordinator.stop()
        for peer in peers { await peer.value }
    }

    /// Runs ordinary rounds until the ledger's layout makes `condition(slack, chargeLength)` hold
    /// for the next round: `slack` is what will be left of the ledger's last page once that
    /// round's `round.opened` is written, `chargeLength` the length of a `round.charged` line.
    func runRoundsUntil(_ ledger: LedgerFile, _ condition: (Int, Int) -> Bool) async throws {
        for _ in 0..<30 {
            let prediction = try ledger.predictNextRound()
            if condition(prediction.slack, prediction.chargeLength) { return }
            let outcome = try await coordinator.runRound()
            #expect(outcome.closedRound != nil, "a round meant to move the ledger's end did not close: \(outcome)")
        }
        Issue.record("30 rounds did not bring the ledger's end where the test needs it")
        throw HarnessError(message: "ledger layout not reached")
    }

    struct Failure {
        let code: String
        let message: String
        let slack: Int
        let modelBefore: [Float]
        let abortWritten: Bool
        let entries: (opened: Bool, charged: Bool)
    }

    /// Runs round `number`, filling the disk once its invitations are out (its `round.opened` is
    /// durable and the coordinator waits for updates), and checks that it fails before any release.
    func failRound(_ number: Int, filling disk: SmallTmpfs, ledger: LedgerFile, gate: RoundGate) async throws -> Failure
    {
        let modelBefore = await coordinator.globalModel
        let checkpointsBefore = try disk.checkpoints(stateDirectory: ledger.stateDirectory)
        await gate.hold(UInt64(number))
        let attempt = Task { [coordinator] in try await coordinator.runRound() }
        for _ in 0..<500 where await gate.invitations(UInt64(number)) < peers.count {
            try await Task.sleep(for: .milliseconds(10))
        }
        let slack = try ledger.slackOfLastPage()
        try disk.fill()
        await gate.release(UInt64(number))
        let result = await attempt.result

        guard case .failure(let thrown) = result else {
            Issue.record("round \(number) on a full disk did not fail: \(result)")
            throw HarnessError(message: "no failure")
        }
        // The stable code leads every error's description (`code: message`); a CoordinatorError
        // carries it as `code`.
        let code = (thrown as? CoordinatorError)?.code ?? String(String(describing: thrown).prefix { $0 != ":" })
        let message = String(describing: thrown)
        #expect(message.contains("aborted before any release"), "round \(number): \(message)")
        // Nothing derived from the updates left the coordinator: no checkpoint (not even a
        // temporary one), and the model the next round would send is the one before.
        #expect(
            try disk.checkpoints(stateDirectory: ledger.stateDirectory) == checkpointsBefore,
            "round \(number) left a checkpoint")
        #expect(await coordinator.globalModel == modelBefore, "round \(number) changed the model")
        // The ledger is intact and says what happened: the round is aborted, or still open when
        // even the abort did not fit (it is then recorded before the next round).
        let verified = try ledger.verify()
        let entries = try ledger.verifiedRoundEntries(number)
        let kinds = entries.map(\.kind)
        let abortWritten = kinds.last == "round.aborted"
        #expect(
            abortWritten || verified.state.unfinishedRound == number,
            "round \(number) is neither aborted nor open: \(kinds)")
        #expect(!kinds.contains("round.closed"))
        // The actor is ready for another round: none is active (an update for it is refused).
        #expect(await coordinator.ledgerState == verified.state)
        return Failure(
            code: code, message: message, slack: slack, modelBefore: modelBefore, abortWritten: abortWritten,
            entries: (kinds.contains("round.opened"), kinds.contains("round.charged")))
    }
}

/// Which rounds the scripted participants may answer yet.
actor RoundGate {
    private var held: Set<UInt64> = []
    private var invitationsByRound: [UInt64: Int] = [:]

    func hold(_ round: UInt64) { held.insert(round) }
    func release(_ round: UInt64) { held.remove(round) }
    func isHeld(_ round: UInt64) -> Bool { held.contains(round) }
    func invited(_ round: UInt64) { invitationsByRound[round, default: 0] += 1 }
    func invitations(_ round: UInt64) -> Int { invitationsByRound[round] ?? 0 }
}

// MARK: - The ledger's layout on a page-granular file system

/// The ledger file seen from the test: verification, and where its end falls in a page.
///
/// tmpfs allocates whole pages, so a full tmpfs still accepts an append that fits in the unused
/// rest of the file's last page. Which step of a round fails on a full disk therefore depends on
/// that slack; the test steers it with ordinary rounds and predicts the failing step.
struct LedgerFile {
    /// Line lengths vary by a few bytes between rounds (digits of ε and of the round number).
    static let margin = 96
    let stateDirectory: String
    let publicKey: [UInt8]
    var path: String { LedgerWriter.ledgerPath(stateDirectory: stateDirectory) }
    static let pageSize = Int(getpagesize())

    func bytes() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func verify() throws -> LedgerVerifier.Result {
        try LedgerVerifier.verify(bytes: bytes(), publicKey: publicKey, keepEntries: true)
    }

    /// The entries of round `number`, from a ledger that verifies.
    func verifiedRoundEntries(_ number: Int) throws -> [LedgerEntry] {
        try verify().entries.filter { $0.kind.hasPrefix("round.") && $0.data["round"]?.intValue == number }
    }

    func slackOfLastPage() throws -> Int {
        let size = try bytes().count
        return (Self.pageSize - size % Self.pageSize) % Self.pageSize
    }

    /// The slack after the next `round.opened`, and the length of a `round.charged` line, both
    /// from the last round's lines (corrected for the round number's digits).
    func predictNextRound() throws -> (slack: Int, chargeLength: Int) {
        let bytes = try bytes()
        let lines = bytes.split(separator: UInt8(ascii: "\n"))
        let entries = LedgerReader.read(bytes: bytes).entries
        func lastLine(_ kind: String) throws -> (length: Int, round: Int) {
            let index = try #require(entries.lastIndex { $0.kind == kind }, "no \(kind) entry yet")
            return (lines[index].count + 1, entries[index].data["round"]?.intValue ?? 0)
        }
        let next = (entries.compactMap { $0.data["round"]?.intValue }.max() ?? 0) + 1
        let opened = try lastLine("round.opened")
        let charged = try lastLine("round.charged")
        let digits = { (round: Int) in String(round).count }
        // A round's pre-round gate decisions and its `round.opened` are written together, as are
        // its `update_checks` decision and its `round.charged`: predict both batches from the
        // last round's lines (each names the round once).
        func batchLength(of round: Int, _ belongs: (Int) -> Bool) -> Int {
            entries.indices.filter { entries[$0].data["round"]?.intValue == round && belongs($0) }
                .reduce(0) { $0 + lines[$1].count + 1 + digits(next) - digits(round) }
        }
        let openedIndex = entries.lastIndex { $0.kind == "round.opened" }!
        let chargedIndex = entries.lastIndex { $0.kind == "round.charged" }!
        let opening = batchLength(of: opened.round) { $0 <= openedIndex }
        let charge = batchLength(of: charged.round) {
            $0 == chargedIndex || ($0 < chargedIndex && $0 > openedIndex && entries[$0].kind == "gate.decision")
        }
        let afterOpened = bytes.count + opening
        let slack = (Self.pageSize - afterOpened % Self.pageSize) % Self.pageSize
        return (slack, charge)
    }
}

// MARK: - A small tmpfs

/// A tmpfs of a few hundred KiB mounted for the test (root or CAP_SYS_ADMIN, as CI has); the test
/// is cancelled with the reason where mounting is not permitted.
struct SmallTmpfs {
    let path: String
    var fillerPath: String { path + "/filler" }

    init(at path: String, kilobytes: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let status = "size=\(kilobytes)k,mode=0700".withCString { mount("tmpfs", path, "tmpfs", 0, $0) }
        guard status == 0 else {
            let err = errno
            let reason = String(cString: strerror(err))
            if err == EPERM || err == EACCES {
                try Test.cancel(
                    "mounting a tmpfs is not permitted here (\(reason)); this test needs root or CAP_SYS_ADMIN, as in CI"
                )
            }
            throw HarnessError(message: "mount -t tmpfs -o size=\(kilobytes)k tmpfs \(path) failed: \(reason)")
        }
        self.path = path
    }

    func unmount() {
        // Lazy, so a descriptor still open in a stopping coordinator cannot keep it mounted.
        _ = umount2(path, Int32(MNT_DETACH))
    }

    /// Writes a filler file until the file system has no free block left.
    func fill() throws {
        let fd = open(fillerPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw HarnessError(message: "cannot create \(fillerPath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let page = [UInt8](repeating: 0xA5, count: LedgerFile.pageSize)
        while true {
            let written = page.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if written == page.count { continue }
            if written < 0 && errno == EINTR { continue }
            guard written >= 0 || errno == ENOSPC else {
                throw HarnessError(message: "filling \(fillerPath): \(String(cString: strerror(errno)))")
            }
            break
        }
        var info = statvfs()
        guard statvfs(path, &info) == 0 else {
            throw HarnessError(message: "statvfs \(path): \(String(cString: strerror(errno)))")
        }
        #expect(info.f_bavail == 0, "the tmpfs still has \(info.f_bavail) free blocks after filling")
    }

    func free() throws {
        try FileManager.default.removeItem(atPath: fillerPath)
    }

    /// Names in the state directory's `checkpoints/`, temporaries included.
    func checkpoints(stateDirectory: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: stateDirectory + "/checkpoints"))
    }
}
