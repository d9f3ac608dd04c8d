import CohortAPITypes
import CohortErrors

// The errors the operator API answers with, and the HTTP status of every Cohort error: statuses
// are decided here and nowhere else (the coordinator reports a category, never a status).
extension APIError {
    /// The HTTP answer to a Cohort error (a coordinator refusal, an invalid policy, …): its own
    /// code and message, and the status of its category.
    public init(_ error: some CohortError) {
        if let error = error as? APIError {
            self = error
            return
        }
        self.init(code: error.errorCode, message: error.errorMessage, status: Self.status(for: error.category))
    }

    /// The HTTP status of each error category.
    public static func status(for category: CohortErrorCategory) -> Int {
        switch category {
        case .invalidInput: 400
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .unavailable: 503
        case .internalFailure: 500
        }
    }

    static func notFound(_ path: String) -> APIError {
        APIError(code: "api.not_found", message: "no route \(path.prefix(200)); see docs/openapi.yaml", status: 404)
    }

    static func methodNotAllowed(_ method: String, _ path: String, allowed: [String]) -> APIError {
        APIError(
            code: "api.method_not_allowed",
            message:
                "\(method.prefix(16)) is not allowed on \(path.prefix(200)); use \(allowed.joined(separator: " or "))",
            status: 405)
    }

    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(code: "api.body_too_large", message: "the request body is over the \(limit)-byte limit", status: 413)
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: "api.bad_request", message: message, status: 400)
    }

    static let requestTimeout = APIError(
        code: "api.request_timeout", message: "the request was not received in full within the time allowed",
        status: 408)

    static let internalFailure = APIError(
        code: "api.internal", message: "the request failed inside the coordinator; see its log", status: 500)
}
