#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rényi-DP accounting for the Poisson-subsampled Gaussian mechanism.
///
/// The RDP of one round at order α is computed as in Mironov, Talwar & Zhang, "Rényi
/// Differential Privacy of the Sampled Gaussian Mechanism" (2019): Sec. 3.2 (integer α, a finite
/// binomial sum) and Sec. 3.3 (fractional α, two infinite series with erfc terms). Rounds compose
/// by adding RDP per order (Mironov 2017, Prop. 1), and the total converts to (ε, δ) with
/// Proposition 12 of Canonne, Kamath & Steinke 2020 (arXiv:2004.00010 v4), the conversion of
/// Google's `dp_accounting`.
///
/// Cohort reproduces `dp_accounting` 0.6.0's `RdpAccountant` exactly, including two of its
/// choices, so that an auditor running Google's library gets the same numbers:
/// - For fractional α it sums the series with |C(α, i)|, the absolute value of each binomial
///   coefficient, although for fractional α they alternate in sign. That is a valid upper bound on
///   the RDP (slightly above the exact, signed value), so the charge errs on the safe side.
/// - It stops a fractional series when both partial terms decrease and lie 30 nats below the
///   running total, and excludes an order (RDP = +∞) whose series has not stopped after 1,000 terms.
///
/// Composition of rounds with different (q, σ) is plain RDP addition. When the parameters are
/// chosen adaptively (an operator changes σ or q mid-run), the budget gate acts as an RDP privacy
/// filter (Feldman & Zrnic 2021; over a grid of orders, Lécuyer 2021), which keeps the sum valid.
public struct RDPAccountant: Sendable, Equatable {
    /// The default orders of `dp_accounting`: 1.1, 1.2, …, 10.9, then 11…63, then 128, 256, 512, 1024.
    public static let defaultOrders: [Double] = {
        let fine: [Double] = (1..<100).map { (x: Int) -> Double in 1.0 + Double(x) / 10.0 }
        let integers: [Double] = (11..<64).map { (x: Int) -> Double in Double(x) }
        let large: [Double] = [128, 256, 512, 1024]
        return fine + integers + large
    }()

    /// The orders α at which RDP is tracked.
    public let orders: [Double]
    /// The accumulated RDP ε(α) at each order; `+∞` where an order is unusable.
    public private(set) var rdp: [Double]

    /// Per-round curves already computed, keyed by mechanism: a ledger replays thousands of rounds
    /// that share a handful of (q, σ) pairs, and one curve costs ~1 ms.
    private var curveCache: [SubsampledGaussian: [Double]] = [:]

    public static func == (lhs: RDPAccountant, rhs: RDPAccountant) -> Bool {
        lhs.orders == rhs.orders && lhs.rdp == rhs.rdp
    }

    /// An accountant with nothing spent.
    public init(orders: [Double] = RDPAccountant.defaultOrders) {
        precondition(!orders.isEmpty && orders.allSatisfy { $0 > 1 }, "RDP orders must be > 1")
        self.orders = orders
        self.rdp = Array(repeating: 0, count: orders.count)
    }

    /// Adds `rounds` rounds of the Poisson-subsampled Gaussian mechanism.
    /// - Parameters:
    ///   - mechanism: sampling rate q and noise multiplier σ (noise std / L2 sensitivity).
    ///   - rounds: how many rounds with these parameters.
    public mutating func compose(_ mechanism: SubsampledGaussian, rounds: Int = 1) {
        precondition(rounds >= 0)
        let perRound: [Double]
        if let cached = curveCache[mechanism] {
            perRound = cached
        } else {
            perRound = Self.rdp(of: mechanism, orders: orders)
            if curveCache.count < 1024 { curveCache[mechanism] = perRound }
        }
        let count = Double(rounds)
        for index in rdp.indices {
            rdp[index] += count * perRound[index]
        }
    }

    /// The ε reached at `delta`, and the order that achieved it.
    public func epsilon(delta: Double) -> EpsilonResult {
        Self.epsilon(orders: orders, rdp: rdp, delta: delta)
    }

    /// The RDP of one round of `mechanism` at each of `orders`
    /// (`_compute_rdp_poisson_subsampled_gaussian`).
    public static func rdp(of mechanism: SubsampledGaussian, orders: [Double]) -> [Double] {
        let q = mechanism.samplingRate
        let sigma = mechanism.noiseMultiplier
        return orders.map { alpha in
            if q == 0 { return 0 }
            if alpha.isInfinite || sigma == 0 { return .infinity }
            // Plain Gaussian mechanism: ε(α) = α / (2σ²) (Mironov 2017, Prop. 7).
            if q == 1 { return alpha / (2 * (sigma * sigma)) }
            return logA(q: q, sigma: sigma, alpha: alpha) / (alpha - 1)
        }
    }

    /// log A_α for 0 < q < 1 (MTZ 2019, Sec. 3.2 / 3.3).
    static func logA(q: Double, sigma: Double, alpha: Double) -> Double {
        if alpha.rounded(.towardZero) == alpha {
            return logAInteger(q: q, sigma: sigma, alpha: Int(alpha))
        }
        return logAFractional(q: q, sigma: sigma, alpha: alpha)
    }

