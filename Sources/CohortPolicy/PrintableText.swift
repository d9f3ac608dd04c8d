/// The one rule for free text that ends up in logs, the ledger, alerts or error messages (policy
/// strings, operator reasons): printable characters only. A control character (a newline, an
/// escape sequence), a line or paragraph separator or an invisible format character (a
/// bidirectional override) could forge or hide a log line or a ledger rendering.
public enum PrintableText {
    /// The longest operator reason (abort, suspension), in characters.
    public static let maxReasonLength = 200

    /// The first character of `text` that is not allowed, with its position (0-based, in
    /// characters' Unicode scalars); nil when every character is printable.
    public static func firstForbidden(in text: String) -> (offset: Int, scalar: Unicode.Scalar)? {
        for (offset, scalar) in text.unicodeScalars.enumerated() where isForbidden(scalar) {
            return (offset, scalar)
        }
        return nil
    }

    /// Whether `scalar` is a control (C0, DEL, C1), format, line- or paragraph-separator character.
    public static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate: true
        default: false
        }
    }

    /// A description of a forbidden character that is safe to print, e.g. `U+000A at character 5`.
    public static func describe(_ found: (offset: Int, scalar: Unicode.Scalar)) -> String {
        let hex = String(found.scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + " at character \(found.offset + 1)"
    }
}
