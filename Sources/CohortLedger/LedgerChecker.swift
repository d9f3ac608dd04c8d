import CohortCrypto
import CohortPrivacy

/// A line after the per-line checks (JSON, canonical form, envelope, hash, signature, typed
/// decoding of `data`), which do not depend on other lines and may run in parallel.
struct CheckedLine: Sendable {
    /// The envelope; its `data` may be dropped (`.null`) once `record` is decoded, when the
    /// caller does not keep the entries.
    let entry: LedgerEntry
    /// SHA-256 (hex) of the line without its newline.
    let hash: String
    /// Whether the signature verifies under the given key; nil when it was not checked.
    let signatureValid: Bool?
    /// The typed content, or why `data` does not fit its kind. Decoded with the per-line checks
    /// but reported by `LedgerChecker` at its place in the sequence of checks (docs/LEDGER.md §6).
    let record: Swift.Result<LedgerRecord, LedgerError>

    init(entry: LedgerEntry, hash: String, signatureValid: Bool?, record: Swift.Result<LedgerRecord, LedgerError>) {
        self.entry = entry
        self.hash = hash
        self.signatureValid = signatureValid
        self.record = record
    }

    /// Decodes the record from `entry.data`.
    init(entry: LedgerEntry, hash: String, signatureValid: Bool?) {
        self.init(entry: entry, hash: hash, signatureValid: signatureValid, record: Self.decode(entry))
    }

    static func decode(_ entry: LedgerEntry) -> Swift.Result<LedgerRecord, LedgerError> {
        do {
            return .success(try entry.record())
        } catch {
            return .failure(error)
        }
    }
}

/// The sequential checks: sequence, chain, time, key, signature verdict, round order, and the
/// independent recomputation of every charge. A pure state machine over `CheckedLine`s, shared
/// by the verifier and the writer (which runs it on each entry before writing, so it cannot
/// produce a ledger that fails verification).
struct LedgerChecker: Sendable {
    /// Relative tolerance for recorded against recomputed ε.
    static let epsilonTolerance = 1e-9

    let publicKey: [UInt8]
    private(set) var state = LedgerState()
    /// Per-round RDP curve of each mechanism seen, and its one-round ε at the ledger's δ:
    /// composing the same (q, σ) again is a vector add.
    private var rdpCache: [ChargedMechanism: (rdp: [Double], delta: Double, roundEpsilon: Double)] = [:]
    private var roundStatus: [Int: RoundStatus] = [:]
    private var lastRecordedCumulative = 0.0
    /// The round whose evaluation gate promoted its model, until that round closes.
    private var pendingPromotion: Int?
    /// The first round whose `round.opened` froze a plan: every later round must too.
    private var firstPlannedRound: Int?
    /// The first participant-unit round that committed to its sample: every later
    /// participant-unit round must too (no downgrade to naming the sample).
    private var firstCommittedRound: Int?

    struct RoundStatus: Sendable {
        var opened = false
        var charged = false
        var finished = false
        /// The plan its `round.opened` froze, if any.
        var plan: RoundPlanRecord? = nil
        /// Participant unit: its `round.opened` committed to the sample instead of naming it.
        var sampleCommitted = false
        /// The cumulative ε its passing budget decision projected (planned rounds).
        var budgetProjection: Double? = nil
    }

    /// Pre-round gate decisions recorded for a round that has not opened yet: gate → (passed,
    /// the budget gate's `projected_epsilon`).
    private(set) var preRoundDecisions: [Int: [String: (passed: Bool, projected: Double?)]] = [:]
    /// The gates whose failure refuses a round (docs/GOVERNANCE.md).
    static let refusalGates: Swift.Set<String> = ["model_version", "budget", "quorum"]

    init(publicKey: [UInt8]) {
        self.publicKey = publicKey
    }

