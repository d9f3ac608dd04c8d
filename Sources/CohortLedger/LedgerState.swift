import CohortPrivacy

/// What a verified ledger says, for the coordinator's restart and for reports.
///
/// Built entry by entry by the verifier (and kept current by `LedgerWriter`), from recomputed
/// values rather than the recorded ones, so nothing in it rests on the coordinator's arithmetic.
public struct LedgerState: Sendable, Equatable {
    /// Number of entries (the next entry's `seq`).
    public internal(set) var entryCount = 0
    /// `seq` of the last entry.
    public var lastSeq: Int { entryCount - 1 }
    /// SHA-256 (hex) of the last line: the next entry's `prev`.
    public internal(set) var lastHash = LedgerEntry.genesisPrev
    /// Time of the last entry.
    public internal(set) var lastTime = LedgerTime(millisecondsSinceEpoch: 0)
    /// The ledger's Ed25519 public key (from genesis).
    public internal(set) var publicKey: [UInt8] = []
    /// SHA-256 of the policy in force (genesis or the latest `policy.adopted`).
    public internal(set) var policySHA256 = ""
    /// SHA-256 of every policy the ledger has recorded (genesis and each adoption).
    public internal(set) var recordedPolicies: Set<String> = []
    /// The ε cap in force.
    public internal(set) var epsilonMax = 0.0
    /// The ledger's δ (from genesis; every charge is reported at it).
    public internal(set) var delta = 0.0
    /// Number of `round.charged` entries.
    public internal(set) var roundsCharged = 0
    /// ε of all charges at `delta`, recomputed (0 before the first charge).
    public internal(set) var cumulativeEpsilon = 0.0
    /// The RDP order that attains `cumulativeEpsilon`.
    public internal(set) var cumulativeOrder: Double? = nil
    /// Accumulated charged RDP at each of `DiscreteGaussianCharge.orders`, summed charge by charge.
    public internal(set) var rdp: [Double] = Array(repeating: 0, count: DiscreteGaussianCharge.orders.count)
    /// How many rounds were charged with each mechanism (all charge methods together).
    public internal(set) var chargesByMechanism: [SubsampledGaussian: Int] = [:]
    /// How many rounds were charged with each mechanism and charge method.
    public internal(set) var chargesByMethod: [ChargedMechanism: Int] = [:]
    /// The last round that released a model, and that model's SHA-256.
    public internal(set) var lastClosedRound: Int? = nil
    public internal(set) var lastModelSHA256: String? = nil
    /// A round that was opened but neither closed nor aborted (the coordinator must abort it on
    /// restart; if it was charged, the abort records `charged: true`).
    public internal(set) var unfinishedRound: Int? = nil
    /// Whether `unfinishedRound` has been charged.
    public internal(set) var unfinishedRoundCharged = false
    /// Whether `unfinishedRound` committed to its participant sample (its end must then record
    /// the sample's counts).
    public internal(set) var unfinishedRoundSampleCommitted = false
    /// The latest round whose model the promotion gates approved (an `evaluation` gate decision
    /// that passed with `promoted: true`).
    public internal(set) var latestApprovedRound: Int? = nil
    /// The number the next round should use: one above every round number in the ledger.
    public internal(set) var nextRound = 1
    /// Entries of kinds this build does not know, counted by kind.
    public internal(set) var unknownKinds: [String: Int] = [:]

    public init() {}

    /// A `ChargeAccountant` holding every charge, for projections with CohortPrivacy's API.
    ///
    /// Rounds with equal (q, σ) are composed together, so the floating-point sum may differ from
    /// `rdp` in the last bits; budget decisions should use `projectedCharge`, which continues the
    /// exact sum the verifier recomputes.
    public var accountant: ChargeAccountant {
        var accountant = ChargeAccountant()
        let sorted = chargesByMethod.sorted {
            ($0.key.mechanism.samplingRate, $0.key.mechanism.noiseMultiplier, $0.key.method.rawValue)
                < ($1.key.mechanism.samplingRate, $1.key.mechanism.noiseMultiplier, $1.key.method.rawValue)
        }
        for (charged, rounds) in sorted {
            // Every curve here was computed once already, when its charge was verified.
            try? accountant.compose(charged.mechanism, rounds: rounds, method: charged.method)
        }
        return accountant
    }

    /// The values a `round.charged` entry for `mechanism` charged with `method` would carry next:
    /// this round's ε and the cumulative ε and order at `delta`, computed exactly as the verifier
    /// will recompute them.
    /// - Throws: `privacy.invalid_charge` when the round's curve cannot be computed.
    public func projectedCharge(
        mechanism: SubsampledGaussian, delta: Double, method: ChargeMethod
    ) throws(PrivacyError) -> ProjectedCharge {
        guard delta.isFinite, delta > 0, delta < 1 else {
            throw PrivacyError(code: "privacy.invalid_delta", message: "δ must lie in (0, 1), got \(delta)")
        }
        let orders = DiscreteGaussianCharge.orders
        let perRound = try DiscreteGaussianCharge.rdp(of: mechanism, method: method)
        var total = rdp
        for index in total.indices { total[index] += perRound[index] }
        let roundResult = RDPAccountant.epsilon(orders: orders, rdp: perRound, delta: delta)
        let cumulative = RDPAccountant.epsilon(orders: orders, rdp: total, delta: delta)
        return ProjectedCharge(
            roundEpsilon: roundResult.epsilon, cumulativeEpsilon: cumulative.epsilon, cumulativeOrder: cumulative.order)
    }

    /// The charge of a planned round (its mechanism, method and δ), as the verifier will
    /// recompute it: the budget gate's projection and the ε values of its `round.charged` entry.
    public func projectedCharge(plan: RoundPlanRecord) throws(PrivacyError) -> ProjectedCharge {
        try projectedCharge(mechanism: try plan.mechanism(), delta: plan.delta, method: plan.chargeMethod)
    }

    /// `projectedCharge(mechanism:delta:method:)` with `ChargeMethod.current`. A charge that
    /// cannot be computed projects ε = +∞ (fail closed: the budget gate refuses the round, and
    /// the writer refuses a charge that is not a finite number).
    public func projectedCharge(mechanism: SubsampledGaussian, delta: Double) -> ProjectedCharge {
        do {
            return try projectedCharge(mechanism: mechanism, delta: delta, method: .current)
        } catch {
            return ProjectedCharge(
                roundEpsilon: .infinity, cumulativeEpsilon: .infinity, cumulativeOrder: DiscreteGaussianCharge.orders[0]
            )
        }
    }
}

/// A mechanism and the method its rounds were charged with.
public struct ChargedMechanism: Sendable, Hashable {
    public let mechanism: SubsampledGaussian
    public let method: ChargeMethod

    public init(mechanism: SubsampledGaussian, method: ChargeMethod) {
        self.mechanism = mechanism
        self.method = method
    }
}

/// The ε values of a prospective charge.
public struct ProjectedCharge: Sendable, Equatable {
    /// ε of the round alone.
    public let roundEpsilon: Double
    /// ε of the history plus the round.
    public let cumulativeEpsilon: Double
    /// The RDP order attaining `cumulativeEpsilon`.
    public let cumulativeOrder: Double
}
