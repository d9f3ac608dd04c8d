import CohortErrors

/// Why a byte sequence is not acceptable JSON, and at which byte offset.
public struct JSONParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 0-based byte offset of the problem in the input.
    public let offset: Int
    /// What was wrong.
    public let reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A strict JSON parser (RFC 8259 with the I-JSON restrictions of RFC 7493, as RFC 8785 requires).
///
/// Rejected, because a verifier in another language could read them differently: duplicate
/// member names, invalid UTF-8, lone surrogate escapes, numbers that overflow a double
/// (no NaN or Infinity exists in JSON), anything after the top-level value except whitespace,
/// and nesting deeper than `maximumDepth`.
public enum JSONParser {
    /// Nesting limit; ledger entries need 4 levels. It bounds recursion so hostile input cannot
    /// exhaust the stack.
    public static let maximumDepth = 64

    /// Parses one JSON text.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let array = bytes as? [UInt8] ?? Array(bytes)
        return try parse(array[...])
    }

    /// Parses one JSON text from a slice (offsets in errors are relative to the slice start).
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) -> JSONValue in try parse(buffer: buffer) }
    }

    /// Parses one JSON text in `buffer`.
    public static func parse(buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        try parseNotingCanonicalForm(buffer: buffer).value
    }

    /// Parses one JSON text and tells whether its bytes are already exactly its RFC 8785
    /// canonical form, without serializing it again.
    ///
    /// The text is canonical exactly when: it has no whitespace outside strings; each object's
    /// member names are in strictly increasing UTF-16 order; every string escape is the one JCS
    /// writes (`\"` `\\` `\b` `\f` `\n` `\r` `\t`, and `\u00xx` in lowercase only for the other
    /// control characters) — all other characters literal; and every number's text is the
    /// ECMAScript form of its value. Tests check this verdict against
    /// `CanonicalJSON.serialize(value) == bytes` on many mutated inputs.
    public static func parseNotingCanonicalForm(
        buffer: UnsafeBufferPointer<UInt8>
    ) throws(JSONParseError) -> (value: JSONValue, isCanonical: Bool) {
        var parser = Parser(bytes: buffer)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == buffer.count else {
            throw parser.error("unexpected data after the JSON value")
        }
        return (value, parser.canonical)
    }

    /// Parses JSON text from a string.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Reused for strings with escapes, to avoid an allocation per string.
    var scratch: [UInt8] = []
    /// Reused for the canonical form of numbers.
    var numberScratch: [UInt8] = []
    /// Whether everything read so far is in RFC 8785 canonical form.
    var canonical = true

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func error(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? index, reason: reason)
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
                canonical = false
            default: return
            }
        }
    }

    mutating func expect(_ literal: StaticString, value: JSONValue) throws(JSONParseError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw error("truncated literal") }
        let start = literal.utf8Start
        for offset in 0..<count where bytes[index + offset] != start[offset] {
            throw error("invalid literal")
        }
        index += count
        return value
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
        case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
        case UInt8(ascii: "n"): return try expect("null", value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character")
        }
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
        index += 1
        // Ledger objects have up to about 16 members: start large enough to avoid most regrowth.
        var members = [String: JSONValue](minimumCapacity: 8)
        var previousKey: String? = nil
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let keyOffset = index
            let key = try parseString()
            // Canonical order is strictly increasing UTF-16 (RFC 8785 §3.2.3).
            if canonical, let previousKey, !CanonicalJSON.utf16Precedes(previousKey, key) { canonical = false }
            previousKey = key
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            // RFC 8785 §3.1 (via I-JSON): duplicate names make the object's meaning ambiguous.
            guard members.updateValue(value, forKey: key) == nil else {
                throw error("duplicate member name \"\(key)\"", at: keyOffset)
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
            index += 1
            return .object(members)
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input in array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
            index += 1
            return .array(elements)
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        let start = index
        index += 1
        let contentStart = index
        // Fast path: no escapes, so the content is a plain slice of the input.
        var ascii = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[contentStart..<index])
                index += 1
                // ASCII is valid UTF-8 as it stands; `String(validating:)` is only needed (and,
                // being generic over the encoding, much slower) when a byte ≥ 0x80 occurs.
                if ascii { return String(decoding: slice, as: UTF8.self) }
                guard let string = String(validating: slice, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: start)
                }
                return string
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("unescaped control character in string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        guard index < bytes.count else { throw error("unterminated string", at: start) }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[contentStart..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                guard let string = String(validating: scratch, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: start)
                }
                return string
            }
            if byte < 0x20 { throw error("unescaped control character in string") }
            if byte != UInt8(ascii: "\\") {
                scratch.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scratch.append(0x22)
            case UInt8(ascii: "\\"): scratch.append(0x5C)
            case UInt8(ascii: "/"):
                scratch.append(0x2F)
                canonical = false
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                let escapeStart = index
                var scalar = try parseHex4()
                // JCS uses \u only for control characters without a short form, in lowercase.
                if canonical {
                    let hasShortForm =
                        scalar == 0x08 || scalar == 0x09 || scalar == 0x0A || scalar == 0x0C || scalar == 0x0D
                    let lowercase = (escapeStart..<index).allSatisfy {
                        bytes[$0] < UInt8(ascii: "A") || bytes[$0] > UInt8(ascii: "F")
                    }
                    if scalar >= 0x20 || hasShortForm || !lowercase { canonical = false }
                }
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                        bytes[index + 1] == UInt8(ascii: "u")
                    else { throw error("lone high surrogate escape") }
                    index += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("invalid low surrogate escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("lone low surrogate escape")
                }
                // Valid by construction: surrogates were combined or rejected above.
                let unicode = Unicode.Scalar(scalar)!
                scratch.append(contentsOf: UTF8.encode(unicode)!)
            default:
                throw error("invalid escape sequence", at: index - 2)
            }
        }
        throw error("unterminated string", at: start)
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> Double {
        let start = index
        var negative = false
        if bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected a digit") }
        var integer: UInt64 = 0
        var digitCount = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error("leading zero in number", at: start) }
        } else {
            while index < bytes.count, isDigit(bytes[index]) {
                if digitCount < 18 { integer = integer * 10 + UInt64(bytes[index] - UInt8(ascii: "0")) }
                digitCount += 1
                index += 1
            }
        }
        var simple = true
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            simple = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected a digit after '.'") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            simple = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("expected a digit in exponent") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        // Integers up to 15 digits are exact in a double; everything else goes through the
        // correctly rounded conversion of the standard library.
        if simple && digitCount <= 15 {
            let value = Double(integer)
            // A plain integer below 10^15 is its own ECMAScript form, except "-0" (written "0").
            if negative && integer == 0 { canonical = false }
            return negative ? -value : value
        }
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<index])
        let text = String(decoding: raw, as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw error("number out of the range of an IEEE-754 double", at: start)
        }
        if canonical {
            numberScratch.removeAll(keepingCapacity: true)
            CanonicalJSON.writeNumber(value, to: &numberScratch)
            if !numberScratch.elementsEqual(raw) { canonical = false }
        }
        return value
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}

extension JSONParseError: CohortError {
    /// Ledger lines are the JSON this parser reads; a parse failure is a ledger line that is not JSON.
    public var errorCode: String { LedgerError.Code.badJSON.rawValue }
    public var errorMessage: String { description }
    public var category: CohortErrorCategory { .invalidInput }
}
