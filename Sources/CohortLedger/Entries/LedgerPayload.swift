import CohortCrypto
import CohortPrivacy

/// The typed `data` of one entry kind.
///
/// Each kind is a struct that decodes from and encodes to the entry's `data` object. Decoding
/// ignores members it does not know, so a later minor addition to a kind still verifies; a new
/// kind is read as `LedgerRecord.unknown` and verified by chain and signature only.
public protocol LedgerPayload: Sendable, Equatable {
    /// The entry `kind`, e.g. `round.charged`.
    static var kind: String { get }
    /// Decodes from an entry's `data`; throws `ledger.bad_entry` naming the field at fault.
    init(data: JSONValue) throws(LedgerError)
    /// The entry's `data` object.
    var data: JSONValue { get }
}

/// The identifier of the RDP accountant the ledger's ε values come from. A verifier must refuse
/// a ledger that names another accountant rather than recompute with the wrong one.
public let ledgerAccountantIdentifier = "discrete-gaussian-charge/v1"

/// `genesis`: the first entry. Binds the ledger to its signing key and the initial policy.
public struct GenesisPayload: LedgerPayload {
    public static let kind = "genesis"
    /// The Ed25519 public key that signs every entry (32 bytes, standard Base64).
    public var ledgerPublicKey: [UInt8]
    /// SHA-256 (hex) of the policy file in force.
    public var policySHA256: String
    /// The total ε the policy allows.
    public var epsilonMax: Double
    /// The δ at which ε is reported.
    public var delta: Double
    /// The accountant identifier (`ledgerAccountantIdentifier`).
    public var accountant: String
    /// SHA-256 (hex) of the policy's `model.initial_model` safetensors file, when it names one
    /// (member `initial_model_sha256`, absent otherwise): the policy digest covers only the path.
    public var initialModelSHA256: String?

    public init(
        ledgerPublicKey: [UInt8], policySHA256: String, epsilonMax: Double, delta: Double,
        accountant: String = ledgerAccountantIdentifier, initialModelSHA256: String? = nil
    ) {
        self.ledgerPublicKey = ledgerPublicKey
        self.policySHA256 = policySHA256
        self.epsilonMax = epsilonMax
        self.delta = delta
        self.accountant = accountant
        self.initialModelSHA256 = initialModelSHA256
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        guard let key = Base64.decode(try f.string("ledger_public_key")), key.count == 32 else {
            throw f.fail("ledger_public_key", "standard Base64 of a 32-byte Ed25519 public key")
        }
        ledgerPublicKey = key
        policySHA256 = try f.sha256Hex("policy_sha256")
        epsilonMax = try f.positiveDouble("epsilon_max")
        delta = try f.delta("delta")
        accountant = try f.nonEmptyString("accountant")
        initialModelSHA256 = f.has("initial_model_sha256") ? try f.sha256Hex("initial_model_sha256") : nil
    }

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "ledger_public_key": .string(Base64.encode(ledgerPublicKey)),
            "policy_sha256": .string(policySHA256),
            "epsilon_max": .number(epsilonMax),
            "delta": .number(delta),
            "accountant": .string(accountant),
        ]
        if let initialModelSHA256 { members["initial_model_sha256"] = .string(initialModelSHA256) }
        return .object(members)
    }
}

/// `policy.adopted`: a new policy (and budget cap) takes effect from this entry on.
public struct PolicyAdoptedPayload: LedgerPayload {
    public static let kind = "policy.adopted"
    /// SHA-256 (hex) of the adopted policy file.
    public var policySHA256: String
    /// The cap before this entry.
    public var oldEpsilonMax: Double
    /// The cap from this entry on.
    public var newEpsilonMax: Double
    /// Who adopted it (operator certificate subject).
    public var operatorName: String
    /// Every policy field the adoption changed, sorted by path; nil in entries written before
    /// this member existed (they verify as before: the member is optional).
    public var changes: [FieldChange]?

    /// One changed policy field: its dotted path and its value before and after.
    public struct FieldChange: Sendable, Equatable {
        /// Dotted path, e.g. `privacy.epsilon_max` or `participants[2].name`.
        public var field: String
        public var old: Value
        public var new: Value

        /// - Parameters:
        ///   - field: dotted path.
        ///   - old: the value before.
        ///   - new: the value after.
        public init(field: String, old: Value, new: Value) {
            self.field = field
            self.old = old
            self.new = new
        }

        /// Builds the record of a change from its values as text (nil = absent); a value longer
        /// than `Value.maxInlineBytes` is recorded by its SHA-256, so an entry stays small.
        public init(field: String, old: String?, new: String?) {
            self.init(field: field, old: Value(old), new: Value(new))
        }
    }

    /// A field's value as recorded.
    public enum Value: Sendable, Equatable {
        /// The field was absent (an optional field or section not given).
        case absent
        /// The value as text.
        case text(String)
        /// SHA-256 (hex) of the UTF-8 text of a value too long to record inline.
        case sha256(String)

        /// Longest value recorded as text, in UTF-8 bytes.
        public static let maxInlineBytes = 128

        /// `text` recorded inline, or by digest when longer than `maxInlineBytes`; nil = absent.
        public init(_ text: String?) {
            guard let text else {
                self = .absent
                return
            }
            self = text.utf8.count <= Self.maxInlineBytes ? .text(text) : .sha256(SHA256.hexDigest(Array(text.utf8)))
        }

