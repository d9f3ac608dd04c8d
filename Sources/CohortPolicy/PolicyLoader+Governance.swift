/// Parsing and validation of the `api` and `governance` sections.
extension PolicyLoader {
    /// The `api` section, or nil when it is absent.
    static func parseAPI(_ fields: inout YAMLFields) throws(PolicyError) -> Policy.API? {
        guard var apiFields = try fields.optionalSection("api") else { return nil }
        let api = Policy.API(
            listen: try apiFields.string("listen", default: Policy.API.defaultListen),
            operators: try apiFields.stringList("operators", default: []),
            auditors: try apiFields.stringList("auditors", default: [])
        )
        try apiFields.rejectUnknownKeys()
        return api
    }

    /// The `governance` section with every default applied (`approved_model_versions` defaults to
    /// `[modelVersion]`).
    static func parseGovernance(
        _ fields: inout YAMLFields, modelVersion: String
    ) throws(PolicyError) -> Policy.Governance {
        var section = try fields.section("governance", optional: true)
        let approved = try section.stringList("approved_model_versions", default: [modelVersion])

        var qualityFields = try section.section("data_quality", optional: true)
        let quality = Policy.Governance.DataQuality(
            minRows: try qualityFields.int("min_rows", default: 1),
            maxMissingRate: try qualityFields.double("max_missing_rate", default: 1),
            maxColumnMissingRate: try qualityFields.double("max_column_missing_rate", default: 1),
            minPerClass: try qualityFields.int("min_per_class", default: 0),
            requireSchemaMatch: try qualityFields.bool("require_schema_match", default: true),
            excludeOnRecordStatistics: try qualityFields.bool("exclude_on_record_statistics", default: false)
        )
        try qualityFields.rejectUnknownKeys()

        var anomalyFields = try section.section("anomaly", optional: true)
        let defaultAnomaly = Policy.Governance.Anomaly()
        let actionText = try anomalyFields.string("action", default: defaultAnomaly.action.rawValue)
        guard let action = Policy.Governance.AnomalyAction(rawValue: actionText) else {
            throw PolicyError.invalid(
                anomalyFields.fieldPath("action"),
                "must be `discard_round` or `flag_only`, got `\(PolicyError.shown(actionText))`"
            )
        }
        let anomaly = Policy.Governance.Anomaly(
            normZThreshold: try anomalyFields.double("norm_z_threshold", default: defaultAnomaly.normZThreshold),
            madFloor: try anomalyFields.double("mad_floor", default: defaultAnomaly.madFloor),
            minCosine: try anomalyFields.double("min_cosine", default: defaultAnomaly.minCosine),
            directionMargin: try anomalyFields.double("direction_margin", default: defaultAnomaly.directionMargin),
            action: action,
            suspendFlagged: try anomalyFields.bool("suspend_flagged", default: defaultAnomaly.suspendFlagged)
        )
        try anomalyFields.rejectUnknownKeys()

        var riskFields = try section.section("risk", optional: true)
        let defaultRisk = Policy.Governance.Risk()
        let metricText = try riskFields.string("metric", default: defaultRisk.metric.rawValue)
        guard let metric = Policy.Governance.RiskMetric(rawValue: metricText) else {
            let allowed = Policy.Governance.RiskMetric.allCases.map { "`\($0.rawValue)`" }.joined(separator: ", ")
            throw PolicyError.invalid(
                riskFields.fieldPath("metric"), "must be one of \(allowed), got `\(PolicyError.shown(metricText))`")
        }
        let risk = Policy.Governance.Risk(
            modelBiasWeight: try riskFields.double("model_bias_weight", default: defaultRisk.modelBiasWeight),
            dataBiasWeight: try riskFields.double("data_bias_weight", default: defaultRisk.dataBiasWeight),
            robustnessWeight: try riskFields.double("robustness_weight", default: defaultRisk.robustnessWeight),
            metric: metric,
            max: try riskFields.double("max", default: defaultRisk.max)
        )
        try riskFields.rejectUnknownKeys()

        var evaluationFields = try section.section("evaluation", optional: true)
        let evaluation = Policy.Governance.Evaluation(
            minAccuracy: try evaluationFields.optionalDouble("min_accuracy"),
            minPrecision: try evaluationFields.optionalDouble("min_precision"),
            minRecall: try evaluationFields.optionalDouble("min_recall"),
            minF1: try evaluationFields.optionalDouble("min_f1"),
            minROCAUC: try evaluationFields.optionalDouble("min_roc_auc"),
            minParticipants: try evaluationFields.int("min_participants", default: 1),
            perParticipantMinAccuracy: try evaluationFields.optionalDouble("per_participant_min_accuracy")
        )
        try evaluationFields.rejectUnknownKeys()

        // Alert delivery is host configuration: a policy can be replaced through the operator API,
        // so a policy that chose what the coordinator host executes, or where it connects, would
        // let an operator run commands on that host (or reach its internal network).
        if let alertFields = try section.optionalSection("alerts") {
            let keys = alertFields.keyNames
            let key = ["command", "webhook_url"].first(where: keys.contains) ?? keys.first
            throw PolicyError(
                code: "policy.host_setting", field: key.map(alertFields.fieldPath) ?? alertFields.path,
                message: "alert delivery is configured on the coordinator host, not in the policy (the policy can be "
                    + "changed through the operator API); remove `governance.alerts` and start cohort-coordinator with "
                    + "`--alert-command PATH` (and `--alert-argument ARG`, repeatable) and/or `--alert-webhook URL`")
        }
        try section.rejectUnknownKeys()

        return Policy.Governance(
            approvedModelVersions: approved, dataQuality: quality, anomaly: anomaly, risk: risk,
            evaluation: evaluation
        )
    }

