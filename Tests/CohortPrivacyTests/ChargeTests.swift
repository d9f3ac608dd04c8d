import Foundation
import Testing

@testable import CohortPrivacy

/// The charged RDP of the discrete-Gaussian mechanism, against values computed independently:
/// v1 with 60-digit arithmetic (Scripts/reference/make_charge_reference.py), v2 with
/// dp_accounting 0.6.0 and 80-digit mpmath (Scripts/reference/make_lemma_reference.py).
@Suite struct ChargeTests {
    @Test func v1MatchesIndependentHighPrecisionReference() throws {
        let rows = try fixtureRows("charge_reference")
        #expect(rows.count == 72)
        for row in rows {
            var accountant = ChargeAccountant()
            let mechanism = try SubsampledGaussian(
                samplingRate: row.double("sampling_rate"), noiseMultiplier: row.double("noise_multiplier"))
            try accountant.compose(mechanism, rounds: row.int("rounds"), method: .integerAddRemoveMax)
            let result = accountant.epsilon(delta: row.double("delta"))
            #expect(relativeError(result.epsilon, row.double("epsilon")) <= 1e-9, "row \(row): got \(result.epsilon)")
            #expect(result.order == row.double("order"), "row \(row)")
        }
    }

    /// v2 against dp_accounting 0.6.0's integer-order add curve (`_compute_log_a_int`) and its
    /// conversion at the integer orders: ε to 1e-9 relative and the same order.
    @Test func v2MatchesDPAccountingIntegerAddCurve() throws {
        let rows = try fixtureRows("lemma_epsilon_reference")
        #expect(rows.count == 144)
        for row in rows {
            var accountant = ChargeAccountant()
            let mechanism = try SubsampledGaussian(
                samplingRate: row.double("sampling_rate"), noiseMultiplier: row.double("noise_multiplier"))
            try accountant.compose(mechanism, rounds: row.int("rounds"), method: .integerAddSymmetric)
            let result = accountant.epsilon(delta: row.double("delta"))
            #expect(relativeError(result.epsilon, row.double("epsilon")) <= 1e-9, "row \(row): got \(result.epsilon)")
            #expect(result.order == row.double("order"), "row \(row)")
        }
    }

    /// Where A_α is within 1e-6 of 1 (tiny q, large σ) the log1p/expm1 evaluation keeps its
    /// precision: one-round RDP against 80-digit mpmath to 5e-12 relative (the floor is the
    /// log-gamma binomials: lgamma(1025) ≈ 6081 carries ~1e-12 absolute error at α = 1024; a
    /// log-sum-exp of the whole sum would instead lose everything below ~1e-16 absolute).
    @Test func v2IsAccurateNearZero() throws {
        let rows = try fixtureRows("lemma_rdp_reference")
        #expect(rows.count == 25)
        for row in rows {
            let mechanism = try SubsampledGaussian(
                samplingRate: row.double("sampling_rate"), noiseMultiplier: row.double("noise_multiplier"))
            let curve = try DiscreteGaussianCharge.rdp(of: mechanism, method: .integerAddSymmetric)
            let index = try #require(DiscreteGaussianCharge.orders.firstIndex(of: row.double("order")))
            #expect(curve[index] > 0)
            #expect(relativeError(curve[index], row.double("rdp")) <= 5e-12, "row \(row): got \(curve[index])")
        }
    }

    /// A tiny charge is a tiny positive number, never 0 and never negative (the old log-sum-exp
    /// form loses it entirely at q = 1e-9, σ = 10⁴).
    @Test func v2TinyChargeStaysPositive() throws {
        let mechanism = try SubsampledGaussian(samplingRate: 1e-9, noiseMultiplier: 1e4)
        let curve = try DiscreteGaussianCharge.rdp(of: mechanism, method: .integerAddSymmetric)
        // A_2 − 1 = q²·expm1(1/σ²) ≈ 1e-26, so RDP(2) ≈ 1e-26.
        #expect(relativeError(curve[0], 1e-18 * expm1(1e-8)) <= 1e-12)
        #expect(curve.allSatisfy { $0 > 0 })
    }

