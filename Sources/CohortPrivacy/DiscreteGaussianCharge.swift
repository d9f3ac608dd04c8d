#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The RDP actually charged for a round of Cohort's mechanism as implemented: Poisson
/// subsampling, clipping, quantisation to a fixed-point grid, and exact discrete Gaussian noise.
///
/// Only integer orders are used, because the two facts the charge rests on hold there
/// (docs/PRIVACY.md gives the argument):
/// - add direction, D_α(mixture ‖ base): for integer k and an integer shift μ,
///   E_{x~N_Z(0,s²I)}[(p_μ(x)/p_0(x))^k] = exp((k²−k)‖μ‖²/(2s²)) exactly, so the binomial expansion
///   of the mixture gives precisely the sampled Gaussian's A_α of Mironov, Talwar & Zhang 2019
///   (Sec. 3.2) at noise multiplier σ = s/‖μ‖_max;
/// - remove direction, D_α(base ‖ mixture): Zhu & Wang 2019 ("Poisson Subsampled Rényi
///   Differential Privacy", ICML, Thm. 6) bound Poisson subsampling of any mechanism with RDP curve
///   ε(ℓ); the discrete Gaussian with integer shifts has ε(ℓ) = ℓ·‖μ‖²/(2s²) in both directions
///   (Canonne, Kamath & Steinke 2020, Prop. 6 and Thm. 15), the continuous Gaussian's curve.
///
/// The charge per order is the larger of the two, so it covers both neighbouring directions.
/// For q = 1 it is α/(2σ²) exactly. It is never below the continuous reference that
/// `RDPAccountant` computes at the same integer orders.
public enum DiscreteGaussianCharge {
    /// The integer orders of `RDPAccountant.defaultOrders`: 2…63, 128, 256, 512, 1024.
    public static let orders: [Double] = RDPAccountant.defaultOrders.filter { $0.rounded(.towardZero) == $0 }

    /// The per-round RDP charged at each of `orders` for sampling rate q and noise multiplier σ
    /// (σ relative to the post-quantisation sensitivity).
    public static func rdp(of mechanism: SubsampledGaussian) -> [Double] {
        let q = mechanism.samplingRate
        let sigma = mechanism.noiseMultiplier
        return orders.map { alpha in
            if q == 1 { return alpha / (2 * sigma * sigma) }
            let order = Int(alpha)
            let add = RDPAccountant.logAInteger(q: q, sigma: sigma, alpha: order) / (alpha - 1)
            let remove = zhuWangLogBound(q: q, sigma: sigma, alpha: order) / (alpha - 1)
            return max(add, remove)
        }
    }

    /// log of the bracket in Zhu & Wang 2019, Thm. 6, for integer α ≥ 2 and base curve
    /// ε(ℓ) = ℓ/(2σ²):
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
                let term = log3 + LogMath.logBinomial(a, dl) + (a - dl) * log1mq + dl * logQ
                    + (dl - 1) * dl / twoSigmaSquared
                total = LogMath.logAdd(total, term)
            }
        }
        return total
    }
}

/// Composition of charged rounds, and ε at δ over the integer orders (same conversion as
/// `RDPAccountant.epsilon`: Canonne, Kamath & Steinke 2020, Prop. 12).
public struct ChargeAccountant: Sendable, Equatable {
    /// Accumulated charged RDP at each of `DiscreteGaussianCharge.orders`.
    public private(set) var rdp: [Double] = Array(repeating: 0, count: DiscreteGaussianCharge.orders.count)
    private var curveCache: [SubsampledGaussian: [Double]] = [:]

    public init() {}

    public static func == (lhs: ChargeAccountant, rhs: ChargeAccountant) -> Bool { lhs.rdp == rhs.rdp }

    /// Adds `rounds` rounds of `mechanism`.
    public mutating func compose(_ mechanism: SubsampledGaussian, rounds: Int = 1) {
        let curve: [Double]
        if let cached = curveCache[mechanism] {
            curve = cached
        } else {
            curve = DiscreteGaussianCharge.rdp(of: mechanism)
            if curveCache.count < 1024 { curveCache[mechanism] = curve }
        }
        for index in rdp.indices { rdp[index] += Double(rounds) * curve[index] }
    }

    /// ε at `delta` and the order achieving it.
    public func epsilon(delta: Double) -> EpsilonResult {
        RDPAccountant.epsilon(orders: DiscreteGaussianCharge.orders, rdp: rdp, delta: delta)
    }

    /// ε at `delta` if `mechanism` ran once more: the budget gate's projection.
    public func projectedEpsilon(adding mechanism: SubsampledGaussian, delta: Double) -> EpsilonResult {
        var copy = self
        copy.compose(mechanism)
        return copy.epsilon(delta: delta)
    }
}
