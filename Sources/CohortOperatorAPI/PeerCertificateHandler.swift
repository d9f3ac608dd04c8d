import CohortTransport
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import X509

/// Reads the peer's ``PeerIdentity`` from the certificate TLS has just verified against the
/// consortium CA and completes `identity` with it; closes the connection when the certificate
/// carries no valid Cohort identity or the handshake fails or takes too long.
///
/// Authorisation (which role may do what) is not decided here but by the coordinator, per request.
final class PeerCertificateHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let tlsHandler: NIOSSLHandler
    private let identity: EventLoopPromise<PeerIdentity>
    private let handshakeTimeout: TimeAmount
    private let logger: Logger
    private var done = false
    private var timer: Scheduled<Void>?

    init(
        tlsHandler: NIOSSLHandler, identity: EventLoopPromise<PeerIdentity>, handshakeTimeout: TimeAmount,
        logger: Logger
    ) {
        self.tlsHandler = tlsHandler
        self.identity = identity
        self.handshakeTimeout = handshakeTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context)
        context.fireChannelActive()
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard timer == nil, !done else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: handshakeTimeout) { [self] in
            fail(
                context: context,
                TransportError(code: "tls.handshake_timeout", message: "the TLS handshake did not complete in time"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if !done {
            done = true
            identity.fail(
                TransportError(
                    code: "tls.closed_during_handshake",
                    message: "the connection closed before the peer was authenticated"))
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        if !done {
            done = true
            identity.fail(TransportError(code: "tls.closed_during_handshake", message: "the connection was torn down"))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event, !done {
            timer?.cancel()
            do {
                let peer = try peerIdentity()
                done = true
                identity.succeed(peer)
            } catch {
                fail(context: context, error)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            fail(context: context, error)
        } else {
            context.fireErrorCaught(error)
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        guard !done else { return }
        done = true
        timer?.cancel()
        logger.warning(
            "refusing connection: \(error)",
            metadata: [
                "cohort.remote_address": "\(context.channel.remoteAddress?.description ?? "?")",
                "cohort.error_code": "\((error as? TransportError)?.code ?? "tls.handshake_failed")",
            ])
        identity.fail(error)
        context.close(promise: nil)
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
}
