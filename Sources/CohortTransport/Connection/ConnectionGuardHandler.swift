import Logging
import NIOCore
import NIOSSL
import NIOTLS
import X509

/// Sits between the frame codec and the application: authorizes the peer right after the TLS
/// handshake, enforces the handshake and idle timeouts, answers framing errors with an error
/// frame, and keeps heartbeats away from application code.
///
/// No inbound frame reaches the application before the peer's certificate has been mapped to a
/// ``PeerIdentity`` and accepted by the ``PeerAllowList``: NIOSSL fires `handshakeCompleted`
/// before it delivers any application data, and frames arriving in any other state are dropped.
final class ConnectionGuardHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    enum Side { case server, client }

    private enum State {
        case handshaking
        case authenticated(PeerIdentity)
        case closed
    }

    private let side: Side
    private let tlsHandler: NIOSSLHandler
    private let allowList: PeerAllowList
    private let handshakeTimeout: TimeAmount
    private let authenticated: EventLoopPromise<PeerIdentity>
    /// Server side: advanced past authentication here, closed on refusal.
    private let admission: ConnectionAdmission?
    /// Server side without a hello protocol: an authenticated peer has a session at once.
    private let admitsAtOnce: Bool
    private var logger: Logger
    private var state = State.handshaking
    private var handshakeTimer: Scheduled<Void>?

    init(
        side: Side,
        tlsHandler: NIOSSLHandler,
        allowList: PeerAllowList,
        handshakeTimeout: TimeAmount,
        authenticated: EventLoopPromise<PeerIdentity>,
        admission: ConnectionAdmission? = nil,
        admitsAtOnce: Bool = false,
        logger: Logger
    ) {
        self.admission = admission
        self.admitsAtOnce = admitsAtOnce
        self.side = side
        self.tlsHandler = tlsHandler
        self.allowList = allowList
        self.handshakeTimeout = handshakeTimeout
        self.authenticated = authenticated
        self.logger = logger
    }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshakeTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startHandshakeTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if case .handshaking = state {
            authenticated.fail(
                TransportError(
                    code: "tls.closed_during_handshake",
                    message: "the connection closed before the peer was authenticated")
            )
        }
        state = .closed
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if case .handshaking = state {
            authenticated.fail(
                TransportError(code: "tls.closed_during_handshake", message: "the connection was torn down"))
        }
    }

    private func startHandshakeTimer(context: ChannelHandlerContext) {
        guard handshakeTimer == nil, case .handshaking = state else { return }
        if let address = context.channel.remoteAddress?.description {
            logger[metadataKey: "cohort.remote_address"] = "\(address)"
        }
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [self] in
            guard case .handshaking = state else { return }
            let error = TransportError(
                code: "tls.handshake_timeout",
                message: "the TLS handshake did not complete within \(handshakeTimeout.nanoseconds / 1_000_000) ms"
            )
            logger.warning(
                "closing connection: TLS handshake timed out", metadata: ["cohort.error_code": "\(error.code)"])
            state = .closed
            authenticated.fail(error)
            context.close(promise: nil)
        }
    }

    // MARK: events

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            handshakeCompleted(context: context)
        } else if let event = event as? IdleStateHandler.IdleStateEvent {
            idle(context: context, event: event)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func handshakeCompleted(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        guard case .handshaking = state else { return }
        let identity: PeerIdentity
        do {
            identity = try peerIdentity()
        } catch {
            refuse(
                context: context, code: WireError.Code.badIdentity, error: error,
                reason: "the peer certificate does not carry a valid Cohort identity: \(error.message)")
            return
        }
        logger[metadataKey: "cohort.peer_role"] = "\(identity.role)"
        logger[metadataKey: "cohort.peer_name"] = "\(identity.name)"
        guard allowList.allows(identity) else {
            let reason =
                side == .server
                ? "certificate for \(identity) is valid but \(identity.name) is not named in the policy's allow-list"
                : "the server presented a certificate for \(identity), which is not an allowed server"
            refuse(
                context: context,
                code: WireError.Code.notInPolicy,
                error: TransportError(code: WireError.Code.notInPolicy, message: reason),
                reason: reason
            )
            return
        }
        state = .authenticated(identity)
        logger.info("peer authenticated")
        if let admission {
            admission.advance(to: admitsAtOnce ? .session : .awaitingHello)
            if !admitsAtOnce { startHelloTimer(context: context, admission: admission) }
        }
        authenticated.succeed(identity)
    }

    /// A server-side peer must reach a session (hello and attestation accepted) within three
    /// handshake timeouts of authenticating: an authenticated socket that never says hello holds a
    /// connection slot of its identity and is closed. Three, so a loaded coordinator that is slow
    /// to read an honest hello does not close it.
    private var helloTimeout: TimeAmount { .nanoseconds(handshakeTimeout.nanoseconds * 3) }

    private func startHelloTimer(context: ChannelHandlerContext, admission: ConnectionAdmission) {
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: helloTimeout) { [self] in
            guard case .authenticated = state, admission.phase != .session else { return }
            logger.warning(
                "closing connection: no hello within the handshake timeout",
                metadata: [
                    "cohort.error_code": "\(WireError.Code.helloTimeout)"
                ])
            state = .closed
            admission.close()
            sendErrorAndClose(
                context: context,
                WireError(
                    code: WireError.Code.helloTimeout,
                    message:
                        "no hello and attestation within \(helloTimeout.nanoseconds / 1_000_000) ms of the TLS handshake",
                    closesConnection: true))
        }
    }

    private func peerIdentity() throws(TransportError) -> PeerIdentity {
        guard let certificate = tlsHandler.peerCertificate else {
            throw TransportError(code: "identity.no_certificate", message: "the peer presented no certificate")
        }
        let parsed: Certificate
        do {
            parsed = try Certificate(derEncoded: try certificate.toDERBytes())
        } catch {
            throw TransportError(
                code: "identity.bad_certificate", message: "the peer certificate does not parse: \(error)")
        }
        return try PeerIdentity(certificate: parsed)
    }

    /// Refuses an authenticated-by-TLS but unauthorized peer: tells it why in an error frame
    /// (under TLS 1.3 it would otherwise only see a closed connection), then closes.
    private func refuse(context: ChannelHandlerContext, code: String, error: TransportError, reason: String) {
        logger.warning("refusing connection: \(reason)", metadata: ["cohort.error_code": "\(code)"])
        state = .closed
        admission?.close()
        authenticated.fail(error)
        let wire = WireError(code: code, message: reason, closesConnection: true)
        sendErrorAndClose(context: context, wire)
    }

    private func idle(context: ChannelHandlerContext, event: IdleStateHandler.IdleStateEvent) {
        guard case .authenticated = state else { return }
        switch event {
        case .write:
            // The client keeps the connection alive while it has nothing to say.
            context.writeAndFlush(wrapOutboundOut(Frame(Ping())), promise: nil)
        case .read, .all:
            logger.info("closing idle connection", metadata: ["cohort.error_code": "\(WireError.Code.idleTimeout)"])
            state = .closed
            admission?.close()
            sendErrorAndClose(
                context: context,
                WireError(
                    code: WireError.Code.idleTimeout, message: "no frame received within the idle timeout",
                    closesConnection: true)
            )
        }
    }

    private func sendErrorAndClose(context: ChannelHandlerContext, _ error: WireError) {
        context.writeAndFlush(wrapOutboundOut(Frame(error))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: data

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .authenticated = state else { return }  // never deliver unauthenticated data
        let frame = unwrapInboundIn(data)
        guard frame.type != .ping else { return }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // The error travels on to the application (its inbound stream throws it) before the
        // channel is closed: closing first would end the stream cleanly and lose the reason,
        // which under TLS 1.3 is the only way a client learns its certificate was refused.
        switch error {
        case let wire as WireError:
            logger.warning(
                "closing connection after a framing error: \(wire.message)",
                metadata: ["cohort.error_code": "\(wire.code)"]
            )
            context.fireErrorCaught(error)
            admission?.close()
            if case .authenticated = state {
                sendErrorAndClose(context: context, wire)
            } else {
                context.close(promise: nil)
            }
            state = .closed
        case is ByteToMessageDecoderError:
            // Bytes after a framing error; the first error was already reported.
            return
        default:
            admission?.close()
            if case .handshaking = state {
                logger.warning(
                    "TLS handshake failed: \(error)", metadata: ["cohort.error_code": "tls.handshake_failed"])
                state = .closed
                authenticated.fail(error)
            } else {
                logger.info("connection error: \(error)", metadata: ["cohort.error_code": "tls.error"])
            }
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }
}
