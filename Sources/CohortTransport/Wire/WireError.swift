import CohortErrors

/// An error that can travel on the wire: a stable code, a human-readable message, and whether the
/// sender closes the connection after reporting it.
///
/// Codes are part of the protocol: peers, tests and dashboards match on them, so they never change
/// meaning. Messages say what was wrong and what to do; they never contain key material, update
/// payloads or raw records.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable machine-readable code, e.g. `wire.frame_too_large`.
    public let code: String
    /// What was wrong and what to do about it.
    public let message: String
    /// Whether the sender closes the connection after sending this error.
    public let closesConnection: Bool

    /// Creates an error.
    /// - Parameters:
    ///   - code: a stable code, `<area>.<reason>`.
    ///   - message: what was wrong and what to do.
    ///   - closesConnection: whether the connection is closed after the error is sent.
    public init(code: String, message: String, closesConnection: Bool) {
        self.code = code
        self.message = message
        self.closesConnection = closesConnection
    }

    public var description: String { "\(code): \(message)" }
}

extension WireError {
    /// The stable codes. Framing errors close the connection because the byte stream can no
    /// longer be trusted to be aligned on frame boundaries; update and round errors leave it open
    /// so a participant can take part in the next round.
    public enum Code {
        // Framing: the connection is always closed.
        public static let badMagic = "wire.bad_magic"
        public static let unsupportedVersion = "wire.unsupported_version"
        public static let unknownFrameType = "wire.unknown_frame_type"
        public static let unsupportedFlags = "wire.unsupported_flags"
        public static let frameTooLarge = "wire.frame_too_large"
        public static let truncatedFrame = "wire.truncated_frame"
        public static let malformedPayload = "wire.malformed_payload"
        public static let unexpectedFrame = "wire.unexpected_frame"
        public static let idleTimeout = "wire.idle_timeout"
        /// The server's budget for partially received large frames is in use; retry shortly.
        public static let busy = "wire.busy"
        // Authentication and policy.
        /// The peer's `hello` names a protocol version this build does not speak; the message
        /// names both (the connection closes).
        public static let protocolVersionUnsupported = "protocol.version_unsupported"
        public static let notInPolicy = "auth.not_in_policy"
        public static let badIdentity = "auth.bad_identity"
        public static let nameMismatch = "auth.name_mismatch"
        /// An adopted policy no longer names the participant: its sessions end, it is refused.
        public static let removedFromPolicy = "auth.removed_from_policy"
        /// The peer did not complete `hello` and its attestation within three handshake timeouts.
        public static let helloTimeout = "auth.hello_timeout"
        // Sessions.
        /// A newer connection with the same identity took over this one's session.
        public static let sessionReplaced = "session.replaced"
        /// The identity (or the server) has too many connections that have not finished `hello`.
        public static let tooManyConnections = "session.too_many_connections"
        // Per-update checks.
        public static let wrongDimension = "update.wrong_dimension"
        public static let nonFinite = "update.non_finite"
        public static let replayed = "update.replayed"
        public static let duplicate = "update.duplicate"
        public static let badSignature = "update.bad_signature"
        public static let sealOpenFailed = "update.seal_open_failed"
        public static let wrongRound = "update.wrong_round"
        /// A record-unit update whose L2 norm is not finite or exceeds C × the sender's attested
        /// records × (1 + 1e-6): refused before anything is added to the sum.
        public static let normOutOfRange = "update.norm_out_of_range"
        // Peer statements, checked where they are decoded.
        /// A data-quality attestation with a value outside its documented bound (the connection closes).
        public static let attestationInvalid = "attestation.invalid"
        /// An attestation without `training_rows`, from a participant older than the keyed
        /// per-record holdout: its split may re-deal records, which the record-level ε does not
        /// cover, so it is refused (the connection closes).
        public static let attestationNoTrainingRows = "attestation.no_training_rows"
        /// An evaluation result that is inconsistent, has another histogram layout, or counts more
        /// records than attested; that participant's evaluation is left out of the round.
        public static let evaluationInvalid = "evaluation.invalid"
        /// The participant's attestation fails the policy's data-quality gate (the message gives
        /// the gate's reasons); it takes part in no round until it joins with eligible data.
        public static let participantIneligible = "participant.ineligible"
        // Rounds.
        public static let deadlinePassed = "round.deadline_passed"
        public static let roundNotOpen = "round.not_open"
        /// An invitation referred to a model the participant does not hold (see ``HeldModel``).
        public static let unknownModel = "round.unknown_model"
    }

