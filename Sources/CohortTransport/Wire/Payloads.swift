import NIOCore

/// Participant → coordinator, the first frame after the TLS handshake.
public struct Hello: FramePayload, Hashable {
    public static let frameType = FrameType.hello
    /// The participant's name; must equal the name in its certificate.
    public var participantName: String
    /// The highest protocol version the participant speaks. Decoding refuses a version outside
    /// ``supportedProtocolVersions`` with `protocol.version_unsupported`, naming both.
    public var protocolVersion: UInt16
    /// Optional features, e.g. `"record-level-dp"`, `"external-trainer"`.
    public var capabilities: [String]

    public init(participantName: String, protocolVersion: UInt16 = Frame.currentVersion, capabilities: [String] = []) {
        self.participantName = participantName
        self.protocolVersion = protocolVersion
        self.capabilities = capabilities
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeCohortString(participantName)
        buffer.writeInteger(protocolVersion, endianness: .big)
        buffer.writeCohortStringList(capabilities)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        participantName = try reader.readString(field: "participantName")
        protocolVersion = try reader.readInteger(field: "protocolVersion")
        capabilities = try reader.readStringList(field: "capabilities")
        // Negotiated here, where the number is decoded: the coordinator answers the hello of a
        // peer it cannot speak to with an error frame that names both versions, then closes.
        guard Self.supportedProtocolVersions.contains(protocolVersion) else {
            throw .versionUnsupported(protocolVersion, supported: Self.supportedProtocolVersions)
        }
    }

    /// The protocol versions this build speaks in a session (the `hello` → `bye` exchange).
    public static let supportedProtocolVersions: ClosedRange<UInt16> = 1...Frame.currentVersion
}

/// The model a session trains.
public struct ModelSpec: Sendable, Hashable {
    /// Number of float32 parameters.
    public var dimension: UInt32

    public init(dimension: UInt32) { self.dimension = dimension }
}

/// Coordinator → participant, answering ``Hello``.
public struct Welcome: FramePayload, Hashable {
    public static let frameType = FrameType.welcome
    /// Length of ``sessionNonce`` and of round nonces.
    public static let nonceLength = 32
    /// The coordinator's X25519 public key; updates are sealed to it (32 bytes).
    public var coordinatorSealingKey: [UInt8]
    /// A fresh random nonce for this session.
    public var sessionNonce: [UInt8]
    /// The model being trained.
    public var model: ModelSpec

    public init(coordinatorSealingKey: [UInt8], sessionNonce: [UInt8], model: ModelSpec) {
        self.coordinatorSealingKey = coordinatorSealingKey
        self.sessionNonce = sessionNonce
        self.model = model
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeCohortBytes(coordinatorSealingKey)
        buffer.writeCohortBytes(sessionNonce)
        buffer.writeInteger(model.dimension, endianness: .big)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        coordinatorSealingKey = try reader.readBytes(field: "coordinatorSealingKey")
        sessionNonce = try reader.readBytes(field: "sessionNonce")
        model = ModelSpec(dimension: try reader.readInteger(field: "model.dimension"))
    }
}

/// Participant → coordinator: the local data-quality attestation, as JSON the policy interprets.
public struct Attestation: FramePayload, Hashable {
    public static let frameType = FrameType.attestation
    /// UTF-8 JSON document.
    public var json: [UInt8]

    public init(json: [UInt8]) { self.json = json }

    public func encode(into buffer: inout ByteBuffer) { buffer.writeCohortBytes(json) }

    public init(from reader: inout PayloadReader) throws(WireError) {
        json = try reader.readBytes(field: "json")
    }
}

/// Coordinator → participant: a round is open.
///
/// The global model travels by reference when the participant already holds it: the candidate
/// the coordinator sent for evaluation at the end of the previous round is the model the next
/// round trains, so sending it again would cost every participant a second copy of the model per
/// round (4 MB each at 10⁶ parameters). ``globalModel`` is then empty and ``modelDigest`` names
/// the held model; see ``HeldModel``.
public struct RoundInvite: FramePayload, Hashable {
    public static let frameType = FrameType.roundInvite
    /// The round number.
    public var round: UInt64
    /// A fresh random nonce; the update must echo it (replay protection).
    public var roundNonce: [UInt8]
    /// Deadline for the update, milliseconds since the Unix epoch (UTC).
    public var deadlineMillis: UInt64
    /// ``ModelDigest`` of the round's global model, always present.
    public var modelDigest: [UInt8]
    /// The current global model, or empty when it is the model the participant last received
    /// in full (the one ``modelDigest`` names).
    public var globalModel: [Float]
    /// Training parameters (epochs, learning rate, clipping bound, sampling rate…) as UTF-8 JSON.
    public var trainingParameters: [UInt8]

