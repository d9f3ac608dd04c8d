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
    /// Generates a realistic ledger of `entries` entries in a temporary directory (genesis, then
    /// rounds of opened → gate.decision → charged → closed, five contributors each), then times
    /// `LedgerVerifier.verify(file:)` on it, file read included. Generation is not timed.
    /// - Returns: the verification time in seconds.
    public static func verifyThroughput(
        entries: Int, signatures: LedgerVerifier.SignatureCheck = .everyEntry
    ) throws -> Double {
        let key = Ed25519.KeyPair.generate()
        var template = Array("/tmp/cohort-ledger-bench-XXXXXX".utf8CString)
        guard let directory = mkdtemp(&template) else {
            throw LedgerError(code: .io, message: "cannot create a temporary directory: \(String(cString: strerror(errno)))")
        }
        let path = String(cString: directory) + "/" + LedgerWriter.fileName
        defer {
            unlink(path)
            rmdir(String(cString: directory))
        }
        try DurableFile.writeAtomically(syntheticLedger(entries: entries, key: key), to: path)
        let start = monotonicSeconds()
        let result = try LedgerVerifier.verify(file: path, publicKey: key.publicKey, signatures: signatures)
        let elapsed = monotonicSeconds() - start
        precondition(result.state.entryCount == entries, "benchmark ledger did not verify completely")
        return elapsed
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
        let perRound = DiscreteGaussianCharge.rdp(of: mechanism)
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
                payload = GenesisPayload(ledgerPublicKey: key.publicKey, policySHA256: String(repeating: "ab", count: 32), epsilonMax: epsilonMax, delta: delta)
            } else {
                switch (seq - 1) % 4 {
                case 0:
                    round += 1
                    payload = RoundOpenedPayload(round: round, participantsSampled: 5, participantsEligible: 6, mechanism: "discrete-gaussian")
                case 1:
                    payload = GateDecisionPayload(round: round, gate: "quorum", passed: true, reason: "5 of 6 connected", inputs: ["connected": 5, "required": 3])
                case 2:
                    for index in total.indices { total[index] += perRound[index] }
                    let cumulative = RDPAccountant.epsilon(orders: orders, rdp: total, delta: delta)
                    payload = RoundChargedPayload(
                        round: round, unit: .record, samplingRate: mechanism.samplingRate, noiseMultiplier: mechanism.noiseMultiplier,
                        clippingBound: 1, sensitivity: 1.001, gridStep: 1e-3 / 1000.0.squareRoot(), dimension: 1000, delta: delta,
                        roundEpsilon: roundEpsilon, cumulativeEpsilon: cumulative.epsilon, cumulativeOrder: cumulative.order,
                        contributors: contributors,
                        updateDigests: Dictionary(uniqueKeysWithValues: contributors.map { ($0, SHA256.hexDigest(utf8: "\($0)/\(round)")) })
                    )
                default:
                    payload = RoundClosedPayload(
                        round: round, modelSHA256: SHA256.hexDigest(utf8: "model/\(round)"), checkpoint: "checkpoints/round-\(round).safetensors",
                        metrics: ["update_norm": 0.8125, "risk_score": 0.125]
                    )
                }
            }
            let entry = LedgerEntry.signed(seq: seq, time: time, kind: type(of: payload).kind, prev: prev, data: payload.data, key: key)
            let line = entry.canonicalLine
            prev = SHA256.hexDigest(line)
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
