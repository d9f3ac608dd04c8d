import CohortAPITypes
import CohortTransport
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// The operator API over HTTPS with mutual TLS: this party's certificate and key, the consortium
/// CA as the only trust root, the coordinator's certificate checked against the host name or IP.
///
/// ```swift
/// let client = try ControlClient(baseURL: "https://127.0.0.1:7444", tls: TLSConfigurationFactory(identity: files))
/// let status = try await client.status()
/// ```
public struct ControlClient: Sendable {
    /// `https://HOST:PORT`.
    public let host: String
    public let port: Int
    private let tls: TLSConfiguration
    /// Time allowed for each request; default 30 s.
    public var timeout: TimeAmount

    /// - Parameters:
    ///   - baseURL: `https://HOST[:PORT]` (port 7444 when omitted).
    ///   - tls: the caller's identity (its `makeClientConfiguration()` is used).
    public init(
        baseURL: String, tls: TLSConfigurationFactory, timeout: TimeAmount = .seconds(30)
    ) throws(HTTPClientError) {
        let (host, port) = try Self.parse(baseURL)
        self.host = host
        self.port = port
        self.tls = tls.makeClientConfiguration()
        self.timeout = timeout
    }

    static func parse(_ url: String) throws(HTTPClientError) -> (String, Int) {
        guard url.hasPrefix("https://") else {
            throw HTTPClientError(
                code: "client.bad_url", message: "the API address must be https://HOST:PORT, got \(url.prefix(200))")
        }
        var rest = url.dropFirst("https://".count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        var portText: Substring? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw HTTPClientError(
                    code: "client.bad_url", message: "unterminated IPv6 address in \(url.prefix(200))")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty, !host.contains("/") else {
            throw HTTPClientError(
                code: "client.bad_url", message: "the API address must be https://HOST:PORT, got \(url.prefix(200))")
        }
        guard let port = portText.map({ Int($0) }) ?? 7444, (1...65535).contains(port) else {
            throw HTTPClientError(code: "client.bad_url", message: "bad port in \(url.prefix(200))")
        }
        return (String(host), port)
    }

    /// One raw request; any HTTP status is returned, only a failure to exchange throws.
    public func send(
        method: String, path: String, body: [UInt8]? = nil, contentType: String? = nil,
        maxResponseBytes: Int = 256 << 20
    ) async throws(HTTPClientError) -> HTTPClientResult {
        var headers: [(String, String)] = []
        if let contentType { headers.append(("content-type", contentType)) }
        do {
            return try await HTTPExchange.perform(
                .init(host: host, port: port, tls: tls), method: HTTPMethod(rawValue: method), path: path,
                headers: headers, body: body,
                timeout: timeout, maxResponseBytes: maxResponseBytes)
        } catch let error as HTTPClientError {
            throw error
        } catch {
            throw HTTPClientError(code: "client.failed", message: "\(error)")
        }
    }

    /// A request whose 2xx answer is `T` and any other status an ``APIError``.
    public func call<T: Decodable>(
        _ type: T.Type, method: String, path: String, body: [UInt8]? = nil, contentType: String? = nil
    ) async throws -> T {
        let result = try await send(method: method, path: path, body: body, contentType: contentType)
        try Self.check(result)
        do {
            return try APIJSON.decoder().decode(T.self, from: Data(result.body))
        } catch {
            throw HTTPClientError(
                code: "client.bad_response",
                message: "the API answered \(path) with JSON this client does not understand: \(error)")
        }
    }

    /// Throws the ``APIError`` a non-2xx response carries.
    static func check(_ result: HTTPClientResult) throws(APIError) {
        guard !(200..<300).contains(result.status) else { return }
        if let body = try? JSONDecoder().decode(APIErrorBody.self, from: Data(result.body)) {
            throw APIError(code: body.error.code, message: body.error.message, status: result.status)
        }
        throw APIError(
            code: "api.http_\(result.status)", message: "the API answered HTTP \(result.status)", status: result.status)
    }

    private func json(_ value: some Encodable) throws -> [UInt8] { try APIJSON.encode(value) }

    // MARK: - Typed calls

    public func status() async throws -> CoordinatorStatus {
        try await call(CoordinatorStatus.self, method: "GET", path: "/v1/status")
    }

    public func budget() async throws -> BudgetStatus {
        try await call(BudgetStatus.self, method: "GET", path: "/v1/budget")
    }

    public func participants() async throws -> [ParticipantStatus] {
        try await call(ParticipantList.self, method: "GET", path: "/v1/participants").participants
    }

    public func suspend(_ name: String, reason: String?) async throws -> ParticipantStatus {
        try await call(
            ParticipantStatus.self, method: "POST", path: "/v1/participants/\(Self.escape(name))/suspend",
            body: json(ReasonRequest(reason: reason)), contentType: "application/json")
    }

    public func reinstate(_ name: String) async throws -> ParticipantStatus {
        try await call(ParticipantStatus.self, method: "POST", path: "/v1/participants/\(Self.escape(name))/resume")
    }

    public func startRounds(_ count: Int) async throws -> CoordinatorStatus {
        try await call(
            CoordinatorStatus.self, method: "POST", path: "/v1/rounds", body: json(RoundsRequest(count: count)),
            contentType: "application/json")
    }

    public func abortRound(reason: String?) async throws -> CoordinatorStatus {
        try await call(
            CoordinatorStatus.self, method: "POST", path: "/v1/rounds/abort", body: json(ReasonRequest(reason: reason)),
            contentType: "application/json")
    }

    public func pause() async throws -> CoordinatorStatus {
        try await call(CoordinatorStatus.self, method: "POST", path: "/v1/rounds/pause")
    }

    public func resume() async throws -> CoordinatorStatus {
        try await call(CoordinatorStatus.self, method: "POST", path: "/v1/rounds/resume")
    }

    public func adoptPolicy(yaml: String) async throws -> PolicyAdoption {
        try await call(
            PolicyAdoption.self, method: "POST", path: "/v1/policy", body: Array(yaml.utf8),
            contentType: "application/yaml")
    }

    /// The ledger file's bytes (JSON Lines).
    public func ledger() async throws -> [UInt8] {
        let result = try await send(method: "GET", path: "/v1/ledger")
        try Self.check(result)
        return result.body
    }

    /// A released model as a Cohort model export (safetensors): the approved one, or a round's.
    public func model(round: Int?) async throws -> [UInt8] {
        let result = try await send(
            method: "GET", path: "/v1/models/" + (round.map(String.init) ?? "approved"),
            maxResponseBytes: Self.maximumModelExportBytes)
        try Self.check(result)
        return result.body
    }

    /// The largest model export a download accepts: a model of the most parameters a policy may
    /// declare (2^28 float32, 1 GiB) with its safetensors header and encoding metadata.
    static let maximumModelExportBytes = (1 << 30) + (64 << 20)

    /// The Prometheus text exposition.
    public func metrics() async throws -> String {
        let result = try await send(method: "GET", path: "/metrics")
        try Self.check(result)
        return String(decoding: result.body, as: UTF8.self)
    }

    /// Participant names are validated as `A-Z a-z 0-9 . _ -` elsewhere; escape anything else.
    static func escape(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                out.append(Character(UnicodeScalar(byte)))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
