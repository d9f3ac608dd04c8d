import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import CoreMetrics
import Foundation
import Logging
import NIOSSL

extension Coordinator {
    /// Runs `count` rounds (or the policy's count) one after another, then returns.
    ///
    /// The rounds go through the same queue operators fill with `requestRounds`, so a pause or an
    /// abort from the control API applies to them too. They are this run's only: unlike rounds an
    /// operator queued, they are not persisted (running the command again queues them again).
    public func runRounds(
        _ count: Int? = nil, progress: (@Sendable (RoundOutcome) -> Void)? = nil
    ) async throws -> [RoundOutcome] {
        // Give every participant named in the policy a moment to join before the first round, so
        // a run does not start with just a quorum because one silo connected a little later.
        let everyone = configuration.policy.policy.participants.count
        _ = try await wait(until: clock.deadline(afterSeconds: min(configuration.quorumWaitSeconds, 10))) {
            gateway.sessions.count >= everyone
        }
        localQueuedRounds += count ?? configuration.policy.policy.rounds.count
        return try await drainQueue(progress: progress)
    }

    /// Serves operator requests until the task is cancelled: runs queued rounds whenever there
    /// are some and the coordinator is not paused. Rounds operators queued before a restart
    /// (`queue.json`) run as soon as serving starts.
    public func serveRequests(progress: (@Sendable (RoundOutcome) -> Void)? = nil) async throws {
        while true {
            try Task.checkCancellation()
            if queuedRounds > 0 && !paused && !runningQueue {
                try await drainQueueSurvivingRoundErrors(progress: progress)
            } else {
                // A request, a resume or the end of another drain wakes this.
                _ = try await wait(until: nil) { queuedRounds > 0 && !paused && !runningQueue }
            }
        }
    }

    /// Runs queued rounds one after another until the queue is empty; waits while paused.
    func drainQueue(progress: (@Sendable (RoundOutcome) -> Void)?) async throws -> [RoundOutcome] {
        runningQueue = true
        defer {
            runningQueue = false
            signalChange()
        }
        var outcomes: [RoundOutcome] = []
        while queuedRounds > 0 {
            if paused {
                _ = try await wait(until: nil) { !paused || queuedRounds == 0 }
                continue
            }
            takeQueuedRound()
            let started = clock.now
            let outcome: RoundOutcome
            do {
                outcome = try await runRound()
            } catch {
                // A stop (SIGTERM, a failure that ends the service) before the round opened
                // leaves it queued for the next start. Any other failure consumed it (it is
                // logged; running it again at once would only fail again).
                settleOperatorRoundInFlight(requeueIfUnopened: Task.isCancelled || Self.stopsService(error))
                throw error
            }
            settleOperatorRoundInFlight(requeueIfUnopened: false)
            recordMetrics(of: outcome, seconds: Self.seconds(clock.now - started))
            outcomes.append(outcome)
            lastRound = summary(of: outcome)
            progress?(outcome)
            // A budget refusal ends the run: the next round would be refused for the same reason
            // (the refusal, with its numbers, is in the ledger).
            if case .refused(_, "budget", _) = outcome {
                localQueuedRounds = 0
                if operatorQueuedRounds > 0 {
                    logger.notice(
                        "queued rounds dropped: the budget refused a round",
                        metadata: [
                            "cohort.dropped_rounds": "\(operatorQueuedRounds)"
                        ])
                    operatorQueuedRounds = 0
                    recordOperatorQueue()
                }
            }
        }
        return outcomes
    }

    /// Takes the next queued round, an operator's first: its start is recorded before it runs,
    /// with the number it will open as (`taken_round`), so that a stop before it opens queues it
    /// again instead of losing it.
    func takeQueuedRound() {
        if operatorQueuedRounds > 0 {
            operatorQueuedRounds -= 1
            operatorRoundInFlight = ledger.state.nextRound
            recordOperatorQueue()
        } else {
            localQueuedRounds -= 1
        }
    }

    /// After the operator-queued round being run ended or failed, the queue file stops naming
    /// it. One that never reached the ledger goes back to the queue when `requeueIfUnopened` (the
    /// coordinator is stopping); otherwise it is dropped, and logged as such.
    func settleOperatorRoundInFlight(requeueIfUnopened: Bool) {
        guard let taken = operatorRoundInFlight else { return }
        operatorRoundInFlight = nil
        if ledger.state.nextRound <= taken {
            if requeueIfUnopened {
                operatorQueuedRounds += 1
                logger.notice(
                    "an operator-queued round stopped before it opened; it is queued again",
                    metadata: ["cohort.round": "\(taken)"])
            } else {
                logger.error(
                    "an operator-queued round failed before it opened; it is dropped",
                    metadata: ["cohort.round": "\(taken)"])
            }
        }
        recordOperatorQueue()
    }

    /// Records how many operator-queued rounds have not started. A failure is logged with its
    /// code: the file then counts a round too many, which a restart would run (never one too few).
    func recordOperatorQueue() {
        do {
            try stateDirectory.writeOperatorQueue(
                .init(queuedRounds: operatorQueuedRounds, paused: paused, takenRound: operatorRoundInFlight))
        } catch {
            logger.error(
                "the round queue could not be recorded",
                metadata: [
                    "cohort.code": "\(Self.code(of: error))", "cohort.queued_rounds": "\(operatorQueuedRounds)",
                ])
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}
