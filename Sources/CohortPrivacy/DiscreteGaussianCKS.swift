import CohortCrypto

/// Exact sampling from the discrete Gaussian N_Z(0, σ²) on the integers
/// (Canonne, Kamath & Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020,
/// Algorithm 3, with the Bernoulli(exp(-γ)) sampler of their Algorithm 1 and the discrete
/// Laplace sampler of Algorithm 2).
///
/// Exactness: σ² is held as a rational num/den, and every random decision is a Bernoulli trial
/// with a rational parameter, decided by comparing fresh random bits with the parameter's binary
/// expansion (expected two bits per trial). No floating point decides the output, so the
/// sampler cannot leak through floating-point artefacts (Mironov 2012; Jin et al. 2022): the
/// acceptance step uses a Double approximation with a proven error bound only to settle
/// comparisons whose outcome it makes certain, and runs the exact integer comparison otherwise
/// (see `accept`).
/// The only departure from exactness: a candidate whose acceptance exponent exceeds 2^27
/// (probability below exp(-10^8)) is rejected outright instead of through that many trials.
///
/// Accounting: for an integer-valued query with L2 sensitivity Δ, adding N_Z(0, σ²)^d noise
/// satisfies the same RDP curve as the continuous Gaussian, α·Δ²/(2σ²) (CKS 2020, Prop. 6 and
/// Thm. 15: the multivariate discrete Gaussian is at least as private as the continuous one for
/// integer shifts). Cohort therefore charges a round with the continuous curve at noise multiplier
/// σ/Δ, Δ being the sensitivity after quantisation to the grid (see `FixedPointGrid`).
///
/// This was Cohort's production sampler until the table sampler (`DiscreteGaussianSampler`)
/// replaced it for speed; it stays as an independent exact implementation that the tests compare
/// the production sampler with.
struct CKSDiscreteGaussianSampler {
    /// The distribution being sampled.
    let distribution: DiscreteGaussian
    private let stream: ChaCha20KeyStream
    /// Random words taken from the stream in blocks, so the hot path reads memory, not a method.
    private let words: UnsafeMutableBufferPointer<UInt64>
    private let wordsOwner: RandomWordBlock
    private var wordIndex: Int
    private var bitBuffer: UInt64 = 0
    private var bitsLeft: Int = 0

    // Precomputed constants of Algorithm 3 in integer form (see `DiscreteGaussian`).
    private let t: UInt64
    private let tBits: Int
    private let tMask: UInt64
    private let denTimesT: UInt128
    private let acceptanceDenominator: UInt128
    /// den·t in 64 bits (den·t < 2^52 for every supported σ, see `DiscreteGaussian`).
    private let denTimesT64: UInt64
    /// Double(num) is exact (num < 2^51).
    private let numerator64: Int64
    /// 1 / Double(2·num·den·t²), the acceptance fast path's approximate reciprocal.
    private let inverseAcceptanceDenominator: Double

    /// A sampler over a caller-provided stream; tests pass a seeded one.
    init(_ distribution: DiscreteGaussian, stream: ChaCha20KeyStream) {
        self.distribution = distribution
        self.stream = stream
        t = distribution.laplaceScale
        tBits = UInt64.bitWidth - (t - 1).leadingZeroBitCount
        tMask = tBits == 64 ? .max : (1 << UInt64(tBits)) - 1
        wordsOwner = RandomWordBlock(count: 512)
        words = wordsOwner.words
        wordIndex = 512
        denTimesT = UInt128(distribution.sigmaSquaredDenominator) * UInt128(t)
        // 2σ²·t²·den² / den = 2·num·den·t²: the denominator of the acceptance exponent.
        acceptanceDenominator =
            2 * UInt128(distribution.sigmaSquaredNumerator)
            * UInt128(distribution.sigmaSquaredDenominator) * UInt128(t) * UInt128(t)
        denTimesT64 = UInt64(denTimesT)
        numerator64 = Int64(distribution.sigmaSquaredNumerator)
        inverseAcceptanceDenominator = 1 / Double(acceptanceDenominator)
    }

    /// One sample.
    @inline(__always)
    mutating func next() -> Int64 {
        while true {
            // Discrete Laplace with scale t (CKS Algorithm 2).
            let u = uniformBelowT()
            guard bernoulliExpNegativeSmall(u, t) else { continue }
            var v: UInt64 = 0
            while bernoulliExpMinusOne() { v &+= 1 }
            let (tv, overflow) = t.multipliedReportingOverflow(by: v)
            if overflow || tv > UInt64(Int64.max) - u { continue }
            let magnitude = u + tv
            // Accept with probability exp(-(|Y| - σ²/t)² / (2σ²)) (CKS Algorithm 3).
            guard accept(magnitude) else { continue }
            // The sign B of Algorithm 2, which rejects (B = 1, U = 0, V = 0) so that 0 is not
            // counted twice. B is independent of U, V and the acceptance trial, so drawing it after
            // them leaves the law of the output unchanged and saves it for rejected candidates.
            let negative = nextBit()
            if negative && magnitude == 0 { continue }
            return negative ? -Int64(magnitude) : Int64(magnitude)
        }
    }

