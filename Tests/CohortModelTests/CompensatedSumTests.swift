import CohortModel
import Testing

/// The silo's sum of clipped gradients is compensated, so its rounding stays within the
/// coordinator's sensitivity margin for any batch a silo can hold (docs/PRIVACY.md, "Floating
/// point outside the sampler").
@Suite struct CompensatedSumTests {
    @Test func smallTermsAfterALargeOneAreKept() {
        // 1 + 10⁵ × 2⁻⁵⁴: each term is half an ulp of 1, so plain summation returns exactly 1.
        let tiny = 0x1p-54
        var sum = CompensatedVectorSum(count: 2)
        sum.add(1, at: 0)
        var plain = 1.0
        for _ in 0..<100_000 {
            sum.add(tiny, at: 0)
            plain += tiny
        }
        let exact = 1 + 100_000 * tiny
        #expect(plain == 1)
        #expect(abs(sum.result[0] - exact) <= 0x1p-52 * exact)
        #expect(sum.result[1] == 0)
    }

    @Test func recordSumOfManyEqualGradientsIsCompensated() throws {
        // 2¹⁷ records whose clipped gradients add up in a way plain summation drifts on; the
        // compensated sum stays within its stated bound of the exact (here, analytically known) sum.
        let records = 1 << 17
        var sum = CompensatedVectorSum(count: 1)
        var plain = 0.0
        let term = 0.1  // not a binary fraction: every plain addition rounds
        for _ in 0..<records {
            sum.add(term, at: 0)
            plain += term
        }
        let exact = 0.1 * Double(records)  // 0.1's own representation error is in each term alike
        let bound = CompensatedVectorSum.errorBound(terms: records, termNormBound: term)
        #expect(abs(sum.result[0] - exact) <= bound)
        #expect(abs(plain - exact) > bound, "plain summation would also be within the bound: \(plain - exact)")
    }
}
