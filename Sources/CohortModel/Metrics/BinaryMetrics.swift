#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts of a binary classifier's decisions; mergeable across participants by addition.
public struct ConfusionCounts: Codable, Sendable, Equatable {
    public var truePositives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var falseNegatives: Int

    public init(truePositives: Int = 0, falsePositives: Int = 0, trueNegatives: Int = 0, falseNegatives: Int = 0) {
        self.truePositives = truePositives
        self.falsePositives = falsePositives
        self.trueNegatives = trueNegatives
        self.falseNegatives = falseNegatives
    }

    enum CodingKeys: String, CodingKey {
        case truePositives = "true_positives"
        case falsePositives = "false_positives"
        case trueNegatives = "true_negatives"
        case falseNegatives = "false_negatives"
    }

    /// All records counted.
    public var total: Int { truePositives + falsePositives + trueNegatives + falseNegatives }

    /// Adds one decision.
    public mutating func add(predictedPositive: Bool, isPositive: Bool) {
        switch (predictedPositive, isPositive) {
        case (true, true): truePositives += 1
        case (true, false): falsePositives += 1
        case (false, false): trueNegatives += 1
        case (false, true): falseNegatives += 1
        }
    }

    /// Adds another participant's counts.
    public mutating func merge(_ other: ConfusionCounts) {
        truePositives += other.truePositives
        falsePositives += other.falsePositives
        trueNegatives += other.trueNegatives
        falseNegatives += other.falseNegatives
    }

    /// (TP + TN) / total; 0 when empty.
    public var accuracy: Double { ratio(truePositives + trueNegatives, total) }
    /// TP / (TP + FP); 0 when nothing was predicted positive (scikit-learn's zero_division=0).
    public var precision: Double { ratio(truePositives, truePositives + falsePositives) }
    /// TP / (TP + FN); 0 when there is no positive record.
    public var recall: Double { ratio(truePositives, truePositives + falseNegatives) }
    /// 2TP / (2TP + FP + FN), the harmonic mean of precision and recall; 0 when undefined.
    public var f1: Double { ratio(2 * truePositives, 2 * truePositives + falsePositives + falseNegatives) }

    private func ratio(_ numerator: Int, _ denominator: Int) -> Double {
        denominator == 0 ? 0 : Double(numerator) / Double(denominator)
    }
}

/// Evaluation figures of a binary classifier. Positive = the schema's positive class.
public struct BinaryClassificationMetrics: Codable, Sendable, Equatable {
    /// Records evaluated.
    public var count: Int
    public var accuracy: Double
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// Area under the ROC curve; `nil` when one class is absent (it is undefined then).
    public var rocAUC: Double?
    /// Mean log-loss (natural logarithm).
    public var logLoss: Double
    /// The decisions behind accuracy, precision, recall and F1.
    public var confusion: ConfusionCounts

    public init(
        count: Int, accuracy: Double, precision: Double, recall: Double, f1: Double,
        rocAUC: Double?, logLoss: Double, confusion: ConfusionCounts
    ) {
        self.count = count
        self.accuracy = accuracy
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.rocAUC = rocAUC
        self.logLoss = logLoss
        self.confusion = confusion
    }

    enum CodingKeys: String, CodingKey {
        case count, accuracy, precision, recall, f1, confusion
        case rocAUC = "roc_auc"
        case logLoss = "log_loss"
    }
}

/// Exact metrics over (probability, label) pairs held in one place.
public enum BinaryMetrics {
    /// The probability below which log-loss clips predictions (as scikit-learn: log(1e-15) ≈ −34.5).
    public static let logLossEpsilon = 1e-15

    /// All metrics, deciding positive when probability ≥ `threshold`.
    public static func evaluate(
        probabilities: [Double], labels: [Bool], threshold: Double = 0.5
    ) -> BinaryClassificationMetrics {
        precondition(probabilities.count == labels.count, "one label per probability")
        var confusion = ConfusionCounts()
        var loss = 0.0
        for (p, y) in zip(probabilities, labels) {
            confusion.add(predictedPositive: p >= threshold, isPositive: y)
            let clipped = min(max(p, logLossEpsilon), 1 - logLossEpsilon)
            loss -= y ? log(clipped) : log1p(-clipped)
        }
        return BinaryClassificationMetrics(
            count: labels.count,
            accuracy: confusion.accuracy, precision: confusion.precision, recall: confusion.recall, f1: confusion.f1,
            rocAUC: rocAUC(scores: probabilities, labels: labels),
            logLoss: labels.isEmpty ? 0 : loss / Double(labels.count),
            confusion: confusion
        )
    }

    /// ROC AUC by ranks (the Mann–Whitney U statistic): with scores ranked ascending and tied
    /// scores given their average rank, AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊·n₋), where R₊ is the sum
    /// of the positives' ranks. Equal to the probability that a random positive scores above a
    /// random negative, ties counting ½ (Hanley & McNeil 1982). `nil` if a class is absent.
    public static func rocAUC(scores: [Double], labels: [Bool]) -> Double? {
        precondition(scores.count == labels.count, "one label per score")
        let positives = labels.lazy.filter { $0 }.count
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, scores[order[end + 1]] == scores[order[start]] { end += 1 }
            // Ranks start..end (0-based) share the average 1-based rank.
            let averageRank = Double(start + end) / 2 + 1
            for position in start...end where labels[order[position]] { positiveRankSum += averageRank }
            start = end + 1
        }
        let p = Double(positives)
        return (positiveRankSum - p * (p + 1) / 2) / (p * Double(negatives))
    }
}
