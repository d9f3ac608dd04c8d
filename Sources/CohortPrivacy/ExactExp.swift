/// A source of independent uniformly random 64-bit words, consumed in order.
///
/// The sampler reads its CSPRNG through this protocol so that tests can inject fixed words and
/// steer every decision, including the rare exact path, deterministically.
protocol RandomWordSource {
    /// The next uniformly random word.
    mutating func nextWord() -> UInt64
}

/// Exact comparisons of a uniform real number with e^(-x) for rational x: the slow path of the
/// discrete Gaussian sampler (`DiscreteGaussianSampler`), which only runs when the
/// floating-point bounds of the fast path cannot decide.
///
/// Everything here is integer arithmetic (`BigUInt`), so the decisions are exact.
enum ExactExp {
    /// Exponents x ≥ 2^27 are decided as "V·D is not below e^(-x)" without evaluating e^(-x):
    /// the probability of the other outcome is below exp(-2^27)·D⁻¹ (see docs/PRIVACY.md).
    static let exponentCutoff = 1 << 27

    /// Decides V·dn < e^(-n/d)·dd exactly, where V ∈ [0, 1) is the uniform real whose binary
    /// expansion begins with the 64 bits of `prefix` (most significant first) and continues with
    /// the words `source` returns, read only as far as the decision needs them.
    ///
    /// With p bits of V known, V lies in [v, v + 1)·2^-p; if (v + 1)·dn ≤ lo·dd for a lower bound
    /// lo ≤ e^(-x)·2^p the answer is yes, if v·dn ≥ hi·dd for an upper bound hi it is no, and
    /// otherwise 64 more bits of V and of precision are taken. e^(-x)·dd/dn is irrational for
    /// rational x > 0 (Lindemann), so V almost surely differs from it and the loop ends; for x = 0
    /// the bounds are exact and the first comparison decides.
    ///
    /// - Parameters:
    ///   - prefix: the first 64 bits of V.
    ///   - n: numerator of x.
    ///   - d: denominator of x (positive).
    ///   - dn: the factor multiplying V (positive).
    ///   - dd: the factor multiplying e^(-x) (positive).
    ///   - source: further bits of V.
    static func uniformTimesFactorIsBelow<Source: RandomWordSource>(
        prefix: UInt64, n: BigUInt, d: BigUInt, dn: BigUInt, dd: BigUInt, source: inout Source
    ) -> Bool {
        if n >= d << exponentCutoff.trailingZeroBitCount { return false }
        var v = BigUInt(prefix)
        var precision = 64
        while true {
            let (lo, hi) = bounds(n: n, d: d, precision: precision)
            if (v + BigUInt(1)) * dn <= lo * dd { return true }
            if v * dn >= hi * dd { return false }
            v = (v << 64) + BigUInt(source.nextWord())
            precision += 64
        }
    }

    /// Integers lo ≤ e^(-n/d)·2^p ≤ hi, with hi - lo a few units for moderate n/d.
    ///
    /// x = n/d is halved s times to g = x/2^s < 1, e^(-g) is bracketed by its alternating Taylor
    /// series in fixed point with directed rounding, and the bounds are squared s times, again
    /// rounding the lower bound down and the upper bound up. The working precision p + 64 + 2s
    /// absorbs the error growth of the squarings (each at most doubles the relative error).
    static func bounds(n: BigUInt, d: BigUInt, precision p: Int) -> (lo: BigUInt, hi: BigUInt) {
        if n.isZero {
            let one = BigUInt(1) << p
            return (one, one)
        }
        let (q, _) = n.quotientAndRemainder(dividingBy: d)
        // x ≥ q ≥ p + 1 gives e^(-x) ≤ e^(-(p+1)) < 2^-p.
        if q >= BigUInt(UInt64(p + 1)) { return (BigUInt(0), BigUInt(1)) }
        let s = q.bitWidth  // x < q + 1 ≤ 2^s
        let w = p + 64 + 2 * s
        let (g, remainder) = (n << (w - s)).quotientAndRemainder(dividingBy: d)
        // g/2^w ≤ x/2^s ≤ (g + 1)/2^w, and e^(-·) is decreasing.
        var lo = series(remainder.isZero ? g : g + BigUInt(1), w).lo
        var hi = series(g, w).hi
        for _ in 0..<s {
            lo = (lo * lo) >> w
            hi = (hi * hi).shiftedRightRoundingUp(w)
        }
        return (lo >> (w - p), hi.shiftedRightRoundingUp(w - p))
    }