    /// An invitation carrying `globalModel` in full.
    public init(
        round: UInt64, roundNonce: [UInt8], deadlineMillis: UInt64, globalModel: [Float], trainingParameters: [UInt8]
    ) {
        self.init(
            round: round, roundNonce: roundNonce, deadlineMillis: deadlineMillis,
            modelDigest: ModelDigest.of(globalModel),
            globalModel: globalModel, trainingParameters: trainingParameters)
    }

    /// An invitation with an explicit digest; an empty `globalModel` refers to the held model.
    public init(
        round: UInt64, roundNonce: [UInt8], deadlineMillis: UInt64, modelDigest: [UInt8], globalModel: [Float],
        trainingParameters: [UInt8]
    ) {
        self.round = round
        self.roundNonce = roundNonce
        self.deadlineMillis = deadlineMillis
        self.modelDigest = modelDigest
        self.globalModel = globalModel
        self.trainingParameters = trainingParameters
    }

    /// Whether the model travels by reference (``globalModel`` is empty).
    public var refersToHeldModel: Bool { globalModel.isEmpty }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(roundNonce)
        buffer.writeInteger(deadlineMillis, endianness: .big)
        buffer.writeCohortBytes(modelDigest)
        buffer.writeCohortTensor(globalModel)
        buffer.writeCohortBytes(trainingParameters)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        round = try reader.readInteger(field: "round")
        // Rounds are numbered from 1 and counted in Int everywhere a participant keeps them.
        guard round >= 1, round <= UInt64(Int.max) else {
            throw .malformed(Self.frameType, "round must be 1…\(Int.max), not \(round)")
        }
        roundNonce = try reader.readBytes(field: "roundNonce")
        deadlineMillis = try reader.readInteger(field: "deadlineMillis")
        modelDigest = try reader.readBytes(field: "modelDigest")
        guard modelDigest.count == ModelDigest.length else {
            throw .malformed(
                Self.frameType, "modelDigest must be \(ModelDigest.length) bytes, not \(modelDigest.count)")
        }
        globalModel = try reader.readTensor(field: "globalModel")
        trainingParameters = try reader.readBytes(field: "trainingParameters")
    }
}

/// Participant → coordinator: an update sealed to the coordinator's X25519 key and signed with
/// the participant's Ed25519 key.
///
/// The signature covers ``signedMessage(round:roundNonce:participantName:sealed:)``, which binds
/// the round, its nonce, the sender's name and the digest of the sealed bytes, so an update can
/// be neither replayed into another round nor claimed by another participant.
public struct Update: FramePayload, Hashable {
    public static let frameType = FrameType.update
    /// The round this update is for.
    public var round: UInt64
    /// The nonce from the ``RoundInvite``.
    public var roundNonce: [UInt8]
    /// The sender's name; must match its certificate.
    public var participantName: String
    /// The sealed update (libsodium sealed box to the coordinator's key).
    public var sealed: [UInt8]
    /// Ed25519 signature over ``signedMessage(round:roundNonce:participantName:sealed:)``.
    public var signature: [UInt8]

    public init(round: UInt64, roundNonce: [UInt8], participantName: String, sealed: [UInt8], signature: [UInt8]) {
        self.round = round
        self.roundNonce = roundNonce
        self.participantName = participantName
        self.sealed = sealed
        self.signature = signature
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(roundNonce)
        buffer.writeCohortString(participantName)
        buffer.writeCohortBytes(sealed)
        buffer.writeCohortBytes(signature)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        round = try reader.readInteger(field: "round")
        roundNonce = try reader.readBytes(field: "roundNonce")
        participantName = try reader.readString(field: "participantName")
        sealed = try reader.readBytes(field: "sealed")
        signature = try reader.readBytes(field: "signature")
    }
}

/// Coordinator → participant: the update passed the per-update checks and was added.
public struct UpdateAck: FramePayload, Hashable {
    public static let frameType = FrameType.updateAck
    /// The round.
    public var round: UInt64
    /// SHA-256 of the sealed bytes, as recorded in the ledger.
    public var updateDigest: [UInt8]

