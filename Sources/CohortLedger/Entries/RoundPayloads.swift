import CohortCrypto
import CohortPrivacy

/// `round.opened`: a round passed its pre-round gates and sampled its participants.
public struct RoundOpenedPayload: LedgerPayload {
    public static let kind = "round.opened"
    /// Round number (1-based, increasing).
    public var round: Int
    /// Participants sampled into the round; nil in a participant-unit round that commits to its
    /// sample instead (`sampleCommitment`): the count is then recorded when the round ends.
    public var participantsSampled: Int?
    /// Participants eligible to be sampled.
    public var participantsEligible: Int
    /// Noise mechanism, e.g. `discrete-gaussian`.
    public var mechanism: String
    /// The round's frozen plan (`data.plan`), which its charge must match; nil in ledgers written
    /// before plans were recorded.
    public var plan: RoundPlanRecord?
    /// Participant unit: SHA-256 (hex) commitment to the sampled participants
    /// (`ParticipantSampleCommitment`), written instead of any name or count of the sample.
    public var sampleCommitment: String?

    public init(
        round: Int, participantsSampled: Int?, participantsEligible: Int, mechanism: String,
        plan: RoundPlanRecord? = nil, sampleCommitment: String? = nil
    ) {
        self.round = round
        self.participantsSampled = participantsSampled
        self.participantsEligible = participantsEligible
        self.mechanism = mechanism
        self.plan = plan
        self.sampleCommitment = sampleCommitment
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        round = try f.int("round", minimum: 1)
        participantsEligible = try f.int("participants_eligible")
        mechanism = try f.nonEmptyString("mechanism")
        plan = f.has("plan") ? try RoundPlanRecord(data: try f.value("plan"), kind: Self.kind) : nil
        if f.has("sample_commitment") {
            // A committed sample is named nowhere, not even by its size, until the round ends.
            guard plan?.unit == .participant else {
                throw f.fail("sample_commitment", "absent unless the round's plan has unit \"participant\"")
            }
            guard !f.has("participants_sampled") else {
                throw f.fail(
                    "participants_sampled",
                    "absent when data.sample_commitment is present (the count is recorded when the round ends)")
            }
            sampleCommitment = try f.sha256Hex("sample_commitment")
            participantsSampled = nil
        } else {
            sampleCommitment = nil
            participantsSampled = try f.int("participants_sampled")
        }
    }

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "round": .integer(round),
            "participants_eligible": .integer(participantsEligible),
            "mechanism": .string(mechanism),
        ]
        if let participantsSampled { members["participants_sampled"] = .integer(participantsSampled) }
        if let plan { members["plan"] = plan.json }
        if let sampleCommitment { members["sample_commitment"] = .string(sampleCommitment) }
        return .object(members)
    }
}

/// The privacy unit a charge protects.
public enum PrivacyUnit: String, Sendable, Equatable, CaseIterable {
    /// Each individual record of each participant (DP-FedSGD).
    case record
    /// Each participant's whole contribution (DP-FedAvg).
    case participant
}

/// `round.charged`: the privacy spend of one round, written and fsync'd before the noised
/// aggregate is computed. Carries everything needed to recompute ε independently.
public struct RoundChargedPayload: LedgerPayload {
    public static let kind = "round.charged"
    public var round: Int
    /// What one unit of privacy is.
    public var unit: PrivacyUnit
    /// Poisson sampling rate q ∈ (0, 1].
    public var samplingRate: Double
    /// Noise multiplier σ: noise standard deviation divided by `sensitivity`.
    public var noiseMultiplier: Double
    /// L2 clipping bound C, in model units.
    public var clippingBound: Double
    /// The L2 sensitivity actually used, C + γ√d (model units).
    public var sensitivity: Double
    /// Fixed-point grid step γ (model units); 0 for a continuous mechanism.
    public var gridStep: Double
    /// Model dimension d (number of coordinates).
    public var dimension: Int
    /// δ at which ε is reported.
    public var delta: Double
    /// ε of this round alone at `delta`.
    public var roundEpsilon: Double
    /// ε of all charges so far, this one included, at `delta`.
    public var cumulativeEpsilon: Double
    /// The RDP order α at which `cumulativeEpsilon` was attained.
    public var cumulativeOrder: Double
    /// Names of the participants whose updates entered the aggregate; empty when the entry
    /// commits to them instead (`contributorsCommitment`).
    public var contributors: [String]
    /// SHA-256 (hex) of each contributor's signed update, by name; empty with a commitment.
    public var updateDigests: [String: String]
    /// Participant unit: SHA-256 (hex) commitment to the contributors
    /// (`ParticipantSampleCommitment`), written instead of their names and digests.
    public var contributorsCommitment: String?
    /// The recorded `charge_method`; nil when the entry names none (ledgers written before the
    /// field existed), which means `ChargeMethod.unnamed` (the v1 method).
    public var chargeMethod: ChargeMethod?
    /// The method the entry's ε values are recomputed with.
    public var effectiveChargeMethod: ChargeMethod { chargeMethod ?? .unnamed }

