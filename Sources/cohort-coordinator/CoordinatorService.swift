import CohortCoordinator
import CohortOperatorAPI
import Foundation
import Logging
import ServiceLifecycle

/// The coordinator process as a ServiceLifecycle service: runs the rounds (or serves operator
/// requests), and on graceful shutdown (SIGTERM, SIGINT) aborts the current round — it stays
/// charged if updates arrived — says goodbye to the participants, closes the operator API and
/// closes the ledger (every entry is already fsync'd; closing releases its lock). A shutdown is a
/// clean stop: `run` returns normally and the process exits 0.
struct CoordinatorService: Service {
    let coordinator: Coordinator
    let api: OperatorAPIServer?
    /// Serve operator requests until stopped, instead of running `rounds` rounds.
    let serve: Bool
    let rounds: Int?
    /// Files (`--port-file`, `--api-port-file`) written once the service runs, when the service
    /// group already handles SIGTERM and SIGINT.
    let readyFiles: [(path: String, text: String)]
    let logger: Logger

    func run() async throws {
        for file in readyFiles {
            do {
                try file.text.write(toFile: file.path, atomically: true, encoding: .utf8)
            } catch {
                await api?.close()
                await coordinator.shutdown(reason: "cannot write \(file.path)")
                throw error
            }
        }
        let coordinator = coordinator
        let serve = serve
        let rounds = rounds
        let work = Task {
            if serve {
                try await coordinator.serveRequests()
                return [RoundOutcome]()
            }
            return try await coordinator.runRounds(rounds)
        }
        let outcomes: [RoundOutcome]
        do {
            // Cancelling the round loop aborts the round in progress through the round driver.
            outcomes = try await withGracefulShutdownHandler {
                try await work.value
            } onGracefulShutdown: {
                work.cancel()
            }
        } catch _ where work.isCancelled {
            await api?.close()
            await coordinator.shutdown(reason: "stopped by signal")
            logger.notice("stopped by signal; the ledger is closed")
            return
        } catch {
            await api?.close()
            await coordinator.shutdown(reason: "stopped: \(error)")
            logger.error("stopped on an error", metadata: ["cohort.reason": "\(error)"])
            throw error
        }
        await api?.close()
        await coordinator.shutdown()
        // Contributors are counted, not named: in the participant unit their names are the
        // secret Poisson sample (docs/PRIVACY.md).
        for outcome in outcomes {
            let text: String
            switch outcome {
            case .closed(let round, let contributors, let roundEpsilon, let cumulativeEpsilon):
                text =
                    "closed(round: \(round), contributors: \(contributors.count), roundEpsilon: \(roundEpsilon), "
                    + "cumulativeEpsilon: \(cumulativeEpsilon))"
            default:
                text = "\(outcome)"
            }
            logger.info("round", metadata: ["cohort.outcome": "\(text)"])
        }
    }
}
