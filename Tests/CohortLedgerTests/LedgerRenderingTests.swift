import CohortCrypto
import CohortTesting
import Testing

@testable import CohortLedger

@Suite("Ledger show, export and report")
struct LedgerRenderingTests {
    static func entries() throws -> [LedgerEntry] {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 2)
        try writer.append(
            GateDecisionPayload(
                round: 3, gate: "quorum", passed: false, reason: "1 of 4 <connected>", inputs: ["connected": 1]))
        try writer.append(
            RoundRefusedPayload(
                round: 3, gate: "budget", reason: "projected ε 9.1 > 8 & more", projectedEpsilon: 9.1, epsilonMax: 8))
        return try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true)
            .entries
    }

    @Test("the table has one row per entry with round and ε columns")
    func table() throws {
        let entries = try Self.entries()
        let table = LedgerRendering.table(entries)
        let rows = table.split(separator: "\n")
        #expect(rows.count == entries.count + 1)
        #expect(rows[0].hasPrefix("seq"))
        #expect(table.contains("round.charged"))
        #expect(table.contains("REFUSED by budget"))
        #expect(table.contains("gate quorum: FAIL"))
        let charge = try #require(rows.first { $0.contains("round.charged") })
        #expect(charge.contains(LedgerRendering.format(LedgerRendering.row(entries[3]).cumulativeEpsilon!)))
    }

    @Test("CSV quotes the data column; JSON export round-trips the entries")
    func export() throws {
        let entries = try Self.entries()
        let csv = LedgerRendering.csv(entries)
        let rows = csv.split(separator: "\r\n")
        #expect(rows.count == entries.count + 1)
        #expect(rows[0] == "seq,time,kind,round,round_epsilon,cumulative_epsilon,data")
        #expect(rows[4].hasPrefix("3,2026-11-29T14:00:"))
        #expect(
            rows[4].contains(",\"{\"\"charge_method\"\":\"\"mtz-integer-add-symmetric-v2\"\",\"\"clipping_bound\"\":1,")
        )

        let json = try JSONParser.parse(LedgerRendering.json(entries))
        let array = try #require(json.arrayValue)
        #expect(try array.map { try LedgerEntry(json: $0) } == entries)
    }

    @Test("the HTML report is self-contained and escapes text")
    func html() throws {
        let entries = try Self.entries()
        let html = LedgerHTMLReport.render(
            entries: entries, title: "ledger <test>.jsonl", verification: "all 11 entries verified")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<svg"))
        #expect(html.contains("<polyline"))
        #expect(html.contains("stroke-dasharray"))  // the cap line
        #expect(html.contains("ledger &lt;test&gt;.jsonl"))
        #expect(html.contains("projected ε 9.1 &gt; 8 &amp; more"))
        #expect(html.contains("1 of 4 &lt;connected&gt;"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("src="))
        #expect(!html.contains("href="))
        #expect(!html.contains("url("))
        // The only URL is the SVG namespace, which is not fetched.
        #expect(html.occurrences(of: "http") == html.occurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test("evaluations.jsonl: metrics, loss and participants per round; later lines replace earlier ones")
    func evaluationsFile() throws {
        let text = """
            {"round": 1, "model_sha256": "ab", "metrics": {"accuracy": 0.8, "roc_auc": 0.9, "count": 100, "loss": 0.45}, "participants": 3}

            {"round": 2, "metrics": {"accuracy": 0.85, "roc_auc": 0.91, "count": 100}, "participants": 2, "extra": true}
            {"round": 1, "metrics": {"accuracy": 0.81, "roc_auc": 0.9, "count": 100, "loss": 0.44}, "participants": 3}

            """
        let evaluations = try RoundEvaluations.parse(Array(text.utf8), source: "e.jsonl")
        #expect(
            evaluations == [
                RoundEvaluation(round: 1, accuracy: 0.81, rocAUC: 0.9, loss: 0.44, count: 100, participants: 3),
                RoundEvaluation(round: 2, accuracy: 0.85, rocAUC: 0.91, loss: nil, count: 100, participants: 2),
            ])
        let html = LedgerHTMLReport.render(
            entries: try Self.entries(), title: "t", evaluations: evaluations, evaluationsSource: "e.jsonl")
        #expect(html.contains("data-plot=\"holdout-metrics\""))
        #expect(html.contains("data-plot=\"holdout-loss\""))
        #expect(html.contains("Metrics from e.jsonl."))
        #expect(html.contains("<title>round 1: loss 0.44</title>"))
    }

    /// Finite numbers near Double's limit pass every check (an ε cap of 1.7e308, a loss of
    /// 1.7e308) and scale to infinity on a chart; the report still renders, drawing them at the edge.
    @Test("numbers near Double's limit render instead of trapping")
    func hugeFiniteNumbers() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 2, epsilonMax: 1.7e308)
        let entries = try LedgerVerifier.verify(file: writer.path, publicKey: key.publicKey, keepEntries: true).entries
        let evaluations = try RoundEvaluations.parse(
            Array(#"{"round": 1, "metrics": {"loss": 1.7e308, "accuracy": 0.5}}"#.utf8), source: "e.jsonl")
        let html = LedgerHTMLReport.render(
            entries: entries, title: "t", evaluations: evaluations, evaluationsSource: "e.jsonl")
        #expect(html.contains("data-plot=\"epsilon\"") && html.contains("data-plot=\"holdout-loss\""))
        #expect(!html.lowercased().contains("=\"nan") && !html.lowercased().contains("=\"inf"))
    }

    @Test(
        "a bad evaluations line is named with its line and what is wrong",
        arguments: [
            ("not json", "not JSON"),
            ("[1, 2]", "not a JSON object"),
            (#"{"round": 0, "metrics": {}}"#, "\"round\" must be an integer ≥ 1"),
            (#"{"round": 1.5, "metrics": {}}"#, "\"round\" must be an integer ≥ 1"),
            (#"{"round": 1}"#, "\"metrics\" must be an object"),
            (#"{"round": 1, "metrics": {"accuracy": 1.2}}"#, "metrics.accuracy must be a number in [0, 1]"),
            (#"{"round": 1, "metrics": {"roc_auc": "high"}}"#, "metrics.roc_auc must be a number in [0, 1]"),
            (#"{"round": 1, "metrics": {"loss": -1}}"#, "metrics.loss must be a finite number ≥ 0"),
            (#"{"round": 1, "metrics": {"count": 2.5}}"#, "metrics.count must be an integer ≥ 0"),
            (#"{"round": 1, "metrics": {}, "participants": -1}"#, "participants must be an integer ≥ 0"),
        ])
    func badEvaluationsLine(line: String, problem: String) throws {
        let text = #"{"round": 1, "metrics": {"accuracy": 0.8}}"# + "\n" + line + "\n"
        do {
            _ = try RoundEvaluations.parse(Array(text.utf8), source: "state/evaluations.jsonl")
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.code == .badEntry)
            #expect(error.line == 2)
            #expect(error.message.hasPrefix("state/evaluations.jsonl line 2: "), "\(error.message)")
            #expect(error.message.contains(problem), "\(error.message)")
        }
    }

    @Test("without evaluations.jsonl the report reads round.closed metrics from the ledger")
    func metricsFromTheLedger() throws {
        let entries = try Self.entries()
        let fromLedger = RoundEvaluations.fromLedger(entries)
        #expect(fromLedger.count == 2)
        let closed = entries.compactMap { entry -> RoundClosedPayload? in
            if case .roundClosed(let p)? = try? entry.record() { return p } else { return nil }
        }
        #expect(fromLedger.map(\.round) == closed.filter { $0.metrics["accuracy"] != nil }.map(\.round))
        for (evaluation, payload) in zip(fromLedger, closed) {
            #expect(evaluation.accuracy == payload.metrics["accuracy"])
        }
    }
}

extension String {
    func occurrences(of needle: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
