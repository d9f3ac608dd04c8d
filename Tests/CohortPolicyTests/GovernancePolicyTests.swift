import Testing

@testable import CohortPolicy

/// `validPolicy` followed by `sections` (top-level YAML).
func withSections(_ sections: String) -> String {
    validPolicy + "\n" + sections
}

let fullGovernance = """
    api:
      listen: 127.0.0.1:7444
      operators: [ops-alice]
      auditors: [audit-bob, audit-carol]
    governance:
      approved_model_versions: [lr-v1, lr-v2]
      data_quality:
        min_rows: 50
        max_missing_rate: 0.2
        max_column_missing_rate: 0.5
        min_per_class: 5
        require_schema_match: false
      anomaly:
        norm_z_threshold: 4
        mad_floor: 0.2
        min_cosine: -0.3
        action: flag_only
        suspend_flagged: true
      risk:
        model_bias_weight: 0.4
        data_bias_weight: 0.3
        robustness_weight: 0.3
        metric: roc_auc
        max: 0.4
      evaluation:
        min_accuracy: 0.9
        min_precision: 0.8
        min_recall: 0.75
        min_f1: 0.7
        min_roc_auc: 0.95
        min_participants: 2
        per_participant_min_accuracy: 0.8
    """

@Suite struct GovernancePolicyTests {
    @Test func absentSectionsGiveDefaults() throws {
        let policy = try PolicyLoader.parse(validPolicy)
        #expect(policy.api == nil)
        let g = policy.governance
        #expect(g.approvedModelVersions == ["lr-v1"])
        #expect(g.dataQuality == Policy.Governance.DataQuality())
        #expect(g.dataQuality.minRows == 1 && g.dataQuality.maxMissingRate == 1 && g.dataQuality.requireSchemaMatch)
        #expect(g.anomaly.normZThreshold == 3.5 && g.anomaly.madFloor == 0.5 && g.anomaly.minCosine == -0.6)
        #expect(g.anomaly.directionMargin == 0.9)
        #expect(g.anomaly.action == .flagOnly && !g.anomaly.suspendFlagged)
        #expect(g.risk.modelBiasWeight == 1.0 / 3 && g.risk.metric == .accuracy && g.risk.max == 0.5)
        #expect(g.evaluation == Policy.Governance.Evaluation())
        #expect(g.evaluation.aggregateThresholds.isEmpty && g.evaluation.minParticipants == 1)
    }

    @Test func emptyAPISectionUsesDefaults() throws {
        let policy = try PolicyLoader.parse(withSections("api: {}\ngovernance: {}"))
        #expect(policy.api == Policy.API(listen: "127.0.0.1:7444", operators: [], auditors: []))
        #expect(policy.governance.approvedModelVersions == ["lr-v1"])
    }

