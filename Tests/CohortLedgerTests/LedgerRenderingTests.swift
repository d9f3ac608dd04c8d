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
        try writer.append(GateDecisionPayload(round: 3, gate: "quorum", passed: false, reason: "1 of 4 <connected>", inputs: ["connected": 1]))
        try writer.append(RoundRefusedPayload(round: 3, gate: "budget", reason: "projected ε 9.1 > 8 & more", projectedEpsilon: 9.1, epsilonMax: 8))
        return try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true).entries
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
        #expect(rows[4].contains(",\"{\"\"charge_method\"\":\"\"mtz-integer-add-symmetric-v2\"\",\"\"clipping_bound\"\":1,"))

        let json = try JSONParser.parse(LedgerRendering.json(entries))
        let array = try #require(json.arrayValue)
        #expect(try array.map { try LedgerEntry(json: $0) } == entries)
    }

    @Test("the HTML report is self-contained and escapes text")
    func html() throws {
        let entries = try Self.entries()
        let html = LedgerHTMLReport.render(entries: entries, title: "ledger <test>.jsonl", verification: "all 11 entries verified")
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
        #expect(html.occurrences(of: "http") == 1)
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
