extension Policy {
    /// The operator and auditor API (mutual TLS, certificate roles `operator` and `auditor`).
    public struct API: Sendable, Equatable, Codable {
        /// The default API address, `127.0.0.1:7444`.
        public static let defaultListen = "127.0.0.1:7444"

        /// API port, `HOST:PORT`. Default `127.0.0.1:7444`; must differ from `coordinator.listen`.
        public var listen: String
        /// Certificate names (role `operator`) allowed to act on the coordinator. Default none.
        public var operators: [String]
        /// Certificate names (role `auditor`) allowed to read the ledger and gate decisions. Default none.
        public var auditors: [String]

        /// - Parameters:
        ///   - listen: `HOST:PORT` to serve the API on.
        ///   - operators: certificate names with the operator role that may act.
        ///   - auditors: certificate names with the auditor role that may read.
        public init(listen: String = API.defaultListen, operators: [String] = [], auditors: [String] = []) {
            self.listen = listen
            self.operators = operators
            self.auditors = auditors
        }

        enum CodingKeys: String, CodingKey {
            case listen, operators, auditors
        }
    }

    /// The governance gates' thresholds. Every field has a default, so a policy without a
    /// `governance` section gets gates that accept anything that loaded, except the model-version
    /// gate, which approves only `model.version`.
    public struct Governance: Sendable, Equatable, Codable {
        /// Model versions rounds may run for; the pre-round `model_version` gate requires
        /// `model.version` to be listed. Default `[model.version]`.
        public var approvedModelVersions: [String]
        /// Pre-round data-quality thresholds applied to each participant's attestation.
        public var dataQuality: DataQuality
        /// Per-round screening of the updates' pre-clip norms and directions.
        public var anomaly: Anomaly
        /// The post-aggregate risk score that gates promotion.
        public var risk: Risk
        /// The post-aggregate evaluation thresholds that gate promotion.
        public var evaluation: Evaluation

        /// - Parameters:
        ///   - approvedModelVersions: the versions rounds may run for (the loader's default is `[model.version]`).
        ///   - dataQuality: the data-quality thresholds.
        ///   - anomaly: the anomaly screen's settings.
        ///   - risk: the risk score's weights and cap.
        ///   - evaluation: the evaluation thresholds.
        public init(
            approvedModelVersions: [String],
            dataQuality: DataQuality = DataQuality(),
            anomaly: Anomaly = Anomaly(),
            risk: Risk = Risk(),
            evaluation: Evaluation = Evaluation()
        ) {
            self.approvedModelVersions = approvedModelVersions
            self.dataQuality = dataQuality
            self.anomaly = anomaly
            self.risk = risk
            self.evaluation = evaluation
        }

        enum CodingKeys: String, CodingKey {
            case approvedModelVersions = "approved_model_versions"
            case dataQuality = "data_quality"
            case anomaly, risk, evaluation
        }

        /// Thresholds a participant's data-quality attestation must meet to be eligible for a round.
        public struct DataQuality: Sendable, Equatable, Codable {
            /// Fewest records, ≥ 1. Default 1.
            public var minRows: Int
            /// Largest overall missing-cell rate, in [0, 1]. Default 1 (anything).
            public var maxMissingRate: Double
            /// Largest missing rate of any one schema column, in [0, 1]. Default 1 (anything).
            public var maxColumnMissingRate: Double
            /// Fewest records of each class, ≥ 0. Default 0.
            public var minPerClass: Int
            /// Whether the attested schema digest must equal the policy schema's. Default true.
            public var requireSchemaMatch: Bool
            /// TRADES THE PRIVACY GUARANTEE AWAY when true: a participant whose attested record
            /// statistics (missing rates, records per class) miss the thresholds is excluded from
            /// rounds. Those statistics are un-noised and one record can move them, so exclusion
            /// would let one record change the released model by a whole silo's contribution.
            /// Default false: such shortfalls are recorded and alerted, and only public facts
            /// (schema digest, row count) decide eligibility. docs/PRIVACY.md, "Eligibility".
            public var excludeOnRecordStatistics: Bool

            /// - Parameters:
            ///   - minRows: fewest records (≥ 1).
            ///   - maxMissingRate: largest overall missing rate (0…1).
            ///   - maxColumnMissingRate: largest per-column missing rate (0…1).
            ///   - minPerClass: fewest records per class (≥ 0).
            ///   - requireSchemaMatch: whether the attested schema digest must match the policy's.
            public init(
                minRows: Int = 1,
                maxMissingRate: Double = 1,
                maxColumnMissingRate: Double = 1,
                minPerClass: Int = 0,
                requireSchemaMatch: Bool = true,
                excludeOnRecordStatistics: Bool = false
            ) {
                self.excludeOnRecordStatistics = excludeOnRecordStatistics
                self.minRows = minRows
                self.maxMissingRate = maxMissingRate
                self.maxColumnMissingRate = maxColumnMissingRate
                self.minPerClass = minPerClass
                self.requireSchemaMatch = requireSchemaMatch
            }

