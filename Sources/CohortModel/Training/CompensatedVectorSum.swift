/// A running sum of vectors in double precision with Neumaier's compensated summation (the
/// Kahan–Babuška variant; Neumaier 1974), coordinate by coordinate.
///
/// A silo sums up to ``maximumTerms`` clipped per-record gradients. Plain recursive summation
/// errs by up to (B − 1)·u·Σᵢ|xᵢⱼ| per coordinate (u = 2⁻⁵³), so two neighbouring sums could
/// differ by 2(B − 1)·B·u·C beyond the C the record moves them — more than the plan's 10⁻⁶·C
/// margin once B exceeds about 7·10⁴. Compensated summation errs by at most
/// (2u + O(B·u²))·Σᵢ|xᵢⱼ| per coordinate (Higham 2002, "Accuracy and Stability of Numerical
/// Algorithms", §4.3, eq. (4.8)), independent of B to first order. Over the coordinates,
/// ‖(Σᵢ|xᵢⱼ|)ⱼ‖₂ ≤ Σᵢ‖xᵢ‖₂ ≤ B·C (Minkowski), so the sum's L2 error is at most
/// ``relativeErrorPerTerm``·B·C with 3u covering the second-order term for B ≤ ``maximumTerms``
/// (B·u² ≤ 2⁻⁷⁶ there). ``errorBound(terms:termNormBound:)`` states it; the coordinator checks
/// that twice the bound at ``maximumTerms`` stays within its sensitivity margin.
public struct CompensatedVectorSum: Sendable {
    /// The running (uncompensated) sums.
    private var sums: [Double]
    /// The accumulated low-order parts lost by each addition.
    private var compensations: [Double]

    /// The most terms the bound is stated for: a silo's batch is a subset of its records, at most
    /// `DataQualityAttestation.maximumRows`.
    public static let maximumTerms = DataQualityAttestation.maximumRows
    /// The L2 error per term of norm ≤ 1: 3u, u = 2⁻⁵³ (see the type's documentation).
    public static let relativeErrorPerTerm = 3 * 0x1p-53

    /// An all-zero sum of vectors of `count` coordinates.
    public init(count: Int) {
        sums = [Double](repeating: 0, count: count)
        compensations = [Double](repeating: 0, count: count)
    }

    /// Adds `value` to coordinate `index`.
    @inline(__always)
    public mutating func add(_ value: Double, at index: Int) {
        let sum = sums[index]
        let total = sum + value
        // The rounding error of `sum + value`, exact in double precision (Neumaier's branch on the
        // larger magnitude).
        compensations[index] += abs(sum) >= abs(value) ? (sum - total) + value : (value - total) + sum
        sums[index] = total
    }

    /// The compensated sums.
    public var result: [Double] {
        var out = sums
        for index in out.indices { out[index] += compensations[index] }
        return out
    }

    /// The bound on the L2 distance between `result` and the exact sum of `terms` vectors each
    /// of L2 norm at most `termNormBound`, for `terms` ≤ ``maximumTerms``.
    public static func errorBound(terms: Int, termNormBound: Double) -> Double {
        relativeErrorPerTerm * Double(terms) * termNormBound
    }
}
