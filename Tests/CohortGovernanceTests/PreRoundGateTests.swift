import CohortLedger
import CohortModel
import CohortPolicy
import Testing

@testable import CohortGovernance

func attestation(
    rows: Int = 100, missing: Double = 0, columnMissing: [Double] = [0, 0], positive: Int = 40, negative: Int = 60,
    digest: String = "digest-a"
) -> DataQualityAttestation {
    DataQualityAttestation(
        schemaName: "wdbc", schemaDigest: digest, rows: rows, columnsMatched: columnMissing.count, extraColumns: [],
        columns: columnMissing.enumerated().map {
            ColumnQuality(name: "c\($0.offset)", missing: Int($0.element * Double(rows)), missingRate: $0.element)
        },
        overallMissingRate: missing, outOfRangeCount: 0, unknownCategoryCount: 0,
        labelCounts: LabelCounts(positive: positive, negative: negative)
    )
}

@Suite struct PreRoundGateTests {
    @Test func budgetGatePassesAtTheCapAndFailsAbove() {
        let at = BudgetGate.evaluate(projectedEpsilon: 3, spentEpsilon: 2.5, epsilonMax: 3, delta: 1e-5)
        #expect(at.passed && at.gate == "budget")
        let above = BudgetGate.evaluate(projectedEpsilon: 3.0125, spentEpsilon: 2.9, epsilonMax: 3, delta: 1e-5)
        #expect(!above.passed)
        #expect(above.reason.contains("3.0125"))
        #expect(above.reason.contains("epsilon_max 3.0"))
        #expect(above.inputs["projected_epsilon"] == .number(3.0125))
        #expect(above.inputs["spent_epsilon"] == .number(2.9))
        #expect(above.inputs["delta"] == .number(1e-5))
    }

    @Test func quorumGate() {
        let enough = QuorumGate.evaluate(eligible: ["a", "b"], minimum: 2)
        #expect(enough.passed && enough.gate == "quorum")
        let short = QuorumGate.evaluate(eligible: ["a"], minimum: 2)
        #expect(!short.passed)
        #expect(short.reason.contains("quorum (rounds.min_participants) is 2"))
        #expect(short.inputs["eligible"] == ["a"])
        #expect(short.inputs["minimum"] == 2)
    }

    @Test func modelVersionGate() {
        #expect(ModelVersionGate.evaluate(version: "lr-v1", approved: ["lr-v1"]).passed)
        let refused = ModelVersionGate.evaluate(version: "lr-v2", approved: ["lr-v1"])
        #expect(!refused.passed && refused.gate == "model_version")
        #expect(refused.reason.contains("`lr-v2`") && refused.reason.contains("approved_model_versions"))
        #expect(refused.inputs["approved"] == ["lr-v1"])
    }

    @Test func suspensionGateExcludesButPasses() {
        let result = SuspensionGate.evaluate(connected: ["c", "a", "b"], suspended: ["a", "z"])
        #expect(result.outcome.passed && result.outcome.gate == "suspension")
        #expect(result.remaining == ["c", "b"])
        #expect(result.excluded == ["a"])
        #expect(result.outcome.inputs["excluded"] == ["a"])
        #expect(result.outcome.reason.contains("a"))
        let none = SuspensionGate.evaluate(connected: ["a"], suspended: [])
        #expect(none.remaining == ["a"] && none.outcome.inputs["excluded"] == [])
    }

