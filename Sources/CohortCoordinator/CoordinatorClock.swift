/// The clock every deadline of the coordinator is measured on: the quorum wait, the round
/// deadline, the evaluation timeout and each participant's delivery deadline.
///
/// Injected through ``CoordinatorConfiguration/clock`` so that tests drive time with a manual
/// clock (a ten-second timeout then passes in microseconds) while production uses
/// `ContinuousClock`. Instants are offsets from the moment the clock was wrapped, which keeps the
/// coordinator free of a generic parameter for the concrete clock type.
public struct CoordinatorClock: Sendable {
    /// A point in time: how long after the clock was wrapped.
    public typealias Instant = Duration

    private let elapsed: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration) async throws -> Void

    /// Wraps `clock`; its present becomes ``Instant`` zero.
    public init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleeper = { offset in try await clock.sleep(until: origin.advanced(by: offset), tolerance: nil) }
    }

    /// `ContinuousClock`, which keeps counting while the machine sleeps: what deadlines promised
    /// to participants in wall time need.
    public static var continuous: CoordinatorClock { CoordinatorClock(ContinuousClock()) }

    /// The present.
    public var now: Instant { elapsed() }

    /// The instant `seconds` from now; a value beyond a year (or not finite) is capped at a year,
    /// which no deadline of a round reaches.
    public func deadline(afterSeconds seconds: Double) -> Instant {
        let capped = seconds.isFinite ? min(max(seconds, 0), 365 * 86_400) : 365 * 86_400
        return now + .milliseconds(Int64((capped * 1000).rounded(.up)))
    }

    /// Suspends until `deadline`; throws `CancellationError` when the task is cancelled first.
    public func sleep(until deadline: Instant) async throws {
        try await sleeper(deadline)
    }
}

/// The coordinator's tasks that wait for something to change (a session, an update, an
/// evaluation, an operator request) or for a deadline. Owned and mutated by the coordinator
/// actor only; whoever changes what a wait may depend on wakes every waiter, and each waiter
/// re-checks its own condition. This replaces polling loops: nothing wakes without a cause.
struct ChangeWaiters {
    private var parked: [UInt64: CheckedContinuation<Void, Never>] = [:]
    /// Waits that exist (reserved, not yet released).
    private var live: Set<UInt64> = []
    /// Waits woken before they parked: they resume at once when they do.
    private var woken: Set<UInt64> = []
    private var lastID: UInt64 = 0

    /// A new wait; it must be parked, then released.
    mutating func reserve() -> UInt64 {
        lastID += 1
        live.insert(lastID)
        return lastID
    }

    mutating func park(_ id: UInt64, _ continuation: CheckedContinuation<Void, Never>) {
        if woken.contains(id) || !live.contains(id) {
            continuation.resume()
        } else {
            parked[id] = continuation
        }
    }

    mutating func wake(_ id: UInt64) {
        guard live.contains(id) else { return }
        if let continuation = parked.removeValue(forKey: id) {
            continuation.resume()
        }
        woken.insert(id)
    }

    mutating func wakeAll() {
        for id in live { wake(id) }
    }

    mutating func release(_ id: UInt64) {
        live.remove(id)
        woken.remove(id)
        parked.removeValue(forKey: id)?.resume()
    }

    /// Waits parked now (for tests of the waiting machinery).
    var parkedCount: Int { parked.count }
}

extension Coordinator {
    /// Suspends until ``signalChange()`` is called, `deadline` passes or the task is cancelled;
    /// the caller then re-checks what it waits for.
    func waitForChange(until deadline: CoordinatorClock.Instant?) async {
        let id = waiters.reserve()
        let clock = clock
        let timer = deadline.map { deadline in
            Task { [weak self] in
                try? await clock.sleep(until: deadline)
                await self?.wake(id)
            }
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiters.park(id, continuation)
            }
        } onCancel: {
            Task { [weak self] in await self?.wake(id) }
        }
        timer?.cancel()
        waiters.release(id)
    }

    func wake(_ id: UInt64) {
        waiters.wake(id)
    }

    /// Wakes every waiting task of the coordinator: something one of them waits for may have changed.
    func signalChange() {
        waiters.wakeAll()
    }

    /// Waits until `condition` holds (true) or `deadline` passes (false); re-checks it at every
    /// ``signalChange()``. Throws `CancellationError` when the task is cancelled.
    func wait(until deadline: CoordinatorClock.Instant?, for condition: () -> Bool) async throws -> Bool {
        while !condition() {
            try Task.checkCancellation()
            if let deadline, clock.now >= deadline { return false }
            await waitForChange(until: deadline)
        }
        return true
    }
}