    @Test func everyFieldIsRead() throws {
        let policy = try PolicyLoader.parse(withSections(fullGovernance))
        #expect(
            policy.api
                == Policy.API(
                    listen: "127.0.0.1:7444", operators: ["ops-alice"], auditors: ["audit-bob", "audit-carol"]))
        let g = policy.governance
        #expect(g.approvedModelVersions == ["lr-v1", "lr-v2"])
        #expect(
            g.dataQuality
                == Policy.Governance.DataQuality(
                    minRows: 50, maxMissingRate: 0.2, maxColumnMissingRate: 0.5, minPerClass: 5,
                    requireSchemaMatch: false))
        #expect(
            g.anomaly
                == Policy.Governance.Anomaly(
                    normZThreshold: 4, madFloor: 0.2, minCosine: -0.3, action: .flagOnly, suspendFlagged: true))
        #expect(
            g.risk
                == Policy.Governance.Risk(
                    modelBiasWeight: 0.4, dataBiasWeight: 0.3, robustnessWeight: 0.3, metric: .rocAUC, max: 0.4))
        #expect(
            g.evaluation
                == Policy.Governance.Evaluation(
                    minAccuracy: 0.9, minPrecision: 0.8, minRecall: 0.75, minF1: 0.7, minROCAUC: 0.95,
                    minParticipants: 2,
                    perParticipantMinAccuracy: 0.8))
        #expect(g.evaluation.aggregateThresholds.map(\.metric) == ["accuracy", "precision", "recall", "f1", "roc_auc"])
    }

    /// Alert delivery is host configuration: a policy that still names a command or a webhook
    /// (the operator API can replace the policy) is refused, naming the field and the flags.
    @Test(arguments: [
        ("governance:\n  alerts:\n    command: /bin/sh", "governance.alerts.command"),
        (
            "governance:\n  alerts:\n    command: /usr/local/bin/notify\n    webhook_url: http://127.0.0.1:9000/hook",
            "governance.alerts.command"
        ),
        (
            "governance:\n  alerts:\n    webhook_url: http://169.254.169.254/latest/meta-data",
            "governance.alerts.webhook_url"
        ),
        ("governance:\n  alerts:\n    email: ops@example.org", "governance.alerts.email"),
        ("governance:\n  alerts: {}", "governance.alerts"),
    ])
    func alertTargetsInThePolicyAreRefused(sections: String, field: String) {
        do {
            _ = try PolicyLoader.parse(withSections(sections))
            Issue.record("accepted a policy with `\(field)`")
        } catch {
            #expect(error.code == "policy.host_setting" && error.field == field, "\(error)")
            #expect(error.message.contains("--alert-command") && error.message.contains("--alert-webhook"))
        }
    }

    /// Every malformed `api` / `governance` field: the error names its exact path.
    @Test(arguments: [
        // api
        ("api: yes", "api", "policy.invalid_field"),
        ("api:\n  listen: localhost", "api.listen", "policy.invalid_field"),
        ("api:\n  listen: 127.0.0.1:99999", "api.listen", "policy.invalid_field"),
        ("api:\n  listen: 127.0.0.1:7443", "api.listen", "policy.invalid_field"),
        ("api:\n  operators: [ops-alice, 'bad name!']", "api.operators[1]", "policy.invalid_field"),
        ("api:\n  operators: [ops-alice, ops-alice]", "api.operators[1]", "policy.invalid_field"),
        ("api:\n  operators: [ops-alice, '']", "api.operators[1]", "policy.invalid_field"),
        ("api:\n  auditors: audit-bob", "api.auditors", "policy.invalid_field"),
        ("api:\n  auditors:\n    - name: audit-bob", "api.auditors[0]", "policy.invalid_field"),
        ("api:\n  port: 7444", "api.port", "policy.unknown_field"),
        // governance
        ("governance: [1, 2]", "governance", "policy.invalid_field"),
        ("governance:\n  approved: [lr-v1]", "governance.approved", "policy.unknown_field"),
        ("governance:\n  approved_model_versions: []", "governance.approved_model_versions", "policy.invalid_field"),
        ("governance:\n  approved_model_versions: lr-v1", "governance.approved_model_versions", "policy.invalid_field"),
        (
            "governance:\n  approved_model_versions: [lr-v1, [x]]", "governance.approved_model_versions[1]",
            "policy.invalid_field"
        ),
        // data_quality
        ("governance:\n  data_quality: 5", "governance.data_quality", "policy.invalid_field"),
        ("governance:\n  data_quality:\n    min_rows: 0", "governance.data_quality.min_rows", "policy.invalid_field"),
        ("governance:\n  data_quality:\n    min_rows: 2.5", "governance.data_quality.min_rows", "policy.invalid_field"),
        (
            "governance:\n  data_quality:\n    max_missing_rate: 1.5", "governance.data_quality.max_missing_rate",
            "policy.invalid_field"
        ),
        (
            "governance:\n  data_quality:\n    max_missing_rate: lots", "governance.data_quality.max_missing_rate",
            "policy.invalid_field"
        ),
        (
            "governance:\n  data_quality:\n    max_column_missing_rate: -0.1",
            "governance.data_quality.max_column_missing_rate", "policy.invalid_field"
        ),
        (
            "governance:\n  data_quality:\n    min_per_class: -1", "governance.data_quality.min_per_class",
            "policy.invalid_field"
        ),
        (
            "governance:\n  data_quality:\n    require_schema_match: maybe",
            "governance.data_quality.require_schema_match", "policy.invalid_field"
        ),
        ("governance:\n  data_quality:\n    min_row: 5", "governance.data_quality.min_row", "policy.unknown_field"),
        // anomaly
        (
            "governance:\n  anomaly:\n    norm_z_threshold: 0", "governance.anomaly.norm_z_threshold",
            "policy.invalid_field"
        ),
        (
            "governance:\n  anomaly:\n    norm_z_threshold: [3]", "governance.anomaly.norm_z_threshold",
            "policy.invalid_field"
        ),
        ("governance:\n  anomaly:\n    mad_floor: -0.1", "governance.anomaly.mad_floor", "policy.invalid_field"),
        (
            "governance:\n  anomaly:\n    direction_margin: 2.5", "governance.anomaly.direction_margin",
            "policy.invalid_field"
        ),
        (
            "governance:\n  anomaly:\n    direction_margin: wide", "governance.anomaly.direction_margin",
            "policy.invalid_field"
        ),
        ("governance:\n  anomaly:\n    min_cosine: -1.5", "governance.anomaly.min_cosine", "policy.invalid_field"),
        ("governance:\n  anomaly:\n    min_cosine: 1.01", "governance.anomaly.min_cosine", "policy.invalid_field"),
        ("governance:\n  anomaly:\n    min_cosine: low", "governance.anomaly.min_cosine", "policy.invalid_field"),
        ("governance:\n  anomaly:\n    action: drop", "governance.anomaly.action", "policy.invalid_field"),
        (
            "governance:\n  anomaly:\n    suspend_flagged: 1", "governance.anomaly.suspend_flagged",
            "policy.invalid_field"
        ),
        ("governance:\n  anomaly:\n    threshold: 3", "governance.anomaly.threshold", "policy.unknown_field"),
        // risk
        (
            "governance:\n  risk:\n    model_bias_weight: -0.1", "governance.risk.model_bias_weight",
            "policy.invalid_field"
        ),
        (
            "governance:\n  risk:\n    data_bias_weight: heavy", "governance.risk.data_bias_weight",
            "policy.invalid_field"
        ),
        (
            "governance:\n  risk:\n    robustness_weight: .inf", "governance.risk.robustness_weight",
            "policy.invalid_field"
        ),
        (
            "governance:\n  risk:\n    model_bias_weight: 0\n    data_bias_weight: 0\n    robustness_weight: 0",
            "governance.risk", "policy.invalid_field"
        ),
        ("governance:\n  risk:\n    metric: auc", "governance.risk.metric", "policy.invalid_field"),
        ("governance:\n  risk:\n    max: 1.5", "governance.risk.max", "policy.invalid_field"),
        ("governance:\n  risk:\n    max: -0.5", "governance.risk.max", "policy.invalid_field"),
        ("governance:\n  risk:\n    alpha: 1", "governance.risk.alpha", "policy.unknown_field"),
        // evaluation
        (
            "governance:\n  evaluation:\n    min_accuracy: 1.2", "governance.evaluation.min_accuracy",
            "policy.invalid_field"
        ),
        (
            "governance:\n  evaluation:\n    min_precision: -0.1", "governance.evaluation.min_precision",
            "policy.invalid_field"
        ),
        (
            "governance:\n  evaluation:\n    min_recall: high", "governance.evaluation.min_recall",
            "policy.invalid_field"
        ),
        ("governance:\n  evaluation:\n    min_f1: 2", "governance.evaluation.min_f1", "policy.invalid_field"),
        (
            "governance:\n  evaluation:\n    min_roc_auc: 1.01", "governance.evaluation.min_roc_auc",
            "policy.invalid_field"
        ),
        (
            "governance:\n  evaluation:\n    min_participants: 0", "governance.evaluation.min_participants",
            "policy.invalid_field"
        ),
        (
            "governance:\n  evaluation:\n    min_participants: 4", "governance.evaluation.min_participants",
            "policy.invalid_field"
        ),
        (
            "governance:\n  evaluation:\n    per_participant_min_accuracy: 1.5",
            "governance.evaluation.per_participant_min_accuracy", "policy.invalid_field"
        ),
        ("governance:\n  evaluation:\n    min_auc: 0.9", "governance.evaluation.min_auc", "policy.unknown_field"),
    ])
    func malformedGovernanceFieldNamesItsPath(sections: String, field: String, code: String) {
        do {
            _ = try PolicyLoader.parse(withSections(sections))
            Issue.record("accepted a policy with a bad `\(field)`")
        } catch {
            #expect(error.field == field, "\(error)")
            #expect(error.code == code, "\(error)")
            #expect(error.description.contains(field))
            #expect(!error.message.isEmpty)
        }
    }

    @Test func weightsAreNamedInTheAllZeroMessage() {
        do {
            _ = try PolicyLoader.parse(
                withSections(
                    "governance:\n  risk:\n    model_bias_weight: 0\n    data_bias_weight: 0\n    robustness_weight: 0")
            )
            Issue.record("all-zero weights accepted")
        } catch {
            #expect(error.message.contains("model_bias_weight + data_bias_weight + robustness_weight must be > 0"))
        }
    }

    @Test func modelVersionNeedNotBeApproved() throws {
        // The pre-round model_version gate refuses rounds then; the loader does not.
        let policy = try PolicyLoader.parse(withSections("governance:\n  approved_model_versions: [lr-v0]"))
        #expect(policy.governance.approvedModelVersions == ["lr-v0"])
    }
}