    static func badMagic(_ bytes: [UInt8]) -> WireError {
        WireError(
            code: Code.badMagic,
            message: "frame does not start with \"CHRT\" (got \(bytes.map { String($0, radix: 16) })); "
                + "the peer is not speaking the Cohort protocol",
            closesConnection: true
        )
    }

    static func versionUnsupported(_ version: UInt16, supported: ClosedRange<UInt16>) -> WireError {
        let ours =
            supported.count == 1
            ? "version \(supported.lowerBound)" : "versions \(supported.lowerBound)…\(supported.upperBound)"
        return WireError(
            code: Code.protocolVersionUnsupported,
            message: "the peer's hello asks for protocol version \(version); this coordinator speaks protocol \(ours); "
                + "run a participant and a coordinator that share a protocol version",
            closesConnection: true
        )
    }

    static func unsupportedVersion(_ version: UInt16, supported: ClosedRange<UInt16>) -> WireError {
        WireError(
            code: Code.unsupportedVersion,
            message: "protocol version \(version) is not supported (this side speaks \(supported.lowerBound)"
                + "...\(supported.upperBound)); upgrade the older side",
            closesConnection: true
        )
    }

    static func unknownFrameType(_ raw: UInt8) -> WireError {
        WireError(
            code: Code.unknownFrameType,
            message: "frame type \(raw) is not defined in this protocol version",
            closesConnection: true
        )
    }

    static func unsupportedFlags(_ raw: UInt8) -> WireError {
        WireError(
            code: Code.unsupportedFlags,
            message: "frame flags 0x\(String(raw, radix: 16)) use bits this protocol version does not define",
            closesConnection: true
        )
    }

    static func frameTooLarge(_ type: FrameType, length: UInt32, limit: UInt32) -> WireError {
        WireError(
            code: Code.frameTooLarge,
            message: "\(type) frame announces \(length) payload bytes, over the limit of \(limit); "
                + "raise the policy's frame limit if the model really is this large",
            closesConnection: true
        )
    }

    static func busy(_ type: FrameType, length: UInt32, budget: Int) -> WireError {
        WireError(
            code: Code.busy,
            message: "\(type) frame of \(length) payload bytes does not fit the server's budget of \(budget) bytes "
                + "for frames still arriving on all connections; send it again shortly",
            closesConnection: true
        )
    }

    static func notYetAdmitted(_ type: FrameType, phase: ConnectionAdmission.Phase) -> WireError {
        let expected =
            switch phase {
            case .awaitingHello: "hello"
            case .awaitingAttestation: "attestation"
            default: "nothing"
            }
        return WireError(
            code: Code.unexpectedFrame,
            message: "a \(type) frame arrived where only \(expected) is accepted; "
                + "a session starts with hello, then the data-quality attestation",
            closesConnection: true
        )
    }

    static func truncatedFrame(have: Int, expected: Int?) -> WireError {
        let what = expected.map { "\($0) bytes of frame" } ?? "a 12-byte frame header"
        return WireError(
            code: Code.truncatedFrame,
            message: "the connection ended after \(have) bytes of \(what); the peer crashed or the frame was cut",
            closesConnection: true
        )
    }

    static func malformed(_ type: FrameType, _ what: String) -> WireError {
        WireError(
            code: Code.malformedPayload,
            message: "\(type) payload is malformed: \(what)",
            closesConnection: true
        )
    }
}

extension WireError {
    /// The error frame for any Cohort error: its stable code and its message. The one place an
    /// error becomes a wire error frame.
    /// - Parameters:
    ///   - error: what went wrong.
    ///   - closesConnection: whether the sender closes the connection after the frame.
    public init(_ error: some CohortError, closesConnection: Bool) {
        self.init(code: error.errorCode, message: error.errorMessage, closesConnection: closesConnection)
    }
}

extension WireError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