    /// Integer α: A_α = Σ_{i=0}^{α} C(α,i) q^i (1-q)^{α-i} exp((i²-i)/(2σ²)) (MTZ 2019, Sec. 3.2).
    static func logAInteger(q: Double, sigma: Double, alpha: Int) -> Double {
        var logAValue = -Double.infinity
        let log1mq = log1p(-q)
        let logQ = log(q)
        let twoSigmaSquared = 2 * (sigma * sigma)
        let a = Double(alpha)
        for i in 0...alpha {
            let di = Double(i)
            let logCoefficient = LogMath.logBinomial(a, di) + di * logQ + Double(alpha - i) * log1mq
            let s = logCoefficient + (di * di - di) / twoSigmaSquared
            logAValue = LogMath.logAdd(logAValue, s)
        }
        return logAValue
    }

    /// The number of series terms after which a fractional order is given up (as in `dp_accounting`).
    static let maxFractionalTerms = 1000

    /// Fractional α: A_α = A_0 + A_1, the two series of MTZ 2019, Sec. 3.3, summed with |C(α,i)|
    /// as `dp_accounting` 0.6.0 does. Returns +∞ when the series does not settle in 1,000 terms.
    static func logAFractional(q: Double, sigma: Double, alpha: Double) -> Double {
        var logA0 = -Double.infinity
        var logA1 = -Double.infinity
        let sigmaSquared = sigma * sigma
        let z0 = sigmaSquared * log(1 / q - 1) + 0.5
        let log1mq = log1p(-q)
        let logQ = log(q)
        let logHalf = log(0.5)
        let sqrt2Sigma = 2.0.squareRoot() * sigma
        var lastS0 = -Double.infinity
        var lastS1 = -Double.infinity
        for step in 0..<maxFractionalTerms {
            let i = Double(step)
            let logCoefficient = LogMath.logBinomial(alpha, i)
            let j = alpha - i
            let logT0 = logCoefficient + i * logQ + j * log1mq
            let logT1 = logCoefficient + j * logQ + i * log1mq
            let logE0 = logHalf + LogMath.logErfc((i - z0) / sqrt2Sigma)
            let logE1 = logHalf + LogMath.logErfc((z0 - j) / sqrt2Sigma)
            let logS0 = logT0 + (i * i - i) / (2 * sigmaSquared) + logE0
            let logS1 = logT1 + (j * j - j) / (2 * sigmaSquared) + logE1
            logA0 = LogMath.logAdd(logA0, logS0)
            logA1 = LogMath.logAdd(logA1, logS1)
            let total = LogMath.logAdd(logA0, logA1)
            if logS0 < lastS0 && logS1 < lastS1 && max(logS0, logS1) < total - 30 {
                return total
            }
            lastS0 = logS0
            lastS1 = logS1
        }
        return .infinity
    }

    /// Converts RDP to (ε, δ): ε = min_α [ε(α) + log1p(-1/α) - log(δα)/(α-1)]
    /// (Canonne, Kamath, Steinke 2020, Prop. 12; `dp_accounting.rdp.compute_epsilon`).
    public static func epsilon(orders: [Double], rdp: [Double], delta: Double) -> EpsilonResult {
        precondition(orders.count == rdp.count)
        precondition(delta > 0 && delta < 1, "delta must lie in (0, 1)")
        var best = EpsilonResult(epsilon: .infinity, order: orders[0])
        var first = true
        for (alpha, r) in zip(orders, rdp) {
            let candidate: Double
            if r < 0 {
                candidate = 0
            } else if delta * delta + expm1(-r) > 0 {
                // δ ≥ sqrt(1 - exp(-KL)): the divergence is already below δ, so ε = 0 suffices.
                candidate = 0
            } else if alpha > 1.01 {
                candidate = r + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
            } else {
                candidate = .infinity
            }
            // Keep the first minimum, as numpy's argmin does.
            if first || candidate < best.epsilon {
                best = EpsilonResult(epsilon: candidate, order: alpha)
                first = false
            }
        }
        return EpsilonResult(epsilon: max(0, best.epsilon), order: best.order)
    }
}

/// One round's mechanism: Poisson sampling with rate q, then Gaussian noise of standard deviation
/// σ·Δ on a sum with L2 sensitivity Δ.
public struct SubsampledGaussian: Sendable, Hashable, Codable {
    /// Sampling rate q ∈ (0, 1] (q = 1 is the plain Gaussian mechanism).
    public let samplingRate: Double
    /// Noise multiplier σ > 0: noise standard deviation divided by the L2 sensitivity.
    public let noiseMultiplier: Double

    /// Validates and builds the mechanism description.
    public init(samplingRate: Double, noiseMultiplier: Double) throws(PrivacyError) {
        guard samplingRate.isFinite, samplingRate > 0, samplingRate <= 1 else {
            throw PrivacyError(
                code: "privacy.invalid_sampling_rate",
                message: "sampling rate q must lie in (0, 1], got \(samplingRate)"
            )
        }
        guard noiseMultiplier.isFinite, noiseMultiplier > 0 else {
            throw PrivacyError(
                code: "privacy.invalid_noise_multiplier",
                message: "noise multiplier σ must be a finite number > 0, got \(noiseMultiplier)"
            )
        }
        self.samplingRate = samplingRate
        self.noiseMultiplier = noiseMultiplier
    }
}

/// ε at a given δ, with the RDP order that achieved it.
public struct EpsilonResult: Sendable, Equatable, Codable {
    /// The smallest ε over the tracked orders.
    public let epsilon: Double
    /// The order α at which the minimum was reached.
    public let order: Double

    public init(epsilon: Double, order: Double) {
        self.epsilon = epsilon
        self.order = order
    }
}
