import NIOCore

/// An authenticated connection as the application sees it: who the peer is, the frames it
/// sends, and a writer for ours. Heartbeats never appear in ``inbound``.
public struct FrameConnection: Sendable {
    /// The peer, from its verified certificate, already accepted by the allow-list.
    public let peer: PeerIdentity
    /// The peer's address.
    public let remoteAddress: SocketAddress?
    /// Inbound frames. Throws the framing or TLS error that ended the connection, if any.
    public let inbound: NIOAsyncChannelInboundStream<Frame>
    /// Sends frames.
    public let outbound: FrameWriter
    /// How far the peer is admitted: the server advances it past `hello` and the attestation, so
    /// the decoder accepts larger frames only from a peer with a session.
    public let admission: ConnectionAdmission
}

/// Sends frames on a ``FrameConnection``.
public struct FrameWriter: Sendable {
    private let writer: NIOAsyncChannelOutboundWriter<Frame>
    private let channel: any Channel
    private let admission: ConnectionAdmission

    init(_ writer: NIOAsyncChannelOutboundWriter<Frame>, channel: any Channel, admission: ConnectionAdmission) {
        self.writer = writer
        self.channel = channel
        self.admission = admission
    }

    /// Sends a frame.
    public func send(_ frame: Frame) async throws {
        try await writer.write(frame)
    }

    /// Sends a payload in a frame of its type.
    public func send<Payload: FramePayload>(_ payload: Payload) async throws {
        try await writer.write(Frame(payload))
    }

    /// Sends an error frame. When `error.closesConnection`, also finishes the outbound side: the
    /// caller should then return from its connection handler.
    public func send(error: WireError) async throws {
        if error.closesConnection { admission.close() }
        try await writer.write(Frame(error))
        if error.closesConnection { writer.finish() }
    }

    /// Ends the connection from outside its handler (a session taken over, a participant removed
    /// from the policy): sends `error` if it can, stops decoding at once, then closes the channel,
    /// which ends the handler's inbound stream.
    public func close(with error: WireError) {
        admission.close()
        let channel = channel
        channel.writeAndFlush(Frame(error)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Ends the connection at once, without waiting for what is already queued to drain: for a
    /// peer that stopped reading, whose pending writes would never complete (``close(with:)``
    /// waits for its error frame to be flushed first, which such a peer never allows). `error`
    /// is queued, and reaches the peer only if it reads before the channel closes.
    public func closeNow(with error: WireError) {
        admission.close()
        let channel = channel
        channel.write(Frame(error), promise: nil)
        channel.close(promise: nil)
    }

    /// Finishes the outbound side (no more frames will be sent).
    public func finish() {
        writer.finish()
    }
}
