import Yams

/// Typed reads from a YAML mapping that track the field path, apply defaults, and report keys
/// nobody asked for (a misspelt `epsilon_mx` must not silently fall back to a default).
struct YAMLFields {
    let path: String
    private let mapping: Node.Mapping
    private var readKeys: Set<String> = []

    init(_ node: Node?, path: String) throws(PolicyError) {
        guard let node else {
            throw PolicyError(code: "policy.missing_field", field: path, message: "this section is required")
        }
        guard let mapping = node.mapping else {
            throw PolicyError.invalid(path, "must be a mapping of keys to values")
        }
        self.mapping = mapping
        self.path = path
    }

    func fieldPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The keys present in this mapping, in file order.
    var keyNames: [String] { mapping.map { $0.key.scalar?.string ?? "\($0.key)" } }

    /// Longest string any policy field may hold, in UTF-8 bytes (paths included).
    static let maxStringBytes = 4096

    /// Refuses text a log line, a ledger rendering or an alert could be forged or hidden with:
    /// every policy string is printable (`PrintableText`) and at most `maxStringBytes` long. The
    /// value itself is not echoed: it is what is wrong.
    static func checkText(_ value: String, field: String) throws(PolicyError) {
        if let found = PrintableText.firstForbidden(in: value) {
            throw PolicyError.invalid(
                field,
                "contains the control or invisible character \(PrintableText.describe(found)); "
                    + "policy text must be printable: remove it")
        }
        guard value.utf8.count <= maxStringBytes else {
            throw PolicyError.invalid(field, "is \(value.utf8.count) bytes long; at most \(maxStringBytes) are allowed")
        }
    }

    private mutating func node(_ key: String) -> Node? {
        readKeys.insert(key)
        return mapping[Node(key)]
    }

    private func scalar(_ node: Node, _ key: String, expected: String) throws(PolicyError) -> String {
        guard let scalar = node.scalar else {
            throw PolicyError.invalid(
                fieldPath(key), "must be \(expected), got a \(node.mapping != nil ? "mapping" : "list")")
        }
        return scalar.string
    }

    mutating func string(_ key: String, default defaultValue: String? = nil) throws(PolicyError) -> String {
        guard let node = node(key) else {
            if let defaultValue { return defaultValue }
            throw PolicyError(code: "policy.missing_field", field: fieldPath(key), message: "is required (a string)")
        }
        let value = try scalar(node, key, expected: "a string")
        guard !value.isEmpty else { throw PolicyError.invalid(fieldPath(key), "must not be empty") }
        try Self.checkText(value, field: fieldPath(key))
        return value
    }

    mutating func double(_ key: String, default defaultValue: Double? = nil) throws(PolicyError) -> Double {
        guard let node = node(key) else {
            if let defaultValue { return defaultValue }
            throw PolicyError(code: "policy.missing_field", field: fieldPath(key), message: "is required (a number)")
        }
        let text = try scalar(node, key, expected: "a number")
        guard let value = Double(text), value.isFinite else {
            throw PolicyError.invalid(fieldPath(key), "must be a finite number, got `\(PolicyError.shown(text))`")
        }
        return value
    }

    mutating func int(_ key: String, default defaultValue: Int? = nil) throws(PolicyError) -> Int {
        guard let node = node(key) else {
            if let defaultValue { return defaultValue }
            throw PolicyError(
                code: "policy.missing_field", field: fieldPath(key), message: "is required (a whole number)")
        }
        let text = try scalar(node, key, expected: "a whole number")
        guard let value = Int(text) else {
            throw PolicyError.invalid(fieldPath(key), "must be a whole number, got `\(PolicyError.shown(text))`")
        }
        return value
    }

    /// A number when the key is present, nil when absent.
    mutating func optionalDouble(_ key: String) throws(PolicyError) -> Double? {
        guard mapping[Node(key)] != nil else {
            readKeys.insert(key)
            return nil
        }
        return try double(key)
    }

    /// A non-empty string when the key is present, nil when absent.
    mutating func optionalString(_ key: String) throws(PolicyError) -> String? {
        guard mapping[Node(key)] != nil else {
            readKeys.insert(key)
            return nil
        }
        return try string(key)
    }

