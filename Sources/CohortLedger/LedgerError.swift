import CohortErrors

/// A ledger failure: a verification finding, a storage problem or a misuse.
///
/// `code` is stable (scripts and the wire match on it); `message` says what was wrong, where,
/// and what to do. `line` (1-based) and `seq` name the entry when one is involved. Messages never
/// contain key material.
public struct LedgerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A stable error code such as `ledger.chain_broken`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A line is not valid JSON (or not an object).
        public static let badJSON = Code(rawValue: "ledger.bad_json")
        /// A line parses but is not byte-identical to its RFC 8785 canonical form.
        public static let notCanonical = Code(rawValue: "ledger.not_canonical")
        /// An entry lacks a field, has one of the wrong type, or has an extra top-level field.
        public static let badEntry = Code(rawValue: "ledger.bad_entry")
        /// The format version `v` is not one this build understands.
        public static let unsupportedVersion = Code(rawValue: "ledger.unsupported_version")
        /// `prev` does not equal the SHA-256 of the previous line.
        public static let chainBroken = Code(rawValue: "ledger.chain_broken")
        /// `seq` is not the previous seq + 1 (or the first entry is not seq 0).
        public static let sequenceGap = Code(rawValue: "ledger.sequence_gap")
        /// `time` is earlier than the previous entry's.
        public static let timeRegressed = Code(rawValue: "ledger.time_regressed")
        /// The Ed25519 signature does not verify under the ledger key.
        public static let badSignature = Code(rawValue: "ledger.bad_signature")
        /// The genesis key differs from the public key the verifier was given.
        public static let wrongKey = Code(rawValue: "ledger.wrong_key")
        /// The first entry is not a genesis entry, or a second genesis appears.
        public static let badGenesis = Code(rawValue: "ledger.bad_genesis")
        /// A recorded ε differs from the independent recomputation.
        public static let epsilonMismatch = Code(rawValue: "ledger.epsilon_mismatch")
        /// A recorded cumulative ε is below the previous one.
        public static let epsilonDecreased = Code(rawValue: "ledger.epsilon_decreased")
        /// A round's entries are out of order (e.g. closed without a charge, charged twice).
        public static let roundOrder = Code(rawValue: "ledger.round_order")
        /// The recorded sensitivity is below C + γ√d.
        public static let sensitivityMismatch = Code(rawValue: "ledger.sensitivity_mismatch")
        /// A `round.charged` entry differs from the plan its `round.opened` froze, or a plan is
        /// not at the ledger's δ.
        public static let planMismatch = Code(rawValue: "ledger.plan_mismatch")
        /// A line of a coordinator-side store (`evaluations.jsonl`, `participant-samples.jsonl`)
        /// does not match the commitment the ledger carries, or a committed line is missing.
        public static let commitmentMismatch = Code(rawValue: "ledger.commitment_mismatch")
        /// A line of a coordinator-side store is not of its format.
        public static let badStore = Code(rawValue: "ledger.bad_store")
        /// Cumulative ε exceeds epsilon_max, or decreased.
        public static let budgetExceeded = Code(rawValue: "ledger.budget_exceeded")
        /// The final line has no trailing newline (a write interrupted by a crash).
        public static let tornTail = Code(rawValue: "ledger.torn_tail")
        /// A line is longer than the reader's limit (8 MiB): the file is not a ledger.
        public static let lineTooLong = Code(rawValue: "ledger.line_too_long")
        /// The file holds no entries.
        public static let empty = Code(rawValue: "ledger.empty")
        /// The file system is full; nothing was written.
        public static let storageFull = Code(rawValue: "ledger.storage_full")
        /// Another process holds the ledger lock.
        public static let locked = Code(rawValue: "ledger.locked")
        /// A ledger already exists where a new one was to be created.
        public static let alreadyExists = Code(rawValue: "ledger.already_exists")
        /// No ledger exists where one was to be opened.
        public static let notFound = Code(rawValue: "ledger.not_found")
        /// A read, write, sync or truncate failed for another reason.
        public static let io = Code(rawValue: "ledger.io")
        /// The writer refused an entry because it would not verify.
        public static let invalidEntry = Code(rawValue: "ledger.invalid_entry")
        /// A previous write failed in a way that leaves the writer's view uncertain.
        public static let writerPoisoned = Code(rawValue: "ledger.writer_poisoned")
    }

    /// The stable code.
    public let code: Code
    /// What was wrong, where, and what to do.
    public let message: String
    /// The 1-based line number of the entry involved, if any.
    public let line: Int?
    /// The `seq` of the entry involved, when it could be read.
    public let seq: Int?

    public init(code: Code, message: String, line: Int? = nil, seq: Int? = nil) {
        self.code = code
        self.message = message
        self.line = line
        self.seq = seq
    }

    public var description: String {
        var location = ""
        if let line { location += "line \(line)" }
        if let seq { location += location.isEmpty ? "seq \(seq)" : " (seq \(seq))" }
        return location.isEmpty ? "\(code): \(message)" : "\(code): \(location): \(message)"
    }
}

extension LedgerError: CohortError {
    public var errorCode: String { code.rawValue }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory {
        switch code {
        case .io, .storageFull, .locked, .writerPoisoned: .internalFailure
        case .notFound: .notFound
        case .alreadyExists: .conflict
        default: .invalidInput
        }
    }
}
