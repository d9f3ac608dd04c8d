import CohortCrypto
import CohortStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of the coordinator's gate-input store: a governance gate's decision with the exact
/// inputs it judged, when the ledger carries only the decision (docs/PRIVACY.md, "Every channel
/// that leaves a silo or the coordinator").
///
/// The data-quality attestations (rows, label counts, missing rates), the anomaly screen's
/// norms, z-scores and cosines and the risk score's terms are exact functions of silo records:
/// they are shown to the coordinator and its operators only, like the holdout metrics in
/// `EvaluationStore`. The ledger's `gate.decision` keeps the decision and the public rule, and
/// commits to this line (`inputs_sha256`). The line carries a fresh 32-byte salt, so the
/// commitment hides inputs of low entropy (a row count) from a reader who would test guesses.
public struct GateInputRecord: Sendable, Equatable {
    /// The round the decision belongs to.
    public var round: Int
    /// The gate's stable name.
    public var gate: String
    /// The salt, 32 bytes.
    public var salt: [UInt8]
    /// Whether the gate passed.
    public var passed: Bool
    /// The gate's exact reason (with the figures it judged).
    public var reason: String
    /// The exact inputs the gate judged.
    public var inputs: [String: JSONValue]

    /// A record under a fresh salt.
    public init(round: Int, gate: String, passed: Bool, reason: String, inputs: [String: JSONValue]) {
        self.init(
            round: round, gate: gate, salt: SecureRandom.bytes(32), passed: passed, reason: reason, inputs: inputs)
    }

    public init(round: Int, gate: String, salt: [UInt8], passed: Bool, reason: String, inputs: [String: JSONValue]) {
        self.round = round
        self.gate = gate
        self.salt = salt
        self.passed = passed
        self.reason = reason
        self.inputs = inputs
    }

    /// The line's bytes, without its line feed: RFC 8785 canonical JSON of
    /// `{"gate", "inputs", "passed", "reason", "round", "salt"}` (salt in lowercase hex).
    public var line: [UInt8] {
        CanonicalJSON.serialize([
            "round": .integer(round), "gate": .string(gate), "salt": .string(Hex.encode(salt)),
            "passed": .bool(passed), "reason": .string(reason), "inputs": .object(inputs),
        ])
    }

    /// The commitment the ledger records: SHA-256 (hex) of `line`.
    public var sha256: String { SHA256.hexDigest(line) }

    /// Decodes one store line (without its line feed); `path` and `number` locate errors.
    public init(line: [UInt8], path: String, number: Int) throws(LedgerError) {
        func fail(_ what: String) -> LedgerError {
            LedgerError(
                code: .badStore,
                message: "\(path) line \(number): \(what); the gate-input store holds one "
                    + "{\"round\", \"gate\", \"salt\", \"passed\", \"reason\", \"inputs\"} object per line",
                line: number)
        }
        let value: JSONValue
        do { value = try JSONParser.parse(line) } catch { throw fail("not JSON (\(error))") }
        guard case .object(let members) = value,
            Set(members.keys) == ["round", "gate", "salt", "passed", "reason", "inputs"]
        else {
            throw fail("not an object with exactly the members round, gate, salt, passed, reason and inputs")
        }
        guard let round = members["round"]?.intValue, round >= 1 else { throw fail("round must be an integer ≥ 1") }
        guard let gate = members["gate"]?.stringValue, !gate.isEmpty else {
            throw fail("gate must be a non-empty string")
        }
        guard let saltHex = members["salt"]?.stringValue, let salt = Hex.decode(saltHex), salt.count == 32 else {
            throw fail("salt must be 32 bytes in hexadecimal")
        }
        guard case .bool(let passed)? = members["passed"] else { throw fail("passed must be true or false") }
        guard let reason = members["reason"]?.stringValue else { throw fail("reason must be a string") }
        guard let inputs = members["inputs"]?.objectValue else { throw fail("inputs must be an object") }
        self.init(round: round, gate: gate, salt: salt, passed: passed, reason: reason, inputs: inputs)
    }
}

