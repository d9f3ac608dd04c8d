/// The frame types of protocol version 1. Raw values are on the wire and never reused.
public enum FrameType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Participant → coordinator: first frame; name, protocol version, capabilities.
    case hello = 1
    /// Coordinator → participant: sealing key, session nonce, model spec.
    case welcome = 2
    /// Participant → coordinator: data-quality attestation (opaque JSON).
    case attestation = 3
    /// Coordinator → participant: a round opened; global model and training parameters.
    case roundInvite = 4
    /// Participant → coordinator: a sealed, signed update.
    case update = 5
    /// Coordinator → participant: the update was accepted.
    case updateAck = 6
    /// Coordinator → participant: evaluate this model on the local holdout.
    case evaluateRequest = 7
    /// Participant → coordinator: evaluation metrics (JSON).
    case evaluationResult = 8
    /// Coordinator → participant: the round's outcome (JSON).
    case roundResult = 9
    /// Either side: orderly goodbye before closing.
    case bye = 10
    /// Either side: an error with a stable code.
    case error = 11
    /// Either side: keeps an otherwise silent connection inside the idle timeout. Never delivered
    /// to application code.
    case ping = 12

    public var description: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .attestation: "attestation"
        case .roundInvite: "roundInvite"
        case .update: "update"
        case .updateAck: "updateAck"
        case .evaluateRequest: "evaluateRequest"
        case .evaluationResult: "evaluationResult"
        case .roundResult: "roundResult"
        case .bye: "bye"
        case .error: "error"
        case .ping: "ping"
        }
    }
}

/// Per-frame flag bits. Version 1 defines none; a frame with any bit set is rejected so a future
/// version can give them meaning without old peers silently misreading them.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The bits this protocol version understands.
    public static let known: FrameFlags = []
}
