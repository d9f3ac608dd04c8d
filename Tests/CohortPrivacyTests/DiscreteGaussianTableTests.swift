@_spi(CohortTesting) import CohortCrypto
import Foundation
import Testing

@_spi(CohortTesting) @testable import CohortPrivacy

/// The production sampler (`DiscreteGaussianSampler`): its floating-point-derived constants
/// checked in exact arithmetic, its fast acceptance checked against the exact comparison on the
/// same bits, and its output against the exact pmf at small and large σ, through the body and
/// the tail. Seeded streams make failures reproducible; seeds are arbitrary, never tuned.
@Suite struct DiscreteGaussianTableTests {
    static let sigmas = [0x1p-8, 0.4, 0.5, 1, 3, 31.9, 64, 1_000, 10_000, 1_001_000, DiscreteGaussian.maximumSigma]

    /// Every envelope inequality the exactness argument needs, checked with `ExactExp.bounds`
    /// (integers only): W_j ≥ 2w·c·e^(-a(s_j)), W_tail ≥ 4w'·c·e^(-a(M)), the squeeze threshold
    /// S_j·2^-53 ≤ e^(-a(s_j + w - 1))·2w·c/W_j and the rejection threshold H_j·2^-53 ≥
    /// e^(-a(s_j))·2w·c/W_j; and the alias table reproduces the weights exactly.
    @Test(arguments: sigmas)
    func tableConstantsHoldInExactArithmetic(sigma: Double) throws {
        for coverage in [10.0, 1.0] {
            let table = DiscreteGaussianTable(try DiscreteGaussian(sigma: sigma), coverage: coverage)
            let p = 160
            let twoSigmaSquared = BigUInt(2 * UInt128(table.numerator))
            func exponentBounds(_ x: UInt64) -> (lo: BigUInt, hi: BigUInt) {
                ExactExp.bounds(
                    n: BigUInt(x) * BigUInt(x) * BigUInt(table.denominator), d: twoSigmaSquared, precision: p)
            }
            let width = UInt64(1) << UInt64(table.binWidthBits)
            let twoWC = BigUInt(2 * width) * BigUInt(table.scale)
            let one53 = BigUInt(1) << 53
            #expect(table.weights[0] == table.scale)
            for j in 1...table.bodyBins {
                let weight = BigUInt(table.weights[j])
                let first = exponentBounds(table.starts[j])
                #expect(weight << p >= twoWC * first.hi, "σ = \(sigma), bin \(j): weight below the envelope")
                let last = exponentBounds(table.starts[j] + width - 1)
                #expect(
                    BigUInt(table.acceptBelow[j]) * weight << p <= last.lo * twoWC * one53,
                    "σ = \(sigma), bin \(j): squeeze threshold above the acceptance probability")
                if table.rejectFrom[j] < 1 << 53 {
                    #expect(
                        BigUInt(table.rejectFrom[j]) * weight << p >= first.hi * twoWC * one53,
                        "σ = \(sigma), bin \(j): rejection threshold below the acceptance probability")
                }
            }
            let tail = exponentBounds(table.tailStart)
            let fourWPrimeC = BigUInt(4 * table.scale) << table.tailBlockBits
            #expect(BigUInt(table.weights[table.tailBin]) << p >= fourWPrimeC * tail.hi, "σ = \(sigma): tail weight")
            // w'·M/σ² ≥ 1, so the envelope falls by at least 2 per block.
            #expect(
                UInt128(1) << UInt128(table.tailBlockBits) * UInt128(table.tailStart) * UInt128(table.denominator)
                    >= UInt128(table.numerator))
            // Alias table: column i keeps bin i below its threshold and gives its alias above.
            var mass = [UInt64](repeating: 0, count: table.weights.count)
            for column in 0..<(1 << DiscreteGaussianTable.columnBits) {
                let threshold = table.thresholds[column]
                if column < mass.count { mass[column] += threshold } else { #expect(threshold == 0) }
                mass[Int(table.aliases[column])] += (1 << 32) - threshold
            }
            #expect(mass == table.weights)
            #expect(table.weights.reduce(0, +) == DiscreteGaussianTable.totalWeight)
            // The padding (retry) bin stays small, or the sampler would be slow.
            #expect(Double(table.weights[table.paddingBin]) < 0.01 * Double(DiscreteGaussianTable.totalWeight))
        }
    }

    /// The fast acceptance (squeeze thresholds, then Double bounds with a margin) decides exactly
    /// as the exact comparison does on the same bits, for uniforms placed right at the boundary,
    /// where the fast path must defer to the exact one.
    @Test(arguments: [(3.0, UInt64(41)), (1_000.0, 42), (10_000.0, 43), (1_001_000.0, 44)])
    func fastAcceptanceAgreesWithExactComparison(sigma: Double, seed: UInt64) throws {
        let table = DiscreteGaussianTable(try DiscreteGaussian(sigma: sigma))
        var generator = SplitMix(seed: seed)
        let width = UInt64(1) << UInt64(table.binWidthBits)
        var deferred = 0
        for trial in 0..<2_000 {
            let bin = 1 + Int(generator.next() % UInt64(min(table.bodyBins, 6 * Int(sigma / Double(width)) + 2)))
            let magnitude = table.starts[bin] + generator.next() % width
            // ⌊h(x)·2^64⌋ from exact bounds (h = e^(-a)·2w·c/W_j), to place u on the boundary.
            let twoWC = BigUInt(2 * table.scale) << table.binWidthBits
            let bounds = ExactExp.bounds(
                n: BigUInt(magnitude) * BigUInt(magnitude) * BigUInt(table.denominator),
                d: BigUInt(2 * UInt128(table.numerator)), precision: 128)
            let boundary =
                (bounds.lo * twoWC).quotientAndRemainder(dividingBy: BigUInt(table.weights[bin])).quotient >> 64
            let boundaryWord = boundary.limbs.first ?? 0
            // u at the boundary (±1 at 64 bits), or anywhere for a third of the trials.
            let u = trial % 3 == 0 ? generator.next() : boundaryWord &+ (generator.next() % 3) &- 1
            let u53 = u >> 11
            let more = (0..<6).map { _ in generator.next() }
            var fastSource = FixedWords(more)
            var exactSource = FixedWords(more)
            let fast = DiscreteGaussianSampler.bodyAcceptance(
                table: table, bin: bin, magnitude: magnitude, u: u, source: &fastSource)
            let exact = DiscreteGaussianSampler.exactAcceptance(
                table: table, magnitude: magnitude, ratioNumerator: BigUInt(table.weights[bin]),
                ratioDenominator: BigUInt(2 * table.scale) << table.binWidthBits, u: u, source: &exactSource)
            #expect(fast == exact, "σ = \(sigma), |x| = \(magnitude), u53 = \(u53)")
            #expect(fastSource.index == exactSource.index, "both paths read V's further bits alike")
            if fastSource.index > 0 { deferred += 1 }
        }
        // Boundary uniforms must have needed V's bits beyond the first 64, which only the exact
        // comparison reads, or this test would test nothing.
        #expect(deferred > 300, "only \(deferred) trials reached the exact comparison")
    }

    /// χ² of the sampler's output against the exact pmf, at small σ (every integer its own cell)
    /// and at large σ (cells of σ/4), with the body covering 10σ (production) or only σ or 1.5σ,
    /// so that the tail proposal and its exact acceptance produce a third of the samples.
    @Test(arguments: [
        (0.5, 10.0, UInt64(51)), (1.0, 10.0, 52), (3.0, 10.0, 53), (10_000.0, 10.0, 54),
        (0.5, 1.0, 55), (3.0, 1.0, 56), (200.0, 1.5, 57), (10_000.0, 1.0, 58),
    ])
    func chiSquareAgainstExactPmf(sigma: Double, coverage: Double, seed: UInt64) throws {
        let distribution = try DiscreteGaussian(sigma: sigma)
        var sampler = DiscreteGaussianSampler(
            distribution, stream: ChaCha20KeyStream(testSeed: seed), coverage: coverage)
        let n = 300_000
        let samples = sampler.samples(n)
        let result = Self.chiSquare(samples, variance: distribution.variance)
        // The 99.99th percentile of χ² with k degrees of freedom is below 2.3k + 20 for k ≤ 60.
        #expect(
            result.statistic < 2.3 * Double(result.degreesOfFreedom) + 20,
            "σ = \(sigma), coverage \(coverage): χ² = \(result.statistic) with \(result.degreesOfFreedom) d.f.")
        #expect(result.degreesOfFreedom >= 3)
    }

    /// The production sampler and the independent CKS implementation agree (two-sample χ²).
    @Test(arguments: [(1.5, UInt64(61)), (700.0, 62)])
    func agreesWithTheCKSSampler(sigma: Double, seed: UInt64) throws {
        let distribution = try DiscreteGaussian(sigma: sigma)
        var table = DiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: seed))
        var cks = CKSDiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: seed + 100))
        let n = 200_000
        let cell = max(1.0, sigma / 4)
        func cells(_ samples: [Int64]) -> [Int: Int] {
            var counts: [Int: Int] = [:]
            for x in samples { counts[max(-12, min(12, Int((Double(x) / cell).rounded(.down)))), default: 0] += 1 }
            return counts
        }
        let a = cells(table.samples(n))
        let b = cells(cks.samples(n))
        var statistic = 0.0
        var used = 0
        for key in Set(a.keys).union(b.keys) {
            let (x, y) = (Double(a[key] ?? 0), Double(b[key] ?? 0))
            guard x + y >= 10 else { continue }
            statistic += (x - y) * (x - y) / (x + y)
            used += 1
        }
        #expect(
            statistic < 2.3 * Double(used - 1) + 20,
            "σ = \(sigma): two-sample χ² = \(statistic) over \(used) cells")
    }

    /// χ² over cells of width max(1, ⌊σ/4⌋) around 0, with cells of expected count < 5 pooled
    /// into the two tails; the pmf comes from exp(-x²/(2σ²)) summed in Double over ±40σ.
    static func chiSquare(_ samples: [Int64], variance: Double) -> (statistic: Double, degreesOfFreedom: Int) {
        let sigma = variance.squareRoot()
        let width = max(1, Int(sigma / 4))
        let limit = Int(40 * sigma) + 2
        var total = 0.0
        var cellMass: [Int: Double] = [:]
        for x in -limit...limit {
            let mass = exp(-Double(x) * Double(x) / (2 * variance))
            total += mass
            cellMass[Int((Double(x) / Double(width)).rounded(.down)), default: 0] += mass
        }
        var observed: [Int: Int] = [:]
        for x in samples { observed[Int((Double(x) / Double(width)).rounded(.down)), default: 0] += 1 }
        let n = Double(samples.count)
        var statistic = 0.0
        var cells = 0
        var pooled = (expected: 0.0, observed: 0)
        for (cell, mass) in cellMass {
            let expected = mass / total * n
            if expected >= 5 {
                let difference = Double(observed[cell] ?? 0) - expected
                statistic += difference * difference / expected
                cells += 1
            } else {
                pooled.expected += expected
                pooled.observed += observed[cell] ?? 0
            }
        }
        // Samples beyond ±40σ (none expected) land in the pooled cell.
        pooled.observed += observed.filter { cellMass[$0.key] == nil }.values.reduce(0, +)
        if pooled.expected > 0 || pooled.observed > 0 {
            let difference = Double(pooled.observed) - pooled.expected
            statistic += difference * difference / max(pooled.expected, 1)
            cells += 1
        }
        return (statistic, cells - 1)
    }
}
