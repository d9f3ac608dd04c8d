import Testing
@testable import CohortPrivacy

/// The charged RDP of the discrete-Gaussian mechanism, against values computed independently
/// with 60-digit arithmetic (Scripts/reference/make_charge_reference.py).
@Suite struct ChargeTests {
    @Test func matchesIndependentHighPrecisionReference() throws {
        let rows = try fixtureRows("charge_reference")
        #expect(rows.count == 72)
        for row in rows {
            var accountant = ChargeAccountant()
            let mechanism = try SubsampledGaussian(samplingRate: row.double("sampling_rate"), noiseMultiplier: row.double("noise_multiplier"))
            accountant.compose(mechanism, rounds: row.int("rounds"))
            let result = accountant.epsilon(delta: row.double("delta"))
            #expect(relativeError(result.epsilon, row.double("epsilon")) <= 1e-9, "row \(row): got \(result.epsilon)")
            #expect(result.order == row.double("order"), "row \(row)")
        }
    }

    /// The charge covers both neighbouring directions, so it is never below the continuous
    /// reference (dp_accounting's add-direction value) at the same orders.
    @Test func chargeIsNeverBelowContinuousReference() throws {
        for (q, sigma) in [(0.01, 0.8), (0.1, 1.1), (0.5, 2.0), (1.0, 1.0)] {
            let mechanism = try SubsampledGaussian(samplingRate: q, noiseMultiplier: sigma)
            let charged = DiscreteGaussianCharge.rdp(of: mechanism)
            let reference = RDPAccountant.rdp(of: mechanism, orders: DiscreteGaussianCharge.orders)
            for (c, r) in zip(charged, reference) { #expect(c >= r * (1 - 1e-12)) }
        }
    }

    @Test func projectionDoesNotMutate() throws {
        var accountant = ChargeAccountant()
        let mechanism = try SubsampledGaussian(samplingRate: 0.1, noiseMultiplier: 1.1)
        accountant.compose(mechanism, rounds: 3)
        let before = accountant
        let projected = accountant.projectedEpsilon(adding: mechanism, delta: 1e-5)
        #expect(accountant == before)
        accountant.compose(mechanism)
        #expect(accountant.epsilon(delta: 1e-5) == projected)
    }

    @Test func chargedPlannerMeetsTargetUnderTheCharge() throws {
        let plan = try PrivacyCalculator.chargedNoiseMultiplier(targetEpsilon: 3, delta: 1e-5, samplingRate: 0.2, rounds: 50)
        var accountant = ChargeAccountant()
        accountant.compose(try SubsampledGaussian(samplingRate: 0.2, noiseMultiplier: plan.noiseMultiplier), rounds: 50)
        #expect(accountant.epsilon(delta: 1e-5).epsilon <= 3)
        var tighter = ChargeAccountant()
        tighter.compose(try SubsampledGaussian(samplingRate: 0.2, noiseMultiplier: plan.noiseMultiplier - 1e-3), rounds: 50)
        #expect(tighter.epsilon(delta: 1e-5).epsilon > 3)
        // The charge covers both directions, so it needs at least the reference's noise.
        let reference = try PrivacyCalculator.noiseMultiplier(targetEpsilon: 3, delta: 1e-5, samplingRate: 0.2, rounds: 50)
        #expect(plan.noiseMultiplier >= reference.noiseMultiplier - 1e-6)
    }
}
