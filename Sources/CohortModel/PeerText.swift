/// Text a peer sent, made safe to copy into a log line, an error message, an alert or the ledger:
/// control characters are escaped (`\u{1B}` → `\u{1b}`) and the result is cut to a maximum
/// length with a note of how much was left out, so one participant cannot grow every round's
/// ledger entries or alerts by sending long or terminal-controlling strings.
public enum PeerText {
    /// Whether `scalar` is a control character (C0, DEL, C1) or a line/paragraph separator.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// `text` with control characters escaped, cut to at most `maxLength` characters (Unicode
    /// scalars) of output, followed by `…(+N)` when N characters were left out.
    public static func sanitized(_ text: String, maxLength: Int = 128) -> String {
        var result = ""
        var written = 0
        var omitted = 0
        for scalar in text.unicodeScalars {
            let piece = isControl(scalar) ? "\\u{" + String(scalar.value, radix: 16) + "}" : String(scalar)
            let length = piece.unicodeScalars.count
            if omitted > 0 || written + length > maxLength {
                omitted += 1
                continue
            }
            result += piece
            written += length
        }
        return omitted > 0 ? result + "…(+\(omitted))" : result
    }
}
