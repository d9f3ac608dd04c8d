import CohortCrypto
import CohortTesting
import Testing

@testable import CohortLedger

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Ledger recovery and storage failures", .serialized)
struct LedgerRecoveryTests {
    @Test("recover() truncates a torn final line and nothing else")
    func recoverTornTail() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        do { _ = try Fixtures.writeLedger(in: directory, key: key, rounds: 2) }
        let intact = Fixtures.read(directory.ledgerPath)
        // A crash in the middle of writing the next entry.
        let partial = Array(#"{"data":{"round":3,"#.utf8)
        Fixtures.write(intact + partial, to: directory.ledgerPath)

        #expect(
            ledgerError { _ = try LedgerWriter.open(stateDirectory: directory.path, signingKey: key) }?.code
                == .tornTail)
        let report = try LedgerWriter.recover(stateDirectory: directory.path, publicKey: key.publicKey)
        #expect(report.truncatedAt == intact.count)
        #expect(report.removed == partial)
        #expect(report.entriesKept == 9)
        #expect(Fixtures.read(directory.ledgerPath) == intact)

        // The coordinator can continue; a second recovery finds nothing to do.
        let writer = try LedgerWriter.open(stateDirectory: directory.path, signingKey: key)
        try Fixtures.writeRound(3, to: writer)
        withExtendedLifetime(writer) {}
    }

    @Test("recover() leaves an intact ledger alone")
    func recoverIntact() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        do { _ = try Fixtures.writeLedger(in: directory, key: key, rounds: 1) }
        let before = Fixtures.read(directory.ledgerPath)
        let report = try LedgerWriter.recover(stateDirectory: directory.path, publicKey: key.publicKey)
        #expect(report.truncatedAt == nil)
        #expect(report.entriesKept == 5)
        #expect(Fixtures.read(directory.ledgerPath) == before)
    }

    @Test("recover() refuses other corruption and changes nothing")
    func recoverRefusesCorruption() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        do { _ = try Fixtures.writeLedger(in: directory, key: key, rounds: 2) }
        var lines = Fixtures.lines(Fixtures.read(directory.ledgerPath))
        lines.remove(at: 3)
        let damaged = Fixtures.join(lines) + Array(#"{"da"#.utf8)
        Fixtures.write(damaged, to: directory.ledgerPath)
        let error = ledgerError {
            _ = try LedgerWriter.recover(stateDirectory: directory.path, publicKey: key.publicKey)
        }
        #expect(error?.code == .sequenceGap)
        #expect(error?.line == 4)
        #expect(Fixtures.read(directory.ledgerPath) == damaged)
        // A torn tail with the wrong key is not "recovered" either.
        Fixtures.write(Fixtures.join(Array(lines.prefix(3))) + [0x7b], to: directory.ledgerPath)
        #expect(
            ledgerError {
                _ = try LedgerWriter.recover(
                    stateDirectory: directory.path, publicKey: Ed25519.KeyPair.generate().publicKey)
            }?.code == .wrongKey)
    }

    @Test("recover() after an interrupted genesis empties the file so create() can start again")
    func recoverInterruptedGenesis() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        Fixtures.write(Array(#"{"data":{"accountant""#.utf8), to: directory.ledgerPath)
        #expect(
            ledgerError { _ = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey) }?.code
                == .tornTail)
        let report = try LedgerWriter.recover(stateDirectory: directory.path, publicKey: key.publicKey)
        #expect(report.truncatedAt == 0)
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key))
        #expect(writer.state.entryCount == 1)
    }

    @Test("a full disk leaves the ledger as it was and says what to do (tmpfs of 64 KiB)")
    func fullDisk() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let mountPoint = directory.path + "/small"
        mkdir(mountPoint, 0o755)
        guard system("mount -t tmpfs -o size=64k tmpfs '\(mountPoint)' 2>/dev/null") == 0 else {
            print("skipping the full-disk test: mounting a tmpfs is not permitted here (needs root or CAP_SYS_ADMIN)")
            return
        }
        defer { _ = system("umount '\(mountPoint)'") }
        let key = Fixtures.testKey()
        let writer = try LedgerWriter.create(
            stateDirectory: mountPoint, signingKey: key, genesis: Fixtures.genesis(key: key, epsilonMax: 1e6),
            clock: TestClock().now)
        var failure: LedgerError? = nil
        var round = 1
        while failure == nil && round < 10_000 {
            let before = Fixtures.read(writer.path)
            do {
                try Fixtures.writeRound(round, to: writer)
            } catch let error as LedgerError {
                failure = error
                // The failed append left no partial line: the file is a whole number of entries.
                let after = Fixtures.read(writer.path)
                #expect(after.last == UInt8(ascii: "\n"))
                #expect(after.count >= before.count)
                #expect(Fixtures.lines(after).count == writer.state.entryCount)
            }
            round += 1
        }
        let error = try #require(failure)
        #expect(error.code == .storageFull)
        #expect(error.message.contains("free space"))
        #expect(error.message.contains("unchanged"))
        // Everything written before the failure verifies.
        let state = try LedgerVerifier.verify(file: writer.path, publicKey: key.publicKey).state
        #expect(state == writer.state)
        #expect(state.entryCount > 20)
    }
}