    /// Range and consistency checks of the `api` section.
    static func validateAPI(_ policy: Policy) throws(PolicyError) {
        guard let api = policy.api else { return }
        try checkHostPort(api.listen, field: "api.listen")
        // Port 0 (any free port, for tests and demos) never collides.
        guard api.listen != policy.coordinator.listen || api.listen.hasSuffix(":0") else {
            throw PolicyError.invalid(
                "api.listen",
                "must differ from coordinator.listen (`\(policy.coordinator.listen)`), got `\(PolicyError.shown(api.listen))`"
            )
        }
        for (field, names) in [("api.operators", api.operators), ("api.auditors", api.auditors)] {
            var seen: Set<String> = []
            for (index, name) in names.enumerated() {
                guard isValidName(name) else {
                    throw PolicyError.invalid(
                        "\(field)[\(index)]",
                        "must be a certificate name of 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-', got `\(PolicyError.shown(name))`"
                    )
                }
                guard seen.insert(name).inserted else {
                    throw PolicyError.invalid("\(field)[\(index)]", "`\(name)` is listed twice")
                }
            }
        }
    }

    /// Range and consistency checks of the `governance` section, each naming its field.
    static func validateGovernance(_ policy: Policy) throws(PolicyError) {
        let g = policy.governance
        guard !g.approvedModelVersions.isEmpty else {
            throw PolicyError.invalid(
                "governance.approved_model_versions", "must name at least one model version (default: [model.version])"
            )
        }
        for (index, version) in g.approvedModelVersions.enumerated() where version.isEmpty {
            throw PolicyError.invalid("governance.approved_model_versions[\(index)]", "must not be empty")
        }

        let q = g.dataQuality
        guard q.minRows >= 1 else {
            throw PolicyError.invalid(
                "governance.data_quality.min_rows", "must be a whole number ≥ 1, got \(q.minRows)")
        }
        try checkUnitInterval(q.maxMissingRate, field: "governance.data_quality.max_missing_rate")
        try checkUnitInterval(q.maxColumnMissingRate, field: "governance.data_quality.max_column_missing_rate")
        guard q.minPerClass >= 0 else {
            throw PolicyError.invalid(
                "governance.data_quality.min_per_class", "must be a whole number ≥ 0, got \(q.minPerClass)")
        }

        let a = g.anomaly
        guard a.normZThreshold > 0, a.normZThreshold.isFinite else {
            throw PolicyError.invalid(
                "governance.anomaly.norm_z_threshold", "must be a finite number > 0, got \(a.normZThreshold)")
        }
        guard a.madFloor >= 0, a.madFloor.isFinite else {
            throw PolicyError.invalid("governance.anomaly.mad_floor", "must be a finite number ≥ 0, got \(a.madFloor)")
        }
        guard a.minCosine >= -1, a.minCosine <= 1 else {
            throw PolicyError.invalid("governance.anomaly.min_cosine", "must lie in [-1, 1], got \(a.minCosine)")
        }
        guard a.directionMargin >= 0, a.directionMargin <= 2 else {
            throw PolicyError.invalid(
                "governance.anomaly.direction_margin", "must lie in [0, 2], got \(a.directionMargin)")
        }

        let r = g.risk
        for (field, weight) in [
            ("governance.risk.model_bias_weight", r.modelBiasWeight),
            ("governance.risk.data_bias_weight", r.dataBiasWeight),
            ("governance.risk.robustness_weight", r.robustnessWeight),
        ] where !(weight >= 0 && weight.isFinite) {
            throw PolicyError.invalid(field, "must be a finite number ≥ 0, got \(weight)")
        }
        guard r.modelBiasWeight + r.dataBiasWeight + r.robustnessWeight > 0 else {
            throw PolicyError.invalid(
                "governance.risk",
                "model_bias_weight + data_bias_weight + robustness_weight must be > 0 (they are used as given, not normalised)"
            )
        }
        try checkUnitInterval(r.max, field: "governance.risk.max")

        let e = g.evaluation
        for (field, value) in [
            ("governance.evaluation.min_accuracy", e.minAccuracy),
            ("governance.evaluation.min_precision", e.minPrecision),
            ("governance.evaluation.min_recall", e.minRecall),
            ("governance.evaluation.min_f1", e.minF1),
            ("governance.evaluation.min_roc_auc", e.minROCAUC),
            ("governance.evaluation.per_participant_min_accuracy", e.perParticipantMinAccuracy),
        ] {
            if let value { try checkUnitInterval(value, field: field) }
        }
        guard e.minParticipants >= 1, e.minParticipants <= policy.participants.count else {
            throw PolicyError.invalid(
                "governance.evaluation.min_participants",
                "must lie in 1…\(policy.participants.count) (the number of participants), got \(e.minParticipants)"
            )
        }
    }

    static func checkUnitInterval(_ value: Double, field: String) throws(PolicyError) {
        guard value >= 0, value <= 1 else {
            throw PolicyError.invalid(field, "must lie in [0, 1], got \(value)")
        }
    }
}
