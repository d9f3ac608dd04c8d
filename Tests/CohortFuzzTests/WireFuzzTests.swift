import CohortFuzz
import CohortTransport
import Testing

/// The short CI run of `cohort-bench fuzz`: the same loop, in process, with a fixed seed.
@Suite struct WireFuzzTests {
    @Test func twentyThousandFramesOfEveryTypeRunWithoutATrap() {
        let report = WireFuzzer.run(frames: 20_000, seed: 0xC0_4047)
        #expect(report.frames == 20_000)
        // Every frame type was generated, and delivered to its payload decoder.
        for type in FrameType.allCases {
            #expect((report.seededByType[type.description] ?? 0) > 1_000, "\(type) seeded")
            #expect((report.framedByType[type.description] ?? 0) > 100, "\(type) framed")
        }
        #expect((report.seededByType["random"] ?? 0) == 2_000)
        // Both outcomes happen: valid inputs decode, hostile ones are refused by code.
        #expect(report.decoded > 1_000)
        for code in [
            "wire.malformed_payload", "attestation.invalid", "evaluation.invalid", "privacy.grid_out_of_range",
        ] {
            #expect((report.refused[code] ?? 0) > 0, "\(code) refused")
        }
        for validator in [
            "attestation", "metrics", "metrics_merge", "quantize", "training_parameters", "update_plaintext",
        ] {
            #expect((report.validatorRuns[validator] ?? 0) > 0, "\(validator) ran")
        }
        // Deterministic for a seed.
        var again = WireFuzzer.run(frames: 20_000, seed: 0xC0_4047)
        again.seconds = report.seconds
        #expect(again == report)
    }
}
