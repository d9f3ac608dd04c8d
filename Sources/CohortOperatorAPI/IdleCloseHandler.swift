import Logging
import NIOCore

/// Closes a connection on which nothing was read for the idle timeout (placed right after an
/// `IdleStateHandler(readTimeout:)` at the front of the pipeline, so it also covers a client that
/// never starts or never finishes its TLS handshake).
final class IdleCloseHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            logger.info(
                "closing idle connection",
                metadata: [
                    "cohort.remote_address": "\(context.channel.remoteAddress?.description ?? "?")",
                    "cohort.error_code": "api.idle_timeout",
                ])
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
