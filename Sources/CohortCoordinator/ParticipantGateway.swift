import CohortModel
import CohortPolicy
import CohortTransport
import Logging
import Synchronization

/// The participants the policy in force names. The participant port's allow-list reads it at
/// every handshake, so an adoption that adds a participant lets it in at once and one that removes
/// a participant refuses it from then on (its open sessions are closed by ``Coordinator``).
final class LiveMembership: Sendable {
    private let names: Mutex<Set<String>>

    init(_ names: Set<String>) {
        self.names = Mutex(names)
    }

    func contains(_ name: String) -> Bool {
        names.withLock { $0.contains(name) }
    }

    /// Replaces the members; returns who is no longer one.
    func replace(with newNames: Set<String>) -> Set<String> {
        names.withLock { current in
            let removed = current.subtracting(newNames)
            current = newNames
            return removed
        }
    }

    /// Participants that are members now (read at each handshake, not when the server starts).
    var allowList: PeerAllowList {
        PeerAllowList { [self] identity in identity.role == .participant && contains(identity.name) }
    }
}

/// The participants' side of the coordinator: one live session per identity, who may connect,
/// and delivery of frames to many participants at once, each against its own deadline, so one
/// participant that stops reading holds up no one else. Owned by the ``Coordinator`` actor.
struct ParticipantGateway {
    struct Session {
        /// Assigned by `register`.
        var id: UInt64 = 0
        let writer: FrameWriter
        let sessionNonce: [UInt8]
        /// The data-quality attestation the participant sent when it joined.
        let attestation: DataQualityAttestation
        /// The participant's training rows: its share of the public N (zero-out adjacency).
        /// Attestations without them are refused at join (`attestation.no_training_rows`).
        var trainingRows: Int { attestation.trainingRows ?? attestation.rows }
        /// The holdout rows its evaluations may count at most.
        var holdoutRows: Int { attestation.rows - (attestation.trainingRows ?? 0) }
        /// ``ModelDigest`` of the last model sent to this participant in full (an evaluation
        /// request or a full invitation): an invitation to train that model refers to it.
        var heldModelDigest: [UInt8]?
    }

    /// Live sessions by participant name.
    var sessions: [String: Session] = [:]
    /// The last session id handed out (ids tell a replaced session from its successor).
    var lastSessionID: UInt64 = 0
    /// Who the participant port admits: the participants of the policy in force.
    let membership: LiveMembership

    init(members: Set<String>) {
        membership = LiveMembership(members)
    }

    /// Frames in flight at once during a fan-out. Frames are shared, not copied, so the bound
    /// limits tasks and channel buffers, not model copies.
    static let fanOutLimit = 16

    /// One frame for one participant's connection.
    struct Delivery: Sendable {
        let name: String
        let writer: FrameWriter
        let frame: Frame
    }

    /// Hands each delivery's frame to its connection, at most `limit` at once, each bounded by
    /// `deadline`. A connection that does not take its frame in time (its peer stopped reading
    /// and the channel's buffers are full) is closed with `session.send_timeout`, which ends its
    /// session; the others are not held up. Returns the names whose frame was taken in time.
    static func fanOut(
        _ deliveries: [Delivery], deadline: CoordinatorClock.Instant, clock: CoordinatorClock, limit: Int = fanOutLimit
    ) async -> Set<String> {
        await withTaskGroup(of: (String, Bool).self) { group in
            var remaining = deliveries.makeIterator()
            for _ in 0..<max(1, limit) {
                guard let delivery = remaining.next() else { break }
                group.addTask { (delivery.name, await deliver(delivery, deadline: deadline, clock: clock)) }
            }
            var delivered: Set<String> = []
            while let (name, ok) = await group.next() {
                if ok { delivered.insert(name) }
                if let delivery = remaining.next() {
                    group.addTask { (delivery.name, await deliver(delivery, deadline: deadline, clock: clock)) }
                }
            }
            return delivered
        }
    }

