import CohortErrors

/// An error from the cryptographic layer. `code` is stable and safe to show on the wire; the
/// message never contains key material or plaintext.
public struct CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable machine-readable code, e.g. `crypto.seal_open_failed`.
    public let code: String
    /// What was wrong and what to do about it.
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func invalidLength(_ what: String, expected: Int, got: Int) -> CryptoError {
        CryptoError(
            code: "crypto.invalid_length",
            message: "\(what) must be \(expected) bytes, got \(got); check that the right file or field was given"
        )
    }
}

extension CryptoError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
