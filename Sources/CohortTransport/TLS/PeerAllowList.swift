/// Decides, from a verified certificate's identity, whether a peer may use this connection.
///
/// The coordinator builds it from the policy (the participants named there, the operators…), so
/// a valid certificate from the consortium CA is necessary but not sufficient: revoking a party is
/// removing it from the policy.
public struct PeerAllowList: Sendable {
    private let decide: @Sendable (PeerIdentity) -> Bool

    /// An allow-list backed by a closure (e.g. reading the current policy).
    public init(_ decide: @escaping @Sendable (PeerIdentity) -> Bool) {
        self.decide = decide
    }

    /// Allows exactly the given identities.
    public static func only(_ identities: Set<PeerIdentity>) -> PeerAllowList {
        PeerAllowList { identities.contains($0) }
    }

    /// Allows the named parties of one role.
    public static func names(_ names: Set<String>, role: PeerRole) -> PeerAllowList {
        PeerAllowList { $0.role == role && names.contains($0.name) }
    }

    /// Allows any identity with the given role (e.g. a participant checking its coordinator).
    public static func role(_ role: PeerRole) -> PeerAllowList {
        PeerAllowList { $0.role == role }
    }

    /// Whether `identity` is allowed.
    public func allows(_ identity: PeerIdentity) -> Bool { decide(identity) }
}
