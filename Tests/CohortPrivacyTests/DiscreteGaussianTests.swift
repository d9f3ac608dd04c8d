@_spi(CohortTesting) import CohortCrypto
import Foundation
import Testing

@_spi(CohortTesting) @testable import CohortPrivacy

/// Distribution tests of the exact discrete Gaussian sampler. They run on seeded streams so a
/// failure is reproducible; the seeds are arbitrary and fixed, never tuned.
@Suite struct DiscreteGaussianTests {
    /// The exact pmf of N_Z(0, σ²) over -bound...bound (mass beyond is below 1e-300 for these σ).
    static func pmf(variance: Double, bound: Int) -> [Int: Double] {
        var weights: [Int: Double] = [:]
        for x in -bound...bound { weights[x] = exp(-Double(x * x) / (2 * variance)) }
        let total = weights.values.reduce(0, +)
        return weights.mapValues { $0 / total }
    }

    @Test(arguments: [(0.4, UInt64(11)), (1.5, 12), (3.0, 13)])
    func chiSquareAgainstExactPmf(sigma: Double, seed: UInt64) throws {
        let distribution = try DiscreteGaussian(sigma: sigma)
        var sampler = DiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: seed))
        let n = 200_000
        var counts: [Int64: Int] = [:]
        for _ in 0..<n { counts[sampler.next(), default: 0] += 1 }
        let pmf = Self.pmf(variance: distribution.variance, bound: 200)
        // Bins with expected count ≥ 5; the rest pooled into one tail bin.
        var chiSquare = 0.0
        var bins = 0
        var tailExpected = 0.0
        var tailObserved = 0
        for x in -200...200 {
            let expected = pmf[x]! * Double(n)
            let observed = counts[Int64(x)] ?? 0
            if expected >= 5 {
                chiSquare += pow(Double(observed) - expected, 2) / expected
                bins += 1
            } else {
                tailExpected += expected
                tailObserved += observed
            }
        }
        if tailExpected > 0 {
            chiSquare += pow(Double(tailObserved) - tailExpected, 2) / max(tailExpected, 1)
            bins += 1
        }
        // The 99.99th percentile of χ² with k ≤ 30 degrees of freedom is below 2.3k + 20.
        let criticalValue = 2.3 * Double(bins - 1) + 20
        #expect(chiSquare < criticalValue, "χ² = \(chiSquare) over \(bins) bins")
        #expect(counts.keys.allSatisfy { abs($0) <= 200 })
    }

    @Test(arguments: [(1000.0, UInt64(21)), (65_536.5, 22)])
    func meanVarianceAndTailsForLargeSigma(sigma: Double, seed: UInt64) throws {
        let distribution = try DiscreteGaussian(sigma: sigma)
        var sampler = DiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: seed))
        let n = 200_000
        let samples = sampler.samples(n)
        let mean = samples.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = samples.reduce(0.0) { $0 + pow(Double($1) - mean, 2) } / Double(n - 1)
        // Five standard errors: mean σ/√n; variance σ²·√(2/n).
        #expect(abs(mean) < 5 * sigma / Double(n).squareRoot())
        #expect(abs(variance / (sigma * sigma) - 1) < 5 * (2.0 / Double(n)).squareRoot())
        // Two-sided Gaussian tail mass beyond 3σ is 0.0026998; its binomial sd at n is ~1.2e-4.
        let beyond3 = Double(samples.filter { abs(Double($0)) > 3 * sigma }.count) / Double(n)
        #expect(abs(beyond3 - 0.0026998) < 6e-4)
        // Beyond 6σ the mass is 2e-9: none should appear in 2e5 draws.
        #expect(samples.allSatisfy { abs(Double($0)) <= 6 * sigma })
        // Symmetry.
        let positives = samples.filter { $0 > 0 }.count
        let negatives = samples.filter { $0 < 0 }.count
        #expect(abs(positives - negatives) < 5 * Int(Double(n).squareRoot()))
    }

    /// The acceptance step of CKS Algorithm 3 is Bernoulli(exp(-x)), x = (|Y| - σ²/t)²/(2σ²), on
    /// both its floating-point-guided fast path and the exact 128-bit path it falls back to
    /// (which the distribution tests above reach only rarely). Magnitudes are chosen so that x
    /// covers 0, fractions, and integer parts 1…4 (the peeled Bernoulli(exp(-1)) trials).
    @Test(arguments: [(1000.0, UInt64(31)), (3.0, 32), (65_536.5, 33)])
    func acceptanceIsBernoulliExpOfExponentOnBothPaths(sigma: Double, seed: UInt64) throws {
        let distribution = try DiscreteGaussian(sigma: sigma)
        var sampler = CKSDiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: seed))
        let t = Double(distribution.laplaceScale)
        let variance = distribution.variance
        let n = 40_000
        for multiple in [0.0, 0.7, 1.0, 1.5, 2.0, 3.0] {
            let magnitude = UInt64((variance / t + multiple * variance.squareRoot()).rounded())
            let x = pow(Double(magnitude) - variance / t, 2) / (2 * variance)
            let p = exp(-x)
            var fast = 0
            var exact = 0
            for _ in 0..<n {
                if sampler.accept(magnitude) { fast += 1 }
                if sampler.acceptExactly(magnitude) { exact += 1 }
            }
            let tolerance = 5 * (p * (1 - p) / Double(n)).squareRoot() + 1e-9
            #expect(abs(Double(fast) / Double(n) - p) < tolerance, "fast path, |Y| = \(magnitude), x = \(x)")
            #expect(abs(Double(exact) / Double(n) - p) < tolerance, "exact path, |Y| = \(magnitude), x = \(x)")
        }
    }

    @Test func seededStreamsAreReproducibleAndDistinct() throws {
        let distribution = try DiscreteGaussian(sigma: 10)
        var a = DiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: 7))
        var b = DiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: 7))
        var c = DiscreteGaussianSampler(distribution, stream: ChaCha20KeyStream(testSeed: 8))
        let first = a.samples(1000)
        #expect(first == b.samples(1000))
        #expect(first != c.samples(1000))
    }

    /// Production samplers take no seed: each is keyed from libsodium's CSPRNG, so two of them,
    /// built the same way in the same process, never agree.
    @Test func productionNoiseCannotBeSeeded() throws {
        let distribution = try DiscreteGaussian(sigma: 10)
        var first = DiscreteGaussianSampler(distribution)
        var second = DiscreteGaussianSampler(distribution)
        #expect(first.samples(256) != second.samples(256))
        let streamA = ChaCha20KeyStream()
        let streamB = ChaCha20KeyStream()
        let wordsA = (0..<8).map { _ in streamA.next() }
        let wordsB = (0..<8).map { _ in streamB.next() }
        #expect(wordsA != wordsB)
    }

    @Test func varianceIsRoundedUpToAnExactRational() throws {
        for sigma in [0.004, 0.37, 1.0, 3.3, 1000.0, 123_456.789, DiscreteGaussian.maximumSigma] {
            let distribution = try DiscreteGaussian(sigma: sigma)
            #expect(distribution.variance >= sigma * sigma)
            #expect(distribution.variance <= sigma * sigma * (1 + 0x1p-20))
            let t = distribution.laplaceScale
            #expect(t == UInt64(sigma.rounded(.down)) + 1)
        }
    }

    @Test(arguments: [0.0, -1.0, .nan, .infinity, 1e9])
    func rejectsUnsupportedSigma(sigma: Double) {
        do {
            _ = try DiscreteGaussian(sigma: sigma)
            Issue.record("σ = \(sigma) accepted")
        } catch {
            #expect(error.code == "privacy.invalid_noise_scale")
        }
    }
}