    /// Fills `buffer` with independent samples.
    mutating func fill(_ buffer: UnsafeMutableBufferPointer<Int64>) {
        for index in buffer.indices { buffer[index] = next() }
    }

    /// `count` independent samples.
    mutating func samples(_ count: Int) -> [Int64] {
        [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }

    /// Bernoulli(exp(-x)) with x = (|Y|·den·t - num)² / (2·num·den·t²) = (|Y| - σ²/t)² / (2σ²)
    /// (CKS Algorithm 3's acceptance), exactly.
    ///
    /// Fast path. With δ = |Y|·den·t - num in 64 bits, x̃ = fl(fl(fl(δ)²)·fl(1/fl(D))) for
    /// D = 2·num·den·t² is a product/quotient of at most six correctly rounded operations
    /// (unit roundoff u = 2^-53; the conversions of δ and D count as one each), so
    /// |x̃ - x| ≤ ((1+u)^5/(1-u) - 1)·x < 8u·x = 2^-50·x (still true were the UInt128 → Double
    /// conversion of D off by a full ulp instead of half). The fast path runs only for x̃ < 2^26,
    /// where |x̃ - x| < 2^-24. It then splits x = q + γ with the integer q = ⌊x̃⌋, provided the
    /// fraction f = x̃ - q (exact: x̃ and q are multiples of ulp(x̃) ≤ 2^-27) lies in
    /// [2^-20, 1 - 2^-20]; that guarantees q < x < q + 1, so q is exactly ⌊x⌋ and γ ∈ (0, 1), with
    /// |f - γ| < 2^-24. exp(-x) = exp(-1)^q · exp(-γ): q exact Bernoulli(exp(-1)) trials, then
    /// CKS Algorithm 1 for γ, whose trials Bernoulli(γ/k) each compare a fresh byte w with
    /// P = 256γ/k through P̃ = fl(256f / k): |P̃ - P| ≤ 256·2^-24/k + 2^-45 < 2^-15, and the
    /// comparisons below (w + 1 ≤ P̃ - 2^-12, w ≥ P̃ + 2^-12, each subtraction/addition adding at
    /// most 2^-45) decide U < γ/k (U ∈ [w/256, (w+1)/256)) only when it is certain. Otherwise,
    /// and whenever δ overflows, x̃ ≥ 2^26 or f is within 2^-20 of an integer, the decision
    /// falls back to the exact integer arithmetic of `acceptExactly`/`bernoulliGivenByte`, on the
    /// same bits — so the outcome is exactly the integer algorithm's, and the floating-point
    /// values only choose which exact comparison is run.
    @inline(__always)
    mutating func accept(_ magnitude: UInt64) -> Bool {
        let (scaled, overflow) = magnitude.multipliedReportingOverflow(by: denTimesT64)
        guard !overflow, scaled <= UInt64(Int64.max) else { return acceptExactly(magnitude) }
        let delta = Int64(scaled) &- numerator64  // both in [0, 2^63): cannot overflow
        let deltaDouble = Double(delta)
        let x = deltaDouble * deltaDouble * inverseAcceptanceDenominator
        guard x < 0x1p26 else { return acceptExactly(magnitude) }
        // q = ⌊x̃⌋ without a checked conversion: for 0 ≤ x̃ < 2^26, x̃ + 2^52 lies in [2^52, 2^53),
        // where the spacing is 1, so it is 2^52 + round(x̃) exactly and its low 52 bits are round(x̃).
        let shifted = x + 0x1p52
        var qDouble = shifted - 0x1p52
        var q = Int(truncatingIfNeeded: shifted.bitPattern & ((1 << 52) - 1))
        if qDouble > x {
            qDouble -= 1
            q &-= 1
        }
        let f = x - qDouble
        guard f >= 0x1p-20, f <= 1 - 0x1p-20 else { return acceptExactly(magnitude) }
        for _ in 0..<q {
            guard bernoulliExpMinusOne() else { return false }
        }
        let scaledF = f * 256
        var k = 1
        while true {
            let w = nextByte()
            let p = k == 1 ? scaledF : scaledF / Double(k)
            let wDouble = Double(w)
            let trial: Bool
            if wDouble + 1 <= p - 0x1p-12 {
                trial = true
            } else if wDouble >= p + 0x1p-12 {
                trial = false
            } else {
                trial = exactTrial(delta: delta, q: q, k: k, byte: w)
            }
            if !trial { return k & 1 == 1 }
            k &+= 1
        }
    }

    /// The trial Bernoulli(γ/k) of `accept`'s fast path, decided exactly: γ/k = n/d with
    /// n = δ² - q·D and d = D·k, compared with the uniform whose first byte is `byte`.
    @inline(never)
    private mutating func exactTrial(delta: Int64, q: Int, k: Int, byte: UInt8) -> Bool {
        let absolute = UInt128(delta.magnitude)
        let n = absolute * absolute - UInt128(q) * acceptanceDenominator
        return bernoulliGivenByte(n, acceptanceDenominator * UInt128(k), byte)
    }

    /// Bernoulli(n/d) for 0 < n < d < 2^119 whose uniform's first 8 bits are `byte`.
    private mutating func bernoulliGivenByte(_ n: UInt128, _ d: UInt128, _ byte: UInt8) -> Bool {
        let scaledN = n << 8
        let low = UInt128(byte) * d
        if low >= scaledN { return false }
        if low + d <= scaledN { return true }
        return bernoulliBitwise(scaledN - low, d)
    }

    /// `accept` in exact 128-bit integer arithmetic throughout.
    @inline(never)
    mutating func acceptExactly(_ magnitude: UInt64) -> Bool {
        // (|Y|·den·t - num)² / (2·num·den·t²) is exactly (|Y| - σ²/t)² / (2σ²).
        let (scaled, overflow) = UInt128(magnitude).multipliedReportingOverflow(by: denTimesT)
        if overflow { return false }
        let numerator = UInt128(distribution.sigmaSquaredNumerator)
        let difference = scaled >= numerator ? scaled - numerator : numerator - scaled
        let (square, squareOverflow) = difference.multipliedReportingOverflow(by: difference)
        // An overflowing square means an exponent above 2^127 / 2^101 = 2^26: reject (see type docs).
        if squareOverflow || square >> 27 >= acceptanceDenominator { return false }
        return bernoulliExpNegative(square, acceptanceDenominator)
    }

    /// Bernoulli(exp(-n/d)) for n/d ≥ 0 (CKS Algorithm 1, with the integer part peeled off as
    /// independent Bernoulli(exp(-1)) trials).
    @inline(__always)
    private mutating func bernoulliExpNegative(_ n: UInt128, _ d: UInt128) -> Bool {
        var remainder = n
        while remainder > d {
            guard bernoulliExpMinusOne() else { return false }
            remainder -= d
        }
        return bernoulliExpNegativeUnit(remainder, d)
    }

    /// Bernoulli(exp(-γ)) for γ = n/d ∈ [0, 1]: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until
    /// one fails; the result is whether that k is odd.
    @inline(__always)
    private mutating func bernoulliExpNegativeUnit(_ n: UInt128, _ d: UInt128) -> Bool {
        var k: UInt128 = 1
        while bernoulli(n, d * k) { k &+= 1 }
        return k & 1 == 1
    }

    /// Bernoulli(exp(-1)) by the same alternating construction with γ = 1: A_k ~ Bernoulli(1/k),
    /// K the first k with A_k = 0, the result whether K is odd.
    ///
    /// Only the law of K matters, P(K > k) = 1/k!, and its first five steps come from one fresh
    /// byte: w uniform on [0, 240) (redrawn when ≥ 240 = 2·5!) has P(w < 240/k!) = 1/k! exactly
    /// for k ≤ 5, as 240/k! is an integer. So K is the first k ≥ 2 with w ≥ 240/k!; when w < 2
    /// (K > 5) the trials k = 6, 7, … follow as independent Bernoulli(1/k), which have exactly
    /// the conditional law P(K > k | K > 5) = 5!/k!.
    @inline(__always)
    private mutating func bernoulliExpMinusOne() -> Bool {
        while true {
            let w = nextByte()
            if w >= 240 { continue }
            if w >= 120 { return false }  // K = 2
            if w >= 40 { return true }  // K = 3
            if w >= 10 { return false }  // K = 4
            if w >= 2 { return true }  // K = 5
            return bernoulliExpMinusOneTail()
        }
    }

    /// The trials k ≥ 6 of `bernoulliExpMinusOne`, once K > 5 is known.
    @inline(never)
    private mutating func bernoulliExpMinusOneTail() -> Bool {
        var k: UInt64 = 6
        while bernoulliSmall(1, k) { k &+= 1 }
        return k & 1 == 1
    }

    /// Bernoulli(exp(-n/d)) for 0 ≤ n < d < 2^47, in 64-bit arithmetic (the discrete Laplace step,
    /// where n/d = U/t).
    @inline(__always)
    private mutating func bernoulliExpNegativeSmall(_ n: UInt64, _ d: UInt64) -> Bool {
        // γ = 0: A_1 fails at once, K = 1.
        if n == 0 { return true }
        // Trials A_k ~ Bernoulli(n/(d·k)) with 0 < n < d·k: `bernoulliSmall` without its
        // trivial cases, d·k kept as a running sum.
        let scaledN = n << 8
        var k: UInt64 = 1
        var dk = d
        // With d < 2^47, d·k < 2^54 fits 64-bit arithmetic while k < 128; the loop reaches k = 128 with
        // probability below 1/127!, and then continues, still exactly, in 128-bit arithmetic.
        while k < 128 {
            let low = UInt64(nextByte()) &* dk
            if low >= scaledN { return k & 1 == 1 }
            if low &+ dk <= scaledN || bernoulliBitwise(scaledN - low, dk) {
                k &+= 1
                dk &+= d
            } else {
                return k & 1 == 1
            }
        }
        var wide = UInt128(k)
        while bernoulli(UInt128(n), UInt128(d) * wide) { wide &+= 1 }
        return wide & 1 == 1
    }

    /// Bernoulli(n/d) for d < 2^55, exactly, in 64-bit arithmetic.
    ///
    /// U ∈ [0, 1) is drawn lazily: its first 8 bits w place it in [w/256, (w+1)/256), which lies
    /// wholly below or wholly above p = n/d unless w = ⌊256p⌋ (probability 1/256); two
    /// multiplications decide which. Otherwise the comparison continues bit by bit.
    @inline(__always)
    private mutating func bernoulliSmall(_ n: UInt64, _ d: UInt64) -> Bool {
        if n == 0 { return false }
        if n >= d { return true }
        let w = UInt64(nextByte())
        let scaledN = n << 8
        let low = w &* d
        if low >= scaledN { return false }
        if low &+ d <= scaledN { return true }
        // Equal 8-bit prefixes: the remaining bits of p are those of (256n - wd)/d.
        return bernoulliBitwise(scaledN - low, d)
    }

    /// Bernoulli(n/d) for d < 2^119, exactly; the 128-bit twin of `bernoulliSmall`.
    @inline(__always)
    private mutating func bernoulli(_ n: UInt128, _ d: UInt128) -> Bool {
        if n == 0 { return false }
        if n >= d { return true }
        let w = UInt128(nextByte())
        let scaledN = n << 8
        let low = w &* d
        if low >= scaledN { return false }
        if low &+ d <= scaledN { return true }
        return bernoulliBitwise(scaledN - low, d)
    }

    /// Bernoulli(n/d) for 0 < n < d < 2^(bitWidth-1): compares a uniform U ∈ [0, 1), drawn bit by
    /// bit, with the binary expansion of n/d, stopping at the first differing bit.
    private mutating func bernoulliBitwise<Integer: FixedWidthInteger & UnsignedInteger>(
        _ n: Integer, _ d: Integer
    ) -> Bool {
        var remainder = n
        while true {
            remainder <<= 1
            let pBit = remainder >= d
            if pBit { remainder -= d }
            let uBit = nextBit()
            if uBit != pBit { return pBit }
            // The expansion ended and U has matched it so far, so U ≥ n/d.
            if remainder == 0 { return false }
        }
    }

    @inline(__always)
    private mutating func nextByte() -> UInt8 {
        if bitsLeft < 8 {
            // Leftover bits are dropped unread, which keeps the bits in use independent.
            bitBuffer = nextWord()
            bitsLeft = 64
        }
        let byte = UInt8(truncatingIfNeeded: bitBuffer)
        bitBuffer >>= 8
        bitsLeft -= 8
        return byte
    }

    @inline(__always)
    private mutating func nextWord() -> UInt64 {
        if wordIndex == words.count {
            stream.fill(words)
            wordIndex = 0
        }
        let word = words[wordIndex]
        wordIndex &+= 1
        return word
    }

    @inline(__always)
    private mutating func nextBit() -> Bool {
        if bitsLeft == 0 {
            bitBuffer = nextWord()
            bitsLeft = 64
        }
        let bit = bitBuffer & 1 == 1
        bitBuffer >>= 1
        bitsLeft -= 1
        return bit
    }

    /// Uniform in 0..<t by rejection on the smallest covering power of two.
    @inline(__always)
    private mutating func uniformBelowT() -> UInt64 {
        if tBits == 0 { return 0 }
        let mask = tMask
        while true {
            if bitsLeft < tBits {
                bitBuffer = nextWord()
                bitsLeft = 64
            }
            let candidate = bitBuffer & mask
            bitBuffer >>= UInt64(truncatingIfNeeded: tBits)  // tBits ≤ 26: t ≤ 2^25 + 1
            bitsLeft -= tBits
            if candidate < t { return candidate }
        }
    }
}
