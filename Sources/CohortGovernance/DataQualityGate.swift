import CohortLedger
import CohortModel
import CohortPolicy

/// Pre-round: each participant's data-quality attestation is checked against
/// `governance.data_quality`.
///
/// Only public facts decide eligibility by default: the schema digest and the row count (public
/// under zero-out adjacency). Shortfalls in record statistics (missing rates, records per class)
/// fail the gate, are recorded and alerted, but leave the participant eligible, unless the policy
/// sets `exclude_on_record_statistics`, which trades the privacy guarantee away
/// (docs/PRIVACY.md, "Eligibility"). A participant that sent no attestation is ineligible.
public enum DataQualityGate {
    /// The gate's outcome and who may be sampled.
    public struct Result: Sendable, Equatable {
        /// Passed iff every participant that attested passes (a missing attestation only makes
        /// that participant ineligible).
        public var outcome: GateOutcome
        /// Participants whose attestation passed, sorted.
        public var eligible: [String]
        /// Why each ineligible participant is ineligible.
        public var reasons: [String: [String]]
    }

    /// The CohortModel requirements equivalent to the policy's thresholds.
    ///
    /// - Parameters:
    ///   - policy: `governance.data_quality`.
    ///   - schemaDigest: `FeatureSchema.digest()` of the policy's schema; required only when
    ///     `require_schema_match` is true.
    public static func requirements(
        _ policy: Policy.Governance.DataQuality, schemaDigest: String
    ) -> DataQualityRequirements {
        DataQualityRequirements(
            schemaDigest: policy.requireSchemaMatch ? schemaDigest : nil,
            minimumRows: policy.minRows,
            maximumMissingRate: policy.maxMissingRate,
            maximumColumnMissingRate: policy.maxColumnMissingRate,
            minimumPerClass: policy.minPerClass
        )
    }

    /// Judges every participant's attestation.
    ///
    /// - Parameters:
    ///   - attestations: by participant name; `nil` when the participant sent none.
    ///   - schemaDigest: `FeatureSchema.digest()` of the policy's schema.
    ///   - policy: `governance.data_quality`.
    public static func evaluate(
        attestations: [String: DataQualityAttestation?],
        schemaDigest: String,
        policy: Policy.Governance.DataQuality
    ) -> Result {
        let requirements = requirements(policy, schemaDigest: schemaDigest)
        var eligible: [String] = []
        var reasons: [String: [String]] = [:]
        var perParticipant: [String: JSONValue] = [:]
        var failedAttested: [String] = []
        var missing: [String] = []
        for name in attestations.keys.sorted() {
            guard let attestation = attestations[name] ?? nil else {
                missing.append(name)
                reasons[name] = ["no data-quality attestation"]
                perParticipant[name] = ["attested": false, "passed": false, "reasons": ["no data-quality attestation"]]
                continue
            }
            let violations = attestation.violations(of: requirements)
            // The same thresholds on public facts only: schema digest and row count.
            let publicRequirements = DataQualityRequirements(
                schemaDigest: requirements.schemaDigest, minimumRows: requirements.minimumRows, maximumMissingRate: 1,
                maximumColumnMissingRate: 1, minimumPerClass: 0)
            let excluding =
                policy.excludeOnRecordStatistics ? violations : attestation.violations(of: publicRequirements)
            let worstColumn = attestation.columns.map(\.missingRate).max() ?? 0
            // Which public rule each shortfall breaks, for the ledger (which keeps no figure).
            var failedRules: [JSONValue] = []
            if requirements.schemaDigest != nil && attestation.schemaDigest != schemaDigest {
                failedRules.append("require_schema_match")
            }
            if attestation.rows < policy.minRows { failedRules.append("min_rows") }
            if attestation.overallMissingRate > policy.maxMissingRate { failedRules.append("max_missing_rate") }
            if worstColumn > policy.maxColumnMissingRate { failedRules.append("max_column_missing_rate") }
            if min(attestation.labelCounts.positive, attestation.labelCounts.negative) < policy.minPerClass {
                failedRules.append("min_per_class")
            }
            perParticipant[name] = [
                "attested": true,
                "rows": .integer(attestation.rows),
                "missing_rate": GateJSON.number(attestation.overallMissingRate),
                "worst_column_missing_rate": GateJSON.number(worstColumn),
                "positive": .integer(attestation.labelCounts.positive),
                "negative": .integer(attestation.labelCounts.negative),
                "schema_match": .bool(attestation.schemaDigest == schemaDigest),
                "passed": .bool(violations.isEmpty),
                "eligible": .bool(excluding.isEmpty),
                "reasons": .array(violations.map { .string($0) }),
                "failed_rules": .array(failedRules),
            ]
            if excluding.isEmpty { eligible.append(name) }
            if !violations.isEmpty {
                failedAttested.append(name)
                reasons[name] = violations
            }
        }
        let passed = failedAttested.isEmpty
        var reason: String
        if passed {
            reason = "\(eligible.count) participant(s) meet the data-quality thresholds"
        } else {
            reason =
                "data quality below the policy for "
                + failedAttested.map { "\($0) (\(reasons[$0, default: []].joined(separator: "; ")))" }.joined(
                    separator: ", ")
        }
        if !missing.isEmpty {
            reason += "; no attestation (ineligible): \(missing.joined(separator: ", "))"
        }
        let inputs: [String: JSONValue] = [
            "participants": .object(perParticipant),
            "eligible": .array(eligible.map { .string($0) }),
            "thresholds": [
                "min_rows": .integer(policy.minRows),
                "max_missing_rate": GateJSON.number(policy.maxMissingRate),
                "max_column_missing_rate": GateJSON.number(policy.maxColumnMissingRate),
                "min_per_class": .integer(policy.minPerClass),
                "require_schema_match": .bool(policy.requireSchemaMatch),
                "exclude_on_record_statistics": .bool(policy.excludeOnRecordStatistics),
            ],
            "schema_digest": .string(schemaDigest),
        ]
        return Result(
            outcome: GateOutcome(gate: .dataQuality, passed: passed, reason: reason, inputs: inputs),
            eligible: eligible, reasons: reasons
        )
    }
}