    public init(
        round: Int, unit: PrivacyUnit, samplingRate: Double, noiseMultiplier: Double, clippingBound: Double,
        sensitivity: Double, gridStep: Double, dimension: Int, delta: Double, roundEpsilon: Double,
        cumulativeEpsilon: Double, cumulativeOrder: Double, contributors: [String], updateDigests: [String: String],
        chargeMethod: ChargeMethod? = .current, contributorsCommitment: String? = nil
    ) {
        self.chargeMethod = chargeMethod
        self.contributorsCommitment = contributorsCommitment
        self.round = round
        self.unit = unit
        self.samplingRate = samplingRate
        self.noiseMultiplier = noiseMultiplier
        self.clippingBound = clippingBound
        self.sensitivity = sensitivity
        self.gridStep = gridStep
        self.dimension = dimension
        self.delta = delta
        self.roundEpsilon = roundEpsilon
        self.cumulativeEpsilon = cumulativeEpsilon
        self.cumulativeOrder = cumulativeOrder
        self.contributors = contributors
        self.updateDigests = updateDigests
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        round = try f.int("round", minimum: 1)
        unit = try f.privacyUnit("unit")
        samplingRate = try f.samplingRate("sampling_rate")
        noiseMultiplier = try f.positiveDouble("noise_multiplier")
        clippingBound = try f.positiveDouble("clipping_bound")
        sensitivity = try f.positiveDouble("sensitivity")
        gridStep = try f.nonNegativeDouble("grid_step")
        dimension = try f.int("dimension", minimum: 1)
        delta = try f.delta("delta")
        roundEpsilon = try f.nonNegativeDouble("round_epsilon")
        cumulativeEpsilon = try f.nonNegativeDouble("cumulative_epsilon")
        cumulativeOrder = try f.double("cumulative_order")
        chargeMethod = f.has("charge_method") ? try f.chargeMethod("charge_method") : nil
        if f.has("contributors_commitment") {
            // Participant unit: the contributors are committed to, never named.
            guard unit == .participant else {
                throw f.fail(
                    "contributors_commitment",
                    "absent unless unit is \"participant\" (the record unit lists its contributors)")
            }
            guard !f.has("contributors"), !f.has("update_digests") else {
                throw f.fail(
                    "contributors", "absent when data.contributors_commitment is present (so is data.update_digests)")
            }
            contributorsCommitment = try f.sha256Hex("contributors_commitment")
            contributors = []
            updateDigests = [:]
            return
        }
        contributorsCommitment = nil
        contributors = try f.stringArray("contributors")
        var digests: [String: String] = [:]
        for (name, value) in try f.object("update_digests") {
            guard let digest = value.stringValue, PayloadFields.isSHA256Hex(digest) else {
                throw f.fail("update_digests.\(name)", "64 lowercase hexadecimal digits (a SHA-256 digest)")
            }
            digests[name] = digest
        }
        updateDigests = digests
        // Every contributor's update is identified, and nothing else is: the digests are how a
        // participant proves which of its updates was used.
        guard Set(contributors).count == contributors.count, Set(contributors) == Set(digests.keys) else {
            throw f.fail("update_digests", "one digest per contributor, with the same names as data.contributors")
        }
    }

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "round": .integer(round),
            "unit": .string(unit.rawValue),
            "sampling_rate": .number(samplingRate),
            "noise_multiplier": .number(noiseMultiplier),
            "clipping_bound": .number(clippingBound),
            "sensitivity": .number(sensitivity),
            "grid_step": .number(gridStep),
            "dimension": .integer(dimension),
            "delta": .number(delta),
            "round_epsilon": .number(roundEpsilon),
            "cumulative_epsilon": .number(cumulativeEpsilon),
            "cumulative_order": .number(cumulativeOrder),
        ]
        if let contributorsCommitment {
            members["contributors_commitment"] = .string(contributorsCommitment)
        } else {
            members["contributors"] = .array(contributors.map { .string($0) })
            members["update_digests"] = .object(updateDigests.mapValues { .string($0) })
        }
        if let chargeMethod { members["charge_method"] = .string(chargeMethod.rawValue) }
        return .object(members)
    }

    /// The charge of a planned round: every parameter from `plan`, the ε values from `projected`
    /// (`LedgerState.projectedCharge(plan:)` just before writing).
    public init(
        round: Int, plan: RoundPlanRecord, projected: ProjectedCharge, contributors: [String],
        updateDigests: [String: String],
        contributorsCommitment: String? = nil
    ) {
        self.init(
            round: round, unit: plan.unit, samplingRate: plan.samplingRate, noiseMultiplier: plan.noiseMultiplier,
            clippingBound: plan.clippingBound, sensitivity: plan.sensitivity, gridStep: plan.gridStep,
            dimension: plan.dimension,
            delta: plan.delta, roundEpsilon: projected.roundEpsilon, cumulativeEpsilon: projected.cumulativeEpsilon,
            cumulativeOrder: projected.cumulativeOrder, contributors: contributors, updateDigests: updateDigests,
            chargeMethod: plan.chargeMethod, contributorsCommitment: contributorsCommitment)
    }
}