            enum CodingKeys: String, CodingKey {
                case minRows = "min_rows"
                case maxMissingRate = "max_missing_rate"
                case maxColumnMissingRate = "max_column_missing_rate"
                case minPerClass = "min_per_class"
                case requireSchemaMatch = "require_schema_match"
                case excludeOnRecordStatistics = "exclude_on_record_statistics"
            }
        }

        /// What the coordinator does when the anomaly screen flags an update.
        public enum AnomalyAction: String, Sendable, Equatable, Codable, CaseIterable {
            /// Abort the round after its charge: the aggregate is discarded, the model is unchanged.
            case discardRound = "discard_round"
            /// Record the flags (and alert) but release the round's model as usual.
            case flagOnly = "flag_only"
        }

        /// The anomaly screen over the round's updates (docs/GOVERNANCE.md gives the formulas).
        public struct Anomaly: Sendable, Equatable, Codable {
            /// Robust z-score of the normalised pre-clip norm above which an update is flagged; > 0. Default 3.5.
            public var normZThreshold: Double
            /// The robust scale is at least `madFloor × median`; ≥ 0. Default 0.5, so with the
            /// default threshold only a norm above 2.75 × the median can be flagged, whatever the MAD
            /// of a handful of honest silos happens to be.
            public var madFloor: Double
            /// Cosine with the previous global update below which an update may be flagged; in [−1, 1]. Default −0.6.
            public var minCosine: Double
            /// With three or more cosines, an update's direction is flagged only when it is also
            /// this far below the median cosine of the round's updates; in [0, 2]. Default 0.9.
            /// It keeps a noisy previous update (every honest cosine near or below zero) from
            /// flagging the honest majority.
            public var directionMargin: Double
            /// What a flag does. Default `flag_only`: the flag blocks promotion of the round's model and
            /// alerts, and the operator decides (suspend the participant, abort, adopt a stricter policy);
            /// `discard_round` spends the round's ε on nothing, which an honest outlier should not cost.
            public var action: AnomalyAction
            /// Whether flagged participants are suspended from later rounds. Default false.
            public var suspendFlagged: Bool

            /// - Parameters:
            ///   - normZThreshold: robust z above which a norm is flagged (> 0).
            ///   - madFloor: lower bound of the robust scale relative to the median (≥ 0).
            ///   - minCosine: cosine below which a direction may be flagged ([−1, 1]).
            ///   - directionMargin: how far below the round's median cosine a flagged direction must also be ([0, 2]).
            ///   - action: what a flag does.
            ///   - suspendFlagged: whether flagged participants are suspended.
            public init(
                normZThreshold: Double = 3.5,
                madFloor: Double = 0.5,
                minCosine: Double = -0.6,
                directionMargin: Double = 0.9,
                action: AnomalyAction = .flagOnly,
                suspendFlagged: Bool = false
            ) {
                self.normZThreshold = normZThreshold
                self.madFloor = madFloor
                self.minCosine = minCosine
                self.directionMargin = directionMargin
                self.action = action
                self.suspendFlagged = suspendFlagged
            }

            enum CodingKeys: String, CodingKey {
                case normZThreshold = "norm_z_threshold"
                case madFloor = "mad_floor"
                case minCosine = "min_cosine"
                case directionMargin = "direction_margin"
                case action
                case suspendFlagged = "suspend_flagged"
            }
        }

        /// An evaluation metric the risk score's model-bias term R1 may use.
        public enum RiskMetric: String, Sendable, Equatable, Codable, CaseIterable {
            case accuracy
            case precision
            case recall
            case f1
            case rocAUC = "roc_auc"
        }

        /// The risk score R = α·R1 + β·R2 + γ·R3 that gates promotion. The weights are used as
        /// given (not normalised): with weights summing to more than 1, R can exceed 1.
        public struct Risk: Sendable, Equatable, Codable {
            /// α, the model-bias weight (spread of a metric across participants); ≥ 0. Default 1/3.
            public var modelBiasWeight: Double
            /// β, the data-bias weight (label-distribution divergence); ≥ 0. Default 1/3.
            public var dataBiasWeight: Double
            /// γ, the robustness weight (share of flagged or clipped updates); ≥ 0. Default 1/3.
            public var robustnessWeight: Double
            /// R1's metric. Default `accuracy`.
            public var metric: RiskMetric
            /// R above this blocks promotion; in [0, 1]. Default 0.5.
            public var max: Double

            /// - Parameters:
            ///   - modelBiasWeight: α (≥ 0).
            ///   - dataBiasWeight: β (≥ 0).
            ///   - robustnessWeight: γ (≥ 0); α + β + γ must be > 0.
            ///   - metric: the metric whose spread is R1.
            ///   - max: the largest R that still allows promotion (0…1).
            public init(
                modelBiasWeight: Double = 1.0 / 3,
                dataBiasWeight: Double = 1.0 / 3,
                robustnessWeight: Double = 1.0 / 3,
                metric: RiskMetric = .accuracy,
                max: Double = 0.5
            ) {
                self.modelBiasWeight = modelBiasWeight
                self.dataBiasWeight = dataBiasWeight
                self.robustnessWeight = robustnessWeight
                self.metric = metric
                self.max = max
            }

