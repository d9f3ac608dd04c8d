import CohortStorage

/// Federated-holdout metrics of one round's released model, for reports.
public struct RoundEvaluation: Sendable, Equatable {
    /// The round.
    public var round: Int
    /// Accuracy on the federated holdout, in [0, 1].
    public var accuracy: Double?
    /// ROC AUC on the federated holdout, in [0, 1].
    public var rocAUC: Double?
    /// Mean log-loss on the federated holdout, ≥ 0.
    public var loss: Double?
    /// Holdout records evaluated.
    public var count: Int?
    /// Participants that evaluated.
    public var participants: Int?

    public init(
        round: Int, accuracy: Double? = nil, rocAUC: Double? = nil, loss: Double? = nil, count: Int? = nil,
        participants: Int? = nil
    ) {
        self.round = round
        self.accuracy = accuracy
        self.rocAUC = rocAUC
        self.loss = loss
        self.count = count
        self.participants = participants
    }
}

/// Where a report's per-round metrics come from.
public enum RoundEvaluations {
    /// The file name the coordinator writes its exact holdout metrics to, in its state directory.
    public static let fileName = "evaluations.jsonl"

    /// Reads `evaluations.jsonl`: one JSON object per line,
    /// `{"round": N, "model_sha256": "…", "metrics": {"accuracy": x, "roc_auc": y, "count": n, "loss": z}, "participants": k}`
    /// (`loss` and `participants` optional; other members ignored). Blank lines are skipped; a
    /// later line for the same round replaces an earlier one.
    /// - Throws: `LedgerError` (`ledger.not_found`, `ledger.io`, `ledger.bad_entry`) naming the
    ///   file and line of the first bad line, and what was wrong with it.
    public static func read(file path: String) throws(LedgerError) -> [RoundEvaluation] {
        guard DurableFile.exists(path) else {
            throw LedgerError(
                code: .notFound,
                message: "\(path) does not exist; pass the coordinator's \(fileName) or leave --evaluations out")
        }
        let bytes: [UInt8]
        do {
            bytes = try DurableFile.read(path)
        } catch {
            throw LedgerError(code: .io, message: "cannot read \(path): \(error)")
        }
        return try parse(bytes, source: path)
    }

    /// ``read(file:)`` over bytes; `source` names them in errors.
    public static func parse(_ bytes: [UInt8], source: String) throws(LedgerError) -> [RoundEvaluation] {
        var byRound: [Int: RoundEvaluation] = [:]
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            func fail(_ problem: String) -> LedgerError {
                LedgerError(
                    code: .badEntry,
                    message: "\(source) line \(lineNumber): \(problem); each line must be "
                        + "{\"round\": N, \"metrics\": {\"accuracy\": x, \"roc_auc\": y, \"count\": n, \"loss\": z}, \"participants\": k}",
                    line: lineNumber
                )
            }
            let value: JSONValue
            do {
                value = try JSONParser.parse(line)
            } catch {
                throw fail("not JSON (\(error))")
            }
            guard case .object = value else { throw fail("not a JSON object") }
            guard let round = value["round"]?.intValue, round >= 1 else {
                throw fail("\"round\" must be an integer ≥ 1")
            }
            guard case .object(let metrics)? = value["metrics"] else { throw fail("\"metrics\" must be an object") }
            func ratio(_ name: String) throws(LedgerError) -> Double? {
                guard let member = metrics[name] else { return nil }
                guard let number = member.doubleValue, number >= 0, number <= 1 else {
                    throw fail("metrics.\(name) must be a number in [0, 1]")
                }
                return number
            }
            func count(_ member: JSONValue?, _ field: String) throws(LedgerError) -> Int? {
                guard let member else { return nil }
                guard let number = member.intValue, number >= 0 else { throw fail("\(field) must be an integer ≥ 0") }
                return number
            }
            var evaluation = RoundEvaluation(round: round)
            evaluation.accuracy = try ratio("accuracy")
            evaluation.rocAUC = try ratio("roc_auc")
            if let member = metrics["loss"] {
                guard let loss = member.doubleValue, loss.isFinite, loss >= 0 else {
                    throw fail("metrics.loss must be a finite number ≥ 0")
                }
                evaluation.loss = loss
            }
            evaluation.count = try count(metrics["count"], "metrics.count")
            evaluation.participants = try count(value["participants"], "participants")
            byRound[round] = evaluation
        }
        return byRound.values.sorted { $0.round < $1.round }
    }

    /// The metrics older ledgers carry: `round.closed` metrics, or else the aggregate of
    /// `evaluation.recorded` (with its number of participants), by round.
    public static func fromLedger(_ entries: [LedgerEntry]) -> [RoundEvaluation] {
        var closed: [Int: [String: Double]] = [:]
        var recorded: [Int: (aggregate: [String: Double], participants: Int)] = [:]
        for entry in entries {
            switch try? entry.record() {
            case .roundClosed(let p)?: closed[p.round] = p.metrics
            case .evaluationRecorded(let p)?: recorded[p.round] = (p.aggregate, p.participants.count)
            default: break
            }
        }
        var result: [RoundEvaluation] = []
        for round in Set(closed.keys).union(recorded.keys).sorted() {
            let metrics = closed[round].flatMap { $0.isEmpty ? nil : $0 } ?? recorded[round]?.aggregate ?? [:]
            guard metrics["accuracy"] != nil || metrics["roc_auc"] != nil || metrics["loss"] != nil else { continue }
            result.append(
                RoundEvaluation(
                    round: round, accuracy: metrics["accuracy"], rocAUC: metrics["roc_auc"], loss: metrics["loss"],
                    count: metrics["count"].map { Int($0) }, participants: recorded[round]?.participants
                ))
        }
        return result
    }
}
