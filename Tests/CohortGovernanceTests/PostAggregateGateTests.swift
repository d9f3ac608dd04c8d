import CohortLedger
import CohortModel
import CohortPolicy
import Testing

@testable import CohortGovernance

let goodAggregate: [String: Double] = [
    "accuracy": 0.95, "precision": 0.9, "recall": 0.92, "f1": 0.91, "roc_auc": 0.98, "count": 120,
]
let goodParticipants: [String: [String: Double]] = [
    "a": ["accuracy": 0.96, "count": 60], "b": ["accuracy": 0.94, "count": 60],
]
let strictEvaluation = Policy.Governance.Evaluation(
    minAccuracy: 0.9, minPrecision: 0.85, minRecall: 0.85, minF1: 0.85, minROCAUC: 0.95, minParticipants: 2,
    perParticipantMinAccuracy: 0.8
)

@Suite struct EvaluationGateTests {
    @Test func passesWhenEveryThresholdIsMet() {
        let outcome = EvaluationGate.evaluate(
            aggregate: goodAggregate, byParticipant: goodParticipants, policy: strictEvaluation)
        #expect(outcome.passed && outcome.gate == "evaluation")
        #expect(outcome.inputs["participants_evaluated"] == 2)
        #expect(outcome.inputs["thresholds"]?["min_roc_auc"] == .number(0.95))
    }

    @Test func defaultsCheckOnlyThatOneEvaluationArrived() {
        #expect(EvaluationGate.evaluate(aggregate: [:], byParticipant: ["a": [:]], policy: .init()).passed)
        let none = EvaluationGate.evaluate(aggregate: [:], byParticipant: [:], policy: .init())
        #expect(!none.passed)
        // Nobody measured the model (e.g. an external model without an evaluate hook): the reason says so.
        #expect(none.reason.contains("no participant evaluated the model"))
        #expect(none.reason.contains("evaluate hook"))
    }

    /// Each aggregate threshold fails on its own, with a reason naming the metric, value and threshold.
    @Test(arguments: [
        ("accuracy", 0.85, "accuracy 0.85 < min_accuracy 0.9"),
        ("precision", 0.8, "precision 0.8 < min_precision 0.85"),
        ("recall", 0.5, "recall 0.5 < min_recall 0.85"),
        ("f1", 0.84, "f1 0.84 < min_f1 0.85"),
        ("roc_auc", 0.9, "roc_auc 0.9 < min_roc_auc 0.95"),
    ])
    func eachAggregateThresholdFails(metric: String, value: Double, expected: String) {
        var aggregate = goodAggregate
        aggregate[metric] = value
        let outcome = EvaluationGate.evaluate(
            aggregate: aggregate, byParticipant: goodParticipants, policy: strictEvaluation)
        #expect(!outcome.passed)
        #expect(outcome.reason.contains(expected), "\(outcome.reason)")
    }

    @Test func missingOrNaNRequiredMetricFails() {
        var aggregate = goodAggregate
        aggregate["roc_auc"] = nil
        let missing = EvaluationGate.evaluate(
            aggregate: aggregate, byParticipant: goodParticipants, policy: strictEvaluation)
        #expect(!missing.passed && missing.reason.contains("roc_auc is missing, min_roc_auc is 0.95"))
        aggregate["roc_auc"] = .nan
        let nan = EvaluationGate.evaluate(
            aggregate: aggregate, byParticipant: goodParticipants, policy: strictEvaluation)
        #expect(!nan.passed && nan.reason.contains("min_roc_auc"))
        #expect(nan.inputs["aggregate"]?["roc_auc"] == .null)
    }

    @Test func tooFewParticipantsFails() {
        let outcome = EvaluationGate.evaluate(
            aggregate: goodAggregate, byParticipant: ["a": goodParticipants["a"]!], policy: strictEvaluation)
        #expect(!outcome.passed && outcome.reason.contains("1 participant(s) evaluated, min_participants is 2"))
    }

    @Test func perParticipantAccuracyFails() {
        var participants = goodParticipants
        participants["b"] = ["accuracy": 0.7]
        participants["c"] = ["count": 10]
        let outcome = EvaluationGate.evaluate(
            aggregate: goodAggregate, byParticipant: participants, policy: strictEvaluation)
        #expect(!outcome.passed)
        #expect(outcome.reason.contains("b accuracy 0.7 < per_participant_min_accuracy 0.8"))
        #expect(outcome.reason.contains("c reported no accuracy"))
        #expect(!outcome.reason.contains("a accuracy"))
        #expect(outcome.inputs["participant_accuracy"]?["b"] == .number(0.7))
    }
}

@Suite struct RiskScoreTests {
    @Test func blocksWhenAboveMax() {
        let result = RiskScore.evaluate(
            participantMetrics: ["a": ["accuracy": 0.95], "b": ["accuracy": 0.55]],
            labelCounts: ["a": LabelCounts(positive: 50, negative: 50), "b": LabelCounts(positive: 50, negative: 50)],
            flaggedOrClipped: 0, contributors: 2,
            policy: Policy.Governance.Risk(modelBiasWeight: 1, dataBiasWeight: 0, robustnessWeight: 0, max: 0.3)
        )
        #expect(!result.outcome.passed && result.outcome.gate == "risk")
        #expect(abs(result.r - 0.4) < 1e-12)
        #expect(result.r2 == 0)
        #expect(result.outcome.reason.contains("exceeds governance.risk.max 0.3"))
        #expect(result.outcome.inputs["metric"] == "accuracy")
        #expect(result.outcome.inputs["weights"]?["model_bias"] == 1)
        #expect(result.outcome.inputs["max"] == .number(0.3))
    }

    @Test func robustnessTermIsTheFlaggedShare() {
        #expect(RiskScore.robustness(flaggedOrClipped: 1, contributors: 4) == 0.25)
        #expect(RiskScore.robustness(flaggedOrClipped: 0, contributors: 0) == 0)
        #expect(RiskScore.modelBias(participantMetrics: ["a": ["f1": 0.5]], metric: "f1") == 0)
        #expect(RiskScore.dataBias(labelCounts: [:]) == 0)
    }
}

/// Attested label counts are a peer's numbers: the data-bias term never traps on them.
@Suite struct RiskScoreOverflowTests {
    @Test func hugeLabelCountsGiveAFiniteDataBias() {
        let huge = 1 << 62
        let bias = RiskScore.dataBias(labelCounts: [
            "a": LabelCounts(positive: huge, negative: huge), "b": LabelCounts(positive: huge, negative: 0),
            "c": LabelCounts(positive: Int.max, negative: Int.max),
        ])
        #expect(bias.isFinite)
        #expect(bias >= 0 && bias <= 1)
        // Negative counts carry no weight; equal distributions have no bias.
        #expect(
            RiskScore.dataBias(labelCounts: [
                "a": LabelCounts(positive: -5, negative: 3), "b": LabelCounts(positive: huge, negative: huge),
            ]) == 0)
    }
}
