import CohortTransport
import Synchronization

/// Asks a running participant to leave: the update being trained is not sent (an external
/// trainer still running is terminated with its process group), the coordinator is told goodbye
/// (it drops the participant from the round in progress), a reconnection wait ends, and
/// `Participant.run()` returns its summary.
///
/// `cohort-participant` calls it on SIGTERM (ServiceLifecycle's graceful shutdown).
public final class ParticipantStop: Sendable {
    private struct State {
        var reason: String?
        var writer: FrameWriter?
        var waiting: Task<Void, any Error>?
        /// Cancels the work in progress (an external trainer's run), see ``cancellingOnStop(_:)``.
        var cancelWork: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether a stop was requested.
    public var isRequested: Bool { state.withLock { $0.reason != nil } }

    /// Requests the stop; idempotent.
    public func request(reason: String) {
        let (writer, waiting, cancelWork) = state.withLock {
            state -> (FrameWriter?, Task<Void, any Error>?, (@Sendable () -> Void)?) in
            guard state.reason == nil else { return (nil, nil, nil) }
            state.reason = reason
            defer {
                state.writer = nil
                state.cancelWork = nil
            }
            return (state.writer, state.waiting, state.cancelWork)
        }
        waiting?.cancel()
        cancelWork?()
        if let writer {
            Task {
                try? await writer.send(Bye(reason: reason))
                writer.finish()
            }
        }
    }

    /// The session's writer, told goodbye on a stop; false when a stop was already requested.
    func attach(_ writer: FrameWriter?) -> Bool {
        state.withLock { state in
            guard state.reason == nil else { return false }
            state.writer = writer
            return true
        }
    }

    /// Runs `operation` in a task that a stop request cancels (an external trainer still running is
    /// then terminated, so a SIGTERM ends the participant promptly); cancelling the caller cancels
    /// it too. When a stop was already requested, the operation starts cancelled.
    func cancellingOnStop<T: Sendable>(
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let work = Task { try await operation() }
        let registered = state.withLock { state in
            guard state.reason == nil else { return false }
            state.cancelWork = { work.cancel() }
            return true
        }
        if !registered { work.cancel() }
        defer { state.withLock { $0.cancelWork = nil } }
        return try await withTaskCancellationHandler {
            try await work.value
        } onCancel: {
            work.cancel()
        }
    }

    /// Waits `delay` on `clock`, or until a stop is requested. Returns false when stopped.
    func wait(_ delay: Duration, on clock: any Clock<Duration>) async -> Bool {
        let sleeper = Task { try await clock.sleep(for: delay, tolerance: nil) }
        let registered = state.withLock { state in
            guard state.reason == nil else { return false }
            state.waiting = sleeper
            return true
        }
        guard registered else {
            sleeper.cancel()
            return false
        }
        let slept = await withTaskCancellationHandler {
            (try? await sleeper.value) != nil
        } onCancel: {
            sleeper.cancel()
        }
        state.withLock { $0.waiting = nil }
        return slept && !isRequested
    }
}
