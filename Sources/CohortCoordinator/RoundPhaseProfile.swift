import Synchronization

/// Where a coordinator's round spends its time, phase by phase, for `cohort-bench round`.
///
/// Production coordinators have none (``CoordinatorConfiguration/phaseProfile`` is nil): each
/// timed step then costs one nil check. With a profile, a step reads the monotonic clock twice
/// and adds the span under a lock, a few times per update (each update is megabytes of work),
/// from whichever task runs it: updates are opened concurrently off the coordinator's actor,
/// so the totals are CPU-side sums, not wall-clock slices of the round.
@_spi(CohortBenchmark)
public final class RoundPhaseProfile: Sendable {
    /// The steps of a round that are timed.
    public enum Phase: String, CaseIterable, Sendable {
        /// Parsing an update frame's payload (the bytes stay in the received buffer).
        case decode
        /// SHA-256 of the sealed update and its Ed25519 signature check.
        case verify
        /// Opening the sealed box into a plaintext buffer.
        case open
        /// Plaintext checks, the norm, finiteness, direction and clipping.
        case clip
        /// Adding a prepared update to the running sum (on the actor).
        case sum
        /// Drawing the discrete-Gaussian noise vector (in a background task, ahead of need).
        case noiseDraw = "noise_draw"
        /// Waiting for the pre-drawn noise when the aggregate needs it.
        case noiseWait = "noise_wait"
        /// Quantising the sum, adding the noise, dequantising, dividing.
        case noisedMean = "noised_mean"
        /// Encoding the invitation frame that carries the global model.
        case seal
        /// Handing every invitation to its connection until the last is written.
        case send
        /// Ledger appends of the round (each fsynced).
        case fsync
        /// Federated evaluation of the candidate and the promotion gates (wall time, includes
        /// sending the candidate to every participant and the evaluation record's fsync).
        case evaluate
        /// Encoding, hashing and durably writing the released model's checkpoint.
        case checkpoint
    }

    /// Totals of one phase.
    public struct Totals: Sendable {
        /// Nanoseconds summed over every timed step.
        public var nanoseconds: Int64 = 0
        /// Timed steps.
        public var count = 0
    }

    private let totals = Mutex<[Phase: Totals]>([:])

    public init() {}

    /// Adds `duration` under `phase`.
    public func add(_ phase: Phase, _ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        totals.withLock { table in
            table[phase, default: Totals()].nanoseconds += nanoseconds
            table[phase, default: Totals()].count += 1
        }
    }

    /// Every phase's totals so far.
    public func snapshot() -> [Phase: Totals] { totals.withLock { $0 } }

    /// Forgets every total (between warm-up and timed rounds).
    public func reset() { totals.withLock { $0.removeAll() } }
}

extension Optional where Wrapped == RoundPhaseProfile {
    /// Runs `body`, adding its duration under `phase` when there is a profile.
    @inline(__always)
    func time<Result, Failure: Error>(
        _ phase: RoundPhaseProfile.Phase, _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        guard let profile = self else { return try body() }
        let clock = ContinuousClock()
        let start = clock.now
        defer { profile.add(phase, start.duration(to: clock.now)) }
        return try body()
    }

    /// The async form of ``time(_:_:)``.
    @inline(__always)
    func time<Result>(
        _ phase: RoundPhaseProfile.Phase, isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async rethrows -> Result {
        guard let profile = self else { return try await body() }
        let clock = ContinuousClock()
        let start = clock.now
        defer { profile.add(phase, start.duration(to: clock.now)) }
        return try await body()
    }
}