        /// For display: the text, `(absent)`, or `sha256:<first 12 digits>…`.
        public var display: String {
            switch self {
            case .absent: "(absent)"
            case .text(let text): text
            case .sha256(let digest): "sha256:\(digest.prefix(12))…"
            }
        }
    }

    public init(
        policySHA256: String, oldEpsilonMax: Double, newEpsilonMax: Double, operatorName: String,
        changes: [FieldChange]? = nil
    ) {
        self.policySHA256 = policySHA256
        self.oldEpsilonMax = oldEpsilonMax
        self.newEpsilonMax = newEpsilonMax
        self.operatorName = operatorName
        self.changes = changes
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        policySHA256 = try f.sha256Hex("policy_sha256")
        oldEpsilonMax = try f.positiveDouble("old_epsilon_max")
        newEpsilonMax = try f.positiveDouble("new_epsilon_max")
        operatorName = try f.nonEmptyString("operator")
        guard let list = f.members["changes"] else {
            changes = nil
            return
        }
        guard let elements = list.arrayValue else { throw f.fail("changes", "an array of changed fields") }
        var decoded: [FieldChange] = []
        for (index, element) in elements.enumerated() {
            guard let members = element.objectValue, let field = members["field"]?.stringValue, !field.isEmpty else {
                throw f.fail("changes[\(index)]", "an object with a non-empty string `field`")
            }
            decoded.append(
                FieldChange(
                    field: field, old: try Self.value(members, "old", f, at: "changes[\(index)]"),
                    new: try Self.value(members, "new", f, at: "changes[\(index)]")))
        }
        changes = decoded
    }

    /// `side` (`old` or `new`) of one change: `"<side>": string | null`, or `"<side>_sha256": hex`.
    private static func value(
        _ members: [String: JSONValue], _ side: String, _ f: PayloadFields, at path: String
    ) throws(LedgerError) -> Value {
        switch (members[side], members[side + "_sha256"]) {
        case (.string(let text)?, nil): return .text(text)
        case (.null?, nil): return .absent
        case (nil, .string(let digest)?) where PayloadFields.isSHA256Hex(digest): return .sha256(digest)
        default:
            throw f.fail("\(path).\(side)", "a string or null, or `\(side)_sha256` a SHA-256 digest in its place")
        }
    }

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "policy_sha256": .string(policySHA256),
            "old_epsilon_max": .number(oldEpsilonMax),
            "new_epsilon_max": .number(newEpsilonMax),
            "operator": .string(operatorName),
        ]
        if let changes {
            members["changes"] = .array(
                changes.map { change in
                    var object: [String: JSONValue] = ["field": .string(change.field)]
                    for (side, value) in [("old", change.old), ("new", change.new)] {
                        switch value {
                        case .absent: object[side] = .null
                        case .text(let text): object[side] = .string(text)
                        case .sha256(let digest): object[side + "_sha256"] = .string(digest)
                        }
                    }
                    return .object(object)
                })
        }
        return .object(members)
    }
}

/// An entry's typed content.
public enum LedgerRecord: Sendable, Equatable {
    case genesis(GenesisPayload)
    case policyAdopted(PolicyAdoptedPayload)
    case roundOpened(RoundOpenedPayload)
    case roundCharged(RoundChargedPayload)
    case roundClosed(RoundClosedPayload)
    case roundRefused(RoundRefusedPayload)
    case roundAborted(RoundAbortedPayload)
    case gateDecision(GateDecisionPayload)
    case evaluationRecorded(EvaluationRecordedPayload)
    /// A kind this build does not know; verified by chain and signature only.
    case unknown(kind: String, data: JSONValue)

    /// Decodes `data` according to `kind`.
    public init(kind: String, data: JSONValue) throws(LedgerError) {
        switch kind {
        case GenesisPayload.kind: self = .genesis(try GenesisPayload(data: data))
        case PolicyAdoptedPayload.kind: self = .policyAdopted(try PolicyAdoptedPayload(data: data))
        case RoundOpenedPayload.kind: self = .roundOpened(try RoundOpenedPayload(data: data))
        case RoundChargedPayload.kind: self = .roundCharged(try RoundChargedPayload(data: data))
        case RoundClosedPayload.kind: self = .roundClosed(try RoundClosedPayload(data: data))
        case RoundRefusedPayload.kind: self = .roundRefused(try RoundRefusedPayload(data: data))
        case RoundAbortedPayload.kind: self = .roundAborted(try RoundAbortedPayload(data: data))
        case GateDecisionPayload.kind: self = .gateDecision(try GateDecisionPayload(data: data))
        case EvaluationRecordedPayload.kind: self = .evaluationRecorded(try EvaluationRecordedPayload(data: data))
        default: self = .unknown(kind: kind, data: data)
        }
    }

    /// The round the entry concerns, for kinds that have one.
    public var round: Int? {
        switch self {
        case .genesis, .policyAdopted: nil
        case .roundOpened(let p): p.round
        case .roundCharged(let p): p.round
        case .roundClosed(let p): p.round
        case .roundRefused(let p): p.round
        case .roundAborted(let p): p.round
        case .gateDecision(let p): p.round
        case .evaluationRecorded(let p): p.round
        case .unknown(_, let data): data["round"]?.intValue
        }
    }

    /// Whether the kind is one this build knows.
    public var isKnown: Bool {
        if case .unknown = self { return false }
        return true
    }
}
