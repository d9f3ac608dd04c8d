import Foundation

/// How a participant reconnects after its connection to the coordinator is lost or refused:
/// jittered exponential backoff, capped, with a give-up bound.
///
/// The delay before retry `n` (1-based, consecutive failures) is drawn uniformly from
/// `[b/2, b]` with `b = min(maximumDelay, initialDelay · multiplier^(n−1))` ("equal jitter"): the
/// participants of a consortium do not all reconnect in the same instant after a coordinator
/// restart, and none waits more than `maximumDelay`. A session that reached `welcome` resets the
/// count.
public struct ReconnectPolicy: Sendable, Equatable {
    /// The first delay's upper bound.
    public var initialDelay: Duration
    /// The cap on any delay.
    public var maximumDelay: Duration
    /// Growth per consecutive failure (≥ 1).
    public var multiplier: Double
    /// Reconnection attempts after consecutive failures before the participant gives up
    /// (`participant.gave_up`); 0 never reconnects (a lost connection ends the run).
    public var maximumAttempts: Int

    /// - Parameters:
    ///   - initialDelay: the first delay's upper bound (default 250 ms).
    ///   - maximumDelay: the cap on any delay (default 30 s).
    ///   - multiplier: growth per consecutive failure (default 2).
    ///   - maximumAttempts: consecutive failures before giving up (default 40: about 15 minutes
    ///     at the cap).
    public init(
        initialDelay: Duration = .milliseconds(250), maximumDelay: Duration = .seconds(30), multiplier: Double = 2,
        maximumAttempts: Int = 40
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = max(initialDelay, maximumDelay)
        self.multiplier = max(1, multiplier)
        self.maximumAttempts = max(0, maximumAttempts)
    }

    /// Never reconnect: the run ends when the connection does.
    public static let never = ReconnectPolicy(maximumAttempts: 0)

    /// The delay before retry `failures` (1-based), or nil when the participant gives up.
    /// - Parameters:
    ///   - failures: consecutive failed or lost connections so far.
    ///   - unitRandom: a number in [0, 1] choosing where in `[b/2, b]` the delay falls.
    public func delay(afterFailures failures: Int, unitRandom: Double) -> Duration? {
        guard failures >= 1, failures <= maximumAttempts else { return nil }
        let cap = Self.seconds(maximumDelay)
        // Computed in Double and capped before any overflow: multiplier^(n−1) may be huge.
        let growth = pow(multiplier, Double(min(failures - 1, 1_000)))
        let bound = min(cap, Self.seconds(initialDelay) * growth)
        let fraction = min(1, max(0, unitRandom.isFinite ? unitRandom : 1))
        return .nanoseconds(Int64((bound / 2 + fraction * bound / 2) * 1e9))
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