/// The coordinator-side gate-input store, `<state directory>/gate-inputs.jsonl`: one
/// `GateInputRecord` per line, appended and fsynced before the ledger entry that commits to it,
/// mode 0600 — the same mechanism as `EvaluationStore`, for the record-derived inputs of the
/// data-quality, anomaly and risk gates. Never published with the ledger.
public enum GateInputStore {
    /// The store's file name in the state directory.
    public static let fileName = "gate-inputs.jsonl"
    /// Owner read and write only: the inputs are un-noised functions of silo records.
    public static let mode: mode_t = 0o600

    /// The store's path for `stateDirectory`.
    public static func path(stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    /// Appends `record` durably and returns its commitment (`inputs_sha256`).
    @discardableResult
    public static func append(_ record: GateInputRecord, stateDirectory: String) throws(StorageError) -> String {
        let line = record.line
        try DurableFile.appendLine(line, to: path(stateDirectory: stateDirectory), mode: mode)
        return SHA256.hexDigest(line)
    }

    /// Every line of the store at `path`, with its commitment, in file order.
    public static func read(path: String) throws(LedgerError) -> [(record: GateInputRecord, sha256: String)] {
        var result: [(record: GateInputRecord, sha256: String)] = []
        for (number, line) in try StoreLines.read(path: path, store: "gate-input store") {
            result.append((try GateInputRecord(line: line, path: path, number: number), SHA256.hexDigest(line)))
        }
        return result
    }

    /// Checks every `inputs_sha256` in `entries` (a verified ledger's entries) against the store
    /// at `path`: the line it names must exist and be for the same round, gate and decision.
    /// Ledgers without commitments (older ones) check nothing.
    public static func check(
        path: String, against entries: [LedgerEntry]
    ) throws(LedgerError)
        -> EvaluationStore.CheckResult
    {
        var byHash: [String: GateInputRecord] = [:]
        for line in try read(path: path) { byHash[line.sha256] = line.record }
        var referenced: Set<String> = []
        var checked = 0
        for (index, entry) in entries.enumerated() {
            let record: LedgerRecord
            do { record = try entry.record() } catch {
                throw LedgerError(code: error.code, message: error.message, line: index + 1, seq: entry.seq)
            }
            guard case .gateDecision(let decision) = record, let commitment = decision.inputsSHA256 else { continue }
            func fail(_ what: String) -> LedgerError {
                LedgerError(
                    code: .commitmentMismatch,
                    message: "gate.decision \(decision.gate) of round \(decision.round): \(what) (\(path))",
                    line: index + 1, seq: entry.seq)
            }
            guard let stored = byHash[commitment] else {
                throw fail(
                    "no line of the gate-input store has the SHA-256 \(commitment): "
                        + "the store was altered, truncated or is another coordinator's")
            }
            guard stored.round == decision.round, stored.gate == decision.gate, stored.passed == decision.passed else {
                throw fail(
                    "the committed line is for round \(stored.round), gate \(stored.gate), passed \(stored.passed)")
            }
            referenced.insert(commitment)
            checked += 1
        }
        return EvaluationStore.CheckResult(
            commitmentsChecked: checked, unreferencedLines: Set(byHash.keys).subtracting(referenced).count)
    }
}

/// The line format the coordinator's stores share: one JSON object per line, each ending in a
/// line feed; an unterminated last line is an interrupted append.
enum StoreLines {
    /// The lines of the file at `path` with their 1-based numbers, without line feeds.
    static func read(path: String, store: String) throws(LedgerError) -> [(number: Int, line: [UInt8])] {
        let bytes: [UInt8]
        do { bytes = try DurableFile.read(path) } catch {
            throw LedgerError(code: .io, message: "cannot read the \(store): \(error.message)")
        }
        guard !bytes.isEmpty else { return [] }
        guard bytes.last == 0x0A else {
            throw LedgerError(
                code: .badStore, message: "\(path): the last line has no line feed (an interrupted append)")
        }
        return bytes.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false).enumerated()
            .map { ($0.offset + 1, Array($0.element)) }
    }
}