    /// Checks `line` (the `number`-th line, 1-based) against everything before it and, when it
    /// holds, advances the state.
    mutating func apply(_ line: CheckedLine, number: Int) throws(LedgerError) {
        let entry = line.entry
        func fail(_ code: LedgerError.Code, _ message: String) -> LedgerError {
            LedgerError(code: code, message: message, line: number, seq: entry.seq)
        }
        guard entry.seq == state.entryCount else {
            throw fail(
                .sequenceGap,
                "expected seq \(state.entryCount), found \(entry.seq): an entry is missing, duplicated or out of order"
            )
        }
        guard entry.prev == state.lastHash else {
            let message =
                entry.seq == 0
                ? "the first entry's prev must be 64 zeros"
                : "prev \(entry.prev) is not the SHA-256 of line \(number - 1) (\(state.lastHash)): that line or this one was altered, or lines between them were removed"
            throw fail(.chainBroken, message)
        }
        if entry.seq > 0 && entry.time < state.lastTime {
            throw fail(.timeRegressed, "time \(entry.time) is earlier than the previous entry's \(state.lastTime)")
        }
        let record: LedgerRecord
        if entry.seq == 0 {
            guard entry.kind == GenesisPayload.kind else {
                throw fail(.badGenesis, "the first entry must be of kind genesis, found \(entry.kind)")
            }
            // A genesis entry decodes to `.genesis` or fails with the genesis field at fault.
            guard
                case .genesis(let genesis) = try located(
                    number, entry.seq, { () throws(LedgerError) in try line.record.get() })
            else {
                throw fail(.badGenesis, "the first entry must be of kind genesis, found \(entry.kind)")
            }
            guard genesis.ledgerPublicKey == publicKey else {
                throw fail(
                    .wrongKey,
                    "the ledger was created for key \(Base64.encode(genesis.ledgerPublicKey)), not the given key \(Base64.encode(publicKey)); pass the coordinator's ledger public key"
                )
            }
            try checkSignature(line, fail)
            guard genesis.accountant == ledgerAccountantIdentifier else {
                throw fail(
                    .badGenesis,
                    "accountant \"\(genesis.accountant)\" is not supported; this verifier recomputes \(ledgerAccountantIdentifier)"
                )
            }
            record = .genesis(genesis)
        } else {
            try checkSignature(line, fail)
            record = try located(number, entry.seq) { () throws(LedgerError) in try line.record.get() }
        }
        try applySemantics(record, fail)
        state.entryCount += 1
        state.lastHash = line.hash
        state.lastTime = entry.time
    }

    private func checkSignature(
        _ line: CheckedLine, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) {
        if line.signatureValid == false {
            throw fail(
                .badSignature,
                "the Ed25519 signature does not verify under the ledger key: the entry was altered or signed by another key"
            )
        }
    }

    private func located<T>(_ number: Int, _ seq: Int, _ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        do {
            return try body()
        } catch {
            throw LedgerError(code: error.code, message: error.message, line: number, seq: seq)
        }
    }

