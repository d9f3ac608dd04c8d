/// RFC 8785 JSON Canonicalization Scheme (JCS) serialization.
///
/// - Objects: members sorted by their names compared as arrays of UTF-16 code units
///   (RFC 8785 §3.2.3), no whitespace anywhere.
/// - Strings: only `"` `\` and the control characters U+0000…U+001F are escaped; \b \f \n \r \t
///   use their short forms, the others `\u00xx` with lowercase hex (§3.2.2.2). Everything else,
///   including non-ASCII, is written as UTF-8.
/// - Numbers: ECMAScript `Number.prototype.toString` (ECMA-262 §6.1.6.1.20, RFC 8785 §3.2.2.3).
public enum CanonicalJSON {
    /// The canonical UTF-8 bytes of `value`.
    /// - Precondition: every number in `value` is finite (the parser never produces others).
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, to: &out)
        return out
    }

    /// The canonical form of `value` as a string.
    public static func string(_ value: JSONValue) -> String {
        String(decoding: serialize(value), as: UTF8.self)
    }

    /// Appends the canonical bytes of `value` to `out`.
    public static func write(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: flag ? "true".utf8 : "false".utf8)
        case .number(let number): writeNumber(number, to: &out)
        case .string(let string): writeString(string, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members.sorted(by: { utf16Precedes($0.key, $1.key) }) {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(member, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Member names in JCS order.
    public static func sortedKeys(_ members: [String: JSONValue]) -> [String] {
        members.keys.sorted(by: utf16Precedes)
    }

    /// Whether `a` sorts before `b` as UTF-16 code unit sequences (RFC 8785 §3.2.3).
    public static func utf16Precedes(_ a: String, _ b: String) -> Bool {
        // UTF-8 byte order equals code point order, which equals UTF-16 order except when a
        // character in U+E000…U+FFFF (lead byte 0xEE or 0xEF) meets one ≥ U+10000 (lead byte
        // ≥ 0xF0): in UTF-16 the latter is a surrogate pair, 0xD800…, and sorts first. At the first
        // differing byte both strings are at the same code point boundary, and continuation bytes
        // (0x80…0xBF) never match those lead bytes, so one comparison of that byte pair decides.
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let count = min(x.count, y.count)
                var index = 0
                while index < count && x[index] == y[index] { index += 1 }
                guard index < count else { return x.count < y.count }
                let p = x[index]
                let q = y[index]
                if p >= 0xF0 && (q == 0xEE || q == 0xEF) { return true }
                if q >= 0xF0 && (p == 0xEE || p == 0xEF) { return false }
                return p < q
            }
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends a JCS string literal.
    public static func writeString(_ string: String, to out: inout [UInt8]) {
        var string = string
        string.withUTF8 { bytes in
            out.append(UInt8(ascii: "\""))
            // Copy runs of bytes that need no escape in one go; escape the rest.
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                if runStart < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index])) }
                runStart = index + 1
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                default:
                    out.append(contentsOf: [
                        0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hexDigits[Int(byte >> 4)],
                        hexDigits[Int(byte & 0x0F)],
                    ])
                }
            }
            if runStart < bytes.count {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
            }
            out.append(UInt8(ascii: "\""))
        }
    }

    /// The ECMAScript `Number.prototype.toString` form of a finite double.
    public static func numberString(_ value: Double) -> String {
        var out: [UInt8] = []
        writeNumber(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the ECMAScript form of `value` (ECMA-262 Number::toString, radix 10).
    public static func writeNumber(_ value: Double, to out: inout [UInt8]) {
        precondition(value.isFinite, "JSON has no representation for NaN or infinity")
        // Step 2: +0 and -0 are both "0".
        if value == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        // Integers below 2^53 are exact, and their shortest round-trip digits are all their
        // digits, so plain integer printing gives the same text faster.
        if abs(value) < 9_007_199_254_740_992, value.rounded(.towardZero) == value {
            out.append(contentsOf: String(Int64(value)).utf8)
            return
        }
        if value < 0 {
            out.append(UInt8(ascii: "-"))
        }
        // Swift's description yields the shortest digits that round-trip, choosing the closest
        // when several qualify — the same digits ECMAScript requires (step 5) — but in its own
        // layout ("1e-07", "100.0"), so extract the digits s and exponent n and lay them out again.
        // Digits are gathered in a stack buffer: this runs for every fractional number the
        // verifier reads (the parser's canonical-form check).
        var text = abs(value).description
        text.withUTF8 { text in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: text.count) { buffer in
                let (range, n) = decimalDigits(text, into: buffer)
                let digits = UnsafeBufferPointer(rebasing: buffer[range])
                let k = digits.count
                if k <= n && n <= 21 {
                    // Step 6: integer digits followed by n−k zeros.
                    out.append(contentsOf: digits)
                    out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: n - k))
                } else if 0 < n && n <= 21 {
                    // Step 7: a decimal point inside the digits.
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[0..<n]))
                    out.append(UInt8(ascii: "."))
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[n...]))
                } else if -6 < n && n <= 0 {
                    // Step 8: "0." then −n zeros then the digits.
                    out.append(UInt8(ascii: "0"))
                    out.append(UInt8(ascii: "."))
                    out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -n))
                    out.append(contentsOf: digits)
                } else {
                    // Steps 9–10: exponent form, "e+" or "e-" and the exponent n−1 without leading zeros.
                    out.append(digits[0])
                    if k > 1 {
                        out.append(UInt8(ascii: "."))
                        out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[1...]))
                    }
                    out.append(UInt8(ascii: "e"))
                    let exponent = n - 1
                    out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
                    out.append(contentsOf: String(abs(exponent)).utf8)
                }
            }
        }
    }

    /// The shortest round-trip decimal digits s (no leading or trailing zeros) and the exponent n
    /// such that `value` = 0.s × 10^n, for a finite positive double.
    static func decimalDigits(of value: Double) -> (digits: [UInt8], n: Int) {
        var text = value.description
        return text.withUTF8 { text in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: text.count) { buffer in
                let (range, n) = decimalDigits(text, into: buffer)
                return (Array(buffer[range]), n)
            }
        }
    }

    /// Reads Swift's `description` of a finite positive double (`text`, e.g. "0.0001", "100.0",
    /// "1e-07", "1.5e+300"): writes its digits into `buffer` and returns the range of the
    /// significant ones (no leading or trailing zeros) and n such that the value = 0.s × 10^n.
    private static func decimalDigits(
        _ text: UnsafeBufferPointer<UInt8>, into buffer: UnsafeMutableBufferPointer<UInt8>
    ) -> (Range<Int>, Int) {
        var count = 0
        var pointPosition: Int? = nil
        var exponent = 0
        var index = 0
        while index < text.count {
            let c = text[index]
            if c == UInt8(ascii: ".") {
                pointPosition = count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                // The rest is the exponent with an optional sign.
                var position = index + 1
                var negative = false
                if position < text.count, text[position] == UInt8(ascii: "-") || text[position] == UInt8(ascii: "+") {
                    negative = text[position] == UInt8(ascii: "-")
                    position += 1
                }
                while position < text.count {
                    exponent = exponent * 10 + Int(text[position] &- UInt8(ascii: "0"))
                    position += 1
                }
                if negative { exponent = -exponent }
                break
            } else {
                buffer[count] = c
                count += 1
            }
            index += 1
        }
        var n = (pointPosition ?? count) + exponent
        // Leading zeros ("0.0001") shift the decimal exponent; trailing zeros ("100.0") do not.
        var leading = 0
        while leading < count - 1, buffer[leading] == UInt8(ascii: "0") { leading += 1 }
        n -= leading
        var end = count
        while end > leading + 1, buffer[end - 1] == UInt8(ascii: "0") { end -= 1 }
        return (leading..<end, n)
    }
}

extension JSONValue {
    /// The RFC 8785 canonical serialization as bytes.
    public var canonicalBytes: [UInt8] { CanonicalJSON.serialize(self) }
    /// The RFC 8785 canonical serialization as a string.
    public var canonicalString: String { CanonicalJSON.string(self) }
}
