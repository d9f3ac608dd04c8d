import CohortCrypto
import CohortPrivacy

/// `gate.decision`: one governance gate's outcome with the inputs it judged.
public struct GateDecisionPayload: LedgerPayload {
    public static let kind = "gate.decision"
    public var round: Int
    /// The gate's name from the policy, e.g. `quorum`, `risk_score`.
    public var gate: String
    public var passed: Bool
    public var reason: String
    /// The values the gate looked at (free-form); in entries with `inputsSHA256`, only the
    /// decisions, rule names and the policy's thresholds.
    public var inputs: [String: JSONValue]
    /// SHA-256 (hex) of the line in the coordinator's gate-input store that holds the exact
    /// inputs the ledger withholds (`GateInputStore`); nil when the entry carries every input
    /// (public facts, and older ledgers).
    public var inputsSHA256: String?

    public init(
        round: Int, gate: String, passed: Bool, reason: String, inputs: [String: JSONValue],
        inputsSHA256: String? = nil
    ) {
        self.round = round
        self.gate = gate
        self.passed = passed
        self.reason = reason
        self.inputs = inputs
        self.inputsSHA256 = inputsSHA256
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        round = try f.int("round", minimum: 1)
        gate = try f.nonEmptyString("gate")
        passed = try f.bool("passed")
        reason = try f.string("reason")
        inputs = try f.object("inputs")
        inputsSHA256 = f.has("inputs_sha256") ? try f.sha256Hex("inputs_sha256") : nil
        if inputsSHA256 != nil, let exact = Self.exactRecordInputs[gate] {
            // Top-level inputs, and each participant's inputs (data_quality lists them by name).
            var keys = inputs.keys.map { $0 }
            for (name, value) in inputs["participants"]?.objectValue ?? [:] {
                keys += (value.objectValue ?? [:]).keys.map { "participants.\(name).\($0)" }
            }
            for key in keys.sorted() where exact.contains(String(key.split(separator: ".").last ?? "")) {
                throw f.fail(
                    "inputs.\(key)",
                    "absent when data.inputs_sha256 is present: the exact \(gate) statistics stay in the gate-input store"
                )
            }
        }
    }

    /// The record-derived inputs, by gate, that an entry committing to the gate-input store
    /// (`inputs_sha256`) must not carry (docs/LEDGER.md, "gate.decision").
    public static let exactRecordInputs: [String: Set<String>] = [
        "data_quality": ["rows", "missing_rate", "worst_column_missing_rate", "positive", "negative", "reasons"],
        "anomaly": ["median", "mad", "scale", "z", "cosine", "median_cosine", "flagged_or_clipped"],
        "risk": ["r", "r1", "r2", "r3", "flagged_or_clipped"],
        "evaluation": ["aggregate", "participant_accuracy"],
    ]

    public var data: JSONValue {
        var members: [String: JSONValue] = [
            "round": .integer(round), "gate": .string(gate), "passed": .bool(passed), "reason": .string(reason),
            "inputs": .object(inputs),
        ]
        if let inputsSHA256 { members["inputs_sha256"] = .string(inputsSHA256) }
        return .object(members)
    }
}

/// `evaluation.recorded`: federated evaluation of a round's model on the participants' holdouts.
///
/// New entries commit to the round's line in the coordinator's evaluation store
/// (`evaluationSHA256`, with `participantsEvaluated`); older entries carry the exact metrics.
public struct EvaluationRecordedPayload: LedgerPayload {
    public static let kind = "evaluation.recorded"
    public var round: Int
    /// Older entries: metrics (`LedgerMetric`) by participant name; empty in new entries.
    public var participants: [String: [String: Double]]
    /// Older entries: the aggregate metrics; empty in new entries.
    public var aggregate: [String: Double]
    /// SHA-256 (hex) of the round's evaluation-store line; nil in older entries.
    public var evaluationSHA256: String?
    /// How many participants' evaluations were merged (new entries).
    public var participantsEvaluated: Int?

    /// An entry of the older form, with the exact metrics.
    public init(round: Int, participants: [String: [String: Double]], aggregate: [String: Double]) {
        self.round = round
        self.participants = participants
        self.aggregate = aggregate
    }

    /// An entry that commits to the evaluation store's line for the round.
    public init(round: Int, evaluationSHA256: String, participantsEvaluated: Int) {
        self.round = round
        self.participants = [:]
        self.aggregate = [:]
        self.evaluationSHA256 = evaluationSHA256
        self.participantsEvaluated = participantsEvaluated
    }

    public init(data: JSONValue) throws(LedgerError) {
        let f = try PayloadFields(kind: Self.kind, data: data)
        round = try f.int("round", minimum: 1)
        if f.has("evaluation_sha256") {
            guard !f.has("participants"), !f.has("aggregate") else {
                throw f.fail("aggregate", "absent when data.evaluation_sha256 is present (so is data.participants)")
            }
            evaluationSHA256 = try f.sha256Hex("evaluation_sha256")
            participantsEvaluated = try f.int("participants_evaluated")
            participants = [:]
            aggregate = [:]
            return
        }
        var participants: [String: [String: Double]] = [:]
        for (name, value) in try f.object("participants") {
            let inner = try PayloadFields(kind: Self.kind, data: value)
            var metrics: [String: Double] = [:]
            for (metric, number) in inner.members {
                guard let number = number.doubleValue else {
                    throw f.fail("participants.\(name).\(metric)", "a number")
                }
                metrics[metric] = number
            }
            try LedgerMetric.validate(metrics, field: "participants.\(name)", kind: Self.kind)
            participants[name] = metrics
        }
        self.participants = participants
        aggregate = try f.numberMap("aggregate")
        try LedgerMetric.validate(aggregate, field: "aggregate", kind: Self.kind)
    }

    public var data: JSONValue {
        if let evaluationSHA256 {
            return [
                "round": .integer(round), "evaluation_sha256": .string(evaluationSHA256),
                "participants_evaluated": .integer(participantsEvaluated ?? 0),
            ]
        }
        return [
            "round": .integer(round), "participants": .object(participants.mapValues { $0.json }),
            "aggregate": aggregate.json,
        ]
    }
}
