import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import Foundation
import CoreMetrics
import Logging
import NIOSSL

extension Coordinator {
    /// Runs `count` rounds (or the policy's count) one after another, then returns.
    ///
    /// The rounds go through the same queue operators fill with `requestRounds`, so a pause or an
    /// abort from the control API applies to them too.
    public func runRounds(_ count: Int? = nil, progress: (@Sendable (RoundOutcome) -> Void)? = nil) async throws -> [RoundOutcome] {
        // Give every participant named in the policy a moment to join before the first round, so
        // a run does not start with just a quorum because one silo connected a little later.
        let everyone = configuration.policy.policy.participants.count
        let joinUntil = Date().addingTimeInterval(min(configuration.quorumWaitSeconds, 10))
        while sessions.count < everyone && Date() < joinUntil {
            try await Task.sleep(for: .milliseconds(20))
        }
        queuedRounds += count ?? configuration.policy.policy.rounds.count
        return try await drainQueue(progress: progress)
    }

    /// Serves operator requests until the task is cancelled: runs queued rounds whenever there
    /// are some and the coordinator is not paused.
    public func serveRequests(progress: (@Sendable (RoundOutcome) -> Void)? = nil) async throws {
        while true {
            try Task.checkCancellation()
            if queuedRounds > 0 && !paused && !runningQueue {
                try await drainQueueSurvivingRoundErrors(progress: progress)
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Runs queued rounds one after another until the queue is empty; waits while paused.
    func drainQueue(progress: (@Sendable (RoundOutcome) -> Void)?) async throws -> [RoundOutcome] {
        runningQueue = true
        defer { runningQueue = false }
        var outcomes: [RoundOutcome] = []
        while queuedRounds > 0 {
            if paused {
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            queuedRounds -= 1
            let started = Date()
            let outcome = try await runRound()
            recordMetrics(of: outcome, seconds: Date().timeIntervalSince(started))
            outcomes.append(outcome)
            lastRound = summary(of: outcome)
            progress?(outcome)
            // A budget refusal ends the run: the next round would be refused for the same reason.
            if case .refused(_, "budget", _) = outcome { queuedRounds = 0 }
        }
        return outcomes
    }
}
