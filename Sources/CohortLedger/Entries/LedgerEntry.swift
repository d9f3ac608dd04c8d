import CohortCrypto

/// One ledger entry: the envelope fields, the kind's `data`, and the coordinator's signature.
///
/// The stored line is the RFC 8785 canonical JSON of the object
/// `{"data","kind","prev","seq","sig","time","v"}` followed by one `\n`. The signature is Ed25519
/// over the canonical JSON of the same object without `sig`; `prev` is the lowercase hex SHA-256
/// of the previous stored line without its newline. See docs/LEDGER.md.
public struct LedgerEntry: Sendable, Equatable {
    /// The format version this build writes and reads.
    public static let formatVersion = 1
    /// `prev` of the genesis entry: 64 zeros.
    public static let genesisPrev = String(repeating: "0", count: 64)
    /// The top-level members, in canonical order.
    static let fieldNames: Set<String> = ["data", "kind", "prev", "seq", "sig", "time", "v"]

    /// Format version (`v`).
    public let version: Int
    /// 0-based position in the ledger.
    public let seq: Int
    /// When the entry was written (UTC, milliseconds).
    public let time: LedgerTime
    /// The entry kind, e.g. `round.charged`.
    public let kind: String
    /// Lowercase hex SHA-256 of the previous line (64 zeros for genesis).
    public let prev: String
    /// The kind's data object.
    public let data: JSONValue
    /// The 64-byte Ed25519 signature.
    public let signature: [UInt8]

    /// Builds and signs an entry.
    /// - Parameters:
    ///   - data: must be a JSON object with finite numbers only.
    ///   - key: the ledger's signing key.
    public static func signed(
        seq: Int, time: LedgerTime, kind: String, prev: String, data: JSONValue, key: Ed25519.KeyPair
    ) -> LedgerEntry {
        let unsigned = unsignedObject(version: formatVersion, seq: seq, time: time, kind: kind, prev: prev, data: data)
        let signature = key.sign(CanonicalJSON.serialize(.object(unsigned)))
        return LedgerEntry(
            version: formatVersion, seq: seq, time: time, kind: kind, prev: prev, data: data, signature: signature)
    }

    /// An entry from its parts (no signing or checking; for parsers and tests).
    public init(
        version: Int, seq: Int, time: LedgerTime, kind: String, prev: String, data: JSONValue, signature: [UInt8]
    ) {
        self.version = version
        self.seq = seq
        self.time = time
        self.kind = kind
        self.prev = prev
        self.data = data
        self.signature = signature
    }

    /// Reads the envelope of a parsed line. Throws `ledger.bad_entry` or
    /// `ledger.unsupported_version` (without a location; callers add it).
    public init(json: JSONValue) throws(LedgerError) {
        guard case .object(let members) = json else {
            throw LedgerError(code: .badJSON, message: "the line is JSON but not an object")
        }
        func bad(_ what: String) -> LedgerError { LedgerError(code: .badEntry, message: what) }
        let (v, seqValue, timeValue, kindValue, prevValue, dataValue, sigValue) =
            (
                members["v"], members["seq"], members["time"], members["kind"], members["prev"], members["data"],
                members["sig"]
            )
        // Extra top-level members would be signed but meaningless to every verifier; refuse them
        // so the envelope has one interpretation. Extensions go into `data` or a new `v`.
        // (Seven members that include all seven names leave no room for another.)
        let allPresent =
            v != nil && seqValue != nil && timeValue != nil && kindValue != nil && prevValue != nil && dataValue != nil
            && sigValue != nil
        if !(allPresent && members.count == Self.fieldNames.count),
            let extra = members.keys.first(where: { !Self.fieldNames.contains($0) })
        {
            throw bad(
                "unexpected top-level member \"\(extra)\"; an entry has exactly data, kind, prev, seq, sig, time, v")
        }
        guard let version = v?.intValue else { throw bad("v is missing or not an integer") }
        guard version == Self.formatVersion else {
            throw LedgerError(
                code: .unsupportedVersion,
                message:
                    "format version \(version) is not supported (this build reads v\(Self.formatVersion)); use a newer verifier"
            )
        }
        guard let seq = seqValue?.intValue, seq >= 0 else { throw bad("seq is missing or not an integer ≥ 0") }
        guard let timeText = timeValue?.stringValue else { throw bad("time is missing or not a string") }
        guard let time = LedgerTime(timeText) else {
            throw bad("time \"\(timeText)\" is not of the form YYYY-MM-DDTHH:MM:SS.mmmZ")
        }
        guard let kind = kindValue?.stringValue, !kind.isEmpty else {
            throw bad("kind is missing or not a non-empty string")
        }
        guard let prev = prevValue?.stringValue, PayloadFields.isSHA256Hex(prev) else {
            throw bad("prev is missing or not 64 lowercase hexadecimal digits")
        }
        guard let data = dataValue, case .object = data else { throw bad("data is missing or not an object") }
        guard let sigText = sigValue?.stringValue, let signature = Self.decodeSignature(sigText)
        else { throw bad("sig is missing or not standard Base64 of a 64-byte signature") }
        self.init(version: version, seq: seq, time: time, kind: kind, prev: prev, data: data, signature: signature)
    }

