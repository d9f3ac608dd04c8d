import CohortCrypto
import CohortTesting
import Testing

@testable import CohortLedger

/// Verification of a file reads it streaming, a batch of lines at a time, with a maximum line
/// length: a file that is not a ledger fails fast with the file, the line and the limit.
@Suite("Ledger streaming verification")
struct LedgerStreamingTests {
    static let key = Ed25519.KeyPair.generate()

    @Test("/dev/zero fails with ledger.line_too_long after at most the limit")
    func devZero() {
        let error = ledgerError { _ = try LedgerVerifier.verify(file: "/dev/zero", publicKey: Self.key.publicKey) }
        #expect(error?.code == .lineTooLong)
        #expect(error?.line == 1)
        #expect(error?.message.contains("/dev/zero") == true)
        #expect(error?.message.contains("\(LedgerLineReader.maximumLineBytes) bytes") == true)
        // `ledger show` and `export` read through the same reader.
        #expect(ledgerError { _ = try LedgerReader.read(file: "/dev/zero") }?.code == .lineTooLong)
    }

    @Test("an over-long line after valid entries names its line")
    func overLongLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Fixtures.writeLedger(in: directory, key: Self.key, rounds: 1).close()
        var bytes = Fixtures.read(directory.ledgerPath)
        let lineCount = Fixtures.lines(bytes).count
        bytes += [UInt8](repeating: UInt8(ascii: "a"), count: LedgerLineReader.maximumLineBytes + 1) + [0x0A]
        Fixtures.write(bytes, to: directory.ledgerPath)
        let error = ledgerError {
            _ = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: Self.key.publicKey)
        }
        #expect(error?.code == .lineTooLong)
        #expect(error?.line == lineCount + 1)
        #expect(error?.message.contains(directory.ledgerPath) == true)
    }

    @Test("a line of exactly the limit is read (and judged as JSON)")
    func lineAtTheLimit() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        Fixtures.write(
            [UInt8](repeating: UInt8(ascii: "a"), count: LedgerLineReader.maximumLineBytes) + [0x0A],
            to: directory.ledgerPath)
        #expect(
            ledgerError { _ = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: Self.key.publicKey) }?
                .code == .badJSON)
    }

    @Test("batches of any size verify the same ledger and report the same first failure")
    func batchBoundaries() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        Fixtures.write(
            Fixtures.join(Fixtures.lines(LedgerBenchmark.syntheticLedger(entries: 300, key: Self.key))),
            to: directory.ledgerPath)
        for chunk in [1, 2, 7, 299, 300, 301] {
            for verifyAll in [true, false] {
                let (result, torn) = try LedgerVerifier.verifyStreaming(
                    file: directory.ledgerPath, publicKey: Self.key.publicKey, verifyAll: verifyAll, keepEntries: false,
                    chunkSize: chunk)
                #expect(result.state.entryCount == 300)
                #expect(torn == nil)
            }
        }
        // Damage line 150: every chunk size reports line 150.
        var lines = Fixtures.lines(Fixtures.read(directory.ledgerPath))
        lines[149][lines[149].count / 2] ^= 1
        Fixtures.write(Fixtures.join(lines), to: directory.ledgerPath)
        for chunk in [1, 7, 149, 150, 151] {
            let error = ledgerError {
                _ = try LedgerVerifier.verifyStreaming(
                    file: directory.ledgerPath, publicKey: Self.key.publicKey, verifyAll: true, keepEntries: false,
                    chunkSize: chunk)
            }
            #expect(error?.line == 150)
        }
        #expect(
            ledgerError {
                _ = try LedgerVerifier.verify(
                    file: directory.ledgerPath, publicKey: Self.key.publicKey, signatures: .lastEntryOnly)
            }?.line == 150)
    }
}
