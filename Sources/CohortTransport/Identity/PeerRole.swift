/// The parties of a consortium, as named in a certificate's organizational unit.
public enum PeerRole: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The one coordinator process.
    case coordinator
    /// A bank or hospital that trains locally.
    case participant
    /// Starts, pauses and aborts rounds.
    case `operator`
    /// Reads and verifies the ledger.
    case auditor

    public var description: String { rawValue }
}
