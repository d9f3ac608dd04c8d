#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The proposal of `DiscreteGaussianSampler`: a piecewise-constant envelope of
/// exp(-x²/(2σ²)) over the integers, with integer weights, drawn through an exact alias table.
///
/// Bins: bin 0 is {0}; body bin j = 1…B holds the magnitudes s_j = 1 + (j-1)·w … s_j + w - 1
/// (w = 2^b) of either sign; the tail bin holds every magnitude ≥ M = 1 + B·w; a padding bin
/// (a retry) makes the weights sum to exactly 2^42. Weights are W_0 = c, W_j ≥ 2w·c·e^(-a(s_j))
/// and W_tail ≥ 4w'·c·e^(-a(M)), with a(x) = x²/(2σ²) and c an integer scale; every ≥ is
/// secured by the margins of `upperExp`, and any weights satisfying them make the sampler exact
/// (see `DiscreteGaussianSampler`), so the floating point here only affects speed.
final class DiscreteGaussianTable {
    /// log2 of the alias table's columns.
    static let columnBits = 10
    /// Bits of the uniform compared with a column's threshold.
    static let thresholdBits = 32
    /// 2^42: the weights' sum, columns × 2^32.
    static let totalWeight: UInt64 = 1 << UInt64(columnBits + thresholdBits)
    /// The relative error allowed for in every floating-point bound of e^(-a).
    ///
    /// a(x) is computed as fl(fl(x·x)·fl(den/(2·num))) from exact x < 2^53: three roundings,
    /// relative error below 2^-51, so below 2^-41.5 in absolute terms for a < 700 and below that
    /// relatively in e^(-a). libm's `exp` is within 1 ulp (2^-52 relatively) on glibc and Darwin
    /// (glibc reports 0.51 ulp for its exp since 2.28). Together with the two or three roundings
    /// of the products that use the bound, the error stays below 2^-41.3, so a factor (1 ± 2^-40)
    /// gives rigorous bounds.
    static let margin = 0x1p-40
    /// Beyond this exponent the bounds are [0, 2^-1000] (e^(-700) < 2^-1009), keeping `exp` away
    /// from subnormal results, where its relative error is not bounded.
    static let largeExponent = 700.0

    let numerator: UInt64
    let denominator: UInt64
    /// den / (2·num) as a Double, so that a(x) ≈ x²·exponentScale.
    let exponentScale: Double
    /// b, with bin width w = 2^b.
    let binWidthBits: Int
    /// B, the number of body bins.
    let bodyBins: Int
    /// M = 1 + B·w, the smallest magnitude of the tail.
    let tailStart: UInt64
    /// b', with the tail's block width w' = 2^b' ≥ σ²/M.
    let tailBlockBits: Int
    /// c.
    let scale: UInt64
    /// W_j for j = 0 … B + 2 (B + 1: tail, B + 2: padding).
    let weights: [UInt64]

    /// Per column: the threshold (out of 2^32) below which the column's own bin is taken.
    let thresholds: UnsafeMutableBufferPointer<UInt64>
    /// Per column: the bin taken otherwise.
    let aliases: UnsafeMutableBufferPointer<UInt16>
    /// Per bin: s_j.
    let starts: UnsafeMutableBufferPointer<UInt64>
    /// Per bin: S_j, a 53-bit acceptance threshold with S_j·2^-53 ≤ e^(-a(s_j + w - 1))/R_j.
    let acceptBelow: UnsafeMutableBufferPointer<UInt64>
    /// Per bin: H_j, a 53-bit rejection threshold with H_j·2^-53 ≥ e^(-a(s_j))/R_j.
    let rejectFrom: UnsafeMutableBufferPointer<UInt64>
    /// Per bin: 2^53/R_j = 2^53·2w·c/W_j (relative error ≤ 2^-53).
    let inverseRatio: UnsafeMutableBufferPointer<Double>

    var tailBin: Int { bodyBins + 1 }
    var paddingBin: Int { bodyBins + 2 }