/// `round.closed`: the noised aggregate was released as a new global model.
public struct RoundClosedPayload: LedgerPayload {
    public static let kind = "round.closed"
    public var round: Int
    /// SHA-256 (hex) of the released model checkpoint file.
    public var modelSHA256: String
    /// The checkpoint's path relative to the state directory.
    public var checkpoint: String
    /// Ledgers written before the evaluation store: the aggregate federated-evaluation metrics of
    /// the released model (`LedgerMetric`). Empty when the entry carries `evaluationSHA256`.
    public var metrics: [String: Double]
    /// SHA-256 (hex) of the round's line in the coordinator's evaluation store
    /// (`EvaluationStore`), which holds the exact metrics; nil in older entries (`metrics`).
    public var evaluationSHA256: String?
    /// Older participant-unit ledgers only (current coordinators withhold it; the sample store
    /// keeps it): how many participants the committed sample drew.
    public var participantsSampled: Int?
    /// Older participant-unit ledgers only: how many updates entered the aggregate.
    public var contributorsCount: Int?

    /// An entry of the older form, with the exact metrics.
    public init(round: Int, modelSHA256: String, checkpoint: String, metrics: [String: Double]) {
        self.round = round
        self.modelSHA256 = modelSHA256
        self.checkpoint = checkpoint
        self.metrics = metrics
    }

    /// An entry that commits to the evaluation store's line for the round, with the sample's
    /// counts in the participant unit.
    public init(
        round: Int, modelSHA256: String, checkpoint: String, evaluationSHA256: String,
        participantsSampled: Int? = nil, contributorsCount: Int? = nil
    ) {
        self.round = round
        self.modelSHA256 = modelSHA256
        self.checkpoint = checkpoint
        self.metrics = [:]
        self.evaluationSHA256 = evaluationSHA256
        self.participantsSampled = participantsSampled
        self.contributorsCount = contributorsCount
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        round = try f.int("round", minimum: 1)
        modelSHA256 = try f.sha256Hex("model_sha256")
        checkpoint = try f.string("checkpoint")
        guard f.has("metrics") != f.has("evaluation_sha256") else {
            throw f.fail(
                "evaluation_sha256",
                "present (new entries) or replaced by data.metrics (older entries), not both or neither")
        }
        if f.has("metrics") {
            metrics = try f.numberMap("metrics")
            try LedgerMetric.validate(metrics, field: "metrics", kind: Self.kind)
        } else {
            metrics = [:]
            evaluationSHA256 = try f.sha256Hex("evaluation_sha256")
        }
        (participantsSampled, contributorsCount) = try SampleCounts.decode(f)
    }

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "round": .integer(round), "model_sha256": .string(modelSHA256), "checkpoint": .string(checkpoint),
        ]
        if let evaluationSHA256 {
            members["evaluation_sha256"] = .string(evaluationSHA256)
        } else {
            members["metrics"] = metrics.json
        }
        SampleCounts.encode(participantsSampled, contributorsCount, into: &members)
        return .object(members)
    }
}

/// The participant unit's sample counts (`participants_sampled`, `contributors_count`), present
/// together or not at all in `round.closed` and `round.aborted`.
enum SampleCounts {
    static func decode(_ f: PayloadFields) throws(LedgerError) -> (Int?, Int?) {
        guard f.has("participants_sampled") == f.has("contributors_count") else {
            throw f.fail("participants_sampled", "present together with data.contributors_count, or both absent")
        }
        guard f.has("participants_sampled") else { return (nil, nil) }
        let sampled = try f.int("participants_sampled")
        let contributors = try f.int("contributors_count")
        guard contributors <= sampled else {
            throw f.fail("contributors_count", "at most data.participants_sampled (\(sampled))")
        }
        return (sampled, contributors)
    }

