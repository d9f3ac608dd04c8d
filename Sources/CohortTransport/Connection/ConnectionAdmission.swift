import Synchronization

/// How far one server-side connection has been admitted, shared by the frame decoder (which
/// sizes what it may buffer by it), the connection guard (which refuses peers) and the
/// application (which admits a peer to a session once its `hello` checks out).
///
/// Memory a peer can make the coordinator hold grows with each step:
///
/// | phase | frames the decoder accepts | most buffered |
/// |---|---|---|
/// | ``Phase/unauthenticated`` (TLS not finished, or refused) | none: bytes are dropped | 0 |
/// | ``Phase/awaitingHello`` | hello, bye, ping (4 KiB each) | 4 KiB |
/// | ``Phase/awaitingAttestation`` | attestation (256 KiB), bye, ping | 256 KiB |
/// | ``Phase/session`` | every type, within ``FrameLimits`` | one frame |
///
/// A refused or closing connection goes back to ``Phase/closed``: nothing more is decoded or
/// buffered while its TLS shutdown runs.
public final class ConnectionAdmission: Sendable {
    /// A connection's admission phase.
    public enum Phase: UInt8, Sendable {
        /// TLS has not authenticated the peer yet.
        case unauthenticated = 0
        /// Authenticated and allowed; only the `hello` frame is accepted.
        case awaitingHello = 1
        /// The `hello` was accepted; only the attestation is accepted.
        case awaitingAttestation = 2
        /// A session: every frame type within the configured limits.
        case session = 3
        /// Refused or closing: every further byte is discarded unread.
        case closed = 4
    }

    private let state: Atomic<UInt8>

    /// A connection in `phase` (client connections start as ``Phase/session``: the server they
    /// chose to call is trusted to send what the protocol says).
    public init(_ phase: Phase) {
        state = Atomic(phase.rawValue)
    }

    /// The current phase.
    public var phase: Phase { Phase(rawValue: state.load(ordering: .acquiring)) ?? .closed }

    /// Moves to `phase` unless the connection is already closed (a refusal is final).
    public func advance(to phase: Phase) {
        var current = state.load(ordering: .acquiring)
        while current != Phase.closed.rawValue {
            let (exchanged, original) = state.compareExchange(
                expected: current, desired: phase.rawValue, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }

    /// Stops decoding for good.
    public func close() {
        state.store(Phase.closed.rawValue, ordering: .releasing)
    }

    /// Whether a frame of `type` may arrive in the current phase; nil when every byte is dropped.
    func accepts(_ type: FrameType) -> Bool? {
        switch phase {
        case .unauthenticated, .closed: nil
        case .awaitingHello: type == .hello || type == .bye || type == .ping
        case .awaitingAttestation: type == .attestation || type == .bye || type == .ping
        case .session: true
        }
    }
}

/// A byte budget shared by every connection of one server, for the payloads of large frames that
/// are still arriving (``FrameDecoder/gatherThreshold`` and up).
///
/// Without it, each authenticated connection could hold one partially sent frame of the largest
/// size; with it, the sum over all connections is capped and a frame that would pass the cap is
/// refused with `wire.busy` before any of its payload is kept. The coordinator sizes it for one
/// largest frame from every participant the policy names (each identity has at most one session).
public final class PartialFrameBudget: Sendable {
    /// The most bytes of partial payloads held at once.
    public let capacity: Int
    private let used = Atomic<Int>(0)

    /// A budget of `capacity` bytes.
    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// Bytes reserved now.
    public var reserved: Int { used.load(ordering: .relaxed) }

    /// Reserves `bytes`; false (and nothing reserved) when that would pass the capacity.
    func reserve(_ bytes: Int) -> Bool {
        var current = used.load(ordering: .relaxed)
        while true {
            let (sum, overflow) = current.addingReportingOverflow(bytes)
            guard !overflow, sum <= capacity else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: sum, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Returns bytes reserved earlier.
    func release(_ bytes: Int) {
        used.wrappingSubtract(bytes, ordering: .relaxed)
    }
}
