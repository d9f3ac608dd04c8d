import CohortPrivacy

/// Typed access to the members of an entry's `data` object, with the field path in every error.
///
/// Errors are `ledger.bad_entry` without a location; the verifier adds the line and seq.
struct PayloadFields {
    let kind: String
    let members: [String: JSONValue]
    /// The path of this object below `data`, e.g. `plan.` for `data.plan`.
    let prefix: String

    init(kind: String, data: JSONValue, prefix: String = "") throws(LedgerError) {
        guard case .object(let members) = data else {
            throw LedgerError(
                code: .badEntry,
                message: "\(kind): data\(prefix.isEmpty ? "" : "." + prefix.dropLast()) must be a JSON object")
        }
        self.kind = kind
        self.members = members
        self.prefix = prefix
    }

    func fail(_ field: String, _ expectation: String) -> LedgerError {
        LedgerError(code: .badEntry, message: "\(kind): data.\(prefix)\(field) must be \(expectation)")
    }

    func value(_ field: String) throws(LedgerError) -> JSONValue {
        guard let value = members[field] else {
            throw LedgerError(code: .badEntry, message: "\(kind): data.\(prefix)\(field) is missing")
        }
        return value
    }

    /// Whether `field` is present (optional members).
    func has(_ field: String) -> Bool { members[field] != nil }

    /// A recorded charge method (`charge_method`).
    func chargeMethod(_ field: String) throws(LedgerError) -> ChargeMethod {
        let raw = try string(field)
        guard let method = ChargeMethod(rawValue: raw) else {
            throw fail(
                field,
                "one of " + ChargeMethod.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                    + ", got \"\(raw)\"")
        }
        return method
    }

    func string(_ field: String) throws(LedgerError) -> String {
        guard let value = try value(field).stringValue else { throw fail(field, "a string") }
        return value
    }

    func nonEmptyString(_ field: String) throws(LedgerError) -> String {
        let value = try string(field)
        guard !value.isEmpty else { throw fail(field, "a non-empty string") }
        return value
    }

    func sha256Hex(_ field: String) throws(LedgerError) -> String {
        let value = try string(field)
        guard Self.isSHA256Hex(value) else { throw fail(field, "64 lowercase hexadecimal digits (a SHA-256 digest)") }
        return value
    }

    func double(_ field: String) throws(LedgerError) -> Double {
        guard let value = try value(field).doubleValue else { throw fail(field, "a number") }
        return value
    }

    func nonNegativeDouble(_ field: String) throws(LedgerError) -> Double {
        let value = try double(field)
        guard value >= 0 else { throw fail(field, "a number ≥ 0") }
        return value
    }

    func positiveDouble(_ field: String) throws(LedgerError) -> Double {
        let value = try double(field)
        guard value > 0 else { throw fail(field, "a number > 0") }
        return value
    }

    /// A privacy unit: `"record"` or `"participant"`.
    func privacyUnit(_ field: String) throws(LedgerError) -> PrivacyUnit {
        guard let unit = PrivacyUnit(rawValue: try string(field)) else {
            throw fail(field, "\"record\" or \"participant\"")
        }
        return unit
    }

    /// A sampling rate q ∈ (0, 1].
    func samplingRate(_ field: String) throws(LedgerError) -> Double {
        let value = try positiveDouble(field)
        guard value <= 1 else { throw fail(field, "a number in (0, 1]") }
        return value
    }

    /// A δ ∈ (0, 1).
    func delta(_ field: String) throws(LedgerError) -> Double {
        let value = try positiveDouble(field)
        guard value < 1 else { throw fail(field, "a number in (0, 1)") }
        return value
    }

    func int(_ field: String, minimum: Int = 0) throws(LedgerError) -> Int {
        guard let value = try value(field).intValue, value >= minimum else {
            throw fail(field, "an integer ≥ \(minimum)")
        }
        return value
    }

    func bool(_ field: String) throws(LedgerError) -> Bool {
        guard let value = try value(field).boolValue else { throw fail(field, "true or false") }
        return value
    }

    func object(_ field: String) throws(LedgerError) -> [String: JSONValue] {
        guard let value = try value(field).objectValue else { throw fail(field, "an object") }
        return value
    }

    func numberMap(_ field: String) throws(LedgerError) -> [String: Double] {
        var result: [String: Double] = [:]
        for (key, value) in try object(field) {
            guard let number = value.doubleValue else { throw fail("\(field).\(key)", "a number") }
            result[key] = number
        }
        return result
    }

    func stringArray(_ field: String) throws(LedgerError) -> [String] {
        guard let elements = try value(field).arrayValue else { throw fail(field, "an array of strings") }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let string = element.stringValue else { throw fail(field, "an array of strings") }
            result.append(string)
        }
        return result
    }

    static func isSHA256Hex(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            bytes.count == 64
                && bytes.allSatisfy {
                    ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                        || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
                }
        }
    }
}

extension Dictionary where Key == String, Value == Double {
    var json: JSONValue { .object(mapValues { JSONValue.number($0) }) }
}