    /// The 64 bytes of a signature in its one canonical Base64 spelling (88 characters: 21
    /// four-character groups, then two characters and `==`, the unused low 4 bits zero); nil
    /// otherwise. The same set of strings as `Base64.decode` followed by re-encoding and comparing,
    /// without the two conversions.
    static func decodeSignature(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { chars -> [UInt8]? in
            guard chars.count == 88, chars[86] == UInt8(ascii: "="), chars[87] == UInt8(ascii: "=") else { return nil }
            var out = [UInt8](repeating: 0, count: Ed25519.signatureLength)
            var accumulator: UInt32 = 0
            var bits = 0
            var written = 0
            for index in 0..<86 {
                guard let value = base64Value(chars[index]) else { return nil }
                accumulator = accumulator << 6 | UInt32(value)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out[written] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                    written += 1
                }
            }
            // 86 characters carry 516 bits: 64 bytes and 4 bits that must be zero.
            guard written == Ed25519.signatureLength, bits == 4, accumulator & 0x0F == 0 else { return nil }
            return out
        }
    }

    private static func base64Value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    static func unsignedObject(
        version: Int, seq: Int, time: LedgerTime, kind: String, prev: String, data: JSONValue
    ) -> [String: JSONValue] {
        [
            "v": .integer(version), "seq": .integer(seq), "time": .string(time.description), "kind": .string(kind),
            "prev": .string(prev), "data": data,
        ]
    }

    /// The entry as JSON, with `sig`.
    public var json: JSONValue {
        var object = Self.unsignedObject(version: version, seq: seq, time: time, kind: kind, prev: prev, data: data)
        object["sig"] = .string(Base64.encode(signature))
        return .object(object)
    }

    /// The bytes the signature covers: the canonical JSON of the entry without `sig`.
    public var signedBytes: [UInt8] {
        CanonicalJSON.serialize(
            .object(Self.unsignedObject(version: version, seq: seq, time: time, kind: kind, prev: prev, data: data)))
    }

    /// The canonical line without its newline (what the next entry's `prev` hashes).
    public var canonicalLine: [UInt8] { CanonicalJSON.serialize(json) }

    /// The lowercase hex SHA-256 of `canonicalLine`.
    public var hash: String { SHA256.hexDigest(canonicalLine) }

    /// Whether the signature verifies under `publicKey`.
    public func hasValidSignature(publicKey: [UInt8]) -> Bool {
        Ed25519.verify(signature: signature, message: signedBytes, publicKey: publicKey)
    }

    /// The typed content; throws `ledger.bad_entry` when a known kind's data is malformed.
    public func record() throws(LedgerError) -> LedgerRecord {
        try LedgerRecord(kind: kind, data: data)
    }
}

extension JSONValue {
    /// Whether every number inside is finite (only such values have a JSON form).
    var isFiniteEverywhere: Bool {
        switch self {
        case .null, .bool, .string: true
        case .number(let value): value.isFinite
        case .array(let elements): elements.allSatisfy(\.isFiniteEverywhere)
        case .object(let members): members.values.allSatisfy(\.isFiniteEverywhere)
        }
    }
}
