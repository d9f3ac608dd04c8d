import CohortCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exact sampling from the discrete Gaussian N_Z(0, σ²) on the integers, by rejection from a
/// piecewise-constant envelope with an exact alias table and a lazily exact acceptance test.
///
/// Algorithm (σ² = num/den exactly, a(x) = x²/(2σ²) = x²·den/(2·num)); see `DiscreteGaussianTable`
/// for the bins and weights W, which sum to T = 2^42:
/// 1. One 64-bit word picks a bin with probability exactly W_j/T (alias table: 10 bits for the
///    column, 32 for the threshold), a uniform offset in the bin (b bits) and a sign (bit 63).
/// 2. Bin 0 returns 0. A body-bin candidate x (|x| = s_j + offset) is accepted with probability
///    h(x) = e^(-a(x))·2w·c/W_j ≤ 1. A tail candidate |x| = M + w'·G + o with G geometric
///    (P(G = g) = 2^-(g+1)) and o uniform in [0, w') is accepted with probability
///    h(x) = e^(-a(x))·4w'·c·2^G/W_tail ≤ 1. The padding bin, and every rejection, start over.
///
///    Each (bin, candidate, acceptance) path has probability c·e^(-a(x))/T, so the output is
///    exactly N_Z(0, σ²) (conditioned on |x| < 2^63, see below). The h ≤ 1 conditions hold by the
///    rigorous upper bounds in the weights (W_j ≥ 2w·c·e^(-a(s_j)) ≥ 2w·c·e^(-a(x)) in bin j;
///    in the tail, a(x) ≥ a(M) + G·w'·M/σ² ≥ a(M) + G, and e^(-G) ≤ 2^-G).
/// 3. The acceptance compares a uniform V ∈ [0, 1) with h(x), drawn lazily: its first 53 bits u
///    decide when V < (u + 1)·2^-53 ≤ h or V ≥ u·2^-53 ≥ h is certain from precomputed per-bin
///    thresholds (`acceptBelow`, `rejectFrom`) or from a Double bound on h with a proven relative
///    error below 2^-41 (`DiscreteGaussianTable.margin`); otherwise, with probability about
///    2^-38 per candidate, `ExactExp` finishes the same comparison of the same V — its 64 bits so
///    far, then further words — against e^(-a(x)) in exact integer arithmetic. Floating point
///    therefore only chooses which certain comparison is made; it never decides an outcome.
///
/// Truncations (as in the previous CKS sampler): a tail candidate of magnitude ≥ 2^63 is redrawn,
/// and a candidate whose exponent a(x) is ≥ 2^27 is rejected without evaluating e^(-a(x)); both
/// only concern magnitudes beyond 2^13·σ, of probability below exp(-2^26).
///
/// Accounting: for an integer-valued query with L2 sensitivity Δ, adding N_Z(0, σ²)^d noise
/// satisfies the same RDP curve as the continuous Gaussian, α·Δ²/(2σ²) (Canonne, Kamath &
/// Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020, Prop. 6 and Thm. 15).
/// Cohort charges a round with the continuous curve at noise multiplier σ/Δ (see `FixedPointGrid`).
///
/// Randomness comes only from a `ChaCha20KeyStream`, which product code can construct only keyed
/// from libsodium's CSPRNG.
public struct DiscreteGaussianSampler {
    /// The distribution being sampled.
    public let distribution: DiscreteGaussian
    private var source: StreamWords
    private let table: DiscreteGaussianTable
    // The table's hot fields, copied so the loop reads them without going through the class.
    private let thresholds: UnsafePointer<UInt64>
    private let aliases: UnsafePointer<UInt16>
    private let starts: UnsafePointer<UInt64>
    private let acceptBelow: UnsafePointer<UInt64>
    private let bodyBins: Int
    private let offsetMask: UInt64

    /// A sampler keyed from the CSPRNG. This is the only constructor product code can use.
    public init(_ distribution: DiscreteGaussian) {
        self.init(distribution, stream: ChaCha20KeyStream())
    }