    /// `true` or `false` (YAML 1.2 core spellings).
    mutating func bool(_ key: String, default defaultValue: Bool) throws(PolicyError) -> Bool {
        guard let node = node(key) else { return defaultValue }
        let text = try scalar(node, key, expected: "true or false")
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw PolicyError.invalid(fieldPath(key), "must be true or false, got `\(PolicyError.shown(text))`")
        }
    }

    /// A list of non-empty strings; errors name the element, e.g. `api.operators[1]`.
    mutating func stringList(_ key: String, default defaultValue: [String]) throws(PolicyError) -> [String] {
        guard let node = node(key) else { return defaultValue }
        guard let sequence = node.sequence else {
            throw PolicyError.invalid(fieldPath(key), "must be a list of strings, e.g. [a, b]")
        }
        var values: [String] = []
        for (index, element) in sequence.enumerated() {
            let path = "\(fieldPath(key))[\(index)]"
            guard let scalar = element.scalar else {
                throw PolicyError.invalid(
                    path, "must be a string, got a \(element.mapping != nil ? "mapping" : "list")")
            }
            guard !scalar.string.isEmpty else { throw PolicyError.invalid(path, "must not be empty") }
            try Self.checkText(scalar.string, field: path)
            values.append(scalar.string)
        }
        return values
    }

    /// A whole number when the key is present, nil when absent.
    mutating func optionalInt(_ key: String) throws(PolicyError) -> Int? {
        guard mapping[Node(key)] != nil else {
            readKeys.insert(key)
            return nil
        }
        return try int(key)
    }

    /// A list of whole numbers when the key is present (e.g. `[16, 8]`), nil when absent; errors
    /// name the element, e.g. `model.hidden[1]`.
    mutating func optionalIntList(_ key: String) throws(PolicyError) -> [Int]? {
        guard let node = node(key) else { return nil }
        return try Self.intList(node, path: fieldPath(key))
    }

    /// The whole numbers of a YAML list at `path`.
    static func intList(_ node: Node, path: String) throws(PolicyError) -> [Int] {
        guard let sequence = node.sequence else {
            throw PolicyError.invalid(path, "must be a list of whole numbers, e.g. [16, 8]")
        }
        var values: [Int] = []
        for (index, element) in sequence.enumerated() {
            guard let scalar = element.scalar, let value = Int(scalar.string) else {
                throw PolicyError.invalid("\(path)[\(index)]", "must be a whole number")
            }
            values.append(value)
        }
        return values
    }

    /// The sub-mapping `key`, or nil when the key is absent.
    mutating func optionalSection(_ key: String) throws(PolicyError) -> YAMLFields? {
        guard let child = node(key) else { return nil }
        return try YAMLFields(child, path: fieldPath(key))
    }

    mutating func section(_ key: String, optional: Bool = false) throws(PolicyError) -> YAMLFields {
        let child = node(key)
        if child == nil && optional {
            return try YAMLFields(Node.mapping(Node.Mapping([])), path: fieldPath(key))
        }
        return try YAMLFields(child, path: fieldPath(key))
    }

    /// The list `key`, or nil when the key is absent.
    mutating func optionalList(_ key: String) throws(PolicyError) -> [Node]? {
        guard mapping[Node(key)] != nil else {
            readKeys.insert(key)
            return nil
        }
        return try list(key)
    }

    mutating func list(_ key: String) throws(PolicyError) -> [Node] {
        guard let node = node(key) else {
            throw PolicyError(code: "policy.missing_field", field: fieldPath(key), message: "is required (a list)")
        }
        guard let sequence = node.sequence else {
            throw PolicyError.invalid(fieldPath(key), "must be a list")
        }
        return Array(sequence)
    }

    /// Fails on the first key that was never read.
    func rejectUnknownKeys() throws(PolicyError) {
        for (key, _) in mapping {
            let name = key.scalar?.string ?? "\(key)"
            if !readKeys.contains(name) {
                let known = readKeys.sorted().joined(separator: ", ")
                throw PolicyError(
                    code: "policy.unknown_field", field: fieldPath(PolicyError.shown(name)),
                    message: "is not a known field here; known fields: \(known)"
                )
            }
        }
    }
}
