import CohortModel
import CohortTesting
import CohortTransport
import Foundation
import Testing

@testable import CohortParticipant

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A hung external trainer is stopped, with real child processes: at the round's deadline, at the
/// end of the evaluation window, and when the participant stops; nothing of it is left running.
@Suite struct TrainerStopTests {
    static let layout = try! ModelLayout.logisticRegression(featureCount: 2)
    static let parameters = TrainingParameters(
        unit: .participant, samplingRate: 0.5, clippingBound: 1, localEpochs: 1, localLearningRate: 0.1,
        batchSize: 4)

    /// A trainer that writes its shell's pid (its process group) to `pid`, then runs `body`.
    static func trainer(_ directory: TemporaryDirectory, _ body: String) throws -> ExternalTrainer {
        var trainer = ExternalTrainer(
            command: "echo $$ > '\(directory.file("pid"))'; \(body)", workDirectory: directory.file("work"),
            evaluates: true)
        let data = EncodedDataset(featureNames: ["a", "b"], features: [0, 1, 2, 3], labels: [0, 1])
        try trainer.prepare(data: data, holdout: data)
        return trainer
    }

    /// The trainer's process group, once its shell wrote it.
    static func group(_ directory: TemporaryDirectory) async throws -> pid_t {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: directory.file("pid"), encoding: .utf8)) ?? ""
            if let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 { return pid }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError(message: "the trainer never started")
    }

    /// Whether any process of group `pid` is still there (kill with signal 0 signals nothing).
    static func groupAlive(_ pid: pid_t) -> Bool {
        kill(-pid, 0) == 0 || errno == EPERM
    }

    /// Whether group `pid` is gone within a minute (seconds when idle): a killed process disappears once the
    /// kernel delivered the signal and its parent (init, for the shell's orphaned children) reaped it.
    static func groupGone(_ pid: pid_t) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while groupAlive(pid) {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    static func train(_ trainer: ExternalTrainer, deadline: ContinuousClock.Instant?) async throws {
        _ = try await trainer.train(
            round: 7, globalModel: [0, 0, 0], layout: layout, architecture: .logisticRegression,
            parameters: parameters, deadline: deadline)
    }

    static func code(_ body: () async throws -> Void) async -> ParticipantError? {
        do {
            try await body()
            return nil
        } catch let error as ParticipantError {
            return error
        } catch {
            return ParticipantError(code: "other", message: "\(error)")
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func aTrainerPastTheDeadlineIsTerminatedWithItsChildren() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // The shell waits for `sleep` (its child, in its group): both must go.
        let trainer = try Self.trainer(directory, "sleep 1000; echo never")
        let started = ContinuousClock.now
        let error = await Self.code { try await Self.train(trainer, deadline: .now + .seconds(1)) }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == "participant.trainer_timeout", "\(String(describing: error))")
        #expect(error?.message.contains("round 7's deadline") == true, "\(String(describing: error))")
        #expect(error?.message.contains("the trainer `echo $$ >") == true, "the message names the trainer")
        // The trainer would sleep 1000 s: ending well before proves it was stopped. The bound is
        // loose because under CI's parallel load spawning and scheduling alone took 30 s once.
        #expect(elapsed < .seconds(300), "the trainer was stopped \(elapsed) after the start, not near its deadline")
        let group = try await Self.group(directory)
        #expect(try await Self.groupGone(group), "trainer process group \(group) outlived the run")
    }

    /// A trainer that ignores SIGTERM (and so does its child) is killed after the grace period.
    @Test(.timeLimit(.minutes(10)))
    func aTrainerIgnoringSigtermIsKilledAfterTheGracePeriod() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let trainer = try Self.trainer(directory, "trap '' TERM; sleep 1000; sleep 1000")
        let started = ContinuousClock.now
        // 2 s: the shell has set its trap long before SIGTERM comes.
        let error = await Self.code { try await Self.train(trainer, deadline: .now + .seconds(2)) }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == "participant.trainer_timeout", "\(String(describing: error))")
        // SIGTERM did nothing: only SIGKILL, a grace period after it, ended the run.
        #expect(elapsed >= .seconds(2) + ExternalTrainer.terminationGrace, "\(elapsed)")
        #expect(elapsed < .seconds(300), "\(elapsed)")
        let group = try await Self.group(directory)
        #expect(try await Self.groupGone(group), "trainer process group \(group) outlived the run")
    }

    @Test(.timeLimit(.minutes(10)))
    func cancellingTheCallerStopsTheTrainer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let trainer = try Self.trainer(directory, "sleep 1000")
        let run = Task { await Self.code { try await Self.train(trainer, deadline: nil) } }
        let group = try await Self.group(directory)
        #expect(Self.groupAlive(group), "the trainer should be running before the cancellation")
        run.cancel()
        let error = await run.value
        #expect(error?.code == "participant.trainer_stopped", "\(String(describing: error))")
        #expect(try await Self.groupGone(group), "trainer process group \(group) outlived the run")
    }

    /// `ParticipantStop.request` (SIGTERM in cohort-participant) cancels the trainer's run.
    @Test(.timeLimit(.minutes(10)))
    func aStopRequestStopsTheTrainer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let trainer = try Self.trainer(directory, "sleep 1000")
        let stop = ParticipantStop()
        let run = Task {
            await Self.code { try await stop.cancellingOnStop { try await Self.train(trainer, deadline: nil) } }
        }
        let group = try await Self.group(directory)
        stop.request(reason: "test")
        let error = await run.value
        #expect(error?.code == "participant.trainer_stopped", "\(String(describing: error))")
        #expect(try await Self.groupGone(group), "trainer process group \(group) outlived the run")
        // Once stopped, new work starts cancelled and never spawns a trainer.
        try? FileManager.default.removeItem(atPath: directory.file("pid"))
        let late = await Self.code { try await stop.cancellingOnStop { try await Self.train(trainer, deadline: nil) } }
        #expect(late?.code == "participant.trainer_stopped", "\(String(describing: late))")
        #expect(!FileManager.default.fileExists(atPath: directory.file("pid")), "a trainer started after the stop")
    }

    @Test(.timeLimit(.minutes(10)))
    func aHungEvaluateHookIsStoppedAtTheEndOfTheWindow() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let trainer = try Self.trainer(directory, "sleep 1000")
        let error = await Self.code {
            _ = try await trainer.evaluate(
                round: 3, candidate: [0, 0, 0], layout: Self.layout, holdoutCount: 2,
                deadline: .now + .milliseconds(500))
        }
        #expect(error?.code == "participant.trainer_timeout", "\(String(describing: error))")
        #expect(error?.message.contains("evaluation window of round 3") == true, "\(String(describing: error))")
        let group = try await Self.group(directory)
        #expect(try await Self.groupGone(group), "trainer process group \(group) outlived the run")
        #expect(!FileManager.default.fileExists(atPath: trainer.holdoutPath), "the holdout outlived the run")
    }

    @Test func aDeadlineAlreadyPastStartsNoTrainer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let trainer = try Self.trainer(directory, "true")
        let error = await Self.code { try await Self.train(trainer, deadline: .now - .seconds(1)) }
        #expect(error?.code == "participant.trainer_timeout", "\(String(describing: error))")
        #expect(error?.message.contains("clock") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: directory.file("pid")), "the trainer ran after its deadline")
    }

    /// The invitation's wall-clock deadline (a peer's number) becomes a bounded monotonic one.
    @Test func theInvitationDeadlineIsReadOnTheLocalClock() {
        let now = ContinuousClock.now
        #expect(Participant.localDeadline(wallMillis: 10_500, nowMillis: 10_000, now: now) == now + .milliseconds(500))
        #expect(Participant.localDeadline(wallMillis: 9_000, nowMillis: 10_000, now: now) == now)
        #expect(Participant.localDeadline(wallMillis: 0, nowMillis: 10_000, now: now) == now)
        #expect(
            Participant.localDeadline(wallMillis: .max, nowMillis: 10_000, now: now) == now + .seconds(86_400),
            "a deadline beyond the policy's bound is capped")
    }

    @Test(arguments: [0.0, -1, 86_401, .infinity, .nan])
    func anEvaluationWindowOutOfRangeIsRefused(seconds: Double) throws {
        var parameters = Self.parameters
        parameters.evaluationTimeoutSeconds = 1
        var json = String(decoding: parameters.encoded(), as: UTF8.self)
        let text = seconds.isNaN ? "\"nan\"" : seconds.isInfinite ? "1e999" : "\(seconds)"
        let key = "\"evaluation_timeout_seconds\":"
        json = json.replacingOccurrences(of: key + "1", with: key + text)
        #expect(json.contains(key + text), "\(json)")
        #expect(throws: WireError.self) { try TrainingParameters.decode(Array(json.utf8)) }
        do {
            _ = try TrainingParameters.decode(Array(json.utf8))
        } catch {
            #expect(error.code == WireError.Code.malformedPayload, "\(error)")
            #expect(error.message.contains("training parameters"), "\(error)")
        }
    }

    @Test func theEvaluationWindowTravelsInTheParameters() throws {
        var parameters = Self.parameters
        parameters.evaluationTimeoutSeconds = 45
        #expect(try TrainingParameters.decode(parameters.encoded()).evaluationTimeoutSeconds == 45)
        #expect(try TrainingParameters.decode(Self.parameters.encoded()).evaluationTimeoutSeconds == nil)
        let error = #expect(throws: WireError.self) { try TrainingParameters.decode(Array("{\"unit\": 1}".utf8)) }
        #expect(error?.code == WireError.Code.malformedPayload)
    }
}
