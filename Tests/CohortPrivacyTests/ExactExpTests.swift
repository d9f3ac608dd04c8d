@_spi(CohortTesting) import CohortCrypto
import Foundation
import Testing

@_spi(CohortTesting) @testable import CohortPrivacy

/// Words from a fixed list, so a test decides every bit the sampler reads.
struct FixedWords: RandomWordSource {
    var words: [UInt64]
    var index = 0
    /// Set when the code under test asked for more words than the list holds.
    var overrun = false

    init(_ words: [UInt64]) { self.words = words }

    mutating func nextWord() -> UInt64 {
        guard index < words.count else {
            overrun = true
            return 0
        }
        defer { index += 1 }
        return words[index]
    }
}

extension BigUInt {
    init(hex: Substring) {
        self = 0
        for character in hex { self = (self << 4) + BigUInt(UInt64(character.hexDigitValue!)) }
    }

    /// Bit `index` counted from the least significant (0).
    func bit(_ index: Int) -> Bool { !((self >> index) - ((self >> (index + 1)) << 1)).isZero }

    /// The 64-bit word at bits [64k, 64k + 64).
    func word(_ k: Int) -> UInt64 { ((self >> (64 * k)) - ((self >> (64 * k + 64)) << 64)).limbs.first ?? 0 }
}

/// The exact slow path of the sampler: e^(-n/d) bounds and the lazy comparison of a uniform with
/// e^(-n/d)·dd/dn, against 256-bit reference values from Python's `decimal`
/// (`Scripts/reference/make_exp_reference.py`), never against Cohort's own arithmetic.
@Suite struct ExactExpTests {
    struct Row {
        let n: BigUInt, d: BigUInt, dn: BigUInt, dd: BigUInt
        /// ⌊e^(-n/d)·dd/dn·2^256⌋.
        let bits: BigUInt
        let label: String
    }

    static func rows() throws -> [Row] {
        try fixtureRows("exp_bits_reference").map { row in
            let parse = { (key: String) in BigUInt(decimal: row[key]!) }
            return Row(
                n: parse("n"), d: parse("d"), dn: parse("dn"), dd: parse("dd"),
                bits: BigUInt(hex: Substring(row["bits256_hex"]!)),
                label: "e^-(\(row["n"]!)/\(row["d"]!))·\(row["dd"]!)/\(row["dn"]!)")
        }
    }

    /// lo ≤ e^(-x)·2^p ≤ hi at several precisions, tightly.
    @Test func boundsBracketTheReference() throws {
        for row in try Self.rows() where row.dn == row.dd {
            for p in [8, 64, 100, 128, 200, 256] {
                let (lo, hi) = ExactExp.bounds(n: row.n, d: row.d, precision: p)
                // e^(-x)·2^p lies strictly between floor and floor + 1 (it is irrational).
                let floor = row.bits >> (256 - p)
                #expect(lo <= floor, "\(row.label) at p = \(p): lower bound \(lo) above \(floor)")
                #expect(hi >= floor + 1, "\(row.label) at p = \(p): upper bound \(hi) below \(floor) + 1")
                #expect(hi - lo <= 16, "\(row.label) at p = \(p): bounds \(lo)…\(hi) too loose")
            }
        }
        let (lo, hi) = ExactExp.bounds(n: 0, d: 7, precision: 100)
        #expect(lo == BigUInt(1) << 100 && hi == BigUInt(1) << 100)
    }

    /// The comparison reads V's bits only as far as they differ from e^(-x)·dd/dn's expansion:
    /// a V that agrees with the reference in its first k bits and then differs is decided by that
    /// bit, whatever follows (set adversarially so that V lies as close as possible to the
    /// threshold). k ≥ 53 forces the ambiguity a 53-bit floating-point test would have.
    @Test func comparisonFollowsTheFirstDifferingBit() throws {
        for row in try Self.rows() where !row.bits.isZero {
            for k in [0, 5, 40, 52, 53, 63, 64, 65, 100, 127, 128, 190, 250] {
                let position = 255 - k  // bit index of V's (k+1)-th bit
                let referenceBit = row.bits.bit(position)
                // V: the reference's first k bits, then the flipped bit, then all ones (when V is
                // below) or all zeros (when above), continuing beyond 256 bits.
                let high = (row.bits >> (position + 1)) << (position + 1)
                let lowOnes = (BigUInt(1) << position) - 1
                let v256 = referenceBit ? high + lowOnes : high + (BigUInt(1) << position)
                let filler: UInt64 = referenceBit ? .max : 0
                var source = FixedWords(
                    [v256.word(2), v256.word(1), v256.word(0)] + Array(repeating: filler, count: 8))
                let below = ExactExp.uniformTimesFactorIsBelow(
                    prefix: v256.word(3), n: row.n, d: row.d, dn: row.dn, dd: row.dd, source: &source)
                #expect(below == referenceBit, "\(row.label), V differing at bit \(k + 1)")
                #expect(!source.overrun, "\(row.label), k = \(k): read past the decisive bit")
            }
        }
    }

    /// x ≥ 2^27 is the documented truncation: decided "not below" without evaluation.
    @Test func hugeExponentsAreRejectedOutright() {
        var source = FixedWords([])
        #expect(
            !ExactExp.uniformTimesFactorIsBelow(
                prefix: 0, n: BigUInt(1) << 27, d: 1, dn: 1, dd: 1, source: &source))
        #expect(!source.overrun)
    }

    @Test func bigIntegerArithmeticMatchesUInt128() {
        var generator = SplitMix(seed: 5)
        for _ in 0..<2_000 {
            let a = UInt128(generator.next()) << 64 | UInt128(generator.next()) >> (generator.next() % 64)
            let b = UInt128(generator.next() >> (generator.next() % 64)) | 1
            let (bigQuotient, bigRemainder) = BigUInt(a).quotientAndRemainder(dividingBy: BigUInt(b))
            #expect(bigQuotient == BigUInt(a / b) && bigRemainder == BigUInt(a % b))
            let small = UInt64(truncatingIfNeeded: b)
            let (q64, r64) = BigUInt(a).quotientAndRemainder(dividingBy: small)
            #expect(q64 == BigUInt(a / UInt128(small)) && r64 == UInt64(a % UInt128(small)))
            let low = a & UInt128(UInt64.max)
            #expect(BigUInt(low) * BigUInt(b & UInt128(UInt64.max)) == BigUInt(low * (b & UInt128(UInt64.max))))
            #expect((BigUInt(a) >> 37) == BigUInt(a >> 37) && (BigUInt(a >> 64) << 63) == BigUInt((a >> 64) << 63))
            #expect(BigUInt(a) + BigUInt(b) - BigUInt(b) == BigUInt(a))
            #expect((BigUInt(a) < BigUInt(b)) == (a < b))
        }
    }
}

/// A small deterministic generator for test inputs (not for noise).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension BigUInt {
    init(decimal: String) {
        self = 0
        for character in decimal { self = self * 10 + BigUInt(UInt64(character.wholeNumberValue!)) }
    }
}