    /// A sampler over a caller-provided stream; tests pass a seeded one.
    @_spi(CohortTesting)
    public init(_ distribution: DiscreteGaussian, stream: ChaCha20KeyStream) {
        self.init(distribution, stream: stream, coverage: 10)
    }

    /// A sampler whose body covers magnitudes up to about `coverage`·σ (tests lower it so that the
    /// tail path runs often).
    init(_ distribution: DiscreteGaussian, stream: ChaCha20KeyStream, coverage: Double) {
        self.distribution = distribution
        source = StreamWords(stream)
        table = DiscreteGaussianTable(distribution, coverage: coverage)
        thresholds = UnsafePointer(table.thresholds.baseAddress!)
        aliases = UnsafePointer(table.aliases.baseAddress!)
        starts = UnsafePointer(table.starts.baseAddress!)
        acceptBelow = UnsafePointer(table.acceptBelow.baseAddress!)
        bodyBins = table.bodyBins
        offsetMask = (UInt64(1) << UInt64(table.binWidthBits)) - 1
    }

    /// One sample.
    @inline(__always)
    public mutating func next() -> Int64 {
        while true {
            let word = source.nextWord()
            let column = Int(truncatingIfNeeded: word & 0x3FF)
            let r = (word >> 10) & 0xFFFF_FFFF
            let bin = r < thresholds[column] ? column : Int(truncatingIfNeeded: aliases[column])
            let negative = word >> 63 != 0
            if bin <= bodyBins {
                if bin == 0 { return 0 }  // h(0) = 1
                let magnitude = starts[bin] &+ ((word >> 42) & offsetMask)
                let u = source.nextWord()
                if u >> 11 < acceptBelow[bin] || acceptsAfterSqueeze(bin: bin, magnitude: magnitude, u: u) {
                    return negative ? -Int64(magnitude) : Int64(magnitude)
                }
                continue
            }
            if bin == table.tailBin, let magnitude = tailCandidate() {
                return negative ? -magnitude : magnitude
            }
        }
    }

    /// Fills `buffer` with independent samples.
    public mutating func fill(_ buffer: UnsafeMutableBufferPointer<Int64>) {
        for index in buffer.indices { buffer[index] = next() }
    }

