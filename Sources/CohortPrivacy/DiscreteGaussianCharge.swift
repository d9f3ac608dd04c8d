#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a round's RDP charge is computed. Every `round.charged` ledger entry names its method
/// (`charge_method`; an entry without one is `.integerAddRemoveMax`), so a ledger keeps verifying
/// with the formula it was charged with after the default changes.
///
/// Both methods use only the integer orders of `DiscreteGaussianCharge.orders` and are
/// α/(2σ²) when q = 1 (Canonne, Kamath & Steinke 2020, Prop. 6 and Thm. 15: the discrete
/// Gaussian with integer shifts has the continuous Gaussian's RDP curve in both directions).
/// docs/PRIVACY.md, "The charge", gives the argument for each.
public enum ChargeMethod: String, Sendable, Hashable, CaseIterable, Codable {
    /// The v1 charge: per order, the larger of the add-direction moment of Mironov, Talwar &
    /// Zhang 2019 (Sec. 3.2, integer α) and Zhu & Wang 2019's general upper bound for Poisson
    /// subsampling ("Poisson Subsampled Rényi Differential Privacy", ICML, Thm. 5) applied to the
    /// curve ε(ℓ) = ℓ/(2σ²). Valid, but the remove-direction bound is loose (its factor 3).
    case integerAddRemoveMax = "mtz-add-zhu-wang-remove-v1"
    /// The v2 charge: the add-direction moment of Mironov, Talwar & Zhang 2019 (Sec. 3.2) alone,
    /// at integer α. For the discrete Gaussian with integer shifts it is exact (the k-th moment
    /// of the likelihood ratio is exp((k²−k)‖μ‖²/(2s²)) on the lattice), and for a symmetric pair
    /// the remove direction's moment never exceeds the add direction's (docs/PRIVACY.md, "The
    /// charge", Lemma), so it covers both directions of add/remove adjacency — and zero-out
    /// adjacency, whose RDP under Poisson subsampling is the same (Kairouz et al. 2021).
    case integerAddSymmetric = "mtz-integer-add-symmetric-v2"

    /// The method the coordinator charges new rounds with.
    public static let current: ChargeMethod = .integerAddSymmetric

    /// The method of a ledger entry that does not name one.
    public static let unnamed: ChargeMethod = .integerAddRemoveMax

    /// Parses a recorded `charge_method`, with an error naming the accepted values.
    public init(recorded value: String) throws(PrivacyError) {
        guard let method = ChargeMethod(rawValue: value) else {
            throw PrivacyError(
                code: "privacy.unknown_charge_method",
                message: "unknown charge method \"\(value)\"; this build knows "
                    + ChargeMethod.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            )
        }
        self = method
    }
}

/// The RDP actually charged for a round of Cohort's mechanism as implemented: Poisson
/// subsampling, clipping, quantisation to a fixed-point grid, and exact discrete Gaussian noise.
///
/// Only integer orders are used, because the facts the charge rests on hold there
/// (docs/PRIVACY.md, "The charge"):
/// - (b) add direction, D_α(mixture ‖ base): for integer k and an integer shift μ,
///   E_{x~N_Z(0,s²I)}[(p_μ(x)/p_0(x))^k] = exp((k²−k)‖μ‖²/(2s²)) exactly, so the binomial expansion
///   of the mixture gives precisely the sampled Gaussian's A_α of Mironov, Talwar & Zhang 2019
///   (Sec. 3.2) at noise multiplier σ = s/‖μ‖_max;
/// - (c) remove direction, D_α(base ‖ mixture): for the symmetric pair N_Z(0, s²) / N_Z(μ, s²)
///   its moment B_α never exceeds A_α (the Lemma of docs/PRIVACY.md), which `.integerAddSymmetric`
///   uses; `.integerAddRemoveMax` instead takes Zhu & Wang 2019, Thm. 5, with the curve
///   ε(ℓ) = ℓ·‖μ‖²/(2s²) of Canonne, Kamath & Steinke 2020 (Prop. 6, Thm. 15).
///
/// For q = 1 both are α/(2σ²) exactly. Neither is ever below the continuous reference that
/// `RDPAccountant` computes at the same integer orders (v2 equals it, up to rounding).
public enum DiscreteGaussianCharge {
    /// The integer orders of `RDPAccountant.defaultOrders`: 2…63, 128, 256, 512, 1024.
    public static let orders: [Double] = RDPAccountant.defaultOrders.filter { $0.rounded(.towardZero) == $0 }

