import CohortCrypto
import CohortLedger
import Foundation
import Testing

/// `cohort ledger verify` end to end, through the built binary, in both signature modes.
@Suite struct LedgerCommandTests {
    /// A 60-entry synthetic ledger and its key file in a fresh directory.
    struct Files {
        let directory: String
        let key: Ed25519.KeyPair
        var ledger: String { directory + "/ledger.jsonl" }
        var publicKey: String { directory + "/ledger.pub" }

        init() throws {
            directory = NSTemporaryDirectory() + "cohort-cli-ledger-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            key = Ed25519.KeyPair.generate()
            try Data(LedgerBenchmark.syntheticLedger(entries: 60, key: key)).write(to: URL(fileURLWithPath: ledger))
            try KeyFile.writePublic(key.publicKey, kind: .ed25519Public, to: publicKey)
        }

        /// Replaces line `index` (0-based) with the same entry signed by another key; the chain is left as it is.
        func resignLine(_ index: Int) throws {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: ledger)))
            var lines = bytes.split(separator: UInt8(ascii: "\n")).map(Array.init)
            let entry = try LedgerEntry(json: JSONParser.parse(lines[index]))
            lines[index] = LedgerEntry.signed(
                seq: entry.seq, time: entry.time, kind: entry.kind, prev: entry.prev, data: entry.data, key: .generate()
            ).canonicalLine
            try Data(lines.flatMap { $0 + [UInt8(ascii: "\n")] }).write(to: URL(fileURLWithPath: ledger))
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func intactLedgerVerifiesInBothModes() throws {
        let files = try Files()
        defer { files.remove() }
        let cohort = try BuiltBinary("cohort")
        let byDefault = try cohort.run(["ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey])
        #expect(byDefault.status == 0, "\(byDefault.stdout)\(byDefault.stderr)")
        #expect(byDefault.stdout.hasPrefix("OK: 60 entries"))
        #expect(byDefault.stdout.contains("signatures: last entry"))
        let all = try cohort.run(["ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey, "--signatures", "all", "--json"])
        #expect(all.status == 0, "\(all.stdout)\(all.stderr)")
        let object = try json(all.stdout)
        #expect(object["ok"] as? Bool == true)
        #expect(object["signatures_checked"] as? String == "all")
    }

    @Test func reSignedEntryIsNamedInBothModes() throws {
        let files = try Files()
        defer { files.remove() }
        try files.resignLine(20)
        let cohort = try BuiltBinary("cohort")
        for mode in ["last", "all"] {
            let result = try cohort.run([
                "ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey, "--signatures", mode, "--json",
            ])
            #expect(result.status == 1, "\(mode): \(result.stdout)\(result.stderr)")
            let object = try json(result.stdout)
            #expect(object["ok"] as? Bool == false)
            #expect(object["code"] as? String == "ledger.bad_signature", "\(mode)")
            #expect(object["line"] as? Int == 21, "\(mode)")
            #expect(object["seq"] as? Int == 20, "\(mode)")
        }
        let text = try cohort.run(["ledger", "verify", "--ledger", files.ledger, "--public-key", files.publicKey])
        #expect(text.status == 1)
        #expect(text.stdout.hasPrefix("FAILED: "))
        #expect(text.stdout.contains("line 21"))
    }

    /// A file that is not a ledger fails fast with the line-length limit instead of being read whole.
    @Test func devZeroFailsFastWithTheLineLimit() throws {
        let files = try Files()
        defer { files.remove() }
        let cohort = try BuiltBinary("cohort")
        let started = Date()
        let result = try cohort.run(["ledger", "verify", "--ledger", "/dev/zero", "--public-key", files.publicKey, "--json"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let object = try json(result.stdout)
        #expect(object["code"] as? String == "ledger.line_too_long")
        #expect(object["line"] as? Int == 1)
        #expect((object["message"] as? String)?.contains("/dev/zero: line 1 is longer than the limit of 8388608 bytes") == true)
        #expect(Date().timeIntervalSince(started) < 30)
    }
}