    /// Bounds on e^(-g/2^w)·2^w for 0 ≤ g ≤ 2^w from Σ (-γ)^k/k!, γ = g/2^w ≤ 1.
    ///
    /// The terms γ^k/k! decrease, so the series alternates with shrinking terms and the sum lies
    /// within the first omitted term of any partial sum. Each term is carried as an interval
    /// [floor, ceil] of its fixed-point value; the series stops at the first term whose upper
    /// bound is at most one unit, which then bounds the remainder.
    static func series(_ g: BigUInt, _ w: Int) -> (lo: BigUInt, hi: BigUInt) {
        let one = BigUInt(1) << w
        var termLo = one
        var termHi = one
        var evenLo = one
        var evenHi = one
        var oddLo = BigUInt(0)
        var oddHi = BigUInt(0)
        var k: UInt64 = 1
        while true {
            termLo = ((termLo * g) >> w).quotientAndRemainder(dividingBy: k).quotient
            let (quotient, remainder) = (termHi * g).shiftedRightRoundingUp(w).quotientAndRemainder(dividingBy: k)
            termHi = remainder == 0 ? quotient : quotient + BigUInt(1)
            if termHi <= BigUInt(1) { break }
            if k & 1 == 1 {
                oddLo = oddLo + termLo
                oddHi = oddHi + termHi
            } else {
                evenLo = evenLo + termLo
                evenHi = evenHi + termHi
            }
            k += 1
        }
        let subtracted = oddHi + termHi
        let lo = evenLo >= subtracted ? evenLo - subtracted : BigUInt(0)
        let hi = evenHi + termHi - min(oddLo, evenHi + termHi)
        return (lo, hi)
    }
}

