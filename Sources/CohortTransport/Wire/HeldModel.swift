import CohortCrypto

/// The identity of a global model on the wire: SHA-256 of its raw little-endian float32 bytes
/// (the bytes a tensor field carries).
public enum ModelDigest {
    /// Digest length in bytes (32).
    public static let length = 32

    /// The digest of `model`.
    public static func of(_ model: [Float]) -> [UInt8] {
        #if _endian(little)
        model.withUnsafeBytes { BulkSHA256.digest($0) }
        #else
        BulkSHA256.digest(TensorCoding.encode(model))
        #endif
    }
}

/// A participant's copy of the last model the coordinator sent it in full, so an invitation
/// can refer to it instead of carrying it again (``RoundInvite/refersToHeldModel``).
///
/// The coordinator sends each round's candidate in an ``EvaluateRequest``; when that candidate
/// becomes the next round's global model, the invitation carries only its digest. The model is
/// held with the digest the coordinator sent along with it, and a reference must name that
/// digest: a reference can never make a participant train on a model other than the one the
/// coordinator meant. (Both digests come from the coordinator over the same authenticated
/// channel; recomputing SHA-256 here would cost about as much as receiving the model again.)
public struct HeldModel: Sendable {
    private var held: (parameters: [Float], digest: [UInt8])?

    public init() {}

    /// Keeps `model` (from an evaluation request or a full invitation) under the coordinator's
    /// ``ModelDigest`` of it, for later references.
    public mutating func hold(_ model: [Float], digest: [UInt8]) {
        held = (model, digest)
    }

    /// Lets the held model go (``hold(evaluateRequestIn:)`` does before decoding the candidate
    /// that replaces it, so the two are never in memory together).
    public mutating func release() {
        held = nil
    }

    /// Decodes the ``EvaluateRequest`` in `frame` and holds its candidate, written over the held
    /// model's storage when it has the same size and nothing else still uses it: a participant
    /// then allocates no new model-sized array per round (4 MB at 10⁶ parameters). Nothing is
    /// held when decoding fails.
    public mutating func hold(evaluateRequestIn frame: Frame) throws(WireError) -> EvaluateRequest {
        var storage = held?.parameters ?? []
        // Our own reference would make the storage shared and force a copy.
        release()
        let request = try frame.read(as: .evaluateRequest) { reader throws(WireError) in
            try EvaluateRequest(from: &reader, modelStorage: &storage)
        }
        hold(request)
        return request
    }

    /// Keeps the candidate of an evaluation request.
    public mutating func hold(_ request: EvaluateRequest) {
        hold(request.model, digest: request.modelDigest)
    }

    /// The global model of `invite`: its own when it carries one (which is then held), else the
    /// held model, which must have the digest the invitation names.
    /// - Throws: `round.unknown_model` when the invitation refers to a model not held here.
    public mutating func model(for invite: RoundInvite) throws(WireError) -> [Float] {
        guard invite.refersToHeldModel else {
            hold(invite.globalModel, digest: invite.modelDigest)
            return invite.globalModel
        }
        guard let held else {
            throw WireError(
                code: WireError.Code.unknownModel,
                message:
                    "the invitation to round \(invite.round) refers to a held model, but no model was received before it",
                closesConnection: true)
        }
        guard held.digest == invite.modelDigest else {
            throw WireError(
                code: WireError.Code.unknownModel,
                message:
                    "the invitation to round \(invite.round) refers to model \(Hex.encode(invite.modelDigest).prefix(16))…, "
                    + "but the model held here is \(Hex.encode(held.digest).prefix(16))…; reconnect to receive the model in full",
                closesConnection: true)
        }
        return held.parameters
    }
}
