import CohortPolicy
import Logging
import CohortTransport
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

extension Coordinator {
    /// Makes `session` the live session of `name`, replacing (and closing) an older one; nil when
    /// `name` is not, or no longer, a member (the caller tells the peer and closes).
    ///
    /// One live session per identity: a reconnect after a network blip takes over from the
    /// half-dead connection instead of running beside it, and the replaced connection learns why
    /// (`session.replaced`) before it is closed.
    func register(name: String, session: Session) -> UInt64? {
        guard membership.contains(name) else { return nil }
        nextSessionID += 1
        var session = session
        session.id = nextSessionID
        if let previous = sessions[name] {
            logger.notice("a new connection replaced the participant's session", metadata: [
                "cohort.participant": "\(name)", "cohort.code": "\(WireError.Code.sessionReplaced)",
            ])
            previous.writer.close(with: WireError(
                code: WireError.Code.sessionReplaced,
                message: "a newer connection with the identity \(name) took over this session", closesConnection: true))
        }
        sessions[name] = session
        metrics.participantsConnected(sessions.count)
        return session.id
    }

    /// Forgets the session `id` of `name` when its connection ends; a session that already
    /// replaced it stays.
    func unregister(name: String, id: UInt64) {
        guard sessions[name]?.id == id else { return }
        sessions[name] = nil
        metrics.participantsConnected(sessions.count)
    }

    /// Applies the membership of the policy now in force: participants it no longer names lose
    /// their sessions at once, are never invited or asked to evaluate again, and whatever they
    /// send for the round in progress is ignored.
    func applyMembership() {
        let names = Set(configuration.policy.policy.participants.map(\.name))
        let removed = membership.replace(with: names)
        for name in removed {
            if let active = round {
                active.evaluationsAsked.remove(name)
                active.evaluations[name] = nil
            }
            guard let session = sessions.removeValue(forKey: name) else { continue }
            logger.notice("participant removed by the adopted policy; session closed", metadata: [
                "cohort.participant": "\(name)", "cohort.code": "\(WireError.Code.removedFromPolicy)",
            ])
            session.writer.close(with: WireError(
                code: WireError.Code.removedFromPolicy,
                message: "the policy in force no longer names \(name); ask the consortium to add it again",
                closesConnection: true))
        }
        metrics.participantsConnected(sessions.count)
    }

    /// Connected peers the policy in force does not (or no longer) name. Their sessions are
    /// closed on adoption, so this is normally empty; status shows it so an operator can see it.
    func connectedNonMembers() -> [String] {
        sessions.keys.filter { !membership.contains($0) }.sorted()
    }
}

extension Coordinator {
    /// Logs a warning for every option of `policy` that trades the privacy guarantee away.
    static func warnAboutGuaranteeTradingOptions(_ policy: Policy, logger: Logger) {
        for option in policy.guaranteeTradingOptions {
            logger.warning("this policy option trades the differential-privacy guarantee away", metadata: [
                "cohort.field": "\(option.field)", "cohort.why": "\(option.why)",
                "cohort.see": "docs/PRIVACY.md, Eligibility",
            ])
        }
    }
}