    private mutating func applySemantics(
        _ record: LedgerRecord, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) {
        if let round = record.round {
            state.nextRound = max(state.nextRound, round + 1)
        }
        switch record {
        case .genesis(let genesis):
            guard state.entryCount == 0 else {
                throw fail(.badGenesis, "a second genesis entry; a ledger has exactly one, first")
            }
            state.publicKey = genesis.ledgerPublicKey
            state.policySHA256 = genesis.policySHA256
            state.recordedPolicies.insert(genesis.policySHA256)
            state.epsilonMax = genesis.epsilonMax
            state.delta = genesis.delta
        case .policyAdopted(let policy):
            guard policy.oldEpsilonMax == state.epsilonMax else {
                throw fail(
                    .badEntry, "old_epsilon_max \(policy.oldEpsilonMax) is not the cap in force (\(state.epsilonMax))")
            }
            guard policy.newEpsilonMax >= state.cumulativeEpsilon else {
                throw fail(
                    .budgetExceeded,
                    "new_epsilon_max \(policy.newEpsilonMax) is below the ε already spent (\(state.cumulativeEpsilon)); a cap may never go below what was charged"
                )
            }
            state.policySHA256 = policy.policySHA256
            state.recordedPolicies.insert(policy.policySHA256)
            state.epsilonMax = policy.newEpsilonMax
        case .roundOpened(let opened):
            guard roundStatus[opened.round] == nil else {
                throw fail(.roundOrder, "round \(opened.round) was already opened or refused earlier")
            }
            if let unfinished = state.unfinishedRound {
                throw fail(
                    .roundOrder, "round \(opened.round) opened while round \(unfinished) is neither closed nor aborted")
            }
            // No downgrade: a writer that froze plans (and committed to samples) keeps doing so, so
            // an entry written without them cannot slip an unchecked charge or a named sample in.
            if let first = firstPlannedRound, opened.plan == nil {
                throw fail(
                    .badEntry,
                    "round \(opened.round) opened without a plan, but round \(first) opened with one; "
                        + "once a ledger records plans every later round.opened must carry one")
            }
            if let first = firstCommittedRound, opened.plan?.unit == .participant, opened.sampleCommitment == nil {
                throw fail(
                    .badEntry,
                    "participant-unit round \(opened.round) names its sample, but round \(first) "
                        + "committed to its sample; once a ledger commits, every later participant-unit round.opened must "
                        + "carry sample_commitment")
            }
            if opened.plan != nil && firstPlannedRound == nil { firstPlannedRound = opened.round }
            if opened.sampleCommitment != nil && firstCommittedRound == nil { firstCommittedRound = opened.round }
            var status = RoundStatus(opened: true, plan: opened.plan, sampleCommitted: opened.sampleCommitment != nil)
            if let plan = opened.plan {
                try checkPlan(plan, fail)
                status.budgetProjection = try checkPreRoundDecisions(round: opened.round, fail)
            }
            preRoundDecisions[opened.round] = nil
            roundStatus[opened.round] = status
            state.unfinishedRound = opened.round
            state.unfinishedRoundCharged = false
            state.unfinishedRoundSampleCommitted = opened.sampleCommitment != nil
        case .roundCharged(let charge):
            try applyCharge(charge, fail)
        case .roundClosed(let closed):
            guard let status = roundStatus[closed.round], status.charged, !status.finished else {
                throw fail(
                    .roundOrder,
                    "round \(closed.round) closed without an earlier round.charged entry, or after it ended; a model may only be released after its charge"
                )
            }
            try checkSampleCounts(
                round: closed.round, committed: status.sampleCommitted,
                recorded: closed.participantsSampled != nil, fail)
            roundStatus[closed.round]!.finished = true
            state.lastClosedRound = closed.round
            state.lastModelSHA256 = closed.modelSHA256
            if pendingPromotion == closed.round { state.latestApprovedRound = closed.round }
            state.unfinishedRound = nil
        case .roundAborted(let aborted):
            guard let status = roundStatus[aborted.round], status.opened, !status.finished else {
                throw fail(.roundOrder, "round \(aborted.round) aborted but it is not open")
            }
            guard status.charged == aborted.charged else {
                throw fail(
                    .roundOrder,
                    "round \(aborted.round) aborted with charged: \(aborted.charged), but the ledger \(status.charged ? "has" : "has no") charge for it"
                )
            }
            try checkSampleCounts(
                round: aborted.round, committed: status.sampleCommitted,
                recorded: aborted.participantsSampled != nil, fail)
            roundStatus[aborted.round]!.finished = true
            state.unfinishedRound = nil
        case .roundRefused(let refused):
            try checkRefusal(refused, fail)
            if roundStatus[refused.round] == nil { roundStatus[refused.round] = RoundStatus(finished: true) }
            preRoundDecisions[refused.round] = nil
        case .gateDecision(let decision):
            // A decision recorded before its round opened is a pre-round decision, which a
            // planned round.opened must follow.
            if roundStatus[decision.round] == nil {
                preRoundDecisions[decision.round, default: [:]][decision.gate] =
                    (decision.passed, decision.inputs["projected_epsilon"]?.doubleValue)
            }
            // The evaluation gate's pass is the promotion of that round's model to approved.
            // It takes effect when that round's model is released (closed).
            if decision.gate == "evaluation" && decision.passed && decision.inputs["promoted"] == .bool(true) {
                pendingPromotion = decision.round
            }
        case .evaluationRecorded:
            break
        case .unknown(let kind, _):
            state.unknownKinds[kind, default: 0] += 1
        }
    }

