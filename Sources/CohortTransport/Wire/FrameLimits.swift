/// Maximum payload size per frame type, in bytes. A frame whose header announces more is
/// rejected before any of its payload is buffered, so a peer cannot make the coordinator allocate
/// more than the limit.
///
/// Defaults (`FrameLimits()`), sized for models up to `maxTensorBytes` (64 MiB, 16 Mi float32):
///
/// | frame | default |
/// |---|---|
/// | hello, welcome, updateAck, bye, ping | 4 KiB |
/// | error | 16 KiB |
/// | attestation, evaluationResult, roundResult | 256 KiB |
/// | roundInvite, update, evaluateRequest | `maxTensorBytes` + 1 MiB (parameters, nonce, signature, sealing overhead) |
///
/// The policy sets them; `FrameLimits(maxTensorBytes:)` scales the tensor-carrying frames.
public struct FrameLimits: Sendable, Hashable {
    private var limits: [FrameType: UInt32]

    /// The default tensor budget: 64 MiB.
    public static let defaultMaxTensorBytes: UInt32 = 64 << 20

    /// Limits with the documented defaults, tensor-carrying frames sized for `maxTensorBytes`.
    public init(maxTensorBytes: UInt32 = FrameLimits.defaultMaxTensorBytes) {
        let small: UInt32 = 4 << 10
        let document: UInt32 = 256 << 10
        let (tensorFrame, overflow) = maxTensorBytes.addingReportingOverflow(1 << 20)
        let tensor = overflow ? UInt32.max : tensorFrame
        limits = [
            .hello: small, .welcome: small, .updateAck: small, .bye: small, .ping: small,
            .error: 16 << 10,
            .attestation: document, .evaluationResult: document, .roundResult: document,
            .roundInvite: tensor, .update: tensor, .evaluateRequest: tensor,
        ]
    }

    /// The maximum payload length accepted for frames of `type`.
    public subscript(type: FrameType) -> UInt32 {
        get { limits[type] ?? 0 }
        set { limits[type] = newValue }
    }
}