    /// Builds the table for N_Z(0, num/den), the body covering magnitudes up to about
    /// `coverage`·σ (tests lower it to exercise the tail).
    init(_ distribution: DiscreteGaussian, coverage: Double = 10) {
        numerator = distribution.sigmaSquaredNumerator
        denominator = distribution.sigmaSquaredDenominator
        exponentScale = Double(denominator) / Double(2 * numerator)
        let sigma = distribution.sigma
        // w ≤ σ/32 keeps e^(-a) within a bin close to its maximum (acceptance ≥ 0.88 up to 4σ).
        binWidthBits = sigma / 32 >= 1 ? Int((sigma / 32).exponent) : 0
        let width = UInt64(1) << UInt64(binWidthBits)
        bodyBins = Int((coverage * sigma / Double(width)).rounded(.up)) + 1
        precondition(bodyBins + 3 <= 1 << Self.columnBits, "more bins than alias columns")
        tailStart = 1 + UInt64(bodyBins) * width
        // w'·M·den ≥ num, i.e. w' ≥ σ²/M, so that e^(-a) falls by e^(-1) < 1/2 per tail block.
        var blockBits = 0
        while UInt128(1) << UInt128(blockBits) * UInt128(tailStart) * UInt128(denominator) < UInt128(numerator) {
            blockBits += 1
        }
        tailBlockBits = blockBits

        let bins = bodyBins + 3
        starts = .allocate(capacity: bins)
        acceptBelow = .allocate(capacity: bins)
        rejectFrom = .allocate(capacity: bins)
        inverseRatio = .allocate(capacity: bins)
        starts.initialize(repeating: 0)
        acceptBelow.initialize(repeating: 0)
        rejectFrom.initialize(repeating: 0)
        inverseRatio.initialize(repeating: 0)
        var upper = [Double](repeating: 0, count: bins)  // per unit of c
        upper[0] = 1
        for j in 1...bodyBins {
            starts[j] = 1 + UInt64(j - 1) * width
            upper[j] = 2 * Double(width) * Self.upperExp(Self.exponent(starts[j], exponentScale))
        }
        let tailFactor = 4 * Double(UInt64(1) << UInt64(tailBlockBits))
        upper[bodyBins + 1] = tailFactor * Self.upperExp(Self.exponent(tailStart, exponentScale))
        // The largest integer scale whose rounded-up weights fit 2^42 with room to spare.
        var c = max(1, UInt64(Double(Self.totalWeight) * (1 - 0x1p-12) / upper.reduce(0, +)))
        var w: [UInt64]
        while true {
            w = [c] + (1...bodyBins + 1).map { UInt64((Double(c) * upper[$0]).rounded(.up)) }
            if w.reduce(0, +) <= Self.totalWeight { break }
            c /= 2
            precondition(c > 0, "discrete Gaussian table does not fit")
        }
        w.append(Self.totalWeight - w.reduce(0, +))
        weights = w
        scale = c

        for j in 1...bodyBins {
            let ratio = 2 * Double(width) * Double(c) / Double(w[j]) * 0x1p53
            inverseRatio[j] = ratio
            let last = starts[j] + width - 1
            let lower = Self.lowerExp(Self.exponent(last, exponentScale)) * ratio * (1 - 0x1p-50)
            acceptBelow[j] = UInt64(min(lower, 0x1p53).rounded(.down))
            let higher = Self.upperExp(Self.exponent(starts[j], exponentScale)) * ratio * (1 + 0x1p-50)
            rejectFrom[j] = UInt64(min(higher, 0x1p53).rounded(.up))
        }

        let (columnThresholds, columnAliases) = Self.alias(weights: w)
        thresholds = .allocate(capacity: columnThresholds.count)
        _ = thresholds.initialize(from: columnThresholds)
        aliases = .allocate(capacity: columnAliases.count)
        _ = aliases.initialize(from: columnAliases)
    }

    deinit {
        for buffer in [starts, acceptBelow, rejectFrom, thresholds] { buffer.deallocate() }
        inverseRatio.deallocate()
        aliases.deallocate()
    }

    /// a(x) = x²·den/(2·num) with relative error below 2^-51, for x < 2^53.
    @inline(__always)
    static func exponent(_ x: UInt64, _ exponentScale: Double) -> Double {
        let value = Double(x)
        return value * value * exponentScale
    }

    /// A rigorous upper bound on e^(-a) from an approximation ã of a (see `margin`).
    static func upperExp(_ approximateExponent: Double) -> Double {
        approximateExponent > largeExponent ? 0x1p-1000 : exp(-approximateExponent) * (1 + margin)
    }

    /// A rigorous lower bound on e^(-a) from an approximation ã of a (see `margin`).
    static func lowerExp(_ approximateExponent: Double) -> Double {
        approximateExponent > largeExponent ? 0 : exp(-approximateExponent) * (1 - margin)
    }

    /// Walker's alias table (Vose's construction) for integer weights summing to exactly
    /// columns·2^32, in integer arithmetic: column i is taken with a uniform i and kept when a
    /// uniform 32-bit r is below its threshold, else replaced by its alias, so bin j comes out with
    /// probability exactly W_j/2^42.
    static func alias(weights: [UInt64]) -> (thresholds: [UInt64], aliases: [UInt16]) {
        let columns = 1 << columnBits
        let unit = UInt64(1) << UInt64(thresholdBits)
        precondition(weights.count <= columns && weights.reduce(0, +) == unit * UInt64(columns))
        var remaining = weights + [UInt64](repeating: 0, count: columns - weights.count)
        var thresholds = [UInt64](repeating: unit, count: columns)
        var aliases = (0..<columns).map { UInt16($0) }
        var small = (0..<columns).filter { remaining[$0] < unit }
        var large = (0..<columns).filter { remaining[$0] > unit }
        while let s = small.popLast() {
            let l = large.last!  // the weights sum to columns·unit, so an underfull column has a partner
            thresholds[s] = remaining[s]
            aliases[s] = UInt16(l)
            remaining[l] -= unit - remaining[s]
            if remaining[l] <= unit {
                large.removeLast()
                if remaining[l] < unit { small.append(l) }
            }
        }
        precondition(large.isEmpty)
        return (thresholds, aliases)
    }
}
