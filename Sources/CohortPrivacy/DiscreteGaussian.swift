import CohortCrypto

/// Owns the sampler's block of random words and zeroes it on release.
final class RandomWordBlock {
    let words: UnsafeMutableBufferPointer<UInt64>

    init(count: Int) {
        words = .allocate(capacity: count)
        words.initialize(repeating: 0)
    }

    deinit {
        Sodium.memzero(words.baseAddress!, count: words.count * MemoryLayout<UInt64>.size)
        words.deallocate()
    }
}

/// The discrete Gaussian N_Z(0, σ²) with σ² stored as an exact rational num/den.
///
/// σ² is rounded **up** to the rational (relative error below 2^-20), so the noise is never
/// smaller than requested and the continuous-curve charge stays an upper bound.
public struct DiscreteGaussian: Sendable, Hashable {
    /// Numerator of σ².
    public let sigmaSquaredNumerator: UInt64
    /// Denominator of σ² (a power of two).
    public let sigmaSquaredDenominator: UInt64

    /// The largest σ supported: keeps every intermediate of the sampler within 128 bits.
    public static let maximumSigma: Double = 0x1p25
    /// The smallest σ supported.
    public static let minimumSigma: Double = 0x1p-8

    /// N_Z(0, σ²) for σ in [2^-8, 2^25].
    public init(sigma: Double) throws(PrivacyError) {
        guard sigma.isFinite, sigma >= Self.minimumSigma, sigma <= Self.maximumSigma else {
            throw PrivacyError(
                code: "privacy.invalid_noise_scale",
                message:
                    "discrete Gaussian σ must lie in [\(Self.minimumSigma), \(Self.maximumSigma)] grid steps, got \(sigma); "
                    + "choose a coarser or finer fixed-point grid"
            )
        }
        // fl(σ·σ) may lie half an ulp below σ²; its successor does not, so the rational rounded
        // up from it is never below the requested σ² and float rounding never favours the charge.
        let variance = (sigma * sigma).nextUp
        // Largest power-of-two denominator (≤ 2^50) keeping the numerator below 2^50, so that
        // 2·num·den·t² ≤ 2^101 and the sampler's products fit in 128 bits.
        var exponent = 50
        while exponent > 0 && variance * Double(UInt64(1) << UInt64(exponent)) >= 0x1p50 { exponent -= 1 }
        let denominator = UInt64(1) << UInt64(exponent)
        sigmaSquaredNumerator = UInt64((variance * Double(denominator)).rounded(.up))
        sigmaSquaredDenominator = denominator
    }

    /// σ² as a Double.
    public var variance: Double { Double(sigmaSquaredNumerator) / Double(sigmaSquaredDenominator) }

    /// σ as a Double.
    public var sigma: Double { variance.squareRoot() }

    /// The discrete Laplace scale t = ⌊σ⌋ + 1 of CKS Algorithm 3.
    var laplaceScale: UInt64 {
        // ⌊σ⌋ from the exact rational: the largest s with s²·den ≤ num.
        var s = UInt64(sigma.rounded(.down))
        while UInt128(s + 1) * UInt128(s + 1) * UInt128(sigmaSquaredDenominator) <= UInt128(sigmaSquaredNumerator) {
            s += 1
        }
        while s > 0 && UInt128(s) * UInt128(s) * UInt128(sigmaSquaredDenominator) > UInt128(sigmaSquaredNumerator) {
            s -= 1
        }
        return s + 1
    }
}
