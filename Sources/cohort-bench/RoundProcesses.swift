import ArgumentParser
import CohortBenchSupport
@_spi(CohortBenchmark) import CohortCoordinator
import CohortCrypto
import CohortModel
import CohortPolicy
import CohortTransport
import Foundation
import Logging

/// Child of `round`: the real coordinator on a real mutual-TLS port. Waits until every
/// participant is attested, times `rounds` calls of `runRound()`, says goodbye, and prints its
/// round times and peak RSS as one JSON line.
struct RoundCoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round-coordinator", abstract: "Coordinator process of `round` (internal).", shouldDisplay: false)

    @Option var policy: String
    @Option var state: String
    @Option var portFile: String
    @Option var parameters: Int
    @Option var participants: Int
    @Option var rounds: Int
    /// Contributors every round must have; `participants` by default (the flood benchmark's
    /// attacker is connected but never contributes).
    @Option var contributors: Int?
    @Flag var noNoise = false

    func run() async throws {
        // ProcessSetup.forServer() ran in CohortBench.main(), as in cohort-coordinator.
        let logger = BenchLogging.logger("cohort.bench.coordinator")
        let loaded = try PolicyLoader.load(path: policy)
        var configuration = CoordinatorConfiguration(
            policy: loaded, stateDirectory: state, portOverride: 0, quorumWaitSeconds: 60, modelDimension: parameters)
        configuration.benchmarkSkipsNoise = noNoise
        let profile = RoundPhaseProfile()
        configuration.phaseProfile = profile
        let coordinator = try Coordinator(configuration: configuration, logger: logger)
        let files = loaded.policy.coordinator
        let tls = try TLSConfigurationFactory(
            caCertificatePEM: String(contentsOfFile: loaded.resolve(files.caCertificate), encoding: .utf8),
            certificatePEM: String(contentsOfFile: loaded.resolve(files.certificate), encoding: .utf8),
            privateKeyPEM: String(contentsOfFile: loaded.resolve(files.privateKey), encoding: .utf8))
        let port = try await coordinator.start(tls: tls.makeServerConfiguration())
        try String(port).write(toFile: portFile, atomically: true, encoding: .utf8)
        // Connecting and attesting are not part of a round: start timing once everyone is in.
        let clock = ContinuousClock()
        let joinDeadline = clock.now.advanced(by: .seconds(60))
        while await coordinator.connectedParticipants.count < participants {
            guard clock.now < joinDeadline else {
                await coordinator.stop(reason: "benchmark aborted")
                throw BenchError(
                    "only \(await coordinator.connectedParticipants.count) of \(participants) participants joined")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        var times: [Double] = []
        var cpuPerRound: [Double] = []
        let cpuAtStart = Measure.processCPUSeconds()
        let faultsAtStart = Measure.minorPageFaults()
        for _ in 0..<rounds {
            let start = clock.now
            let cpuAtRoundStart = Measure.processCPUSeconds()
            let outcome = try await coordinator.runRound()
            let elapsed = start.duration(to: clock.now)
            guard case .closed(_, let contributed, _, _) = outcome, contributed.count >= (contributors ?? participants)
            else {
                await coordinator.stop(reason: "benchmark aborted")
                throw BenchError("a round did not close with every participant: \(outcome)")
            }
            times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            cpuPerRound.append(Measure.processCPUSeconds() - cpuAtRoundStart)
        }
        let cpuSeconds = Measure.processCPUSeconds() - cpuAtStart
        let minorFaults = Measure.minorPageFaults() - faultsAtStart
        await coordinator.stop(reason: "benchmark finished")
        // Seconds per round of each phase, summed over every task that ran it.
        var phases: [String: Any] = [:]
        for (phase, totals) in profile.snapshot() {
            phases[phase.rawValue] =
                [
                    "seconds_per_round": Double(totals.nanoseconds) / 1e9 / Double(rounds), "count": totals.count,
                ] as [String: Any]
        }
        Measure.emit([
            "event": "coordinator_done", "round_seconds": times, "cpu_seconds": cpuSeconds,
            "round_cpu_seconds": cpuPerRound, "phases": phases, "minor_faults": minorFaults,
            "peak_rss_bytes": Measure.peakResidentBytes() ?? -1,
            "rss_file_bytes": Measure.residentFileBytes() ?? -1,
        ])
    }
}
