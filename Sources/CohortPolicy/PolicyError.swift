import CohortErrors

/// A policy that cannot be used: the field path, what was wrong, and what is allowed.
public struct PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable code: `policy.invalid_field`, `policy.missing_field`, `policy.unknown_field`,
    /// `policy.syntax`, `policy.unreadable`.
    public let code: String
    /// The dotted path of the offending field, e.g. `privacy.sampling_rate` or `participants[1].name`.
    public let field: String
    /// What was wrong and what is allowed.
    public let message: String

    public init(code: String, field: String, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { "policy field `\(field)`: \(message) [\(code)]" }

    /// `text` as it may appear in an error message: forbidden characters (`PrintableText`) escaped
    /// as `\u{…}`, and at most `limit` characters, so an echoed value can never forge a log line.
    public static func shown(_ text: String, limit: Int = 80) -> String {
        var out = ""
        for (index, scalar) in text.unicodeScalars.enumerated() {
            guard index < limit else { return out + "…" }
            out +=
                PrintableText.isForbidden(scalar)
                ? "\\u{\(String(scalar.value, radix: 16, uppercase: true))}" : String(scalar)
        }
        return out
    }

    static func invalid(_ field: String, _ message: String) -> PolicyError {
        PolicyError(code: "policy.invalid_field", field: field, message: message)
    }
}

extension PolicyError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
