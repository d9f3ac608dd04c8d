import CohortAPITypes
import CohortCoordinator
import CohortTransport
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Prometheus

/// Limits and timeouts of the operator API, with the defaults `cohort-coordinator` uses.
public struct OperatorAPIConfiguration: Sendable {
    /// Largest request body accepted; default 1 MiB. Larger ones get 413 `api.body_too_large`.
    public var maxBodyBytes: Int
    /// Close a connection when nothing is read for this long (before, during or between
    /// requests); default 30 s.
    public var idleTimeout: TimeAmount
    /// Time allowed from a request's first line to its last body byte; default 30 s.
    public var requestTimeout: TimeAmount
    /// Time allowed for the TLS handshake; default 10 s.
    public var handshakeTimeout: TimeAmount

    public init(
        maxBodyBytes: Int = 1 << 20, idleTimeout: TimeAmount = .seconds(30), requestTimeout: TimeAmount = .seconds(30),
        handshakeTimeout: TimeAmount = .seconds(10)
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.handshakeTimeout = handshakeTimeout
    }
}

/// The operator and auditor API: HTTPS with mutual TLS on its own port.
///
/// TLS accepts any certificate of the consortium CA whose identity parses (``PeerIdentity``);
/// every request is then authorised by the coordinator for the certificate's role, which logs
/// refusals with who and why. Routes and schemas: `docs/openapi.yaml`.
///
/// ```swift
/// let api = try await OperatorAPIServer.bind(host: "127.0.0.1", port: 7444, tls: factory.makeServerConfiguration(),
///                                            coordinator: coordinator, registry: registry, logger: logger)
/// …
/// await api.close()
/// ```
public final class OperatorAPIServer: Sendable {
    struct Accepted: Sendable {
        let channel: NIOAsyncChannel<APIRequestEvent, HTTPServerResponsePart>
        let identity: EventLoopFuture<PeerIdentity>
    }

    private let listener: any Channel
    private let task: Task<Void, Never>

    /// The bound address.
    public let localAddress: SocketAddress
    /// The bound port (the actual one when 0 was asked for).
    public var port: Int { localAddress.port ?? 0 }

    private init(listener: any Channel, task: Task<Void, Never>, localAddress: SocketAddress) {
        self.listener = listener
        self.task = task
        self.localAddress = localAddress
    }

