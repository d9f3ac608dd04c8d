import CohortCrypto
import CohortPrivacy
import Testing
@testable import CohortLedger
#if canImport(Glibc)
import Glibc
#endif

/// The worked example of docs/LEDGER.md, regenerated and compared byte for byte, so the document
/// cannot drift from the code. Set COHORT_LEDGER_EXAMPLE_DIR to also keep the ledger and key file.
@Suite("docs/LEDGER.md worked example")
struct DocExampleTests {
    static func exampleLedger(in directory: String) throws -> LedgerWriter {
        let key = Fixtures.testKey()
        let times = ["2026-11-29T14:00:00.000Z", "2026-11-29T14:05:00.250Z", "2026-11-29T14:09:30.500Z"].map { LedgerTime($0)! }
        let counter = TestClock()
        let clock: @Sendable () -> LedgerTime = {
            let tick = Int((counter.now().millisecondsSinceEpoch - TestClock.start) / 1500)
            return times[min(tick, times.count - 1)]
        }
        let genesis = GenesisPayload(
            ledgerPublicKey: key.publicKey, policySHA256: SHA256.hexDigest(utf8: "example policy\n"), epsilonMax: 8, delta: 1e-5
        )
        let writer = try LedgerWriter.create(stateDirectory: directory, signingKey: key, genesis: genesis, clock: clock)
        try writer.append(RoundOpenedPayload(round: 1, participantsSampled: 2, participantsEligible: 2, mechanism: "discrete-gaussian"))
        let mechanism = try SubsampledGaussian(samplingRate: 0.02, noiseMultiplier: 1.1)
        let projected = writer.state.projectedCharge(mechanism: mechanism, delta: 1e-5)
        try writer.append(RoundChargedPayload(
            round: 1, unit: .record, samplingRate: 0.02, noiseMultiplier: 1.1, clippingBound: 1, sensitivity: 1.001, gridStep: 0.0001,
            dimension: 100, delta: 1e-5, roundEpsilon: projected.roundEpsilon, cumulativeEpsilon: projected.cumulativeEpsilon,
            cumulativeOrder: projected.cumulativeOrder, contributors: ["hospital-a", "hospital-b"],
            updateDigests: ["hospital-a": SHA256.hexDigest(utf8: "update a"), "hospital-b": SHA256.hexDigest(utf8: "update b")]
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
        #expect(lines.count == 3)
        #expect(lines.map { SHA256.hexDigest($0) } == Self.documentedHashes)
        #expect(try lines.map { Base64.encode(try LedgerEntry(json: JSONParser.parse($0)).signature) } == Self.documentedSignatures)
    }

    static let documentedHashes = [
        "c866af190276e998aed3525cc2755a12d557dd7ba11170c678d061dd46f2f85b",
        "8aa100ef6d3a20ace2ed64430a5e30d9b6a016b7d3591fe05a40462180e163e0",
        "d2c502616d28cdfc161362befdaffd5636729e4679db8d54117581a6b504357c",
    ]
    static let documentedSignatures = [
        "RVFhviI9OrnlN3Y9kLBm/GV7c5AJ7QfgcvG+DmsT3+92t5jYt7VylyF73aYTBcmmpAvYS8Gp/cfUtPTDqf7vDg==",
        "ilu2zQbplniG3AltoYYc6YxMFK/MIN/px78Q/Ka6AiJ60MhhiJZCoOYJ7as3YRV7BwcyDOcdGLukcYanEnUMAQ==",
        "7k9tccKe8UAsuR52HVlChdeSoMc65ciO/v2iCjtWHHPu3gCofy736h4sjBfI2DtB9sNS3vs1ZaUXyzEg7cCzCQ==",
    ]
}
