import CohortAPITypes
import NIOCore
import NIOHTTP1

/// Collects a request's head and body into one ``APIRequest``, enforcing the body limit and a
/// deadline for the whole request, and turns malformed HTTP into a clear 400.
///
/// After a rejection every further byte of the connection is dropped: the connection's task
/// answers the error and closes.
final class RequestAggregatorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = APIRequestEvent
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, [UInt8])
        case rejected
    }

    private let maxBodyBytes: Int
    private let requestTimeout: TimeAmount
    private var state = State.idle
    private var deadline: Scheduled<Void>?

    init(maxBodyBytes: Int, requestTimeout: TimeAmount) {
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeout = requestTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (state, part) {
        case (.rejected, _):
            return
        case (.idle, .head(let head)):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
                reject(context: context, .bodyTooLarge(limit: maxBodyBytes))
                return
            }
            state = .receiving(head, [])
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: requestTimeout) { [self] in
                reject(context: context, .requestTimeout)
            }
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                context.writeAndFlush(
                    wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case (.receiving(let head, var body), .body(var buffer)):
            guard body.count + buffer.readableBytes <= maxBodyBytes else {
                reject(context: context, .bodyTooLarge(limit: maxBodyBytes))
                return
            }
            state = .idle  // let `body` be uniquely referenced while appending
            body.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
            state = .receiving(head, body)
        case (.receiving(let head, let body), .end):
            deadline?.cancel()
            deadline = nil
            state = .idle
            let request = APIRequest(
                method: head.method.rawValue, path: head.uri, headers: head.headers, body: body,
                keepAlive: head.isKeepAlive)
            context.fireChannelRead(wrapInboundOut(.request(request)))
        case (.idle, .body), (.idle, .end), (.receiving, .head):
            reject(context: context, .badRequest("malformed HTTP request: parts out of order"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            reject(context: context, .badRequest("malformed HTTP request: \(error)"))
        } else if case .rejected = state {
            return
        } else {
            context.fireErrorCaught(error)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    private func reject(context: ChannelHandlerContext, _ error: APIError) {
        if case .rejected = state { return }
        deadline?.cancel()
        deadline = nil
        state = .rejected
        context.fireChannelRead(wrapInboundOut(.rejected(error)))
    }
}
