/// One-shot questions about a run of identical rounds: what ε does it reach, and what noise does
/// a target ε need. Both validate their inputs and never return NaN.
public enum PrivacyCalculator {
    /// ε after `rounds` rounds of `mechanism` at `delta`.
    public static func epsilon(
        mechanism: SubsampledGaussian, rounds: Int, delta: Double
    ) throws(PrivacyError) -> EpsilonResult {
        try validate(rounds: rounds, delta: delta)
        var accountant = RDPAccountant()
        accountant.compose(mechanism, rounds: rounds)
        return accountant.epsilon(delta: delta)
    }

    /// The smallest noise multiplier σ such that `rounds` rounds at sampling rate `samplingRate`
    /// stay within `targetEpsilon` at `delta` — the question Opacus' `get_noise_multiplier` answers.
    ///
    /// Bisection on σ (ε falls as σ grows), to an absolute width of `tolerance`; the returned σ is
    /// the upper end of the final bracket, so its ε never exceeds the target.
    public static func noiseMultiplier(
        targetEpsilon: Double, delta: Double, samplingRate: Double, rounds: Int, tolerance: Double = 1e-6
    ) throws(PrivacyError) -> NoisePlan {
        try plan(
            targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, rounds: rounds, tolerance: tolerance
        ) {
            var accountant = RDPAccountant()
            accountant.compose($0, rounds: rounds)
            return accountant.epsilon(delta: delta).epsilon
        }
    }

    /// ε after `rounds` rounds of `mechanism` as the coordinator charges them: the discrete
    /// Gaussian charge of `DiscreteGaussianCharge` under `method` (integer orders only; both
    /// neighbouring directions), converted with Canonne, Kamath & Steinke 2020, Prop. 12.
    public static func chargedEpsilon(
        mechanism: SubsampledGaussian, rounds: Int, delta: Double, method: ChargeMethod = .current
    ) throws(PrivacyError) -> EpsilonResult {
        try validate(rounds: rounds, delta: delta)
        var accountant = ChargeAccountant()
        try accountant.compose(mechanism, rounds: rounds, method: method)
        return accountant.epsilon(delta: delta)
    }

    /// Like `noiseMultiplier`, but for what the coordinator actually charges: the discrete
    /// Gaussian charge of `DiscreteGaussianCharge` under `method` (integer orders, both
    /// neighbouring directions). A σ whose charge cannot be computed counts as not enough noise.
    public static func chargedNoiseMultiplier(
        targetEpsilon: Double, delta: Double, samplingRate: Double, rounds: Int, tolerance: Double = 1e-6,
        method: ChargeMethod = .current
    ) throws(PrivacyError) -> NoisePlan {
        try plan(
            targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, rounds: rounds, tolerance: tolerance
        ) {
            var accountant = ChargeAccountant()
            do {
                try accountant.compose($0, rounds: rounds, method: method)
            } catch {
                return .infinity
            }
            return accountant.epsilon(delta: delta).epsilon
        }
    }

    /// Bisection on σ for any accountant: `epsilonOf` maps a mechanism to its ε over the plan.
    static func plan(
        targetEpsilon: Double, delta: Double, samplingRate: Double, rounds: Int, tolerance: Double,
        epsilonOf: (SubsampledGaussian) -> Double
    ) throws(PrivacyError) -> NoisePlan {
        try validate(rounds: rounds, delta: delta)
        guard targetEpsilon.isFinite, targetEpsilon > 0 else {
            throw PrivacyError(
                code: "privacy.invalid_target_epsilon",
                message: "the target ε must be a finite number > 0, got \(targetEpsilon)"
            )
        }
        // Validates q; σ = 1 is only a placeholder here.
        _ = try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: 1)
        func epsilonAt(_ sigma: Double) -> Double {
            // σ is positive and finite here, so the mechanism is valid.
            epsilonOf(try! SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: sigma))
        }
        var low = 0.0
        var high = 10.0
        var highEpsilon = epsilonAt(high)
        while highEpsilon > targetEpsilon {
            guard high < maximumNoiseMultiplier else {
                throw PrivacyError(
                    code: "privacy.target_unreachable",
                    message: "no noise multiplier up to \(maximumNoiseMultiplier) reaches ε ≤ \(targetEpsilon) "
                        + "at δ = \(delta) over \(rounds) rounds with q = \(samplingRate) (σ = \(high) gives ε = \(highEpsilon)); "
                        + "raise the target ε or δ, or lower the rounds or the sampling rate"
                )
            }
            low = high
            high *= 2
            highEpsilon = epsilonAt(high)
        }
        while high - low > tolerance {
            let middle = (low + high) / 2
            let middleEpsilon = epsilonAt(middle)
            if middleEpsilon > targetEpsilon {
                low = middle
            } else {
                high = middle
                highEpsilon = middleEpsilon
            }
        }
        return NoisePlan(noiseMultiplier: high, epsilon: highEpsilon)
    }

    /// The largest σ the planner will try before calling a target unreachable.
    public static let maximumNoiseMultiplier = 1e6

    static func validate(rounds: Int, delta: Double) throws(PrivacyError) {
        guard rounds >= 1 else { throw .invalidRounds(rounds) }
        guard delta.isFinite, delta > 0, delta < 1 else { throw .invalidDelta(delta) }
    }
}

/// The planner's answer: the noise multiplier and the ε it reaches.
public struct NoisePlan: Sendable, Equatable, Codable {
    /// The smallest σ (within the tolerance) whose ε stays at or below the target.
    public let noiseMultiplier: Double
    /// The ε that σ reaches.
    public let epsilon: Double
}
