import CohortCoordinator

/// An error that reaches the wire: a stable code, a message that says what was wrong and what to
/// do, and the HTTP status. The body is `{"error":{"code":"…","message":"…"}}`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable code, e.g. `api.not_found`, `control.forbidden`.
    public var code: String
    public var message: String
    /// The HTTP status code.
    public var status: Int

    public init(code: String, message: String, status: Int) {
        self.code = code
        self.message = message
        self.status = status
    }

    /// The coordinator's refusal, with its own code and status.
    public init(_ error: ControlError) {
        self.init(code: error.code, message: error.message, status: error.status)
    }

    public var description: String { "\(message) [\(code)]" }

    static func notFound(_ path: String) -> APIError {
        APIError(code: "api.not_found", message: "no route \(path.prefix(200)); see docs/openapi.yaml", status: 404)
    }

    static func methodNotAllowed(_ method: String, _ path: String, allowed: [String]) -> APIError {
        APIError(
            code: "api.method_not_allowed",
            message: "\(method.prefix(16)) is not allowed on \(path.prefix(200)); use \(allowed.joined(separator: " or "))", status: 405)
    }

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(code: "api.body_too_large", message: "the request body is over the \(limit)-byte limit", status: 413)
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: "api.bad_request", message: message, status: 400)
    }

    static let requestTimeout = APIError(
        code: "api.request_timeout", message: "the request was not received in full within the time allowed", status: 408)

    static let internalError = APIError(
        code: "api.internal", message: "the request failed inside the coordinator; see its log", status: 500)
}

/// The JSON error body.
struct APIErrorBody: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var code: String
        var message: String
    }

    var error: Detail

    init(_ error: APIError) {
        self.error = Detail(code: error.code, message: error.message)
    }
}
