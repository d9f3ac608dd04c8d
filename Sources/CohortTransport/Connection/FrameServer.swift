import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// Settings of a ``FrameServer``, with the defaults the coordinator uses.
public struct FrameServerConfiguration: Sendable {
    /// Address to bind; default `127.0.0.1`.
    public var host: String
    /// Port to bind; 0 picks a free port (read it back from ``FrameServer/port``).
    public var port: Int
    /// Time allowed from accept to an authorized peer; default 10 s.
    public var handshakeTimeout: TimeAmount
    /// Close a connection when no frame arrives for this long (clients send heartbeats while
    /// idle); nil disables. Default 120 s.
    public var idleTimeout: TimeAmount?
    /// Per-frame-type payload limits.
    public var limits: FrameLimits
    /// The most bytes of large frames still arriving, summed over every connection (see
    /// ``PartialFrameBudget``); nil leaves it unbounded. Default nil; the coordinator sets one
    /// largest frame per participant the policy names.
    public var partialFrameBudget: Int?
    /// The most open connections one identity may have at once (its session, one replacing it
    /// after a network blip, and one spare); more are refused with `session.too_many_connections`
    /// as soon as they are authenticated. Default 3.
    public var maxConnectionsPerIdentity: Int
    /// Whether a peer starts in ``ConnectionAdmission/Phase/awaitingHello`` and must be admitted
    /// by the application (`hello`, then the attestation) before it may send other frames, within
    /// three handshake timeouts. Default true; false gives every authenticated peer a session at once
    /// (for protocols without a hello, such as the transport's own tests).
    public var requiresSessionAdmission = true

    /// Creates a configuration.
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        handshakeTimeout: TimeAmount = .seconds(10),
        idleTimeout: TimeAmount? = .seconds(120),
        limits: FrameLimits = FrameLimits(),
        partialFrameBudget: Int? = nil,
        maxConnectionsPerIdentity: Int = 3
    ) {
        self.host = host
        self.port = port
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.limits = limits
        self.partialFrameBudget = partialFrameBudget
        self.maxConnectionsPerIdentity = maxConnectionsPerIdentity
    }
}

/// Accepts mutual-TLS connections and hands each authorized one to a handler.
///
/// ```swift
/// let server = try await FrameServer.bind(configuration: .init(port: 7443), tls: factory.makeServerConfiguration(),
///                                         allowList: .names(policyNames, role: .participant), logger: logger)
/// try await server.run { connection in
///     for try await frame in connection.inbound { … }
/// }
/// ```
public final class FrameServer: Sendable {
    struct Accepted: Sendable {
        let channel: NIOAsyncChannel<Frame, Frame>
        let authenticated: EventLoopFuture<PeerIdentity>
        let admission: ConnectionAdmission
    }

    private let listener: NIOAsyncChannel<Accepted, Never>
    private let logger: Logger
    private let connections: ConnectionCounter
    /// The budget every connection's partial large frames share, if bounded.
    public let budget: PartialFrameBudget?

    /// The bound address.
    public let localAddress: SocketAddress
    /// The bound port (the actual one when 0 was asked for).
    public var port: Int { localAddress.port ?? 0 }

    private init(
        listener: NIOAsyncChannel<Accepted, Never>, localAddress: SocketAddress, logger: Logger,
        connections: ConnectionCounter, budget: PartialFrameBudget?
    ) {
        self.listener = listener
        self.localAddress = localAddress
        self.logger = logger
        self.connections = connections
        self.budget = budget
    }

