import CohortCrypto
import CohortPrivacy
import CohortTesting
import Testing

@testable import CohortLedger

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The worked example of docs/LEDGER.md, regenerated and compared byte for byte, so the document
/// cannot drift from the code. Set COHORT_LEDGER_EXAMPLE_DIR to also keep the ledger and key file.
@Suite("docs/LEDGER.md worked example")
struct DocExampleTests {
    static func exampleLedger(in directory: String) throws -> LedgerWriter {
        let key = Fixtures.testKey()
        let times = [
            "2026-11-29T14:00:00.000Z", "2026-11-29T14:05:00.250Z", "2026-11-29T14:05:00.250Z",
            "2026-11-29T14:09:30.500Z",
        ]
        .map { LedgerTime($0)! }
        let counter = TestClock()
        let clock: @Sendable () -> LedgerTime = {
            let tick = Int((counter.now().millisecondsSinceEpoch - TestClock.start) / 1500)
            return times[min(tick, times.count - 1)]
        }
        let genesis = GenesisPayload(
            ledgerPublicKey: key.publicKey, policySHA256: SHA256.hexDigest(utf8: "example policy\n"), epsilonMax: 8,
            delta: 1e-5
        )
        let writer = try LedgerWriter.create(stateDirectory: directory, signingKey: key, genesis: genesis, clock: clock)
        // Record unit, N = 1,000 attested records: Δ = C + γ√d + 2^-23·N·C + 10^-6·C.
        let plan = RoundPlanRecord(
            unit: .record, samplingRate: 0.02, noiseMultiplier: 1.1, clippingBound: 1, gridStep: 0.0001,
            sensitivity: 1.001 + 0x1p-23 * 1000 + 1e-6, dimension: 100, records: 1000,
            chargeMethod: .integerAddSymmetric, delta: 1e-5)
        // The round opens on its passing budget decision, whose projection the charge must equal.
        let projected = try writer.state.projectedCharge(plan: plan)
        try writer.append(
            GateDecisionPayload(
                round: 1, gate: "budget", passed: true, reason: "within epsilon_max",
                inputs: ["projected_epsilon": .number(projected.cumulativeEpsilon), "epsilon_max": 8]))
        try writer.append(
            RoundOpenedPayload(
                round: 1, participantsSampled: 2, participantsEligible: 2,
                mechanism: "poisson-subsampled-discrete-gaussian", plan: plan))
        try writer.append(
            RoundChargedPayload(
                round: 1, plan: plan, projected: projected, contributors: ["hospital-a", "hospital-b"],
                updateDigests: [
                    "hospital-a": SHA256.hexDigest(utf8: "update a"), "hospital-b": SHA256.hexDigest(utf8: "update b"),
                ]
            ))
        return writer
    }

    @Test("the example's lines, hashes and signatures are the documented ones")
    func example() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let target = getenv("COHORT_LEDGER_EXAMPLE_DIR").map { String(cString: $0) } ?? directory.path
        _ = try Self.exampleLedger(in: target)
        let bytes = Fixtures.read(target + "/ledger.jsonl")
        let lines = Fixtures.lines(bytes)
        if getenv("COHORT_LEDGER_EXAMPLE_DIR") != nil {
            try KeyFile.writePublic(Fixtures.testKey().publicKey, kind: .ed25519Public, to: target + "/ledger.pub")
            for line in lines {
                let entry = try LedgerEntry(json: JSONParser.parse(line))
                print("LINE \(String(decoding: line, as: UTF8.self))")
                print("SIGNED \(String(decoding: entry.signedBytes, as: UTF8.self))")
                print("SHA256 \(SHA256.hexDigest(line))")
                print("SIG \(Base64.encode(entry.signature))")
            }
        }
        #expect(lines.count == 4)
        #expect(lines.map { SHA256.hexDigest($0) } == Self.documentedHashes)
        #expect(
            try lines.map { Base64.encode(try LedgerEntry(json: JSONParser.parse($0)).signature) }
                == Self.documentedSignatures)
    }

    static let documentedHashes = [
        "c866af190276e998aed3525cc2755a12d557dd7ba11170c678d061dd46f2f85b",
        "ee78d4dd1787eb8ac5609ef1f2ce90c65110e5879c0a7ee393b08edd5cc671dd",
        "1097c5e7ffd5153f8d4f68d37bead1c92e3064df1dde17e47ce5e8cbe947c5ee",
        "cfcd461a2bb84e0e5c165a85defcaa9524970ed88954bfbac2ff5b0ad434732c",
    ]
    static let documentedSignatures = [
        "RVFhviI9OrnlN3Y9kLBm/GV7c5AJ7QfgcvG+DmsT3+92t5jYt7VylyF73aYTBcmmpAvYS8Gp/cfUtPTDqf7vDg==",
        "QG8LBJqt1tdEQFZlhPWFGQQ5vanBREDF3OsIMt5kAkQrCcUJK+KaFmHGrTUb8LPr7hX9DIxmSsoY2cjD5/JdBQ==",
        "6y8uYeR/aX6b4S5lSB5A3ulHw61/hDq0w5UxteKET0FRQ5ui1B24Btq2JpAQhJK0/+qc8U4/RIf1LA8JPGRzDw==",
        "H5/VCjGLltbw/skx4i5M6PKCjiBOIjZMq4nMZu9/cGfza+NTWe+ooEpzgrSgF8I+9IiOi3SKvHwcj8j/YivhDA==",
    ]
}
