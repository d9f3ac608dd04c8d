import Foundation
import Testing

@testable import CohortPrivacy

/// The lemma behind `ChargeMethod.integerAddSymmetric` (docs/PRIVACY.md, "The charge"), checked
/// numerically by direct summation over the integer lattice, independently of the closed forms:
/// for P = N_Z(0, s²I), Q = N_Z(μ, s²I) with an integer shift μ and L = dQ/dP,
///   A_α = E_P[(1−q+qL)^α]      (add direction),
///   B_α = E_P[(1−q+qL)^(1−α)]  (remove direction),
/// B_α ≤ A_α at every α > 1 (fractional ones included), and at integer α, A_α equals the
/// closed form of Mironov, Talwar & Zhang 2019 (Sec. 3.2) at σ = s/‖μ‖.
@Suite struct SymmetricChargeLemmaTests {
    static let orders: [Double] = [1.5, 2, 3, 3.5, 8, 32]
    static let rates: [Double] = [0.01, 0.1, 0.5, 0.9]

    /// log A_α and log B_α by summation over the lattice points of `points`, each with its
    /// unnormalised log-density log p̃(x) = −‖x‖²/(2s²) and its log-likelihood ratio
    /// log L(x) = (2⟨x, μ⟩ − ‖μ‖²)/(2s²) (P and Q share their normalising constant, as μ is an
    /// integer vector).
    static func logMoments(
        points: [(logDensity: Double, logRatio: Double)], q: Double, alpha: Double
    ) -> (a: Double, b: Double) {
        let logNormaliser = logSumExp(points.map(\.logDensity))
        let log1mq = log1p(-q)
        let logQ = log(q)
        var addTerms: [Double] = []
        var removeTerms: [Double] = []
        addTerms.reserveCapacity(points.count)
        removeTerms.reserveCapacity(points.count)
        for point in points {
            // log(1 − q + qL), without overflow for large L.
            let logMixture = logAdd(log1mq, logQ + point.logRatio)
            addTerms.append(point.logDensity + alpha * logMixture)
            removeTerms.append(point.logDensity + (1 - alpha) * logMixture)
        }
        return (logSumExp(addTerms) - logNormaliser, logSumExp(removeTerms) - logNormaliser)
    }

    static func logAdd(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        return b + log1p(exp(a - b))
    }

    /// Sorted ascending before summing, so the small terms are added first.
    static func logSumExp(_ terms: [Double]) -> Double {
        let largest = terms.max()!
        return largest + log(terms.map { exp($0 - largest) }.sorted().reduce(0, +))
    }

    /// Lattice half-width: past it the weight of P (and of every tilted measure P·L^k, k ≤ α,
    /// centred at kμ) is below exp(−(40 s)²/(2s²)) = e^−800 < 1e-300 of the total.
    static func halfWidth(s: Double, shift: Double, alpha: Double) -> Int {
        Int((alpha.rounded(.up) * shift + 40 * s + 10).rounded(.up))
    }

    static func points1D(s: Double, mu: Int, alpha: Double) -> [(logDensity: Double, logRatio: Double)] {
        let k = halfWidth(s: s, shift: Double(mu), alpha: alpha)
        let twoS2 = 2 * s * s
        return (-k...k).map { x in
            (-Double(x * x) / twoS2, Double(2 * x * mu - mu * mu) / twoS2)
        }
    }

    static func points2D(s: Double, mu: (Int, Int), alpha: Double) -> [(logDensity: Double, logRatio: Double)] {
        let k = halfWidth(s: s, shift: Double(max(abs(mu.0), abs(mu.1))), alpha: alpha)
        let twoS2 = 2 * s * s
        let muNorm2 = mu.0 * mu.0 + mu.1 * mu.1
        var points: [(logDensity: Double, logRatio: Double)] = []
        points.reserveCapacity((2 * k + 1) * (2 * k + 1))
        for x in -k...k {
            for y in -k...k {
                points.append((-Double(x * x + y * y) / twoS2, Double(2 * (x * mu.0 + y * mu.1) - muNorm2) / twoS2))
            }
        }
        return points
    }

    func check(
        points: [(logDensity: Double, logRatio: Double)], shiftNorm: Double, s: Double, alpha: Double, label: String
    ) {
        for q in Self.rates {
            let (logA, logB) = Self.logMoments(points: points, q: q, alpha: alpha)
            // B ≤ A (1 + 1e-12).
            #expect(logB <= logA + 1e-12, "\(label), q \(q), α \(alpha): log B \(logB) > log A \(logA)")
            if alpha.rounded() == alpha {
                let closed = DiscreteGaussianCharge.addLogMoment(q: q, sigma: s / shiftNorm, alpha: Int(alpha))
                // A matches the MTZ closed form to 1e-10 relative (|Δ log A| ≈ relative error of A).
                #expect(
                    abs(logA - closed) <= 1e-10,
                    "\(label), q \(q), α \(alpha): lattice \(logA) vs closed form \(closed)")
            }
        }
    }

    @Test(arguments: [1, 2, 3], [0.7, 1.5, 4])
    func oneDimensionalLattice(mu: Int, s: Double) {
        for alpha in Self.orders {
            check(
                points: Self.points1D(s: s, mu: mu, alpha: alpha), shiftNorm: Double(mu), s: s, alpha: alpha,
                label: "1-D μ \(mu), s \(s)")
        }
    }

    @Test(arguments: [0.7, 1.5, 4])
    func twoDimensionalLattice(s: Double) {
        // ‖μ‖² = 2 and 5: shifts that are not multiples of a unit vector.
        for mu in [(1, 1), (2, 1)] {
            for alpha in [1.5, 2, 3.5, 8] {
                let norm = Double(mu.0 * mu.0 + mu.1 * mu.1).squareRoot()
                check(
                    points: Self.points2D(s: s, mu: mu, alpha: alpha), shiftNorm: norm, s: s, alpha: alpha,
                    label: "2-D μ \(mu), s \(s)")
            }
        }
    }

    /// The remove direction is strictly below the add direction away from the trivial cases, so
    /// the test above is not passing on equality alone.
    @Test func removeDirectionIsStrictlySmaller() {
        let (logA, logB) = Self.logMoments(points: Self.points1D(s: 1.5, mu: 1, alpha: 8), q: 0.5, alpha: 8)
        #expect(logB < logA - 1e-3)
    }
}
