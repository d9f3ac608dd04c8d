import Foundation
import Testing

@testable import CohortModel

@Suite struct MetricsTests {
    /// The AUC by definition: over all (positive, negative) pairs, 1 if the positive scores
    /// higher, ½ on a tie.
    static func bruteForceAUC(_ scores: [Double], _ labels: [Bool]) -> Double {
        var total = 0.0
        var pairs = 0.0
        for i in scores.indices where labels[i] {
            for j in scores.indices where !labels[j] {
                total += scores[i] > scores[j] ? 1 : (scores[i] == scores[j] ? 0.5 : 0)
                pairs += 1
            }
        }
        return total / pairs
    }

    @Test func handMadeCase() throws {
        // Threshold 0.5: predictions 1,1,0,1,0,0 against labels 1,0,1,1,0,0.
        let probabilities = [0.9, 0.6, 0.4, 0.5, 0.2, 0.1]
        let labels = [true, false, true, true, false, false]
        let metrics = BinaryMetrics.evaluate(probabilities: probabilities, labels: labels)
        #expect(
            metrics.confusion
                == ConfusionCounts(truePositives: 2, falsePositives: 1, trueNegatives: 2, falseNegatives: 1))
        #expect(metrics.accuracy == 4.0 / 6)
        #expect(metrics.precision == 2.0 / 3)
        #expect(metrics.recall == 2.0 / 3)
        #expect(abs(metrics.f1 - 2.0 / 3) < 1e-15)
        // Positive scores 0.9, 0.4, 0.5 vs negatives 0.6, 0.2, 0.1: pairs won 3 + 2 + 2 = 7 of 9.
        #expect(abs(try #require(metrics.rocAUC) - 7.0 / 9) < 1e-15)
        let expectedLoss = -(log(0.9) + log(0.4) + log(0.5) + log(0.4) + log(0.8) + log(0.9)) / 6
        #expect(abs(metrics.logLoss - expectedLoss) < 1e-12)
    }

    @Test func aucWithTiesMatchesPairCount() throws {
        let scores = [0.3, 0.3, 0.3, 0.7, 0.7, 0.1, 0.9, 0.3]
        let labels = [true, false, true, false, true, false, true, false]
        let auc = try #require(BinaryMetrics.rocAUC(scores: scores, labels: labels))
        #expect(abs(auc - Self.bruteForceAUC(scores, labels)) < 1e-15)
        #expect(BinaryMetrics.rocAUC(scores: [0.1, 0.2], labels: [true, true]) == nil)
    }

    @Test func aucOnRandomCasesMatchesPairCount() throws {
        var generator = SeededGenerator(seed: 7)
        for trial in 0..<20 {
            let n = 5 + trial * 7
            // Coarse scores force many ties.
            let scores = (0..<n).map { _ in Double(generator.next() % 10) / 10 }
            var labels = (0..<n).map { _ in generator.next() % 3 == 0 }
            labels[0] = true
            labels[1] = false
            let auc = try #require(BinaryMetrics.rocAUC(scores: scores, labels: labels))
            #expect(abs(auc - Self.bruteForceAUC(scores, labels)) < 1e-12)
        }
    }

    @Test func undefinedRatiosAreZero() {
        let metrics = BinaryMetrics.evaluate(probabilities: [0.1, 0.2], labels: [false, false])
        #expect(metrics.precision == 0)
        #expect(metrics.recall == 0)
        #expect(metrics.f1 == 0)
        #expect(metrics.rocAUC == nil)
        #expect(metrics.accuracy == 1)
    }

    @Test func mergedAccumulatorsEqualOneAccumulator() throws {
        var generator = SeededGenerator(seed: 11)
        let logits = (0..<600).map { _ in Double(Int(generator.next() % 2000)) / 100 - 10 }
        let labels = logits.map { z in Double(generator.next() % 1000) / 1000 < LogisticRegression.sigmoid(z) }
        var whole = MetricsAccumulator()
        var parts = [MetricsAccumulator](repeating: MetricsAccumulator(), count: 3)
        for (index, (z, y)) in zip(logits, labels).enumerated() {
            whole.add(logit: z, isPositive: y)
            parts[index % 3].add(logit: z, isPositive: y)
        }
        var merged = MetricsAccumulator()
        for part in parts {
            // Each part travels as JSON, as it would from a participant.
            let decoded = try JSONDecoder().decode(MetricsAccumulator.self, from: JSONEncoder().encode(part))
            try merged.merge(decoded)
        }
        #expect(merged.confusion == whole.confusion)
        #expect(merged.positiveHistogram == whole.positiveHistogram)
        #expect(merged.negativeHistogram == whole.negativeHistogram)
        #expect(abs(merged.logLossSum - whole.logLossSum) < 1e-9 * whole.logLossSum)
        let metrics = merged.metrics()
        let exact = BinaryMetrics.evaluate(probabilities: logits.map(LogisticRegression.sigmoid), labels: labels)
        #expect(metrics.confusion == exact.confusion)
        #expect(abs(metrics.logLoss - exact.logLoss) < 1e-9)
        // Logits on a 0.01 grid fall in 1/16-wide bins: the histogram AUC treats neighbours as ties.
        #expect(abs(try #require(metrics.rocAUC) - (try #require(exact.rocAUC))) < 0.005)

        var other = MetricsAccumulator(layout: .init(logitBound: 8, binsPerUnit: 4))
        other.add(logit: 1, isPositive: true)
        _ = expectModelError("model.incompatible_metrics") { try merged.merge(other) }
    }

    @Test func histogramAUCIsExactWhenScoresAreBinCentres() throws {
        var accumulator = MetricsAccumulator()
        let logits = [-3.0, -1.0, 0.5, 2.0, 2.0, 4.0]
        let labels = [false, true, false, true, false, true]
        for (z, y) in zip(logits, labels) { accumulator.add(logit: z, isPositive: y) }
        #expect(accumulator.histogramAUC == Self.bruteForceAUC(logits, labels))
    }

    @Test func holdoutLossClampsProbabilitiesAsTheCentralisedLossDoes() throws {
        // Logits far past ±34.5 (probability within 1e-15 of 0 or 1): the accumulator's loss, from
        // the logit, equals the clamped cross-entropy of the probabilities, record by record.
        let logits = [-1000.0, -40, -2, 0, 3, 40, 1000]
        let labels = [true, false, true, false, true, false, true]
        var accumulator = MetricsAccumulator()
        for (z, y) in zip(logits, labels) { accumulator.add(logit: z, isPositive: y) }
        let exact = BinaryMetrics.evaluate(probabilities: logits.map(LogisticRegression.sigmoid), labels: labels)
        // (1 − 1e-15 is not exact in binary: the probability clamp gives −ln(1 − fl(1 − 1e-15)) ≈ 34.5397
        // where the logit clamp gives −ln 1e-15 ≈ 34.5388, a difference of 1e-3 per such record.)
        #expect(abs(accumulator.metrics().logLoss - exact.logLoss) < 1e-3)
        #expect(MetricsAccumulator.recordLoss(logit: -1000, isPositive: true) == MetricsAccumulator.maximumRecordLoss)
        #expect(abs(MetricsAccumulator.maximumRecordLoss - 34.538776394910684) < 1e-12)
        #expect(MetricsAccumulator.recordLoss(logit: 1000, isPositive: true) > 0)
    }

    @Test func peerLossSumAboveTheClampIsRejectedNamingIt() throws {
        var accumulator = MetricsAccumulator()
        accumulator.add(logit: 2, isPositive: true)
        accumulator.add(logit: -2, isPositive: true)
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(accumulator)) as! [String: Any]
        let valid = try JSONSerialization.data(withJSONObject: json)
        let decoded = try MetricsAccumulator.decodeValidated(json: Array(valid), expected: MetricsAccumulator())
        #expect(decoded == accumulator)
        // Two records can carry at most 2 × 34.54.
        json["log_loss_sum"] = 70.0
        let data = try JSONSerialization.data(withJSONObject: json)
        let error = expectModelError("evaluation.invalid") {
            _ = try MetricsAccumulator.decodeValidated(json: Array(data), expected: MetricsAccumulator())
        }
        #expect(error?.message.contains("log_loss_sum") == true, "\(String(describing: error))")
    }

    @Test func corruptAccumulatorIsRejected() throws {
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(MetricsAccumulator())) as! [String: Any]
        json["positive_histogram"] = [1, 2, 3]
        let data = try JSONSerialization.data(withJSONObject: json)
        #expect(throws: DecodingError.self) { _ = try JSONDecoder().decode(MetricsAccumulator.self, from: data) }
    }
}
