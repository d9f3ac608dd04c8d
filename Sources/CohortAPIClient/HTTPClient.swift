import CohortErrors
import CohortTransport
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A response read in full.
public struct HTTPClientResult: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// An error reaching a server (connect, TLS, timeout, a truncated or oversized response).
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// Stable code, e.g. `client.connect_failed`, `client.timeout`.
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) [\(code)]" }
}

/// One HTTP/1.1 exchange on a fresh connection (optionally TLS), with an overall deadline.
package enum HTTPExchange {
    package struct Target: Sendable {
        package var host: String
        package var port: Int
        /// nil for plain HTTP.
        package var tls: TLSConfiguration?
        /// Verified name and SNI; defaults to `host` (IP literals are verified against IP SANs, no SNI).
        package var serverHostname: String?

        package init(host: String, port: Int, tls: TLSConfiguration?, serverHostname: String? = nil) {
            self.host = host
            self.port = port
            self.tls = tls
            self.serverHostname = serverHostname
        }
    }

    package static func perform(
        _ target: Target, method: HTTPMethod, path: String, headers extra: [(String, String)] = [],
        body: [UInt8]? = nil,
        timeout: TimeAmount, maxResponseBytes: Int = 256 << 20,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPClientResult {
        let deadline = NIODeadline.now() + timeout
        let sslContext: NIOSSLContext?
        do {
            sslContext = try target.tls.map { try NIOSSLContext(configuration: $0) }
        } catch {
            throw HTTPClientError(code: "client.tls_configuration", message: "cannot build the TLS context: \(error)")
        }
        let name = target.serverHostname ?? target.host
        let sni: String? = isIPAddress(name) ? nil : name
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(min(timeout, .seconds(10)))
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let sslContext {
                            try pipeline.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: sni))
                        }
                        try pipeline.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw HTTPClientError(
                code: "client.connect_failed", message: "cannot connect to \(target.host):\(target.port): \(error)")
        }
        // The deadline closes the channel, which ends the read below with an error.
        let timer = channel.channel.eventLoop.scheduleTask(deadline: deadline) { [channel = channel.channel] in
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        do {
            return try await channel.executeThenClose { inbound, outbound in
                var headers = HTTPHeaders()
                headers.add(
                    name: "host",
                    value: target.port == (target.tls == nil ? 80 : 443) ? target.host : "\(target.host):\(target.port)"
                )
                headers.add(name: "user-agent", value: "cohort")
                headers.add(name: "accept", value: "*/*")
                for (name, value) in extra { headers.add(name: name, value: value) }
                if let body { headers.add(name: "content-length", value: String(body.count)) }
                var parts: [HTTPClientRequestPart] = [
                    .head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers))
                ]
                if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                parts.append(.end(nil))
                try await outbound.write(contentsOf: parts)
                var status: HTTPResponseHead?
                var received: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        // 1xx informational heads (100 Continue) precede the real one.
                        if head.status.code >= 200 { status = head }
                    case .body(var buffer):
                        guard received.count + buffer.readableBytes <= maxResponseBytes else {
                            throw HTTPClientError(
                                code: "client.response_too_large",
                                message: "the response is over \(maxResponseBytes) bytes")
                        }
                        received.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
                    case .end:
                        if let status {
                            return HTTPClientResult(
                                status: Int(status.status.code), headers: status.headers, body: received)
                        }
                    }
                }
                throw HTTPClientError(
                    code: "client.closed", message: "the server closed the connection before a complete response")
            }
        } catch let error as HTTPClientError {
            if NIODeadline.now() >= deadline { throw timeoutError(timeout) }
            throw error
        } catch {
            if NIODeadline.now() >= deadline { throw timeoutError(timeout) }
            throw HTTPClientError(
                code: "client.failed", message: "the exchange with \(target.host):\(target.port) failed: \(error)")
        }
    }

    private static func timeoutError(_ timeout: TimeAmount) -> HTTPClientError {
        HTTPClientError(
            code: "client.timeout", message: "no complete response within \(timeout.nanoseconds / 1_000_000_000) s")
    }

    package static func isIPAddress(_ name: String) -> Bool {
        (try? SocketAddress(ipAddress: name, port: 0)) != nil
    }
}

extension HTTPClientError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .unavailable }
}
