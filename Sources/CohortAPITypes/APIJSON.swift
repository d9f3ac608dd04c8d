import Foundation

/// The JSON conventions of the operator API: snake_case keys, sorted, no escaped slashes.
public enum APIJSON {
    /// Encodes API values (`policySHA256` → `policy_sha256`, `openedAtMillis` → `opened_at_millis`).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// Decodes API values. Foundation's `.convertFromSnakeCase` turns `policy_sha256` into
    /// `policySha256`, which no DTO property is called; acronyms are restored here.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in
            let key = path.last!
            return AnyKey(camelCase(key.stringValue))
        }
        return decoder
    }

    /// Encodes `value` as bytes.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try encoder().encode(value))
    }

    static func camelCase(_ snake: String) -> String {
        guard snake.contains("_") else { return snake }
        let parts = snake.split(separator: "_", omittingEmptySubsequences: true)
        guard let first = parts.first else { return snake }
        var result = String(first)
        for part in parts.dropFirst() {
            let word = String(part)
            if let acronym = acronyms[word] {
                result += acronym
            } else {
                result += word.prefix(1).uppercased() + word.dropFirst()
            }
        }
        return result
    }

    private static let acronyms = ["sha256": "SHA256"]

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) {
            stringValue = String(intValue)
            self.intValue = intValue
        }
    }
}
