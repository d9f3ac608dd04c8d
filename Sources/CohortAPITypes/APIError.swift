import CohortErrors

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

    public var description: String { "\(message) [\(code)]" }
}

/// The JSON error body.
public struct APIErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(_ error: APIError) {
        self.error = Detail(code: error.code, message: error.message)
    }
}

extension APIError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    /// The category of the status the API answered with (the inverse of the server's mapping).
    public var category: CohortErrorCategory {
        switch status {
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 503: .unavailable
        case 400..<500: .invalidInput
        default: .internalFailure
        }
    }
}
