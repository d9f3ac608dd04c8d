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
        "c7b445f8e65742c1c797c00928f6ee8a4684d8ef74b6cc78e99daee785cad598",
        "bfe2277c49a5b77fe514324dd4944d155f345f9f51356acb9d3eeb7a7c334422",
        "2f2e1ee83e1b463b8fddc43ca086a3f75a15f8d8095df3009538621b873d9e2c",
    ]
    static let documentedSignatures = [
        "4Nx1UVJ8xrkVS+73R+7D92S05BsEiTIl4uZVjSLTT3pwwPE75HJv3WXBoD+icmTewD3RItsoVAH4Tmg47dfwBQ==",
        "/EGfVEbZ7eGn0Jo/NHzaVbhU0YtsT0h3k+Bw5F0vIhDDpjbT9nP1RzwmClvVPXyQGncjiF/uRSxxYQ2jeacWCg==",
        "b4X1k1WUhASILcbENCs1q5LFceFn1omNVYrxThw2dsGPYGK9xy9MsKGmR6uWI6KHhgGuahoEY4R/RiU1+CdUDA==",
    ]
}