    /// Binds the listening socket.
    /// - Parameters:
    ///   - configuration: address, timeouts, limits.
    ///   - tls: from ``TLSConfigurationFactory/makeServerConfiguration()``.
    ///   - allowList: who may connect, checked right after each handshake.
    ///   - logger: connection events are logged here (never payloads).
    ///   - group: the event loops; the shared singleton by default.
    public static func bind(
        configuration: FrameServerConfiguration = FrameServerConfiguration(),
        tls: TLSConfiguration,
        allowList: PeerAllowList,
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> FrameServer {
        let sslContext: NIOSSLContext
        do {
            sslContext = try NIOSSLContext(configuration: tls)
        } catch {
            throw TransportError(
                code: "tls.bad_configuration", message: "cannot build the server TLS context: \(error)")
        }
        let budget = configuration.partialFrameBudget.map(PartialFrameBudget.init(capacity:))
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.configureChild(
                        channel, sslContext: sslContext, configuration: configuration, allowList: allowList,
                        budget: budget, logger: logger)
                }
            }
        guard let address = listener.channel.localAddress else {
            throw TransportError(code: "transport.bind_failed", message: "the listening socket has no local address")
        }
        var serverLogger = logger
        serverLogger[metadataKey: "cohort.listen_address"] = "\(address)"
        serverLogger.info("listening for participants")
        return FrameServer(
            listener: listener, localAddress: address, logger: serverLogger,
            connections: ConnectionCounter(limit: configuration.maxConnectionsPerIdentity), budget: budget)
    }

    private static func configureChild(
        _ channel: any Channel,
        sslContext: NIOSSLContext,
        configuration: FrameServerConfiguration,
        allowList: PeerAllowList,
        budget: PartialFrameBudget?,
        logger: Logger
    ) throws -> Accepted {
        let tlsHandler = NIOSSLServerHandler(context: sslContext)
        let authenticated = channel.eventLoop.makePromise(of: PeerIdentity.self)
        let admission = ConnectionAdmission(.unauthenticated)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(tlsHandler)
        try pipeline.addHandler(
            ByteToMessageHandler(FrameByteDecoder(limits: configuration.limits, admission: admission, budget: budget)))
        try pipeline.addHandler(FrameWriteHandler())
        if let idle = configuration.idleTimeout {
            try pipeline.addHandler(IdleStateHandler(readTimeout: idle))
        }
        try pipeline.addHandler(
            ConnectionGuardHandler(
                side: .server,
                tlsHandler: tlsHandler,
                allowList: allowList,
                handshakeTimeout: configuration.handshakeTimeout,
                authenticated: authenticated,
                admission: admission,
                admitsAtOnce: !configuration.requiresSessionAdmission,
                logger: logger
            )
        )
        let asyncChannel = try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
        return Accepted(channel: asyncChannel, authenticated: authenticated.futureResult, admission: admission)
    }

    /// Accepts connections until ``close()``; runs `handler` once per authorized connection, each
    /// in its own task. The connection is closed when `handler` returns or throws. Returns once
    /// the listener is closed and every handler has returned.
    public func run(_ handler: @escaping @Sendable (FrameConnection) async throws -> Void) async throws {
        let logger = logger
        let connections = connections
        try await listener.executeThenClose { inbound in
            try await withThrowingDiscardingTaskGroup { group in
                for try await accepted in inbound {
                    group.addTask {
                        await Self.serve(accepted, connections: connections, handler: handler, logger: logger)
                    }
                }
            }
        }
    }

    private static func serve(
        _ accepted: Accepted,
        connections: ConnectionCounter,
        handler: @Sendable (FrameConnection) async throws -> Void,
        logger: Logger
    ) async {
        let remote = accepted.channel.channel.remoteAddress
        let peer: PeerIdentity
        do {
            peer = try await accepted.authenticated.get()
        } catch {
            // The guard handler already logged why and closed the channel.
            try? await accepted.channel.executeThenClose { _, _ in }
            return
        }
        var logger = logger
        logger[metadataKey: "cohort.peer_name"] = "\(peer.name)"
        let admission = accepted.admission
        guard connections.open(peer) else {
            admission.close()
            logger.warning(
                "refusing connection: too many open connections for this identity",
                metadata: ["cohort.error_code": "\(WireError.Code.tooManyConnections)"])
            try? await accepted.channel.executeThenClose { _, outbound in
                try await outbound.write(
                    Frame(
                        WireError(
                            code: WireError.Code.tooManyConnections,
                            message:
                                "\(peer.name) already has \(connections.limit) open connections; close one before opening another",
                            closesConnection: true)))
            }
            return
        }
        defer { connections.close(peer) }
        do {
            let channel = accepted.channel.channel
            try await accepted.channel.executeThenClose { inbound, outbound in
                try await handler(
                    FrameConnection(
                        peer: peer, remoteAddress: remote, inbound: inbound,
                        outbound: FrameWriter(outbound, channel: channel, admission: admission), admission: admission))
            }
        } catch {
            logger.info("connection handler ended with an error: \(error)")
        }
    }

    /// Stops accepting; connections already handed to the handler continue until it returns.
    public func close() async {
        listener.channel.close(promise: nil)
        try? await listener.channel.closeFuture.get()
    }
}

/// Open connections per identity, so one certificate cannot hold an unbounded number of sockets
/// and their buffers.
final class ConnectionCounter: Sendable {
    let limit: Int
    private let open = Mutex<[PeerIdentity: Int]>([:])

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Counts a new connection of `peer`; false (and not counted) when it already has `limit`.
    func open(_ peer: PeerIdentity) -> Bool {
        open.withLock { counts in
            let count = counts[peer, default: 0]
            guard count < limit else { return false }
            counts[peer] = count + 1
            return true
        }
    }

    /// Forgets a connection counted by ``open(_:)``.
    func close(_ peer: PeerIdentity) {
        open.withLock { counts in
            let remaining = counts[peer, default: 1] - 1
            counts[peer] = remaining > 0 ? remaining : nil
        }
    }
}
