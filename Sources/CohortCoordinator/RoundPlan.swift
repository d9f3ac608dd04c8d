import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy

/// Everything a round's mechanism depends on, fixed once when the round opens: sampling,
/// clipping, the grid, the noise, the divisor and the charge all read this one value, never the
/// policy in force. A policy adopted while the round runs takes effect at the next round, so
/// what is charged is always what was sampled and drawn (docs/PRIVACY.md, "The frozen plan").
///
/// Its ``record`` goes into `round.opened`; the verifier requires `round.charged` to repeat it.
struct RoundPlan: Sendable {
    /// δ is at most 1/(10·N) for the N records it protects by convention: a larger δ allows a
    /// failure probability comparable to one unit's share of the data. Both units; the
    /// coordinator also warns at start and on adoption (`Coordinator.warnAboutDelta`).
    var deltaExceedsGuidance: Bool { protectedUnits > 0 && record.delta > 1 / (10 * Double(protectedUnits)) }
    /// The units this round protects: the public training rows N (record unit), the eligible
    /// participants (participant unit).
    let protectedUnits: Int

    /// The values the ledger records.
    let record: RoundPlanRecord
    /// The fixed-point grid of this round (step from this round's C).
    let grid: FixedPointGrid
    /// The integer noise on the grid: standard deviation σ·Δ/γ, rounded up.
    let noise: DiscreteGaussian
    /// The fixed release divisor: q·N in the record unit (N = the public training rows), q × the
    /// eligible participants in the participant unit. Never the realised sample size.
    let denominator: Double

    /// The explicit margin on Δ, relative to C, that covers the floating-point rounding outside
    /// the sampler that the 2⁻²³·N·C term (the float32 rounding of each silo's sum) does not:
    ///
    /// - each silo's double-precision sum of its clipped gradients, compensated
    ///   (`CompensatedVectorSum`): at most 3u·B·C for a batch of B ≤ 10⁹ records, so two
    ///   neighbouring sums differ by at most ``siloSumRoundingBound`` = 6u·10⁹·C ≈ 6.7·10⁻⁷·C
    ///   beyond C (plain summation would not be covered: its 2(B − 1)·B·u·C passes 10⁻⁶·C near
    ///   B ≈ 7·10⁴);
    /// - the coordinator's double-precision sum of float32 updates and the division by γ before
    ///   rounding to the grid: each below 10⁻¹²·C for the model sizes the frame limits allow
    ///   (``otherRoundingBound`` covers both).
    ///
    /// `RoundPlanTests` checks that their sum stays within the margin.
    static let sensitivityMargin = RoundPlanRecord.sensitivityMargin
    /// Twice the compensated-sum bound at the largest batch a silo can hold, relative to C.
    static let siloSumRoundingBound =
        2 * CompensatedVectorSum.errorBound(terms: CompensatedVectorSum.maximumTerms, termNormBound: 1)
    /// The coordinator's own double sum and grid division, relative to C.
    static let otherRoundingBound = 2e-12

    var unit: PrivacyUnit { record.unit }
    var samplingRate: Double { record.samplingRate }
    var clippingBound: Double { record.clippingBound }
    var sensitivity: Double { record.sensitivity }

    /// The plan for a round opened under `privacy`.
    /// - Parameters:
    ///   - privacy: the policy in force when the round opens.
    ///   - dimension: model parameters d.
    ///   - eligibleParticipants: participants that passed the pre-round gates.
    ///   - trainingRows: record unit: the sum of their attested training rows N, public under
    ///     zero-out adjacency (Kairouz et al. 2021); ignored in the participant unit.
    init(privacy: Policy.Privacy, dimension: Int, eligibleParticipants: Int, trainingRows: Int) throws(PrivacyError) {
        let unit: PrivacyUnit = privacy.unit == .record ? .record : .participant
        let grid = try FixedPointGrid(
            clippingBound: privacy.clippingBound, dimension: dimension, inflation: privacy.gridInflation)
        let rows = unit == .record ? trainingRows : 0
        let bound = privacy.clippingBound
        // Δ = C + γ√d (quantisation) + 2^-23·N·C (float32 rounding of each silo's sum, record
        // unit) + the margin: docs/PRIVACY.md, "Floating point outside the sampler".
        let sensitivity =
            grid.sensitivity(clippingBound: bound, dimension: dimension) + 0x1p-23 * Double(rows) * bound
            + Self.sensitivityMargin * bound
        // Two steps up cover the rounding of the product and the quotient: the noise is never
        // below σ·Δ/γ.
        let scale = (privacy.noiseMultiplier * sensitivity / grid.step).nextUp.nextUp
        noise = try DiscreteGaussian(sigma: scale)
        self.grid = grid
        record = RoundPlanRecord(
            unit: unit, samplingRate: privacy.samplingRate, noiseMultiplier: privacy.noiseMultiplier,
            clippingBound: bound, gridStep: grid.step, sensitivity: sensitivity, dimension: dimension, records: rows,
            chargeMethod: .current, delta: privacy.delta)
        protectedUnits = unit == .record ? rows : eligibleParticipants
        let expected = unit == .record ? Double(rows) : Double(eligibleParticipants)
        // An empty round releases only noise; 1e-9 keeps the division defined.
        denominator = max(privacy.samplingRate * expected, 1e-9)
    }
}
