/// The fixed-point grid on which Cohort adds discrete Gaussian noise.
///
/// The aggregate (a sum of clipped float32 vectors) is rounded coordinate-wise to the nearest
/// multiple of `step`, noised with integers, and mapped back. Rounding moves each coordinate by
/// at most step/2, so two neighbouring aggregates whose difference has L2 norm ≤ C differ by at
/// most C + step·√d after rounding: that is the sensitivity the charge is computed for
/// (see docs/PRIVACY.md).
public struct FixedPointGrid: Sendable, Hashable, Codable {
    /// The grid step γ.
    public let step: Double

    /// A grid with step `step` > 0.
    public init(step: Double) throws(PrivacyError) {
        guard step.isFinite, step > 0 else {
            throw PrivacyError(
                code: "privacy.invalid_grid_step", message: "grid step must be finite and > 0, got \(step)")
        }
        self.step = step
    }

    /// The grid for clipping bound C and dimension d whose rounding inflates the sensitivity by
    /// at most `inflation` (relative): step = inflation·C/√d.
    public init(clippingBound: Double, dimension: Int, inflation: Double = 1e-3) throws(PrivacyError) {
        guard dimension >= 1 else {
            throw PrivacyError(
                code: "privacy.invalid_dimension", message: "model dimension must be ≥ 1, got \(dimension)")
        }
        try self.init(step: inflation * clippingBound / Double(dimension).squareRoot())
    }

    /// The L2 sensitivity on the grid, in the original units: C + γ√d.
    public func sensitivity(clippingBound: Double, dimension: Int) -> Double {
        clippingBound + step * Double(dimension).squareRoot()
    }

    /// The discrete Gaussian, in grid units, whose noise realises multiplier σ on this grid:
    /// standard deviation σ·(C + γ√d)/γ.
    public func noise(
        noiseMultiplier: Double, clippingBound: Double, dimension: Int
    ) throws(PrivacyError) -> DiscreteGaussian {
        try DiscreteGaussian(
            sigma: noiseMultiplier * sensitivity(clippingBound: clippingBound, dimension: dimension) / step)
    }

    /// The largest magnitude, in grid steps, that ``quantize(_:)`` accepts: 2^62, so that adding
    /// a noise sample (at most 2^62 in magnitude for any σ the sampler allows) cannot overflow.
    public static let maximumSteps: Double = 0x1p62

    /// Rounds `value` to the nearest grid point, as an integer count of steps.
    ///
    /// Never traps: a value that is not finite, or whose step count lies outside
    /// ±``maximumSteps``, is refused with `privacy.grid_out_of_range` (refusing rather than
    /// clamping: a clamp would move the value by an unbounded amount, which the sensitivity
    /// bound C + γ√d does not cover).
    @inline(__always)
    public func quantize(_ value: Double) throws(PrivacyError) -> Int64 {
        let steps = (value / step).rounded(.toNearestOrEven)
        guard steps.isFinite, abs(steps) <= Self.maximumSteps else {
            throw PrivacyError(
                code: "privacy.grid_out_of_range",
                message:
                    "a value of magnitude \(value.isFinite ? String(abs(value)) : "non-finite") is not representable on the grid "
                    + "(step \(step), at most 2^62 steps); the aggregate must be bounded before it is quantised"
            )
        }
        return Int64(steps)
    }

    /// The value of an integer count of steps.
    @inline(__always)
    public func dequantize(_ steps: Int64) -> Double {
        Double(steps) * step
    }
}
