import CohortCrypto
import CohortPrivacy

/// The checks of a round's plan, its pre-round decisions, its charge and refusals against what the
/// ledger recorded before it.
extension LedgerChecker {
    /// A plan frozen in `round.opened`: at the ledger's δ, with a sensitivity no smaller than
    /// C + γ√d (+ 2^-23·N·C in the record unit) + 10⁻⁶·C, what the coordinator writes.
    func checkPlan(
        _ plan: RoundPlanRecord, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) {
        guard plan.delta == state.delta else {
            throw fail(.planMismatch, "plan.delta \(plan.delta) differs from the ledger's δ \(state.delta)")
        }
        guard plan.sensitivity >= plan.minimumSensitivity * (1 - 1e-12) else {
            throw fail(
                .sensitivityMismatch,
                "plan.sensitivity \(plan.sensitivity) is below \(plan.minimumSensitivity) "
                    + "(C + γ√d\(plan.unit == .record ? " + 2^-23·N·C" : "") + 10^-6·C for C \(plan.clippingBound), γ \(plan.gridStep), d \(plan.dimension)\(plan.unit == .record ? ", N \(plan.records)" : ""))"
            )
        }
    }

    /// A planned round opens only after its pre-round gates passed: a passing `budget` decision
    /// for the round and no failed refusal gate (`model_version`, `budget`, `quorum`) recorded
    /// for it before. Returns the budget decision's projected ε, which the round's charge must equal.
    func checkPreRoundDecisions(
        round: Int, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) -> Double {
        let decisions = preRoundDecisions[round] ?? [:]
        for gate in decisions.keys.sorted() where Self.refusalGates.contains(gate) && decisions[gate]?.passed == false {
            throw fail(
                .roundOrder,
                "round \(round) opened after its \(gate) gate failed; "
                    + "a failed refusal gate must be followed by round.refused")
        }
        guard decisions["budget"] != nil else {
            throw fail(
                .roundOrder,
                "round \(round) opened without a passing budget gate decision before it; "
                    + "a planned round opens only after its pre-round gates")
        }
        guard let projected = decisions["budget"]?.projected else {
            throw fail(.roundOrder, "the budget gate decision before round \(round) states no inputs.projected_epsilon")
        }
        return projected
    }

    /// Participant unit: only a round that committed to its sample may record its counts at its
    /// end, and then only as ledgers written before the counts were withheld did (docs/LEDGER.md
    /// §5): current coordinators record none, so a committed round's end with or without them
    /// verifies, and a round that did not commit may never carry them.
    func checkSampleCounts(
        round: Int, committed: Bool, recorded: Bool, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) {
        guard recorded, !committed else { return }
        throw fail(
            .badEntry,
            "round \(round) did not commit to a participant sample; participants_sampled and contributors_count "
                + "belong only to rounds that did (in ledgers written before the counts were withheld)")
    }

    /// A charge must carry exactly the parameters its round's plan froze.
    func checkChargeMatchesPlan(
        _ charge: RoundChargedPayload, _ plan: RoundPlanRecord, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) {
        var differences: [String] = []
        func compare<T: Equatable>(_ name: String, _ charged: T, _ planned: T) {
            if charged != planned { differences.append("\(name) \(charged) (plan: \(planned))") }
        }
        compare("unit", charge.unit.rawValue, plan.unit.rawValue)
        compare("sampling_rate", charge.samplingRate, plan.samplingRate)
        compare("noise_multiplier", charge.noiseMultiplier, plan.noiseMultiplier)
        compare("clipping_bound", charge.clippingBound, plan.clippingBound)
        compare("grid_step", charge.gridStep, plan.gridStep)
        compare("sensitivity", charge.sensitivity, plan.sensitivity)
        compare("dimension", charge.dimension, plan.dimension)
        compare("delta", charge.delta, plan.delta)
        compare("charge_method", charge.effectiveChargeMethod.rawValue, plan.chargeMethod.rawValue)
        guard differences.isEmpty else {
            throw fail(
                .planMismatch,
                "round \(charge.round) was charged with parameters other than its round.opened plan: "
                    + differences.joined(separator: ", "))
        }
    }

    /// A refusal that states the (q, σ, method) it projected with must state the projection
    /// recomputed from the ledger history, to 1e-9 relative.
    func checkRefusal(
        _ refused: RoundRefusedPayload, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) {
        guard let q = refused.samplingRate, let sigma = refused.noiseMultiplier, let method = refused.chargeMethod
        else { return }
        let projected: ProjectedCharge
        do {
            projected = try state.projectedCharge(
                mechanism: try SubsampledGaussian(samplingRate: q, noiseMultiplier: sigma), delta: state.delta,
                method: method)
        } catch {
            throw fail(.badEntry, "round.refused: \(error.message)")
        }
        guard Self.close(refused.projectedEpsilon, projected.cumulativeEpsilon) else {
            throw fail(
                .epsilonMismatch,
                "projected_epsilon \(refused.projectedEpsilon) differs from the recomputed \(projected.cumulativeEpsilon) "
                    + "(q \(q), σ \(sigma), \(method.rawValue), after \(state.roundsCharged) charges)")
        }
    }

    static func close(_ a: Double, _ b: Double) -> Bool {
        a == b || abs(a - b) <= epsilonTolerance * max(abs(a), abs(b))
    }
}