    /// The per-round RDP charged at each of `orders` for sampling rate q and noise multiplier σ
    /// (σ relative to the post-quantisation sensitivity), by `method`.
    ///
    /// - Throws: `privacy.invalid_charge` if a computed value is negative or NaN (never clamped:
    ///   a charge that cannot be computed is not a charge of zero).
    public static func rdp(of mechanism: SubsampledGaussian, method: ChargeMethod) throws(PrivacyError) -> [Double] {
        let q = mechanism.samplingRate
        let sigma = mechanism.noiseMultiplier
        var curve: [Double] = []
        curve.reserveCapacity(orders.count)
        for alpha in orders {
            let value: Double
            if q == 1 {
                // CKS 2020, Prop. 6 / Thm. 15: α‖μ‖²/(2s²) = α/(2σ²). v2 takes σ² rounded down, so
                // the rounding of σ·σ cannot lower the charge; v1 keeps its recorded arithmetic.
                value =
                    method == .integerAddRemoveMax
                    ? alpha / (2 * sigma * sigma) : alpha / (2 * sigmaSquaredRoundedDown(sigma))
            } else {
                let order = Int(alpha)
                switch method {
                case .integerAddSymmetric:
                    value = addLogMoment(q: q, sigma: sigma, alpha: order) / (alpha - 1)
                case .integerAddRemoveMax:
                    // The v1 arithmetic, unchanged, so ledgers charged with it recompute bit for bit.
                    let add = RDPAccountant.logAInteger(q: q, sigma: sigma, alpha: order) / (alpha - 1)
                    let remove = zhuWangLogBound(q: q, sigma: sigma, alpha: order) / (alpha - 1)
                    value = max(add, remove)
                }
            }
            guard !value.isNaN, value >= 0 else {
                throw PrivacyError(
                    code: "privacy.invalid_charge",
                    message:
                        "the \(method.rawValue) charge at order \(alpha) for q = \(q), σ = \(sigma) evaluated to \(value); "
                        + "a charge must be a number ≥ 0 (it is never clamped)"
                )
            }
            curve.append(value)
        }
        return curve
    }

    /// The per-round RDP of `mechanism` under `ChargeMethod.current`.
    public static func rdp(of mechanism: SubsampledGaussian) throws(PrivacyError) -> [Double] {
        try rdp(of: mechanism, method: .current)
    }

    /// log A_α for integer α ≥ 2 and 0 < q < 1, where (Mironov, Talwar & Zhang 2019, Sec. 3.2)
    /// A_α = Σ_{i=0}^{α} C(α,i) q^i (1−q)^{α−i} exp((i²−i)/(2σ²)),
    /// evaluated as log1p of the excess
    /// A_α − 1 = Σ_{i=2}^{α} C(α,i) q^i (1−q)^{α−i} expm1((i²−i)/(2σ²))
    /// (the binomial weights sum to 1 and the i = 0, 1 exponents are 0). Every term of the excess
    /// is ≥ 0, so there is no cancellation: where A_α is close to 1 (tiny q, large σ) the result
    /// keeps full relative precision, and it is never negative. The excess is summed in log space
    /// (its terms overflow a double at large α), and 2σ² is taken rounded down.
    static func addLogMoment(q: Double, sigma: Double, alpha: Int) -> Double {
        let a = Double(alpha)
        let logQ = log(q)
        let log1mq = log1p(-q)
        let twoSigmaSquared = 2 * sigmaSquaredRoundedDown(sigma)
        var terms: [Double] = []
        terms.reserveCapacity(alpha - 1)
        for i in 2...alpha {
            let di = Double(i)
            let exponent = (di * di - di) / twoSigmaSquared
            let term = LogMath.logBinomial(a, di) + di * logQ + (a - di) * log1mq + logExpm1(exponent)
            if term == .infinity { return .infinity }
            terms.append(term)
        }
        let logExcess = logSumExp(terms)
        // log(1 + e^L): log1p(e^L) keeps the digits of a tiny excess; L + log1p(e^−L) avoids overflow.
        return logExcess > 0 ? logExcess + log1p(exp(-logExcess)) : log1p(exp(logExcess))
    }

    /// A double not above σ² (fl(σ·σ) is within half an ulp of σ², so its predecessor is below
    /// it); 0 when σ² underflows, which makes every exponent +∞ (an infinite charge).
    static func sigmaSquaredRoundedDown(_ sigma: Double) -> Double {
        let product = sigma * sigma
        return product > 0 ? product.nextDown : 0
    }

    /// log(expm1(x)) for x > 0, accurate for tiny and huge x.
    static func logExpm1(_ x: Double) -> Double {
        if x == .infinity { return .infinity }
        return x > 1 ? x + log1p(-exp(-x)) : log(expm1(x))
    }

    /// log Σ exp(t) over `terms` (finite or −∞), scaled by the largest term.
    static func logSumExp(_ terms: [Double]) -> Double {
        guard let largest = terms.max(), largest > -.infinity else { return -.infinity }
        var sum = 0.0
        for term in terms { sum += exp(term - largest) }
        return largest + log(sum)
    }

