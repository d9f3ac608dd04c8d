import CohortErrors

/// An error from certificate issuance, identity parsing or TLS setup. `code` is stable; the
/// message says what was wrong and what to do, and never contains key material.
public struct TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Stable machine-readable code, e.g. `certs.invalid_name`.
    public let code: String
    /// What was wrong and what to do about it.
    public let message: String

    /// Creates an error.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

extension TransportError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