    /// Sends one frame unless `deadline` passes first; then closes the connection, which also
    /// ends the stuck write.
    static func deliver(
        _ delivery: Delivery, deadline: CoordinatorClock.Instant, clock: CoordinatorClock
    ) async -> Bool {
        await withTaskGroup(of: Bool?.self) { race in
            race.addTask {
                do {
                    try await delivery.writer.send(delivery.frame)
                    return true
                } catch {
                    return false
                }
            }
            race.addTask {
                do {
                    try await clock.sleep(until: deadline)
                    return nil
                } catch {
                    return false
                }
            }
            let first = await race.next() ?? false
            if first == nil {
                delivery.writer.closeNow(
                    with: WireError(
                        code: "session.send_timeout",
                        message: "a \(delivery.frame.type) frame for \(delivery.name) could not be sent "
                            + "before its deadline: "
                            + "the connection stopped reading; reconnect and read what the coordinator sends",
                        closesConnection: true))
            }
            race.cancelAll()
            return first ?? false
        }
    }
}

extension Coordinator {
    /// Makes `session` the live session of `name`, replacing (and closing) an older one; nil when
    /// `name` is not, or no longer, a member (the caller tells the peer and closes).
    ///
    /// One live session per identity: a reconnect after a network blip takes over from the
    /// half-dead connection instead of running beside it, and the replaced connection learns why
    /// (`session.replaced`) before it is closed.
    func register(name: String, session: Session) -> UInt64? {
        guard gateway.membership.contains(name) else { return nil }
        gateway.lastSessionID += 1
        var session = session
        session.id = gateway.lastSessionID
        if let previous = gateway.sessions[name] {
            logger.notice(
                "a new connection replaced the participant's session",
                metadata: [
                    "cohort.participant": "\(name)", "cohort.code": "\(WireError.Code.sessionReplaced)",
                ])
            previous.writer.close(
                with: WireError(
                    code: WireError.Code.sessionReplaced,
                    message: "a newer connection with the identity \(name) took over this session; if the "
                        + "participant did not restart, two processes share this identity: stop one",
                    closesConnection: true))
        }
        gateway.sessions[name] = session
        metrics.participantsConnected(gateway.sessions.count)
        signalChange()
        return session.id
    }

    /// Forgets the session `id` of `name` when its connection ends; a session that already
    /// replaced it stays.
    func unregister(name: String, id: UInt64) {
        guard gateway.sessions[name]?.id == id else { return }
        gateway.sessions[name] = nil
        metrics.participantsConnected(gateway.sessions.count)
        signalChange()
    }

    /// Applies the membership of the policy now in force: participants it no longer names lose
    /// their sessions at once, are never invited or asked to evaluate again, and whatever they
    /// send for the round in progress is ignored.
    func applyMembership() {
        let names = Set(configuration.policy.policy.participants.map(\.name))
        let removed = gateway.membership.replace(with: names)
        for name in removed {
            if let active = round {
                active.evaluationsAsked.remove(name)
                active.evaluations[name] = nil
            }
            guard let session = gateway.sessions.removeValue(forKey: name) else { continue }
            logger.notice(
                "participant removed by the adopted policy; session closed",
                metadata: [
                    "cohort.participant": "\(name)", "cohort.code": "\(WireError.Code.removedFromPolicy)",
                ])
            session.writer.close(
                with: WireError(
                    code: WireError.Code.removedFromPolicy,
                    message: "the policy in force no longer names \(name); ask the consortium to add it again",
                    closesConnection: true))
        }
        metrics.participantsConnected(gateway.sessions.count)
        signalChange()
    }

