import CohortCrypto
import CohortStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of the coordinator's evaluation store: the exact federated evaluation of one
/// round's model on the participants' holdouts.
///
/// Holdout records are un-protected data shown to the coordinator and its operators only
/// (docs/PRIVACY.md), so the exact metrics stay in the state directory; the ledger carries the
/// SHA-256 of the line (`evaluation_sha256`), which an auditor given the store can check.
public struct EvaluationRecord: Sendable, Equatable {
    /// The round whose model was evaluated.
    public var round: Int
    /// SHA-256 (hex) of the evaluated model's checkpoint file (the round's `model_sha256`).
    public var modelSHA256: String
    /// Aggregate metrics (`LedgerMetric` names: accuracy, precision, recall, f1, roc_auc, count, loss);
    /// empty when no participant evaluated.
    public var metrics: [String: Double]
    /// How many participants' evaluations were merged.
    public var participants: Int

    public init(round: Int, modelSHA256: String, metrics: [String: Double], participants: Int) {
        self.round = round
        self.modelSHA256 = modelSHA256
        // JSON holds no NaN or infinity: a metric that is not finite is left out.
        self.metrics = metrics.filter { $0.value.isFinite }
        self.participants = participants
    }

    /// The line's bytes, without its line feed: RFC 8785 canonical JSON of
    /// `{"metrics": {…}, "model_sha256": "…", "participants": k, "round": n}`.
    public var line: [UInt8] {
        CanonicalJSON.serialize([
            "round": .integer(round), "model_sha256": .string(modelSHA256), "metrics": metrics.json,
            "participants": .integer(participants),
        ])
    }

    /// The commitment the ledger records: SHA-256 (hex) of `line`.
    public var sha256: String { SHA256.hexDigest(line) }

    /// Decodes one store line (without its line feed); `path` and `number` locate errors.
    public init(line: [UInt8], path: String, number: Int) throws(LedgerError) {
        func fail(_ what: String) -> LedgerError {
            LedgerError(
                code: .badStore,
                message: "\(path) line \(number): \(what); the evaluation store holds one "
                    + "{\"round\", \"model_sha256\", \"metrics\", \"participants\"} object per line", line: number)
        }
        let value: JSONValue
        do { value = try JSONParser.parse(line) } catch { throw fail("not JSON (\(error))") }
        guard case .object(let members) = value,
            Set(members.keys) == ["round", "model_sha256", "metrics", "participants"]
        else {
            throw fail("not an object with exactly the members round, model_sha256, metrics and participants")
        }
        guard let round = members["round"]?.intValue, round >= 1 else { throw fail("round must be an integer ≥ 1") }
        guard let model = members["model_sha256"]?.stringValue, PayloadFields.isSHA256Hex(model) else {
            throw fail("model_sha256 must be 64 lowercase hexadecimal digits")
        }
        guard let participants = members["participants"]?.intValue, participants >= 0 else {
            throw fail("participants must be an integer ≥ 0")
        }
        guard let object = members["metrics"]?.objectValue else { throw fail("metrics must be an object of numbers") }
        var metrics: [String: Double] = [:]
        for (name, number) in object {
            guard let number = number.doubleValue else { throw fail("metrics.\(name) must be a number") }
            metrics[name] = number
        }
        do {
            try LedgerMetric.validate(metrics, field: "metrics", kind: "evaluation store")
        } catch {
            throw fail(error.message)
        }
        self.init(round: round, modelSHA256: model, metrics: metrics, participants: participants)
    }
}

/// The coordinator-side evaluation store, `<state directory>/evaluations.jsonl`: one
/// `EvaluationRecord` per line, appended and fsynced before the ledger entry that commits to it,
/// mode 0600. Read by operators' tools (`cohort ledger report --evaluations`, round status),
/// never published with the ledger.
public enum EvaluationStore {
    /// The store's file name in the state directory.
    public static let fileName = "evaluations.jsonl"
    /// Owner read and write only: the metrics are un-noised functions of holdout records.
    public static let mode: mode_t = 0o600

    /// The store's path for `stateDirectory`.
    public static func path(stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    /// Appends `record` durably and returns its commitment (`evaluation_sha256`).
    @discardableResult
    public static func append(_ record: EvaluationRecord, stateDirectory: String) throws(StorageError) -> String {
        let line = record.line
        try DurableFile.appendLine(line, to: path(stateDirectory: stateDirectory), mode: mode)
        return SHA256.hexDigest(line)
    }

    /// Every line of the store at `path`, with its commitment, in file order.
    public static func read(path: String) throws(LedgerError) -> [(record: EvaluationRecord, sha256: String)] {
        var result: [(record: EvaluationRecord, sha256: String)] = []
        for (number, line) in try StoreLines.read(path: path, store: "evaluation store") {
            result.append((try EvaluationRecord(line: line, path: path, number: number), SHA256.hexDigest(line)))
        }
        return result
    }

    /// What `check` compared.
    public struct CheckResult: Sendable, Equatable {
        /// Ledger entries whose `evaluation_sha256` matched a store line.
        public let commitmentsChecked: Int
        /// Store lines no ledger entry commits to (evaluations of models that were never released).
        public let unreferencedLines: Int
    }

    /// Checks every `evaluation_sha256` in `entries` (a verified ledger's entries) against the
    /// store at `path`: the line it names must exist, be for the same round, and — for
    /// `round.closed` — for the released model (`model_sha256`); for `evaluation.recorded`,
    /// `participants` must equal `participants_evaluated`. Ledgers without commitments (older
    /// ones) check nothing.
    public static func check(path: String, against entries: [LedgerEntry]) throws(LedgerError) -> CheckResult {
        let lines = try read(path: path)
        var byHash: [String: EvaluationRecord] = [:]
        for line in lines { byHash[line.sha256] = line.record }
        var referenced: Set<String> = []
        var checked = 0
        for (index, entry) in entries.enumerated() {
            let record: LedgerRecord
            do { record = try entry.record() } catch {
                throw LedgerError(code: error.code, message: error.message, line: index + 1, seq: entry.seq)
            }
            let commitment: String
            let round: Int
            var model: String?
            var participants: Int?
            switch record {
            case .roundClosed(let closed):
                guard let sha = closed.evaluationSHA256 else { continue }
                (commitment, round, model) = (sha, closed.round, closed.modelSHA256)
            case .evaluationRecorded(let evaluation):
                guard let sha = evaluation.evaluationSHA256 else { continue }
                (commitment, round, participants) = (sha, evaluation.round, evaluation.participantsEvaluated)
            default:
                continue
            }
            func fail(_ what: String) -> LedgerError {
                LedgerError(
                    code: .commitmentMismatch, message: "\(entry.kind) of round \(round): \(what) (\(path))",
                    line: index + 1, seq: entry.seq)
            }
            guard let stored = byHash[commitment] else {
                throw fail(
                    "no line of the evaluation store has the SHA-256 \(commitment): "
                        + "the store was altered, truncated or is another coordinator's"
                )
            }
            guard stored.round == round else { throw fail("the committed line is for round \(stored.round)") }
            if let model, stored.modelSHA256 != model {
                throw fail("the committed line is for model \(stored.modelSHA256), not \(model)")
            }
            if let participants, stored.participants != participants {
                throw fail(
                    "the committed line merged \(stored.participants) evaluations, the entry says \(participants)")
            }
            referenced.insert(commitment)
            checked += 1
        }
        return CheckResult(
            commitmentsChecked: checked, unreferencedLines: Set(byHash.keys).subtracting(referenced).count)
    }
}
