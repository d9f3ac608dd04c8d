#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small, exact statistics the gates share.
public enum RobustStatistics {
    /// The median; the mean of the two middle values for an even count (as numpy), 0 when empty.
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Kullback–Leibler divergence KL(p ‖ q) in bits, with 0·log(0/q) = 0. `p` and `q` are
    /// distributions of equal length; the caller ensures qᵢ > 0 wherever pᵢ > 0.
    static func klDivergenceBits(_ p: [Double], _ q: [Double]) -> Double {
        var sum = 0.0
        for index in p.indices where p[index] > 0 {
            sum += p[index] * log2(p[index] / q[index])
        }
        return sum
    }

    /// Jensen–Shannon divergence in bits: ½ KL(p ‖ m) + ½ KL(q ‖ m) with m = (p + q)/2; it lies in
    /// [0, 1] (Lin 1991, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf.
    /// Theory 37(1)). Inputs are probability vectors of equal length.
    public static func jensenShannonDivergence(_ p: [Double], _ q: [Double]) -> Double {
        precondition(p.count == q.count, "distributions of equal length")
        let m = zip(p, q).map { ($0 + $1) / 2 }
        let value = 0.5 * klDivergenceBits(p, m) + 0.5 * klDivergenceBits(q, m)
        return Swift.min(Swift.max(value, 0), 1)
    }
}