    /// Sends each participant its frame through ``ParticipantGateway/fanOut(_:deadline:clock:limit:)``
    /// (concurrently, each by `deadline`, at most `configuration.peerSendTimeoutSeconds` after
    /// now when set). When the frames carry the model `digest` names, records which participants
    /// now hold it. Returns who got their frame.
    @discardableResult
    func deliver(
        _ frames: [(name: String, frame: Frame)], holding digest: [UInt8]? = nil, deadline: CoordinatorClock.Instant
    ) async -> Set<String> {
        var deadline = deadline
        if let perPeer = configuration.peerSendTimeoutSeconds {
            deadline = min(deadline, clock.deadline(afterSeconds: perPeer))
        }
        var sessionIDs: [String: UInt64] = [:]
        let deliveries = frames.compactMap { item -> ParticipantGateway.Delivery? in
            guard let session = gateway.sessions[item.name] else { return nil }
            sessionIDs[item.name] = session.id
            return ParticipantGateway.Delivery(name: item.name, writer: session.writer, frame: item.frame)
        }
        let delivered = await ParticipantGateway.fanOut(deliveries, deadline: deadline, clock: clock)
        for (name, id) in sessionIDs.sorted(by: { $0.key < $1.key }) {
            if !delivered.contains(name) {
                let type = frames.first { $0.name == name }.map { "\($0.frame.type)" } ?? ""
                // Participant unit: the log does not say who was sampled.
                let shown = round?.plan.unit == .participant ? "(sampled)" : name
                logger.notice(
                    "frame not delivered", metadata: ["cohort.participant": "\(shown)", "cohort.frame": "\(type)"])
            }
            // Only the session the frame went to holds (or lost) the model; a newer one holds nothing yet.
            guard gateway.sessions[name]?.id == id else { continue }
            if !delivered.contains(name) {
                // Its connection failed or was cut off: the session is over now, not when its
                // handler notices, so no wait counts on it. (A cancelled fan-out, e.g. on SIGTERM,
                // says nothing about the peer: its session stays for `stop` to say goodbye.)
                if !Task.isCancelled { unregister(name: name, id: id) }
                continue
            }
            if let digest { gateway.sessions[name]?.heldModelDigest = digest }
        }
        return delivered
    }

    /// Connected peers the policy in force does not (or no longer) name. Their sessions are
    /// closed on adoption, so this is normally empty; status shows it so an operator can see it.
    func connectedNonMembers() -> [String] {
        gateway.sessions.keys.filter { !gateway.membership.contains($0) }.sorted()
    }
}

extension Coordinator {
    /// The fewest units a round under `policy` can protect: participant unit, the participants
    /// the policy names; record unit, the quorum times the smallest silo the data-quality gate
    /// admits (the actual N, attested at connection, is at least this).
    static func fewestProtectedUnits(_ policy: Policy) -> Int {
        switch policy.privacy.unit {
        case .participant: return max(1, policy.participants.count)
        case .record:
            let (product, overflow) = max(1, policy.rounds.minParticipants)
                .multipliedReportingOverflow(by: max(1, policy.governance.dataQuality.minRows))
            return overflow ? .max : product
        }
    }

    /// Warns (at start and on adoption, both units) when `policy`'s δ is above 1/(10·N) for
    /// the fewest units N a round can protect: δ then allows a failure probability comparable to
    /// one unit's share (docs/PRIVACY.md, "δ guidance"). Returns whether it warned.
    @discardableResult
    static func warnAboutDelta(_ policy: Policy, logger: Logger) -> Bool {
        let units = fewestProtectedUnits(policy)
        guard policy.privacy.delta > 1 / (10 * Double(units)) else { return false }
        logger.warning(
            "privacy.delta is above 1/(10·N) for the units a round protects; lower it",
            metadata: [
                "cohort.field": "privacy.delta", "cohort.delta": "\(policy.privacy.delta)",
                "cohort.unit": "\(policy.privacy.unit.rawValue)", "cohort.units": "\(units)",
                "cohort.see": "docs/PRIVACY.md, δ guidance",
            ])
        return true
    }

    /// Logs a warning for every option of `policy` that trades the privacy guarantee away.
    static func warnAboutGuaranteeTradingOptions(_ policy: Policy, logger: Logger) {
        for option in policy.guaranteeTradingOptions {
            logger.warning(
                "this policy option trades the differential-privacy guarantee away",
                metadata: [
                    "cohort.field": "\(option.field)", "cohort.why": "\(option.why)",
                    "cohort.see": "docs/POLICY.md, options that trade the privacy guarantee away",
                ])
        }
    }
}