            enum CodingKeys: String, CodingKey {
                case modelBiasWeight = "model_bias_weight"
                case dataBiasWeight = "data_bias_weight"
                case robustnessWeight = "robustness_weight"
                case metric, max
            }
        }

        /// Thresholds on the federated evaluation of a released model; absent thresholds are not checked.
        public struct Evaluation: Sendable, Equatable, Codable {
            /// Least aggregate accuracy, in [0, 1]; nil = not checked.
            public var minAccuracy: Double?
            /// Least aggregate precision, in [0, 1]; nil = not checked.
            public var minPrecision: Double?
            /// Least aggregate recall, in [0, 1]; nil = not checked.
            public var minRecall: Double?
            /// Least aggregate F1, in [0, 1]; nil = not checked.
            public var minF1: Double?
            /// Least aggregate ROC AUC, in [0, 1]; nil = not checked.
            public var minROCAUC: Double?
            /// Fewest participants whose evaluation must arrive; 1…number of participants. Default 1.
            public var minParticipants: Int
            /// Least accuracy of every participant that evaluated, in [0, 1]; nil = not checked.
            public var perParticipantMinAccuracy: Double?

            /// - Parameters:
            ///   - minAccuracy: least aggregate accuracy, or nil.
            ///   - minPrecision: least aggregate precision, or nil.
            ///   - minRecall: least aggregate recall, or nil.
            ///   - minF1: least aggregate F1, or nil.
            ///   - minROCAUC: least aggregate ROC AUC, or nil.
            ///   - minParticipants: fewest evaluations that must arrive (≥ 1).
            ///   - perParticipantMinAccuracy: least accuracy of each evaluating participant, or nil.
            public init(
                minAccuracy: Double? = nil,
                minPrecision: Double? = nil,
                minRecall: Double? = nil,
                minF1: Double? = nil,
                minROCAUC: Double? = nil,
                minParticipants: Int = 1,
                perParticipantMinAccuracy: Double? = nil
            ) {
                self.minAccuracy = minAccuracy
                self.minPrecision = minPrecision
                self.minRecall = minRecall
                self.minF1 = minF1
                self.minROCAUC = minROCAUC
                self.minParticipants = minParticipants
                self.perParticipantMinAccuracy = perParticipantMinAccuracy
            }

            enum CodingKeys: String, CodingKey {
                case minAccuracy = "min_accuracy"
                case minPrecision = "min_precision"
                case minRecall = "min_recall"
                case minF1 = "min_f1"
                case minROCAUC = "min_roc_auc"
                case minParticipants = "min_participants"
                case perParticipantMinAccuracy = "per_participant_min_accuracy"
            }

            /// The aggregate thresholds that are set, as (metric key, threshold) in a fixed order.
            /// Metric keys are those of the evaluation summary (`accuracy`, `precision`, …).
            public var aggregateThresholds: [(metric: String, minimum: Double)] {
                var result: [(metric: String, minimum: Double)] = []
                if let minAccuracy { result.append(("accuracy", minAccuracy)) }
                if let minPrecision { result.append(("precision", minPrecision)) }
                if let minRecall { result.append(("recall", minRecall)) }
                if let minF1 { result.append(("f1", minF1)) }
                if let minROCAUC { result.append(("roc_auc", minROCAUC)) }
                return result
            }
        }
    }
}

extension Policy {
    /// Options in force that trade the privacy guarantee away, each with its field path and why:
    /// they let un-noised record statistics decide who takes part or what is released, so one
    /// record can change the released model by more than the charged sensitivity
    /// (docs/PRIVACY.md, "Eligibility"), or, with the participant unit, let a round's duration
    /// depend on the secret sample (docs/PRIVACY.md, "Timing"). The coordinator warns about each
    /// at start and on adoption.
    public var guaranteeTradingOptions: [(field: String, why: String)] {
        var options = Self.guaranteeTrading(governance)
        if privacy.unit == .participant && !rounds.collectUntilDeadline {
            options.append(
                (
                    "rounds.collect_until_deadline",
                    "false (the default) with the participant unit: a round's duration depends on the secret sample"
                ))
        }
        return options
    }

    /// ``guaranteeTradingOptions`` of a policy with `governance`.
    public static func guaranteeTrading(_ governance: Governance) -> [(field: String, why: String)] {
        var options: [(field: String, why: String)] = []
        if governance.dataQuality.excludeOnRecordStatistics {
            options.append(
                (
                    "governance.data_quality.exclude_on_record_statistics",
                    "excludes silos on un-noised missing rates and class counts"
                ))
        }
        if governance.anomaly.suspendFlagged {
            options.append(
                ("governance.anomaly.suspend_flagged", "suspends silos on un-noised update norms and directions"))
        }
        if governance.anomaly.action == .discardRound {
            options.append(
                ("governance.anomaly.action", "discard_round withholds a release on un-noised update statistics"))
        }
        return options
    }
}
