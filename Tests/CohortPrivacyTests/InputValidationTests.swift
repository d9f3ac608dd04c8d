import Testing

@testable import CohortPrivacy

/// Every rejected privacy parameter gives a typed error with a stable code, never NaN or a trap.
@Suite struct InputValidationTests {
    @Test(arguments: [0.0, -0.1, 1.0000001, .nan, .infinity])
    func rejectsSamplingRateOutsideUnitInterval(q: Double) {
        #expect(throws: PrivacyError.self) { try SubsampledGaussian(samplingRate: q, noiseMultiplier: 1) }
        do {
            _ = try SubsampledGaussian(samplingRate: q, noiseMultiplier: 1)
        } catch {
            #expect(error.code == "privacy.invalid_sampling_rate")
            #expect(error.message.contains("(0, 1]"))
        }
    }

    @Test(arguments: [0.0, -1.0, .nan, .infinity])
    func rejectsNonPositiveNoise(sigma: Double) {
        #expect(
            throws: PrivacyError(
                code: "privacy.invalid_noise_multiplier",
                message: "noise multiplier σ must be a finite number > 0, got \(sigma)")
        ) {
            try SubsampledGaussian(samplingRate: 0.1, noiseMultiplier: sigma)
        }
    }

    @Test(arguments: [0.0, 1.0, -1e-5, .nan])
    func rejectsDeltaOutsideOpenInterval(delta: Double) throws {
        let mechanism = try SubsampledGaussian(samplingRate: 0.1, noiseMultiplier: 1)
        do {
            _ = try PrivacyCalculator.epsilon(mechanism: mechanism, rounds: 10, delta: delta)
            Issue.record("δ = \(delta) was accepted")
        } catch {
            #expect(error.code == "privacy.invalid_delta")
        }
    }

    @Test(arguments: [0, -3])
    func rejectsFewerThanOneRound(rounds: Int) throws {
        let mechanism = try SubsampledGaussian(samplingRate: 0.1, noiseMultiplier: 1)
        #expect(throws: PrivacyError.invalidRounds(rounds)) {
            try PrivacyCalculator.epsilon(mechanism: mechanism, rounds: rounds, delta: 1e-5)
        }
    }

    @Test func plannerRejectsUnreachableAndInvalidTargets() {
        do {
            _ = try PrivacyCalculator.noiseMultiplier(
                targetEpsilon: 1e-9, delta: 1e-5, samplingRate: 1, rounds: 1_000_000)
            Issue.record("an unreachable target was planned")
        } catch {
            #expect(error.code == "privacy.target_unreachable")
        }
        for target in [0.0, -1.0, Double.nan, .infinity] {
            do {
                _ = try PrivacyCalculator.noiseMultiplier(
                    targetEpsilon: target, delta: 1e-5, samplingRate: 0.1, rounds: 10)
                Issue.record("target \(target) was accepted")
            } catch {
                #expect(error.code == "privacy.invalid_target_epsilon")
            }
        }
    }

    @Test func epsilonIsMonotoneInRoundsAndNoise() throws {
        // A property, not a value: more rounds never lower ε; more noise never raises it.
        let mechanism = try SubsampledGaussian(samplingRate: 0.05, noiseMultiplier: 1.1)
        var previous = 0.0
        for rounds in [1, 2, 5, 10, 100, 1000] {
            let epsilon = try PrivacyCalculator.epsilon(mechanism: mechanism, rounds: rounds, delta: 1e-5).epsilon
            #expect(epsilon >= previous)
            previous = epsilon
        }
        previous = .infinity
        for sigma in [0.6, 0.8, 1.0, 2.0, 8.0] {
            let m = try SubsampledGaussian(samplingRate: 0.05, noiseMultiplier: sigma)
            let epsilon = try PrivacyCalculator.epsilon(mechanism: m, rounds: 100, delta: 1e-5).epsilon
            #expect(epsilon <= previous)
            previous = epsilon
        }
    }
}
