@_spi(CohortBenchmark) import CohortCoordinator
import CohortParticipant
import CohortPolicy
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// The benchmark's per-phase profile (`cohort-bench round`), on a real round over mutual TLS:
/// every step of every accepted update and of the round is timed, once each.
@Suite(.serialized) struct RoundPhaseProfileTests {
    @Test func aProfiledRoundTimesEachStepOfEachUpdateAndOfTheRound() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        let files = try ConsortiumFiles(names: names)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        var configuration = CoordinatorConfiguration(
            policy: try PolicyLoader.load(path: files.policyPath), stateDirectory: files.stateDirectory,
            portOverride: 0,
            quorumWaitSeconds: 10)
        let profile = RoundPhaseProfile()
        configuration.phaseProfile = profile
        let capture = LogCapture()
        let coordinator = try Coordinator(configuration: configuration, logger: capture.logger("cohort.coordinator"))
        let port = try await coordinator.start(
            tls: TLSConfigurationFactory(identity: files.coordinatorIdentity).makeServerConfiguration())
        let tasks = names.map { name in
            let identity = files.identity(name)
            let participant = Participant(
                configuration: ParticipantConfiguration(
                    host: "127.0.0.1", port: port, identity: identity, dataPath: identity.directory + "/data.csv",
                    schemaPath: files.schemaPath),
                logger: capture.logger("cohort.participant"))
            return Task { try await participant.run() }
        }
        // A liveness bound (30 s) for a loaded machine; the profile's figures do not depend on it.
        var polls = 0
        while await coordinator.connectedParticipants.count < names.count, polls < 1500 {
            try await Task.sleep(for: .milliseconds(20))
            polls += 1
        }
        #expect(profile.snapshot().isEmpty, "nothing is timed before a round")
        let outcome = try await coordinator.runRound()
        await coordinator.stop()
        for task in tasks { _ = try? await task.value }
        guard case .closed(_, let contributors, _, _) = outcome else {
            Issue.record("the round did not close: \(outcome)")
            return
        }
        let phases = profile.snapshot()
        for phase: RoundPhaseProfile.Phase in [.decode, .verify, .open, .clip, .sum] {
            #expect(phases[phase]?.count == contributors.count, "\(phase) once per accepted update")
        }
        // The opening, the charge, the promotion gates' decisions and the close: four fsynced appends.
        #expect(phases[.fsync]?.count == 4)
        // One invitation frame with the model, shared by every participant, sent once to all.
        for phase: RoundPhaseProfile.Phase in [.seal, .send, .noiseWait, .noisedMean, .evaluate, .checkpoint] {
            #expect(phases[phase]?.count == 1, "\(phase) once per round")
        }
        #expect((phases[.noiseDraw]?.count ?? 0) >= 1)
        #expect(phases.values.allSatisfy { $0.nanoseconds >= 0 })
        #expect((phases[.open]?.nanoseconds ?? 0) > 0)
    }
}
