import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Settings of a ``FrameClient`` connection.
public struct FrameClientConfiguration: Sendable {
    /// Time allowed for TCP connect; default 10 s.
    public var connectTimeout: TimeAmount
    /// Time allowed from connect to an authorized server; default 10 s.
    public var handshakeTimeout: TimeAmount
    /// Send a heartbeat after this long without writing, so the server's idle timeout does not
    /// close a connection that merely waits for the next round; nil disables. Default 30 s.
    public var heartbeatInterval: TimeAmount?
    /// Per-frame-type payload limits for frames from the server.
    public var limits: FrameLimits

    /// Creates a configuration.
    public init(
        connectTimeout: TimeAmount = .seconds(10),
        handshakeTimeout: TimeAmount = .seconds(10),
        heartbeatInterval: TimeAmount? = .seconds(30),
        limits: FrameLimits = FrameLimits()
    ) {
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.heartbeatInterval = heartbeatInterval
        self.limits = limits
    }
}

/// Connects a participant (or operator) to the coordinator over mutual TLS.
public enum FrameClient {
    /// Connects, completes the TLS handshake and checks the server's identity.
    ///
    /// Under TLS 1.3 the server verifies the client certificate after the client considers the
    /// handshake done, so a refused client certificate surfaces as an error from the first read
    /// of ``FrameConnection/inbound``, not from this call. A server that refuses an identity by
    /// policy sends an `auth.not_in_policy` error frame first.
    /// - Parameters:
    ///   - host: the coordinator's host name or IP address.
    ///   - port: its port.
    ///   - tls: from ``TLSConfigurationFactory/makeClientConfiguration()``.
    ///   - serverHostname: the name to verify the server certificate against and send as SNI;
    ///     defaults to `host` (IP literals are verified against IP SANs and not sent as SNI).
    ///   - allowList: which server identities are acceptable; by default any coordinator.
    ///   - configuration: timeouts, heartbeat, limits.
    ///   - logger: connection events (never payloads).
    ///   - group: the event loops; the shared singleton by default.
    public static func connect(
        host: String,
        port: Int,
        tls: TLSConfiguration,
        serverHostname: String? = nil,
        allowList: PeerAllowList = .role(.coordinator),
        configuration: FrameClientConfiguration = FrameClientConfiguration(),
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> FrameClientConnection {
        let sslContext: NIOSSLContext
        do {
            sslContext = try NIOSSLContext(configuration: tls)
        } catch {
            throw TransportError(
                code: "tls.bad_configuration", message: "cannot build the client TLS context: \(error)")
        }
        let name = serverHostname ?? host
        let sni: String? = IPAddressBytes.parse(name) == nil ? name : nil
        let accepted = try await ClientBootstrap(group: group)
            .connectTimeout(configuration.connectTimeout)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tlsHandler = try NIOSSLClientHandler(context: sslContext, serverHostname: sni)
                    let authenticated = channel.eventLoop.makePromise(of: PeerIdentity.self)
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(tlsHandler)
                    try pipeline.addHandler(ByteToMessageHandler(FrameByteDecoder(limits: configuration.limits)))
                    try pipeline.addHandler(FrameWriteHandler())
                    if let heartbeat = configuration.heartbeatInterval {
                        try pipeline.addHandler(IdleStateHandler(writeTimeout: heartbeat))
                    }
                    try pipeline.addHandler(
                        ConnectionGuardHandler(
                            side: .client,
                            tlsHandler: tlsHandler,
                            allowList: allowList,
                            handshakeTimeout: configuration.handshakeTimeout,
                            authenticated: authenticated,
                            logger: logger
                        )
                    )
                    let asyncChannel = try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                    return FrameServer.Accepted(
                        channel: asyncChannel, authenticated: authenticated.futureResult,
                        admission: ConnectionAdmission(.session))
                }
            }
        do {
            let peer = try await accepted.authenticated.get()
            return FrameClientConnection(peer: peer, channel: accepted.channel)
        } catch {
            try? await accepted.channel.executeThenClose { _, _ in }
            throw error
        }
    }
}

/// A connected, authenticated client connection; use it inside ``executeThenClose(isolation:_:)``.
public struct FrameClientConnection: Sendable {
    /// The server's identity (a coordinator, by default).
    public let peer: PeerIdentity
    private let channel: NIOAsyncChannel<Frame, Frame>

    init(peer: PeerIdentity, channel: NIOAsyncChannel<Frame, Frame>) {
        self.peer = peer
        self.channel = channel
    }

    /// Runs `body` with the connection and closes it afterwards.
    public func executeThenClose<Result>(
        isolation actor: isolated (any Actor)? = #isolation,
        _ body: (FrameConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let peer = peer
        let remote = channel.channel.remoteAddress
        return try await channel.executeThenClose(isolation: actor) { inbound, outbound in
            // The client trusts the server it chose to call with every frame type from the start.
            let admission = ConnectionAdmission(.session)
            return try await body(
                FrameConnection(
                    peer: peer, remoteAddress: remote, inbound: inbound,
                    outbound: FrameWriter(outbound, channel: channel.channel, admission: admission),
                    admission: admission))
        }
    }
}
