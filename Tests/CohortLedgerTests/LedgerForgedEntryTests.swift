import CohortCrypto
import CohortTesting
import Foundation
import Testing

@testable import CohortLedger

/// Ledgers forged by someone holding the signing key, correctly signed and chained, that the
/// verifier must still refuse: each with its own code, the line at fault and what to do, and
/// neither the verifier nor the writer changes the file.
@Suite("Forged ledger entries")
struct LedgerForgedEntryTests {
    /// Two rounds: round 1 at q 0.05, σ 1.2; round 2 at q 1e-4, σ 100, whose charge raises the
    /// cumulative ε by far less than the verifier's relative tolerance (1e-9).
    static func twoRounds(in directory: TemporaryDirectory, key: Ed25519.KeyPair) throws -> [[UInt8]] {
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key),
            clock: TestClock().now)
        try Fixtures.writeRound(1, to: writer)
        try Fixtures.writeRound(2, to: writer, q: 1e-4, sigma: 100)
        writer.close()
        return Fixtures.lines(Fixtures.read(directory.ledgerPath))
    }

    /// Each recorded cumulative ε within the tolerance of its recomputation, but the second below
    /// the first: `ledger.epsilon_decreased` at round 2's charge (line 8), naming both values.
    @Test("a cumulative ε recorded below the previous one is refused")
    func cumulativeEpsilonThatDecreases() throws {
        let directory = try TemporaryDirectory()
        let key = Fixtures.testKey()
        let lines = try Self.twoRounds(in: directory, key: key)
        #expect(lines.count == 9)
        let first = try #require(try LedgerEntry(json: JSONParser.parse(lines[3])).data["cumulative_epsilon"])
        let second = try #require(try LedgerEntry(json: JSONParser.parse(lines[7])).data["cumulative_epsilon"])
        let (c1, c2) = (try #require(first.doubleValue), try #require(second.doubleValue))
        // The premise: round 2 adds less than 9e-10 of the total, so ±4.5e-10 edits can invert the order.
        #expect(c2 >= c1 && (c2 - c1) / c1 < 9e-10, "round 2 moved ε from \(c1) to \(c2)")
        let raisedFirst = c1 * (1 + 4.5e-10)
        let loweredSecond = c2 * (1 - 4.5e-10)
        #expect(loweredSecond < raisedFirst)
        var forged = try Fixtures.resign(lines, from: 3, key: key) { $0["cumulative_epsilon"] = .number(raisedFirst) }
        forged = try Fixtures.resign(forged, from: 7, key: key) { $0["cumulative_epsilon"] = .number(loweredSecond) }
        Fixtures.write(Fixtures.join(forged), to: directory.ledgerPath)
        let before = Fixtures.read(directory.ledgerPath)

        let error = ledgerError {
            _ = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey)
        }
        #expect(error?.code == .epsilonDecreased)
        #expect(error?.line == 8, "names round 2's round.charged: \(String(describing: error))")
        #expect(error?.message.contains("is below the previous charge's \(raisedFirst)") == true)
        #expect(error?.message.contains("\(loweredSecond)") == true)
        // Each edit alone stays within the tolerance: the first charge of the forgery verifies.
        #expect(LedgerTamperTests.verify(Fixtures.join(Array(forged.prefix(5))), key: key.publicKey) == nil)
        // The coordinator's writer refuses to open it the same way, and nothing is changed.
        let opening = ledgerError { _ = try LedgerWriter.open(stateDirectory: directory.path, signingKey: key) }
        #expect(opening?.code == .epsilonDecreased)
        #expect(Fixtures.read(directory.ledgerPath) == before)
    }

    /// An entry of a format version this build does not know, correctly signed and chained, is
    /// refused with `ledger.unsupported_version` at its line, telling the reader to upgrade.
    @Test("an entry of an unknown format version is refused at its line")
    func unknownFormatVersion() throws {
        let directory = try TemporaryDirectory()
        let key = Fixtures.testKey()
        var lines = try Self.twoRounds(in: directory, key: key)
        let entry = try LedgerEntry(json: JSONParser.parse(lines[5]))
        let unsigned = LedgerEntry.unsignedObject(
            version: LedgerEntry.formatVersion + 1, seq: entry.seq, time: entry.time, kind: entry.kind,
            prev: entry.prev, data: entry.data)
        let future = LedgerEntry(
            version: LedgerEntry.formatVersion + 1, seq: entry.seq, time: entry.time, kind: entry.kind,
            prev: entry.prev, data: entry.data, signature: key.sign(CanonicalJSON.serialize(.object(unsigned))))
        #expect(future.hasValidSignature(publicKey: key.publicKey))
        lines[5] = future.canonicalLine
        let rechained = try Fixtures.resign(lines, from: 6, key: key)
        Fixtures.write(Fixtures.join(rechained), to: directory.ledgerPath)
        let before = Fixtures.read(directory.ledgerPath)

        let error = ledgerError {
            _ = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey)
        }
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.line == 6, "names the entry: \(String(describing: error))")
        #expect(error?.message.contains("format version 2 is not supported (this build reads v1)") == true)
        #expect(error?.message.contains("use a newer verifier") == true)
        // The entries before it are intact: the prefix verifies.
        #expect(LedgerTamperTests.verify(Fixtures.join(Array(rechained.prefix(5))), key: key.publicKey) == nil)
        let opening = ledgerError { _ = try LedgerWriter.open(stateDirectory: directory.path, signingKey: key) }
        #expect(opening?.code == .unsupportedVersion)
        #expect(Fixtures.read(directory.ledgerPath) == before)
    }
}
