/// Flattens an `Encodable` value into leaf paths and string values, using the coding keys as path
/// components: `privacy.epsilon_max` → "3.0", `participants[1].name` → "hospital-b". Absent
/// optionals produce no leaf. Used to diff policies field by field, so fields added to `Policy`
/// later are compared without touching this code.
enum PolicyFlattener {
    static func flatten<T: Encodable>(_ value: T) -> [String: String] {
        let storage = Storage()
        // The encoder below never throws; a failure would be a programming error.
        do {
            try value.encode(to: FlatEncoder(storage: storage, path: ""))
        } catch {
            preconditionFailure("flattening a policy cannot fail: \(error)")
        }
        return storage.leaves
    }

    /// The leaves written so far. A class because every container of one flattening shares it;
    /// it never leaves `flatten`, so it needs no Sendable conformance.
    final class Storage {
        var leaves: [String: String] = [:]
    }

    static func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    struct FlatEncoder: Encoder {
        let storage: Storage
        let path: String
        var codingPath: [any CodingKey] { [] }
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            KeyedEncodingContainer(Keyed<Key>(storage: storage, path: path))
        }

        func unkeyedContainer() -> any UnkeyedEncodingContainer {
            Unkeyed(storage: storage, path: path)
        }

        func singleValueContainer() -> any SingleValueEncodingContainer {
            Single(storage: storage, path: path)
        }
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let storage: Storage
        let path: String
        var codingPath: [any CodingKey] { [] }

        private func leaf(_ text: String, _ key: Key) { storage.leaves[join(path, key.stringValue)] = text }

        mutating func encodeNil(forKey key: Key) throws { leaf("null", key) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: String, forKey key: Key) throws { leaf(value, key) }
        mutating func encode(_ value: Double, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: Float, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: Int, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { leaf("\(value)", key) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try value.encode(to: FlatEncoder(storage: storage, path: join(path, key.stringValue)))
        }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        ) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(Keyed<NestedKey>(storage: storage, path: join(path, key.stringValue)))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            Unkeyed(storage: storage, path: join(path, key.stringValue))
        }

        mutating func superEncoder() -> any Encoder { FlatEncoder(storage: storage, path: join(path, "super")) }
        mutating func superEncoder(forKey key: Key) -> any Encoder {
            FlatEncoder(storage: storage, path: join(path, key.stringValue))
        }
    }

    /// The value encodings shared by the unkeyed and single-value containers: each writes one
    /// leaf (or recurses) at the path the container gives.
    protocol LeafContainer {
        var storage: Storage { get }
        /// The path of the next value (an unkeyed container advances its index).
        mutating func leafPath() -> String
    }

    struct Unkeyed: UnkeyedEncodingContainer, LeafContainer {
        let storage: Storage
        let path: String
        var count = 0
        var codingPath: [any CodingKey] { [] }

        init(storage: Storage, path: String) {
            self.storage = storage
            self.path = path
        }

        private mutating func nextPath() -> String {
            defer { count += 1 }
            return "\(path)[\(count)]"
        }

        mutating func leafPath() -> String { nextPath() }

        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type
        ) -> KeyedEncodingContainer<NestedKey> {
            KeyedEncodingContainer(Keyed<NestedKey>(storage: storage, path: nextPath()))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            Unkeyed(storage: storage, path: nextPath())
        }

        mutating func superEncoder() -> any Encoder { FlatEncoder(storage: storage, path: nextPath()) }
    }

    struct Single: SingleValueEncodingContainer, LeafContainer {
        let storage: Storage
        let path: String
        var codingPath: [any CodingKey] { [] }

        func leafPath() -> String { path }
    }
}

extension PolicyFlattener.LeafContainer {
    private mutating func leaf(_ text: String) { storage.leaves[leafPath()] = text }

    mutating func encodeNil() throws { leaf("null") }
    mutating func encode(_ value: Bool) throws { leaf("\(value)") }
    mutating func encode(_ value: String) throws { leaf(value) }
    mutating func encode(_ value: Double) throws { leaf("\(value)") }
    mutating func encode(_ value: Float) throws { leaf("\(value)") }
    mutating func encode(_ value: Int) throws { leaf("\(value)") }
    mutating func encode(_ value: Int8) throws { leaf("\(value)") }
    mutating func encode(_ value: Int16) throws { leaf("\(value)") }
    mutating func encode(_ value: Int32) throws { leaf("\(value)") }
    mutating func encode(_ value: Int64) throws { leaf("\(value)") }
    mutating func encode(_ value: UInt) throws { leaf("\(value)") }
    mutating func encode(_ value: UInt8) throws { leaf("\(value)") }
    mutating func encode(_ value: UInt16) throws { leaf("\(value)") }
    mutating func encode(_ value: UInt32) throws { leaf("\(value)") }
    mutating func encode(_ value: UInt64) throws { leaf("\(value)") }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: PolicyFlattener.FlatEncoder(storage: storage, path: leafPath()))
    }
}
