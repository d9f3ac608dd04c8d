import CohortModel
import Testing

@testable import CohortCoordinator

/// The plan's explicit margin on Δ covers the roundings it claims to (RoundPlan.sensitivityMargin).
@Suite struct RoundPlanMarginTests {
    @Test func marginCoversTheSiloSumAtTheLargestBatch() {
        // Two compensated sums of 10⁹ clipped gradients, plus the coordinator's own roundings.
        let silo = RoundPlan.siloSumRoundingBound
        #expect(CompensatedVectorSum.maximumTerms == DataQualityAttestation.maximumRows)
        #expect(abs(silo - 6 * 0x1p-53 * 1e9) <= 1e-18)
        #expect(silo + RoundPlan.otherRoundingBound <= RoundPlan.sensitivityMargin)
        // Plain recursive summation, 2(B − 1)·B·u, would not fit at that batch (nor near 7·10⁴).
        let plainAt = { (batch: Double) in 2 * (batch - 1) * batch * 0x1p-53 }
        #expect(plainAt(1e9) > RoundPlan.sensitivityMargin)
        #expect(plainAt(7e4) > RoundPlan.sensitivityMargin)
    }
}