    /// log of the bracket in Zhu & Wang 2019 ("Poisson Subsampled Rényi Differential Privacy",
    /// ICML, Thm. 5, the general upper bound for Poisson subsampling at integer α ≥ 2), for the
    /// base curve ε(ℓ) = ℓ/(2σ²):
    /// (1−q)^{α−1}(αq − q + 1) + C(α,2) q² (1−q)^{α−2} e^{ε(2)} + 3 Σ_{ℓ=3}^{α} C(α,ℓ) (1−q)^{α−ℓ} q^ℓ e^{(ℓ−1)ε(ℓ)}.
    static func zhuWangLogBound(q: Double, sigma: Double, alpha: Int) -> Double {
        let a = Double(alpha)
        let logQ = log(q)
        let log1mq = log1p(-q)
        let twoSigmaSquared = 2 * sigma * sigma
        var total = (a - 1) * log1mq + log(a * q - q + 1)
        total = LogMath.logAdd(total, LogMath.logBinomial(a, 2) + 2 * logQ + (a - 2) * log1mq + 2 / twoSigmaSquared)
        if alpha >= 3 {
            let log3 = log(3.0)
            for l in 3...alpha {
                let dl = Double(l)
                let term =
                    log3 + LogMath.logBinomial(a, dl) + (a - dl) * log1mq + dl * logQ
                    + (dl - 1) * dl / twoSigmaSquared
                total = LogMath.logAdd(total, term)
            }
        }
        return total
    }
}

/// Composition of charged rounds, and ε at δ over the integer orders (same conversion as
/// `RDPAccountant.epsilon`: Canonne, Kamath & Steinke 2020, Prop. 12). RDP adds over rounds
/// (Mironov 2017, Prop. 1), whatever method each round was charged with.
public struct ChargeAccountant: Sendable, Equatable {
    /// Accumulated charged RDP at each of `DiscreteGaussianCharge.orders`.
    public private(set) var rdp: [Double] = Array(repeating: 0, count: DiscreteGaussianCharge.orders.count)
    private var curveCache: [CurveKey: [Double]] = [:]

    struct CurveKey: Hashable, Sendable {
        let mechanism: SubsampledGaussian
        let method: ChargeMethod
    }

    public init() {}

    public static func == (lhs: ChargeAccountant, rhs: ChargeAccountant) -> Bool { lhs.rdp == rhs.rdp }

    /// Adds `rounds` rounds of `mechanism` charged with `method`.
    /// - Throws: `privacy.invalid_charge` when the curve cannot be computed (nothing is added).
    public mutating func compose(
        _ mechanism: SubsampledGaussian, rounds: Int = 1, method: ChargeMethod
    ) throws(PrivacyError) {
        precondition(rounds >= 0)
        let key = CurveKey(mechanism: mechanism, method: method)
        let curve: [Double]
        if let cached = curveCache[key] {
            curve = cached
        } else {
            curve = try DiscreteGaussianCharge.rdp(of: mechanism, method: method)
            if curveCache.count < 1024 { curveCache[key] = curve }
        }
        for index in rdp.indices { rdp[index] += Double(rounds) * curve[index] }
    }

    /// Adds `rounds` rounds of `mechanism` charged with `ChargeMethod.current`. A curve that cannot
    /// be computed is charged as +∞ at every order (fail closed: such a plan can never pass a
    /// budget); use `compose(_:rounds:method:)` to get the error instead.
    public mutating func compose(_ mechanism: SubsampledGaussian, rounds: Int = 1) {
        do {
            try compose(mechanism, rounds: rounds, method: .current)
        } catch {
            for index in rdp.indices { rdp[index] = .infinity }
        }
    }

    /// ε at `delta` and the order achieving it.
    public func epsilon(delta: Double) -> EpsilonResult {
        RDPAccountant.epsilon(orders: DiscreteGaussianCharge.orders, rdp: rdp, delta: delta)
    }

    /// ε at `delta` if `mechanism` ran once more under `method`: the budget gate's projection.
    public func projectedEpsilon(
        adding mechanism: SubsampledGaussian, delta: Double, method: ChargeMethod
    ) throws(PrivacyError) -> EpsilonResult {
        var copy = self
        try copy.compose(mechanism, method: method)
        return copy.epsilon(delta: delta)
    }

    /// ε at `delta` if `mechanism` ran once more under `ChargeMethod.current` (+∞ if the curve
    /// cannot be computed).
    public func projectedEpsilon(adding mechanism: SubsampledGaussian, delta: Double) -> EpsilonResult {
        var copy = self
        copy.compose(mechanism)
        return copy.epsilon(delta: delta)
    }
}