    /// Binds the port and starts serving in the background.
    /// - Parameters:
    ///   - host: address to bind, e.g. `127.0.0.1`.
    ///   - port: port to bind; 0 picks a free one (read it back from ``port``).
    ///   - tls: from `TLSConfigurationFactory.makeServerConfiguration()` (client certificates required).
    ///   - coordinator: answers and authorises every request.
    ///   - registry: what `GET /metrics` exposes.
    ///   - configuration: limits and timeouts.
    ///   - logger: one line per request (who, route, status), never bodies.
    ///   - group: the event loops; the shared singleton by default.
    public static func bind(
        host: String, port: Int, tls: TLSConfiguration, coordinator: Coordinator, registry: PrometheusCollectorRegistry,
        configuration: OperatorAPIConfiguration = OperatorAPIConfiguration(), logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> OperatorAPIServer {
        let sslContext: NIOSSLContext
        do {
            sslContext = try NIOSSLContext(configuration: tls)
        } catch {
            throw TransportError(code: "tls.bad_configuration", message: "cannot build the API's TLS context: \(error)")
        }
        let connectionLogger = logger
        let listener: NIOAsyncChannel<Accepted, Never>
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 64)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.configureChild(
                            channel, sslContext: sslContext, configuration: configuration, logger: connectionLogger)
                    }
                }
        } catch {
            throw TransportError(
                code: "api.bind_failed",
                message: "cannot listen on \(host):\(port) for the operator API: \(error); set api.listen to a free "
                    + "address, or stop the process holding it")
        }
        guard let address = listener.channel.localAddress else {
            throw TransportError(code: "api.bind_failed", message: "the API's listening socket has no local address")
        }
        var logger = logger
        logger[metadataKey: "cohort.api_address"] = "\(address)"
        logger.info("operator API listening")
        let router = OperatorAPIRouter(coordinator: coordinator, registry: registry, logger: logger)
        let task = Task { [logger] in
            do {
                try await listener.executeThenClose { inbound in
                    try await withThrowingDiscardingTaskGroup { group in
                        for try await accepted in inbound {
                            group.addTask { await Self.serve(accepted, router: router, logger: logger) }
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("operator API stopped accepting: \(error)")
            }
        }
        return OperatorAPIServer(listener: listener.channel, task: task, localAddress: address)
    }

    private static func configureChild(
        _ channel: any Channel, sslContext: NIOSSLContext, configuration: OperatorAPIConfiguration, logger: Logger
    ) throws -> Accepted {
        let tlsHandler = NIOSSLServerHandler(context: sslContext)
        let identity = channel.eventLoop.makePromise(of: PeerIdentity.self)
        let pipeline = channel.pipeline.syncOperations
        // Idle first: it sees raw bytes, so a client silent before or during the handshake is closed too.
        try pipeline.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
        try pipeline.addHandler(IdleCloseHandler(logger: logger))
        try pipeline.addHandler(tlsHandler)
        try pipeline.addHandler(
            PeerCertificateHandler(
                tlsHandler: tlsHandler, identity: identity, handshakeTimeout: configuration.handshakeTimeout,
                logger: logger))
        try pipeline.addHandler(HTTPResponseEncoder())
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try pipeline.addHandler(
            RequestAggregatorHandler(
                maxBodyBytes: configuration.maxBodyBytes, requestTimeout: configuration.requestTimeout))
        let async = try NIOAsyncChannel<APIRequestEvent, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
        return Accepted(channel: async, identity: identity.futureResult)
    }

    /// Answers the requests of one connection, one after another, until the client closes, asks
    /// to close, sends a request that is refused before it is complete, or goes idle.
    private static func serve(_ accepted: Accepted, router: OperatorAPIRouter, logger: Logger) async {
        let principal: PeerIdentity
        do {
            principal = try await accepted.identity.get()
        } catch {
            // PeerCertificateHandler logged why and closed.
            try? await accepted.channel.executeThenClose { _, _ in }
            return
        }
        var logger = logger
        logger[metadataKey: "cohort.principal"] = "\(principal)"
        do {
            try await accepted.channel.executeThenClose { inbound, outbound in
                var events = inbound.makeAsyncIterator()
                while let event = try await events.next() {
                    switch event {
                    case .request(let request):
                        let response = await router.respond(to: request, principal: principal)
                        logger.info(
                            "api request",
                            metadata: [
                                "cohort.method": "\(request.method)", "cohort.path": "\(request.path.prefix(200))",
                                "cohort.status": "\(response.status)",
                            ])
                        try await write(
                            response, keepAlive: request.keepAlive, allow: allowHeader(response, request), to: outbound)
                        if !request.keepAlive { return }
                    case .rejected(let error):
                        logger.info(
                            "api request rejected",
                            metadata: ["cohort.status": "\(error.status)", "cohort.error_code": "\(error.code)"])
                        try await write(.error(error), keepAlive: false, allow: nil, to: outbound)
                        // Lingering close: keep reading (and dropping) what the client still sends for a
                        // moment, so closing with unread bytes does not reset the connection before
                        // the client has read the error.
                        let channel = accepted.channel.channel
                        channel.eventLoop.scheduleTask(in: lingerTime) { channel.close(promise: nil) }
                        while try await events.next() != nil {}
                        return
                    }
                }
            }
        } catch {
            logger.debug("api connection ended: \(error)")
        }
    }

    /// How long a connection whose request was rejected keeps draining before it closes.
    static let lingerTime = TimeAmount.seconds(2)

    private static func allowHeader(_ response: APIResponse, _ request: APIRequest) -> String? {
        guard response.status == 405 else { return nil }
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        return APIRoute.allowed(path: path).joined(separator: ", ")
    }

    private static func write(
        _ response: APIResponse, keepAlive: Bool, allow: String?,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.body.count))
        headers.add(name: "cache-control", value: "no-store")
        if let allow { headers.add(name: "allow", value: allow) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        try await outbound.write(contentsOf: [
            .head(head), .body(.byteBuffer(ByteBuffer(bytes: response.body))), .end(nil),
        ])
    }

    /// Stops accepting and closes every open API connection.
    public func close() async {
        listener.close(promise: nil)
        task.cancel()
        await task.value
    }
}