    @Test func dataQualityGateJudgesEachParticipant() {
        let policy = Policy.Governance.DataQuality(
            minRows: 50, maxMissingRate: 0.2, maxColumnMissingRate: 0.5, minPerClass: 5)
        let result = DataQualityGate.evaluate(
            attestations: [
                "good": attestation(),
                "small": attestation(rows: 20, positive: 10, negative: 10),
                "gappy": attestation(missing: 0.3, columnMissing: [0.1, 0.6]),
                "other-schema": attestation(digest: "digest-b"),
                "one-class": attestation(positive: 2, negative: 98),
                "silent": nil,
            ],
            schemaDigest: "digest-a", policy: policy
        )
        #expect(!result.outcome.passed)
        #expect(result.outcome.gate == "data_quality")
        // Only public facts (schema digest, row count) exclude: shortfalls in un-noised record
        // statistics fail the gate and are recorded, but leave the participant eligible.
        #expect(result.eligible == ["gappy", "good", "one-class"])
        #expect((result.outcome.inputs["participants"] ?? .null)["gappy"]?["eligible"] == JSONValue.bool(true))
        #expect((result.outcome.inputs["participants"] ?? .null)["small"]?["eligible"] == JSONValue.bool(false))
        #expect(result.reasons["silent"] == ["no data-quality attestation"])
        #expect(result.reasons["small"]?.first?.contains("at least 50") == true)
        #expect(result.reasons["gappy"]?.count == 2)
        #expect(result.reasons["other-schema"]?.first?.contains("digest-a") == true)
        #expect(result.reasons["one-class"]?.first?.contains("fewer than 5") == true)
        let participants: JSONValue = result.outcome.inputs["participants"] ?? .null
        let gappy: JSONValue = participants["gappy"] ?? .null
        #expect(gappy["rows"] == JSONValue.number(100))
        #expect(gappy["missing_rate"] == JSONValue.number(0.3))
        #expect(gappy["worst_column_missing_rate"] == JSONValue.number(0.6))
        #expect(gappy["schema_match"] == JSONValue.bool(true))
        #expect(participants["other-schema"]?["schema_match"] == JSONValue.bool(false))
        #expect(participants["good"]?["positive"] == JSONValue.number(40))
        for name in ["small", "gappy", "other-schema", "one-class", "silent"] {
            #expect(result.outcome.reason.contains(name))
        }
    }

    @Test func excludingOnRecordStatisticsIsAnOptionThatIsNamedAsTradingTheGuaranteeAway() {
        var policy = Policy.Governance.DataQuality(
            minRows: 50, maxMissingRate: 0.2, maxColumnMissingRate: 0.5, minPerClass: 5)
        policy.excludeOnRecordStatistics = true
        let result = DataQualityGate.evaluate(
            attestations: [
                "good": attestation(), "gappy": attestation(missing: 0.3, columnMissing: [0.1, 0.6]),
                "one-class": attestation(positive: 2, negative: 98),
            ],
            schemaDigest: "digest-a", policy: policy)
        #expect(result.eligible == ["good"])
        var governance = Policy.Governance(approvedModelVersions: ["v1"])
        #expect(Policy.guaranteeTrading(governance).isEmpty)
        governance.dataQuality = policy
        governance.anomaly.suspendFlagged = true
        #expect(
            Policy.guaranteeTrading(governance).map(\.field) == [
                "governance.data_quality.exclude_on_record_statistics", "governance.anomaly.suspend_flagged",
            ])
    }

    @Test func missingAttestationMakesIneligibleButDoesNotFailTheGate() {
        let result = DataQualityGate.evaluate(
            attestations: ["good": attestation(), "silent": nil], schemaDigest: "digest-a",
            policy: Policy.Governance.DataQuality()
        )
        #expect(result.outcome.passed)
        #expect(result.eligible == ["good"])
        #expect(result.outcome.reason.contains("no attestation (ineligible): silent"))
    }

    @Test func schemaMatchCanBeWaived() {
        let result = DataQualityGate.evaluate(
            attestations: ["other": attestation(digest: "digest-b")], schemaDigest: "digest-a",
            policy: Policy.Governance.DataQuality(requireSchemaMatch: false)
        )
        #expect(result.outcome.passed && result.eligible == ["other"])
        #expect(
            DataQualityGate.requirements(Policy.Governance.DataQuality(requireSchemaMatch: false), schemaDigest: "d")
                .schemaDigest == nil)
        #expect(DataQualityGate.requirements(Policy.Governance.DataQuality(), schemaDigest: "d").schemaDigest == "d")
    }

    @Test func updateChecksRecord() {
        var record = UpdateChecksRecord()
        #expect(record.outcome.passed)
        record.accept("a")
        record.refuse("b", code: "update.bad_signature")
        record.refuse("c", code: "update.non_finite")
        record.refuse("a", code: "update.duplicate")
        let outcome = record.outcome
        #expect(!outcome.passed && outcome.gate == "update_checks")
        #expect(
            outcome.inputs["participants"] == ["a": "accepted", "b": "update.bad_signature", "c": "update.non_finite"])
        #expect(outcome.inputs["refused"] == 3 && outcome.inputs["accepted"] == 1)
        #expect(outcome.reason.contains("1 update(s) accepted, 3 refused"))
        #expect(outcome.reason.contains("update.bad_signature: 1"))

        var clean = UpdateChecksRecord()
        clean.accept("a")
        clean.accept("b")
        #expect(clean.outcome.passed)
        #expect(clean.outcome.reason == "2 update(s) accepted, 0 refused")
    }
}
