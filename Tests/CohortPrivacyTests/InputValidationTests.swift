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

/// A charge that evaluates below zero is an error, never clamped to 0 (a charge of nothing).
/// The v1 formula in doubles cancels to slightly below zero where the true RDP is far below the
/// rounding error: at q = 1e-8, σ = 1e4 and order 2 both of its terms come out negative
/// (about −5e-23 and −6e-17); the v2 formula, a sum of non-negative terms, stays ≥ 0 there.
@Suite struct NegativeChargeTests {
    @Test func negativeV1ChargeIsRefusedNotClamped() throws {
        let mechanism = try SubsampledGaussian(samplingRate: 1e-8, noiseMultiplier: 1e4)
        do {
            let curve = try DiscreteGaussianCharge.rdp(of: mechanism, method: .integerAddRemoveMax)
            Issue.record("a v1 charge that cancels below zero was returned: \(curve.prefix(3))")
        } catch {
            #expect(error.code == "privacy.invalid_charge")
            #expect(error.message.contains("mtz-add-zhu-wang-remove-v1 charge at order 2.0 for q = 1e-08, σ = 10000.0"))
            #expect(error.message.contains("evaluated to -"), "names the negative value: \(error.message)")
            #expect(error.message.contains("a charge must be a number ≥ 0 (it is never clamped)"))
        }
        // The accountant composing it throws the same and keeps what it had charged.
        var accountant = ChargeAccountant()
        try accountant.compose(SubsampledGaussian(samplingRate: 0.05, noiseMultiplier: 1.2), method: .current)
        let before = accountant.rdp
        #expect(throws: PrivacyError.self) { try accountant.compose(mechanism, method: .integerAddRemoveMax) }
        #expect(accountant.rdp == before)
        // The current method charges the same mechanism a non-negative amount.
        let v2 = try DiscreteGaussianCharge.rdp(of: mechanism, method: .integerAddSymmetric)
        #expect(v2.allSatisfy { $0 >= 0 })
    }
}