/// A minimal arbitrary-precision unsigned integer (little-endian 64-bit limbs, no leading zero
/// limbs) for `ExactExp`. Written for clarity, not speed: it runs only on the sampler's exact path.
struct BigUInt: Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    private(set) var limbs: [UInt64]

    init(integerLiteral value: UInt64) { self.init(value) }

    init(_ value: UInt64) { limbs = value == 0 ? [] : [value] }

    init(_ value: UInt128) {
        limbs = [UInt64(truncatingIfNeeded: value), UInt64(truncatingIfNeeded: value >> 64)]
        normalize()
    }

    private init(limbs: [UInt64]) {
        self.limbs = limbs
        normalize()
    }

    private mutating func normalize() {
        while let last = limbs.last, last == 0 { limbs.removeLast() }
    }

    var isZero: Bool { limbs.isEmpty }

    /// The number of significant bits (0 for zero).
    var bitWidth: Int { limbs.isEmpty ? 0 : limbs.count * 64 - limbs.last!.leadingZeroBitCount }

    var description: String { "0x" + (limbs.isEmpty ? "0" : limbs.reversed().map { String($0, radix: 16) }.joined(separator: "_")) }

    static func < (a: BigUInt, b: BigUInt) -> Bool {
        if a.limbs.count != b.limbs.count { return a.limbs.count < b.limbs.count }
        for index in stride(from: a.limbs.count - 1, through: 0, by: -1) where a.limbs[index] != b.limbs[index] {
            return a.limbs[index] < b.limbs[index]
        }
        return false
    }

    static func + (a: BigUInt, b: BigUInt) -> BigUInt {
        var result = [UInt64](repeating: 0, count: max(a.limbs.count, b.limbs.count) + 1)
        var carry: UInt64 = 0
        for index in 0..<(result.count - 1) {
            let x = index < a.limbs.count ? a.limbs[index] : 0
            let y = index < b.limbs.count ? b.limbs[index] : 0
            let (s1, o1) = x.addingReportingOverflow(y)
            let (s2, o2) = s1.addingReportingOverflow(carry)
            result[index] = s2
            carry = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        result[result.count - 1] = carry
        return BigUInt(limbs: result)
    }

    /// a - b for a ≥ b.
    static func - (a: BigUInt, b: BigUInt) -> BigUInt {
        precondition(a >= b, "BigUInt subtraction underflow")
        var result = a.limbs
        var borrow: UInt64 = 0
        for index in 0..<result.count {
            let y = index < b.limbs.count ? b.limbs[index] : 0
            let (d1, o1) = result[index].subtractingReportingOverflow(y)
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            result[index] = d2
            borrow = (o1 ? 1 : 0) + (o2 ? 1 : 0)
        }
        return BigUInt(limbs: result)
    }

    static func * (a: BigUInt, b: BigUInt) -> BigUInt {
        if a.isZero || b.isZero { return BigUInt(0) }
        var result = [UInt64](repeating: 0, count: a.limbs.count + b.limbs.count)
        for i in 0..<a.limbs.count {
            var carry: UInt64 = 0
            for j in 0..<b.limbs.count {
                let (high, low) = a.limbs[i].multipliedFullWidth(by: b.limbs[j])
                let (s1, o1) = low.addingReportingOverflow(result[i + j])
                let (s2, o2) = s1.addingReportingOverflow(carry)
                result[i + j] = s2
                carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)  // cannot overflow: high ≤ 2^64 - 2
            }
            result[i + b.limbs.count] = carry
        }
        return BigUInt(limbs: result)
    }

    static func << (a: BigUInt, shift: Int) -> BigUInt {
        if a.isZero || shift == 0 { return a }
        let limbShift = shift / 64
        let bitShift = shift % 64
        var result = [UInt64](repeating: 0, count: a.limbs.count + limbShift + 1)
        for (index, limb) in a.limbs.enumerated() {
            result[index + limbShift] |= limb << UInt64(bitShift)
            if bitShift > 0 { result[index + limbShift + 1] |= limb >> UInt64(64 - bitShift) }
        }
        return BigUInt(limbs: result)
    }

    static func >> (a: BigUInt, shift: Int) -> BigUInt {
        let limbShift = shift / 64
        let bitShift = shift % 64
        if limbShift >= a.limbs.count { return BigUInt(0) }
        var result = [UInt64](repeating: 0, count: a.limbs.count - limbShift)
        for index in 0..<result.count {
            result[index] = a.limbs[index + limbShift] >> UInt64(bitShift)
            if bitShift > 0, index + limbShift + 1 < a.limbs.count {
                result[index] |= a.limbs[index + limbShift + 1] << UInt64(64 - bitShift)
            }
        }
        return BigUInt(limbs: result)
    }

    /// ⌈a / 2^shift⌉.
    func shiftedRightRoundingUp(_ shift: Int) -> BigUInt {
        let floor = self >> shift
        return floor << shift == self ? floor : floor + BigUInt(1)
    }

    /// Quotient and remainder by a nonzero word.
    func quotientAndRemainder(dividingBy divisor: UInt64) -> (quotient: BigUInt, remainder: UInt64) {
        precondition(divisor != 0)
        var result = [UInt64](repeating: 0, count: limbs.count)
        var remainder: UInt64 = 0
        for index in stride(from: limbs.count - 1, through: 0, by: -1) {
            (result[index], remainder) = divisor.dividingFullWidth((remainder, limbs[index]))
        }
        return (BigUInt(limbs: result), remainder)
    }

    /// Quotient and remainder by a nonzero BigUInt (binary long division).
    func quotientAndRemainder(dividingBy divisor: BigUInt) -> (quotient: BigUInt, remainder: BigUInt) {
        precondition(!divisor.isZero)
        if self < divisor { return (BigUInt(0), self) }
        var quotient = [UInt64](repeating: 0, count: limbs.count)
        var remainder = BigUInt(0)
        for bit in stride(from: bitWidth - 1, through: 0, by: -1) {
            remainder = remainder << 1
            if (limbs[bit / 64] >> UInt64(bit % 64)) & 1 == 1 { remainder = remainder + BigUInt(1) }
            if remainder >= divisor {
                remainder = remainder - divisor
                quotient[bit / 64] |= 1 << UInt64(bit % 64)
            }
        }
        return (BigUInt(limbs: quotient), remainder)
    }
}