    static func encode(_ sampled: Int?, _ contributors: Int?, into members: inout [String: JSONValue]) {
        guard let sampled, let contributors else { return }
        members["participants_sampled"] = .integer(sampled)
        members["contributors_count"] = .integer(contributors)
    }
}

/// `round.refused`: a pre-round gate refused to open a round; nothing was spent.
public struct RoundRefusedPayload: LedgerPayload {
    public static let kind = "round.refused"
    public var round: Int
    /// The gate that refused, e.g. `budget`.
    public var gate: String
    public var reason: String
    /// The cumulative ε the round would have reached (at the policy δ).
    public var projectedEpsilon: Double
    /// The cap in force.
    public var epsilonMax: Double
    /// The sampling rate q the projection used; nil in ledgers written before it was recorded.
    public var samplingRate: Double?
    /// The noise multiplier σ the projection used; nil in ledgers written before it was recorded.
    public var noiseMultiplier: Double?
    /// The charge method the projection used; present exactly when q and σ are.
    public var chargeMethod: ChargeMethod?

    public init(
        round: Int, gate: String, reason: String, projectedEpsilon: Double, epsilonMax: Double,
        samplingRate: Double? = nil, noiseMultiplier: Double? = nil, chargeMethod: ChargeMethod? = nil
    ) {
        self.round = round
        self.gate = gate
        self.reason = reason
        self.projectedEpsilon = projectedEpsilon
        self.epsilonMax = epsilonMax
        self.samplingRate = samplingRate
        self.noiseMultiplier = noiseMultiplier
        self.chargeMethod = chargeMethod ?? (samplingRate != nil || noiseMultiplier != nil ? .current : nil)
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        round = try f.int("round", minimum: 1)
        gate = try f.nonEmptyString("gate")
        reason = try f.string("reason")
        projectedEpsilon = try f.nonNegativeDouble("projected_epsilon")
        epsilonMax = try f.positiveDouble("epsilon_max")
        let present = [f.has("sampling_rate"), f.has("noise_multiplier"), f.has("charge_method")]
        guard present.allSatisfy({ $0 }) || present.allSatisfy({ !$0 }) else {
            throw f.fail(
                "sampling_rate",
                "present together with data.noise_multiplier and data.charge_method, or all three absent")
        }
        if present[0] {
            samplingRate = try f.samplingRate("sampling_rate")
            noiseMultiplier = try f.positiveDouble("noise_multiplier")
            chargeMethod = try f.chargeMethod("charge_method")
        } else {
            samplingRate = nil
            noiseMultiplier = nil
            chargeMethod = nil
        }
    }

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "round": .integer(round), "gate": .string(gate), "reason": .string(reason),
            "projected_epsilon": .number(projectedEpsilon), "epsilon_max": .number(epsilonMax),
        ]
        if let samplingRate { members["sampling_rate"] = .number(samplingRate) }
        if let noiseMultiplier { members["noise_multiplier"] = .number(noiseMultiplier) }
        if let chargeMethod { members["charge_method"] = .string(chargeMethod.rawValue) }
        return .object(members)
    }
}

/// `round.aborted`: a round ended without releasing a model.
public struct RoundAbortedPayload: LedgerPayload {
    public static let kind = "round.aborted"
    public var round: Int
    public var reason: String
    /// Whether a `round.charged` entry for this round precedes it (the spend stays counted).
    public var charged: Bool
    /// Older participant-unit ledgers only (withheld now): how many participants were sampled.
    public var participantsSampled: Int?
    /// Older participant-unit ledgers only: how many updates had been accepted.
    public var contributorsCount: Int?

    public init(
        round: Int, reason: String, charged: Bool, participantsSampled: Int? = nil, contributorsCount: Int? = nil
    ) {
        self.round = round
        self.reason = reason
        self.charged = charged
        self.participantsSampled = participantsSampled
        self.contributorsCount = contributorsCount
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        round = try f.int("round", minimum: 1)
        reason = try f.string("reason")
        charged = try f.bool("charged")
        (participantsSampled, contributorsCount) = try SampleCounts.decode(f)
    }

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "round": .integer(round), "reason": .string(reason), "charged": .bool(charged),
        ]
        SampleCounts.encode(participantsSampled, contributorsCount, into: &members)
        return .object(members)
    }
}