    private mutating func applyCharge(
        _ charge: RoundChargedPayload, _ fail: (LedgerError.Code, String) -> LedgerError
    ) throws(LedgerError) {
        guard let status = roundStatus[charge.round], status.opened, !status.charged, !status.finished else {
            throw fail(.roundOrder, "round \(charge.round) charged but it is not open, or was charged already")
        }
        guard charge.delta == state.delta else {
            throw fail(
                .badEntry,
                "delta \(charge.delta) differs from the ledger's δ \(state.delta); every charge must be reported at the genesis δ"
            )
        }
        // Quantisation to the grid moves each coordinate by ≤ γ/2, so two neighbouring sums differ
        // by ≤ C + γ√d in L2 after rounding (docs/PRIVACY.md); a smaller recorded sensitivity
        // would understate the noise needed.
        let minimumSensitivity = charge.clippingBound + charge.gridStep * Double(charge.dimension).squareRoot()
        guard charge.sensitivity >= minimumSensitivity * (1 - 1e-12) else {
            throw fail(
                .sensitivityMismatch,
                "sensitivity \(charge.sensitivity) is below C + γ√d = \(minimumSensitivity) for C \(charge.clippingBound), γ \(charge.gridStep), d \(charge.dimension)"
            )
        }
        if let plan = status.plan { try checkChargeMatchesPlan(charge, plan, fail) }
        if status.sampleCommitted && charge.contributorsCommitment == nil {
            throw fail(
                .badEntry,
                "round \(charge.round) committed to its participant sample in round.opened, so its charge "
                    + "must "
                    + "carry contributors_commitment instead of naming the contributors")
        }
        let mechanism: SubsampledGaussian
        do {
            mechanism = try SubsampledGaussian(
                samplingRate: charge.samplingRate, noiseMultiplier: charge.noiseMultiplier)
        } catch {
            throw fail(.badEntry, error.message)
        }
        let method = charge.effectiveChargeMethod
        let charged = ChargedMechanism(mechanism: mechanism, method: method)
        let orders = DiscreteGaussianCharge.orders
        let perRound: [Double]
        let roundEpsilon: Double
        if let cached = rdpCache[charged], cached.delta == charge.delta {
            (perRound, roundEpsilon) = (cached.rdp, cached.roundEpsilon)
        } else {
            do {
                perRound = try DiscreteGaussianCharge.rdp(of: mechanism, method: method)
            } catch {
                throw fail(.epsilonMismatch, "the \(method.rawValue) charge cannot be recomputed: \(error.message)")
            }
            roundEpsilon = RDPAccountant.epsilon(orders: orders, rdp: perRound, delta: charge.delta).epsilon
            rdpCache[charged] = (perRound, charge.delta, roundEpsilon)
        }
        var total = state.rdp
        for index in total.indices { total[index] += perRound[index] }
        let cumulative = RDPAccountant.epsilon(orders: orders, rdp: total, delta: charge.delta)
        guard Self.close(charge.roundEpsilon, roundEpsilon) else {
            throw fail(
                .epsilonMismatch,
                "round_epsilon \(charge.roundEpsilon) differs from the recomputed \(roundEpsilon) (q \(charge.samplingRate), σ \(charge.noiseMultiplier), δ \(charge.delta), charge method \(method.rawValue))"
            )
        }
        guard Self.close(charge.cumulativeEpsilon, cumulative.epsilon) else {
            throw fail(
                .epsilonMismatch,
                "cumulative_epsilon \(charge.cumulativeEpsilon) differs from the recomputed \(cumulative.epsilon) over \(state.roundsCharged + 1) charges"
            )
        }
        // The order is an argmin; near-ties may legitimately resolve differently in the last bit,
        // so check that the recorded order attains the recorded ε rather than that it is identical.
        guard let orderIndex = orders.firstIndex(of: charge.cumulativeOrder),
            Self.close(
                RDPAccountant.epsilon(orders: [orders[orderIndex]], rdp: [total[orderIndex]], delta: charge.delta)
                    .epsilon, charge.cumulativeEpsilon)
        else {
            throw fail(
                .epsilonMismatch,
                "cumulative_order \(charge.cumulativeOrder) does not attain cumulative_epsilon \(charge.cumulativeEpsilon) (recomputed order \(cumulative.order))"
            )
        }
        guard charge.cumulativeEpsilon >= lastRecordedCumulative else {
            throw fail(
                .epsilonDecreased,
                "cumulative_epsilon \(charge.cumulativeEpsilon) is below the previous charge's \(lastRecordedCumulative)"
            )
        }
        // The recorded value is compared with the cap exactly (no tolerance), and so is the
        // recomputed one.
        guard max(charge.cumulativeEpsilon, cumulative.epsilon) <= state.epsilonMax else {
            throw fail(
                .budgetExceeded,
                "cumulative ε \(max(charge.cumulativeEpsilon, cumulative.epsilon)) exceeds epsilon_max \(state.epsilonMax) in force"
            )
        }
        // The charge is the projection the budget gate passed: what was judged is what was spent.
        if let projected = status.budgetProjection, !Self.close(charge.cumulativeEpsilon, projected) {
            throw fail(
                .epsilonMismatch,
                "cumulative_epsilon \(charge.cumulativeEpsilon) differs from the projected_epsilon "
                    + "\(projected) "
                    + "of the budget gate decision round \(charge.round) opened on")
        }
        roundStatus[charge.round]!.charged = true
        lastRecordedCumulative = charge.cumulativeEpsilon
        state.rdp = total
        state.cumulativeEpsilon = cumulative.epsilon
        state.cumulativeOrder = cumulative.order
        state.roundsCharged += 1
        state.chargesByMechanism[mechanism, default: 0] += 1
        state.chargesByMethod[charged, default: 0] += 1
        state.unfinishedRoundCharged = true
    }
}
