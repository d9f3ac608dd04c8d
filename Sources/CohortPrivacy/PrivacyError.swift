import CohortErrors

/// An invalid privacy parameter or an impossible request. `code` is stable; `message` says what
/// was wrong and what is allowed.
public struct PrivacyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable machine-readable code, e.g. `privacy.invalid_delta`.
    public let code: String
    /// What was wrong and what to do.
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func invalidDelta(_ delta: Double) -> PrivacyError {
        PrivacyError(code: "privacy.invalid_delta", message: "δ must lie in (0, 1), got \(delta)")
    }

    static func invalidRounds(_ rounds: Int) -> PrivacyError {
        PrivacyError(code: "privacy.invalid_rounds", message: "the number of rounds must be ≥ 1, got \(rounds)")
    }
}

extension PrivacyError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