    /// Both methods cover both neighbouring directions, so neither is below the continuous
    /// reference (dp_accounting's add-direction value) at the same orders; v2 is that value up to
    /// rounding, and v1 is never below v2.
    @Test func chargeIsNeverBelowContinuousReference() throws {
        for (q, sigma) in [(0.01, 0.8), (0.1, 1.1), (0.5, 2.0), (1.0, 1.0)] {
            let mechanism = try SubsampledGaussian(samplingRate: q, noiseMultiplier: sigma)
            let v1 = try DiscreteGaussianCharge.rdp(of: mechanism, method: .integerAddRemoveMax)
            let v2 = try DiscreteGaussianCharge.rdp(of: mechanism, method: .integerAddSymmetric)
            let reference = RDPAccountant.rdp(of: mechanism, orders: DiscreteGaussianCharge.orders)
            for (charged, r) in zip(v2, reference) { #expect(charged >= r * (1 - 1e-12) && charged <= r * (1 + 1e-9)) }
            for (old, new) in zip(v1, v2) { #expect(old >= new * (1 - 1e-12)) }
        }
    }

    @Test func defaultMethodIsV2() throws {
        #expect(ChargeMethod.current == .integerAddSymmetric)
        #expect(ChargeMethod.current.rawValue == "mtz-integer-add-symmetric-v2")
        #expect(ChargeMethod.unnamed.rawValue == "mtz-add-zhu-wang-remove-v1")
        let mechanism = try SubsampledGaussian(samplingRate: 0.2, noiseMultiplier: 2.5)
        var implicit = ChargeAccountant()
        implicit.compose(mechanism, rounds: 3)
        var explicit = ChargeAccountant()
        try explicit.compose(mechanism, rounds: 3, method: .integerAddSymmetric)
        #expect(implicit == explicit)
    }

    @Test func unknownMethodIsAClearError() {
        #expect(throws: PrivacyError.self) { try ChargeMethod(recorded: "mtz-v3") }
        do {
            _ = try ChargeMethod(recorded: "mtz-v3")
        } catch {
            #expect(error.code == "privacy.unknown_charge_method")
            #expect(error.message.contains("mtz-integer-add-symmetric-v2"))
        }
    }

    /// σ² underflowing to 0 is an infinite charge, not NaN and not an error.
    @Test func vanishingSigmaIsAnInfiniteCharge() throws {
        let mechanism = try SubsampledGaussian(samplingRate: 0.5, noiseMultiplier: 1e-200)
        for method in ChargeMethod.allCases where method == .integerAddSymmetric {
            let curve = try DiscreteGaussianCharge.rdp(of: mechanism, method: method)
            #expect(curve.allSatisfy { $0 == .infinity })
        }
        let plain = try SubsampledGaussian(samplingRate: 1, noiseMultiplier: 1e-200)
        #expect(try DiscreteGaussianCharge.rdp(of: plain, method: .integerAddSymmetric).allSatisfy { $0 == .infinity })
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

    @Test(arguments: ChargeMethod.allCases)
    func chargedPlannerMeetsTargetUnderTheCharge(method: ChargeMethod) throws {
        let plan = try PrivacyCalculator.chargedNoiseMultiplier(
            targetEpsilon: 3, delta: 1e-5, samplingRate: 0.2, rounds: 50, method: method)
        var accountant = ChargeAccountant()
        try accountant.compose(
            try SubsampledGaussian(samplingRate: 0.2, noiseMultiplier: plan.noiseMultiplier), rounds: 50, method: method
        )
        #expect(accountant.epsilon(delta: 1e-5).epsilon <= 3)
        var tighter = ChargeAccountant()
        try tighter.compose(
            try SubsampledGaussian(samplingRate: 0.2, noiseMultiplier: plan.noiseMultiplier - 1e-3), rounds: 50,
            method: method)
        #expect(tighter.epsilon(delta: 1e-5).epsilon > 3)
        // The charge is never below the continuous reference, so it needs at least its noise.
        let reference = try PrivacyCalculator.noiseMultiplier(
            targetEpsilon: 3, delta: 1e-5, samplingRate: 0.2, rounds: 50)
        #expect(plan.noiseMultiplier >= reference.noiseMultiplier - 1e-6)
    }

    /// The demo plan (q 0.2) and the credit plan (q 0.1), 50 rounds, δ 1e-5, against the σ that
    /// Scripts/reference/make_lemma_reference.py bisects with dp_accounting's integer-order curve.
    @Test func v2PlannerMatchesReference() throws {
        let rows = try fixtureRows("lemma_planner_reference")
        #expect(rows.count == 6)
        for row in rows {
            let plan = try PrivacyCalculator.chargedNoiseMultiplier(
                targetEpsilon: row.double("target_epsilon"), delta: row.double("delta"),
                samplingRate: row.double("sampling_rate"),
                rounds: row.int("rounds"), method: .integerAddSymmetric)
            #expect(
                abs(plan.noiseMultiplier - row.double("noise_multiplier")) <= 2e-6,
                "row \(row): got \(plan.noiseMultiplier)")
        }
        let expected: [(Double, Double, Double)] = [
            (0.2, 3, 2.4098), (0.2, 1, 5.9784), (0.1, 3, 1.4547), (0.1, 1, 3.1848),
        ]
        for (q, target, sigma) in expected {
            let plan = try PrivacyCalculator.chargedNoiseMultiplier(
                targetEpsilon: target, delta: 1e-5, samplingRate: q, rounds: 50)
            #expect(abs(plan.noiseMultiplier - sigma) <= 5e-4, "q \(q), ε \(target): got \(plan.noiseMultiplier)")
        }
    }
}
