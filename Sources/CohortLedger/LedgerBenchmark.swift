import CohortCrypto
import CohortPrivacy
import CohortStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures ledger verification on a synthetic ledger; called by `cohort-bench`.
public enum LedgerBenchmark {
    /// A synthetic ledger written to a temporary directory.
    public struct Fixture: Sendable {
        /// The ledger file.
        public let path: String
        /// The directory holding it.
        public let directory: String
        /// The key that signed it.
        public let publicKey: [UInt8]
        /// The number of entries.
        public let entries: Int
        /// The file's size in bytes.
        public let bytes: Int

        /// Deletes the file and its directory.
        public func remove() {
            unlink(path)
            rmdir(directory)
        }
    }

    /// Generates a realistic ledger of `entries` entries in a temporary directory (genesis, then
    /// rounds of opened → gate.decision → charged → closed, five contributors each).
    public static func makeFixture(entries: Int) throws -> Fixture {
        let key = Ed25519.KeyPair.generate()
        var template = Array("/tmp/cohort-ledger-bench-XXXXXX".utf8CString)
        guard let pointer = mkdtemp(&template) else {
            throw LedgerError(
                code: .io, message: "cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: pointer)
        let path = directory + "/" + LedgerWriter.fileName
        let bytes = syntheticLedger(entries: entries, key: key)
        try DurableFile.writeAtomically(bytes, to: path)
        return Fixture(path: path, directory: directory, publicKey: key.publicKey, entries: entries, bytes: bytes.count)
    }

    /// Seconds for `LedgerVerifier.verify(file:)` on `fixture`, file read included.
    public static func timeVerify(_ fixture: Fixture, signatures: LedgerVerifier.SignatureCheck) throws -> Double {
        let start = monotonicSeconds()
        let result = try LedgerVerifier.verify(file: fixture.path, publicKey: fixture.publicKey, signatures: signatures)
        let elapsed = monotonicSeconds() - start
        precondition(result.state.entryCount == fixture.entries, "benchmark ledger did not verify completely")
        return elapsed
    }

    /// Reference costs measured on the same file in the same run, on one core.
    public struct References: Sendable {
        /// Seconds to SHA-256 every line with libsodium (`CohortCrypto.SHA256`, portable C).
        public let sha256LibsodiumSeconds: Double
        /// Seconds to SHA-256 every line as the verifier does (swift-crypto, CPU SHA instructions).
        public let sha256LineHashSeconds: Double
        /// Seconds for one Ed25519 signature check (libsodium) of a real entry, median of batches.
        public let ed25519VerifySeconds: Double
        /// Seconds to parse every line with the canonical-form check (no envelope, hash or state).
        public let parseSeconds: Double
        /// Cores the verifier spreads per-line work over.
        public let cores: Int
    }

    /// Measures the references on `fixture`.
    public static func references(_ fixture: Fixture) throws -> References {
        let bytes = try LedgerVerifier.readLedger(fixture.path)
        let ranges = LedgerVerifier.lineRanges(bytes).complete
        return bytes.withUnsafeBufferPointer { buffer in
            func timed(_ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Double {
                let start = monotonicSeconds()
                for range in ranges { body(UnsafeBufferPointer(rebasing: buffer[range])) }
                return monotonicSeconds() - start
            }
            var sink = 0
            let libsodium = timed { sink &+= Int(SHA256.digest(UnsafeRawBufferPointer($0))[0]) }
            let fast = timed { sink &+= LineHash.hex(UnsafeRawBufferPointer($0)).utf8.count }
            let parse = timed { line in
                if let parsed = try? JSONParser.parseNotingCanonicalForm(buffer: line), parsed.isCanonical {
                    sink &+= 1
                }
            }
            // One entry's signature, checked repeatedly: the median of 9 batches of 50.
            let last = UnsafeBufferPointer(rebasing: buffer[ranges[ranges.count - 1]])
            let entry = try! LedgerEntry(json: JSONParser.parse(buffer: last))
            let message = LedgerVerifier.signedBytes(ofCanonicalLine: last)
            var batches: [Double] = []
            for _ in 0..<9 {
                let start = monotonicSeconds()
                for _ in 0..<50
                where Ed25519.verify(signature: entry.signature, message: message, publicKey: fixture.publicKey) {
                    sink &+= 1
                }
                batches.append((monotonicSeconds() - start) / 50)
            }
            precondition(sink != 0)
            return References(
                sha256LibsodiumSeconds: libsodium, sha256LineHashSeconds: fast,
                ed25519VerifySeconds: batches.sorted()[4],
                parseSeconds: parse, cores: LedgerVerifier.processorCount
            )
        }
    }

    /// Generates a ledger of `entries` entries, times one verification and deletes it.
    /// - Returns: the verification time in seconds.
    public static func verifyThroughput(
        entries: Int, signatures: LedgerVerifier.SignatureCheck = .everyEntry
    ) throws -> Double {
        let fixture = try makeFixture(entries: entries)
        defer { fixture.remove() }
        return try timeVerify(fixture, signatures: signatures)
    }

    /// The bytes of a valid ledger with `entries` entries signed by `key`.
    ///
    /// Written in memory without the writer's per-entry fsync; the charges carry the values the
    /// verifier recomputes (one mechanism, so its RDP curve is computed once).
    public static func syntheticLedger(entries: Int, key: Ed25519.KeyPair, epsilonMax: Double = 1e6) -> [UInt8] {
        precondition(entries >= 1)
        let delta = 1e-5
        let orders = DiscreteGaussianCharge.orders
        // Valid by construction (q ∈ (0, 1], σ > 0).
        let mechanism = try! SubsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1)
        let perRound = try! DiscreteGaussianCharge.rdp(of: mechanism, method: .current)
        let roundEpsilon = RDPAccountant.epsilon(orders: orders, rdp: perRound, delta: delta).epsilon
        var total = Array(repeating: 0.0, count: orders.count)
        var out: [UInt8] = []
        out.reserveCapacity(entries * 900)
        var prev = LedgerEntry.genesisPrev
        var time = LedgerTime(millisecondsSinceEpoch: 1_795_960_800_000)
        let contributors = (1...5).map { "hospital-\($0)" }
        var round = 0
        for seq in 0..<entries {
            let payload: any LedgerPayload
            if seq == 0 {
                payload = GenesisPayload(
                    ledgerPublicKey: key.publicKey, policySHA256: String(repeating: "ab", count: 32),
                    epsilonMax: epsilonMax, delta: delta)
            } else {
                switch (seq - 1) % 4 {
                case 0:
                    round += 1
                    payload = RoundOpenedPayload(
                        round: round, participantsSampled: 5, participantsEligible: 6, mechanism: "discrete-gaussian")
                case 1:
                    payload = GateDecisionPayload(
                        round: round, gate: "quorum", passed: true, reason: "5 of 6 connected",
                        inputs: ["connected": 5, "required": 3])
                case 2:
                    for index in total.indices { total[index] += perRound[index] }
                    let cumulative = RDPAccountant.epsilon(orders: orders, rdp: total, delta: delta)
                    payload = RoundChargedPayload(
                        round: round, unit: .record, samplingRate: mechanism.samplingRate,
                        noiseMultiplier: mechanism.noiseMultiplier,
                        clippingBound: 1, sensitivity: 1.001, gridStep: 1e-3 / 1000.0.squareRoot(), dimension: 1000,
                        delta: delta,
                        roundEpsilon: roundEpsilon, cumulativeEpsilon: cumulative.epsilon,
                        cumulativeOrder: cumulative.order,
                        contributors: contributors,
                        updateDigests: Dictionary(
                            uniqueKeysWithValues: contributors.map { ($0, SHA256.hexDigest(utf8: "\($0)/\(round)")) })
                    )
                default:
                    payload = RoundClosedPayload(
                        round: round, modelSHA256: SHA256.hexDigest(utf8: "model/\(round)"),
                        checkpoint: "checkpoints/round-\(round).safetensors",
                        metrics: [
                            "count": 512, "accuracy": 0.9375, "precision": 0.9, "recall": 0.875, "f1": 0.8875,
                            "roc_auc": 0.96875,
                        ]
                    )
                }
            }
            let entry = LedgerEntry.signed(
                seq: seq, time: time, kind: type(of: payload).kind, prev: prev, data: payload.data, key: key)
            let line = entry.canonicalLine
            prev = LineHash.hex(line)
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
            time = LedgerTime(millisecondsSinceEpoch: time.millisecondsSinceEpoch + 250)
        }
        return out
    }

    static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