    /// `count` independent samples.
    public mutating func samples(_ count: Int) -> [Int64] {
        [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer)
            initialized = count
        }
    }

    /// The body acceptance V < h(x) once V ≥ (the bin's squeeze threshold)·2^-53; `u` holds
    /// V's first 64 bits.
    @inline(never)
    private mutating func acceptsAfterSqueeze(bin: Int, magnitude: UInt64, u: UInt64) -> Bool {
        Self.bodyAcceptance(table: table, bin: bin, magnitude: magnitude, u: u, source: &source)
    }

    /// The decision of `acceptsAfterSqueeze` on any word source, so tests can steer it.
    static func bodyAcceptance<Source: RandomWordSource>(
        table: DiscreteGaussianTable, bin: Int, magnitude: UInt64, u: UInt64, source: inout Source
    ) -> Bool {
        let u53 = u >> 11
        if u53 < table.acceptBelow[bin] { return true }
        if u53 >= table.rejectFrom[bin] { return false }
        if table.binWidthBits > 0,
            let decided = decideInDouble(
                table: table, magnitude: magnitude, inverseRatio: table.inverseRatio[bin], u53: u53)
        {
            return decided
        }
        return exactAcceptance(
            table: table, magnitude: magnitude, ratioNumerator: BigUInt(table.weights[bin]),
            ratioDenominator: BigUInt(2 * table.scale) << table.binWidthBits, u: u, source: &source)
    }

    /// V < h when certain from V's first 53 bits `u53` and a Double bound on h·2^53 =
    /// e^(-a(x))·inverseRatio (inverseRatio = 2^53/R, itself within relative 2^-53); nil when not.
    /// ĥ = fl(exp(-ã))·inverseRatio lies within relative 2^-41.3 of h·2^53 for a < 700 and
    /// |x| < 2^53 (see `DiscreteGaussianTable.margin`), so the margin 2^-40 makes both tests certain.
    @inline(__always)
    static func decideInDouble(
        table: DiscreteGaussianTable, magnitude: UInt64, inverseRatio: Double, u53: UInt64
    ) -> Bool? {
        guard magnitude < 1 << 53 else { return nil }
        let approximate = DiscreteGaussianTable.exponent(magnitude, table.exponentScale)
        guard approximate < DiscreteGaussianTable.largeExponent else { return nil }
        let scaled = exp(-approximate) * inverseRatio
        let uDouble = Double(u53)  // exact: u53 < 2^53
        if uDouble + 1 <= scaled * (1 - DiscreteGaussianTable.margin) { return true }
        if uDouble >= scaled * (1 + DiscreteGaussianTable.margin) { return false }
        return nil
    }

    /// V < e^(-a(x))·ratioDenominator/ratioNumerator, decided exactly (`ExactExp`).
    static func exactAcceptance<Source: RandomWordSource>(
        table: DiscreteGaussianTable, magnitude: UInt64, ratioNumerator: BigUInt, ratioDenominator: BigUInt,
        u: UInt64, source: inout Source
    ) -> Bool {
        let x = BigUInt(magnitude)
        return ExactExp.uniformTimesFactorIsBelow(
            prefix: u, n: x * x * BigUInt(table.denominator), d: BigUInt(2 * UInt128(table.numerator)),
            dn: ratioNumerator, dd: ratioDenominator, source: &source)
    }

    /// A tail candidate's magnitude if accepted, nil if rejected or ≥ 2^63.
    @inline(never)
    private mutating func tailCandidate() -> Int64? {
        Self.tailCandidate(table: table, source: &source)
    }

    /// `tailCandidate` on any word source.
    static func tailCandidate<Source: RandomWordSource>(table: DiscreteGaussianTable, source: inout Source) -> Int64? {
        // G: the zero bits before the first one bit, P(G = g) = 2^-(g+1).
        var g = 0
        while true {
            let word = source.nextWord()
            g += word.trailingZeroBitCount
            if word != 0 { break }
        }
        let offset = table.tailBlockBits == 0 ? 0 : source.nextWord() >> UInt64(64 - table.tailBlockBits)
        // |x| = M + g·w' + o, redrawn when ≥ 2^63 (the documented truncation); w' < 2^25.
        let (blocks, overflow) = UInt64(g).multipliedReportingOverflow(by: UInt64(1) << UInt64(table.tailBlockBits))
        let (magnitude, overflow2) = table.tailStart.addingReportingOverflow(blocks | offset)
        guard !overflow, !overflow2, magnitude <= UInt64(Int64.max) else { return nil }
        let u = source.nextWord()
        // h·2^53 = e^(-a)·2^53·4w'·c·2^g/W_tail; the factor is exact up to one rounding (4w'·c < 2^53).
        let inverseRatio =
            Double(4 * table.scale << UInt64(table.tailBlockBits)) * 0x1p53
            / Double(table.weights[table.tailBin]) * Double(sign: .plus, exponent: g, significand: 1)
        if inverseRatio.isFinite,
            let decided = decideInDouble(table: table, magnitude: magnitude, inverseRatio: inverseRatio, u53: u >> 11)
        {
            return decided ? Int64(magnitude) : nil
        }
        let accepted = exactAcceptance(
            table: table, magnitude: magnitude, ratioNumerator: BigUInt(table.weights[table.tailBin]),
            ratioDenominator: BigUInt(4 * table.scale) << (table.tailBlockBits + g), u: u, source: &source)
        return accepted ? Int64(magnitude) : nil
    }
}

/// The sampler's words: ChaCha20 keystream copied out in blocks, so the hot path reads memory.
struct StreamWords: RandomWordSource {
    private let stream: ChaCha20KeyStream
    private let block: RandomWordBlock
    private let words: UnsafeMutableBufferPointer<UInt64>
    private var index: Int

    init(_ stream: ChaCha20KeyStream) {
        self.stream = stream
        block = RandomWordBlock(count: 1024)
        words = block.words
        index = words.count
    }

    @inline(__always)
    mutating func nextWord() -> UInt64 {
        if index == words.count {
            stream.fill(words)
            index = 0
        }
        let word = words[index]
        index &+= 1
        return word
    }
}