    public init(round: UInt64, updateDigest: [UInt8]) {
        self.round = round
        self.updateDigest = updateDigest
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(updateDigest)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        round = try reader.readInteger(field: "round")
        updateDigest = try reader.readBytes(field: "updateDigest")
    }
}

/// Coordinator → participant: evaluate a candidate model on the local holdout.
///
/// The candidate usually becomes the next round's global model; the participant keeps it
/// (``HeldModel``) with its digest, so that invitation can name it instead of carrying it.
public struct EvaluateRequest: FramePayload, Hashable {
    public static let frameType = FrameType.evaluateRequest
    /// The round whose candidate this is.
    public var round: UInt64
    /// ``ModelDigest`` of ``model``, computed by the coordinator.
    public var modelDigest: [UInt8]
    /// The candidate model.
    public var model: [Float]

    /// A request for `model`, with its digest computed here.
    public init(round: UInt64, model: [Float]) {
        self.init(round: round, modelDigest: ModelDigest.of(model), model: model)
    }

    /// A request for `model` whose ``ModelDigest`` the caller already has.
    public init(round: UInt64, modelDigest: [UInt8], model: [Float]) {
        self.round = round
        self.modelDigest = modelDigest
        self.model = model
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(modelDigest)
        buffer.writeCohortTensor(model)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        var storage: [Float] = []
        try self.init(from: &reader, modelStorage: &storage)
    }

    /// Decodes with the model read into `modelStorage` (in place when it has the right size; see
    /// ``HeldModel/hold(evaluateRequestIn:)``), which then shares its storage with ``model``.
    init(from reader: inout PayloadReader, modelStorage: inout [Float]) throws(WireError) {
        round = try reader.readInteger(field: "round")
        modelDigest = try reader.readBytes(field: "modelDigest")
        guard modelDigest.count == ModelDigest.length else {
            throw .malformed(
                Self.frameType, "modelDigest must be \(ModelDigest.length) bytes, not \(modelDigest.count)")
        }
        try reader.readTensor(field: "model", into: &modelStorage)
        model = modelStorage
    }
}

/// Participant → coordinator: evaluation metrics.
public struct EvaluationResult: FramePayload, Hashable {
    public static let frameType = FrameType.evaluationResult
    /// The round evaluated.
    public var round: UInt64
    /// Metrics (accuracy, precision, recall, F1, AUC, counts) as UTF-8 JSON.
    public var json: [UInt8]

    public init(round: UInt64, json: [UInt8]) {
        self.round = round
        self.json = json
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(json)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        round = try reader.readInteger(field: "round")
        json = try reader.readBytes(field: "json")
    }
}

/// Coordinator → participant: the round's outcome.
public struct RoundResult: FramePayload, Hashable {
    public static let frameType = FrameType.roundResult
    /// The round.
    public var round: UInt64
    /// Outcome (released / refused / aborted, ε spent, gate decisions) as UTF-8 JSON.
    public var json: [UInt8]

    public init(round: UInt64, json: [UInt8]) {
        self.round = round
        self.json = json
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(round, endianness: .big)
        buffer.writeCohortBytes(json)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        round = try reader.readInteger(field: "round")
        json = try reader.readBytes(field: "json")
    }
}

/// Either side: an orderly goodbye; the sender closes after it.
public struct Bye: FramePayload, Hashable {
    public static let frameType = FrameType.bye
    /// Why the session ends (shown in logs).
    public var reason: String

    public init(reason: String) { self.reason = reason }

    public func encode(into buffer: inout ByteBuffer) { buffer.writeCohortString(reason) }

    public init(from reader: inout PayloadReader) throws(WireError) {
        reason = try reader.readString(field: "reason")
    }
}

/// A heartbeat; carries nothing.
public struct Ping: FramePayload, Hashable {
    public static let frameType = FrameType.ping

    public init() {}

    public func encode(into buffer: inout ByteBuffer) {}

    public init(from reader: inout PayloadReader) throws(WireError) {}
}

extension WireError: FramePayload {
    public static let frameType = FrameType.error

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeCohortString(String(decoding: code.utf8.prefix(256), as: UTF8.self))
        // Messages are capped so an error frame always fits its 16 KiB limit.
        buffer.writeCohortString(String(decoding: message.utf8.prefix(8 << 10), as: UTF8.self))
        buffer.writeCohortBool(closesConnection)
    }

    public init(from reader: inout PayloadReader) throws(WireError) {
        code = try reader.readString(field: "code")
        message = try reader.readString(field: "message")
        closesConnection = try reader.readBool(field: "closesConnection")
    }
}
