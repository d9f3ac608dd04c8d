import CohortCrypto
import CohortPrivacy
import CohortTesting
import Synchronization
import Testing

@testable import CohortLedger

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TemporaryDirectory {
    /// Where a ledger in this directory (as a state directory) lives.
    var ledgerPath: String { path + "/ledger.jsonl" }
}

/// A clock that advances 1.5 s per reading from 2026-11-29T14:00:00.000Z.
final class TestClock: Sendable {
    private let ticks = Atomic<Int64>(0)
    static let start: Int64 = 1_795_960_800_000

    func now() -> LedgerTime {
        let tick = ticks.add(1, ordering: .relaxed).oldValue
        return LedgerTime(millisecondsSinceEpoch: Self.start + tick * 1500)
    }
}

enum Fixtures {
    /// RFC 8032 §7.1 test 1 key pair (public test vector; never a production key).
    static let rfc8032Seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    static let rfc8032Public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

    static func testKey() -> Ed25519.KeyPair {
        let secret = Hex.decode(rfc8032Seed)! + Hex.decode(rfc8032Public)!
        return try! Ed25519.KeyPair(secretKey: SecureBytes(copying: secret))
    }

    static let policyDigest = SHA256.hexDigest(utf8: "policy: example\n")
    static let delta = 1e-5

    static func genesis(key: Ed25519.KeyPair, epsilonMax: Double = 8) -> GenesisPayload {
        GenesisPayload(ledgerPublicKey: key.publicKey, policySHA256: policyDigest, epsilonMax: epsilonMax, delta: delta)
    }

    static let contributors = ["bank-a", "bank-b", "bank-c"]

    /// A charge payload carrying the values the verifier will recompute.
    static func charge(round: Int, state: LedgerState, q: Double = 0.05, sigma: Double = 1.2) -> RoundChargedPayload {
        let mechanism = try! SubsampledGaussian(samplingRate: q, noiseMultiplier: sigma)
        let projected = state.projectedCharge(mechanism: mechanism, delta: delta)
        let clip = 1.0
        let dimension = 31
        let grid = 1e-3 * clip / Double(dimension).squareRoot()
        return RoundChargedPayload(
            round: round, unit: .record, samplingRate: q, noiseMultiplier: sigma, clippingBound: clip,
            sensitivity: clip + grid * Double(dimension).squareRoot(), gridStep: grid, dimension: dimension,
            delta: delta,
            roundEpsilon: projected.roundEpsilon, cumulativeEpsilon: projected.cumulativeEpsilon,
            cumulativeOrder: projected.cumulativeOrder, contributors: contributors,
            updateDigests: Dictionary(
                uniqueKeysWithValues: contributors.map { ($0, SHA256.hexDigest(utf8: "update \($0) \(round)")) })
        )
    }

    /// Writes a complete round (opened, gate, charged, closed) through `writer`.
    static func writeRound(_ round: Int, to writer: LedgerWriter, q: Double = 0.05, sigma: Double = 1.2) throws {
        try writer.append(
            RoundOpenedPayload(
                round: round, participantsSampled: 3, participantsEligible: 4, mechanism: "discrete-gaussian"))
        try writer.append(
            GateDecisionPayload(
                round: round, gate: "quorum", passed: true, reason: "3 of 4 connected",
                inputs: ["connected": 3, "required": 2]))
        try writer.append(charge(round: round, state: writer.state, q: q, sigma: sigma))
        try writer.append(
            RoundClosedPayload(
                round: round, modelSHA256: SHA256.hexDigest(utf8: "model \(round)"),
                checkpoint: "checkpoints/round-\(round).safetensors",
                metrics: ["count": 120, "accuracy": 0.925, "roc_auc": 0.95]
            ))
    }

    /// A ledger written through `LedgerWriter`: genesis, then `rounds` full rounds.
    /// Lines: 1 genesis, 2–5 round 1, 6–9 round 2, …
    @discardableResult
    static func writeLedger(
        in directory: TemporaryDirectory, key: Ed25519.KeyPair, rounds: Int = 3, epsilonMax: Double = 8
    ) throws -> LedgerWriter {
        let clock = TestClock()
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key, genesis: genesis(key: key, epsilonMax: epsilonMax),
            clock: clock.now)
        if rounds > 0 {
            for round in 1...rounds { try writeRound(round, to: writer) }
        }
        return writer
    }

    /// The file's lines without newlines.
    static func lines(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map(Array.init)
    }

    static func join(_ lines: [[UInt8]]) -> [UInt8] {
        lines.flatMap { $0 + [UInt8(ascii: "\n")] }
    }

    /// Re-signs entries from `index` on with `key`, re-chaining `prev`, after `edit` changed
    /// entry `index`'s data: what an attacker holding the key could do.
    static func resign(
        _ lines: [[UInt8]], from index: Int, key: Ed25519.KeyPair, rechain: Bool = true,
        edit: (inout [String: JSONValue]) -> Void = { _ in }
    ) throws -> [[UInt8]] {
        var result = lines
        var prev = index == 0 ? LedgerEntry.genesisPrev : SHA256.hexDigest(lines[index - 1])
        let last = rechain ? lines.count - 1 : index
        for position in index...last {
            let entry = try LedgerEntry(json: JSONParser.parse(lines[position]))
            var data = entry.data.objectValue!
            if position == index { edit(&data) }
            let signed = LedgerEntry.signed(
                seq: entry.seq, time: entry.time, kind: entry.kind, prev: rechain ? prev : entry.prev,
                data: .object(data), key: key)
            result[position] = signed.canonicalLine
            prev = SHA256.hexDigest(result[position])
        }
        return result
    }

    /// Builds ledger bytes from raw (kind, data) pairs signed by `key`, with no checks at all.
    static func forge(_ records: [(String, JSONValue)], key: Ed25519.KeyPair) -> [UInt8] {
        var prev = LedgerEntry.genesisPrev
        var out: [UInt8] = []
        for (seq, (kind, data)) in records.enumerated() {
            let entry = LedgerEntry.signed(
                seq: seq, time: LedgerTime(millisecondsSinceEpoch: TestClock.start + Int64(seq) * 1000), kind: kind,
                prev: prev, data: data, key: key)
            let line = entry.canonicalLine
            prev = SHA256.hexDigest(line)
            out += line + [UInt8(ascii: "\n")]
        }
        return out
    }

    static func read(_ path: String) -> [UInt8] {
        try! LedgerVerifier.readLedger(path)
    }

    /// Replaces the file at `path` with `bytes`.
    static func write(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        #if canImport(Glibc)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        #else
        _ = bytes.withUnsafeBytes { Darwin.write(fd, $0.baseAddress, $0.count) }
        #endif
        close(fd)
    }
}

/// The error thrown by `body`, or nil.
func ledgerError(_ body: () throws -> Void) -> LedgerError? {
    do {
        try body()
        return nil
    } catch let error as LedgerError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}
