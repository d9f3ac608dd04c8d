import CohortLedger

/// The stable names of the governance gates, as recorded in `gate.decision` ledger entries.
public enum GateName: String, Sendable, Equatable, CaseIterable {
    /// Pre-round: the projected cumulative ε stays within `privacy.epsilon_max`.
    case budget
    /// Pre-round: enough eligible participants.
    case quorum
    /// Pre-round: `model.version` is approved.
    case modelVersion = "model_version"
    /// Pre-round: suspended participants are excluded (never fails).
    case suspension
    /// Pre-round: each participant's data-quality attestation meets the policy.
    case dataQuality = "data_quality"
    /// Per update: which updates were accepted and which refused, with the wire error code.
    case updateChecks = "update_checks"
    /// Post-aggregate: no update's pre-clip norm or direction is anomalous.
    case anomaly
    /// Post-aggregate: the risk score R stays within `governance.risk.max`.
    case risk
    /// Post-aggregate: the federated evaluation meets the policy's thresholds.
    case evaluation
}

/// One gate's decision: whether it passed, why, and the values it judged.
///
/// `inputs` carries the statistics the gate looked at (counts, norms' z-scores, metrics, names) —
/// never an update's values or a key. They are not noised; see docs/GOVERNANCE.md, "What gate
/// decisions reveal".
public struct GateOutcome: Sendable, Equatable {
    /// The gate's stable name (`GateName.rawValue`).
    public var gate: String
    /// Whether the gate passed.
    public var passed: Bool
    /// Human-readable: what was judged, what failed and the threshold.
    public var reason: String
    /// The values the gate judged.
    public var inputs: [String: JSONValue]

    /// - Parameters:
    ///   - gate: the gate's stable name.
    ///   - passed: whether it passed.
    ///   - reason: what was judged and, on failure, what failed against which threshold.
    ///   - inputs: the values judged.
    public init(gate: String, passed: Bool, reason: String, inputs: [String: JSONValue]) {
        self.gate = gate
        self.passed = passed
        self.reason = reason
        self.inputs = inputs
    }

    /// - Parameters:
    ///   - gate: the gate.
    ///   - passed: whether it passed.
    ///   - reason: what was judged and, on failure, what failed against which threshold.
    ///   - inputs: the values judged.
    public init(gate: GateName, passed: Bool, reason: String, inputs: [String: JSONValue]) {
        self.init(gate: gate.rawValue, passed: passed, reason: reason, inputs: inputs)
    }

    /// The `gate.decision` ledger payload of this outcome for `round`.
    public func payload(round: Int) -> GateDecisionPayload {
        GateDecisionPayload(round: round, gate: gate, passed: passed, reason: reason, inputs: inputs)
    }
}

/// JSON helpers shared by the gates: the ledger cannot hold NaN or ±∞, so those become `null`.
enum GateJSON {
    /// `value` as a JSON number, or `null` when it is not finite.
    static func number(_ value: Double) -> JSONValue {
        value.isFinite ? .number(value) : .null
    }

    /// `value` rounded to `decimals` places as a JSON number, or `null` when it is not finite.
    static func rounded(_ value: Double, decimals: Int = 4) -> JSONValue {
        guard value.isFinite else { return .null }
        return .number(round(value, decimals: decimals))
    }

    /// `value` rounded half away from zero to `decimals` places.
    static func round(_ value: Double, decimals: Int = 4) -> Double {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let result = (value * scale).rounded() / scale
        return result == 0 ? 0 : result  // no −0 in the ledger
    }

    /// A sorted list of names.
    static func names<S: Sequence<String>>(_ names: S) -> JSONValue {
        .array(names.sorted().map { .string($0) })
    }

    /// A metric map with non-finite values as `null`.
    static func metrics(_ metrics: [String: Double]) -> JSONValue {
        .object(metrics.mapValues(number))
    }

    /// `value` for a human-readable reason: 4 decimals for figures, the exact text for ε.
    static func text(_ value: Double, decimals: Int = 4) -> String {
        value.isFinite ? "\(round(value, decimals: decimals))" : "\(value)"
    }
}
