/// Mergeable evaluation state for federated evaluation: each participant evaluates the global
/// model on its own held-out records and sends this accumulator; the coordinator merges them and
/// reads the metrics.
///
/// What travels: confusion counts, the log-loss sum, and for ROC AUC two histograms of logits
/// (one per class) over fixed bins — never a (score, label) pair. AUC from the histograms treats
/// scores sharing a bin as tied (counting ½), so it differs from the exact rank AUC by at most
/// Σ_b pos_b·neg_b / (2·n₊·n₋); with the default 1/16-logit bins that is below 0.005 in practice.
/// Passing raw (score, label) pairs would give the exact value but reveal each record's score,
/// so the exact `BinaryMetrics.rocAUC` is used only where all pairs are local (tests, centralised
/// evaluation). The counts themselves are not noised.
public struct MetricsAccumulator: Codable, Sendable, Equatable {
    /// The logit histogram layout; accumulators merge only with the same layout.
    public struct HistogramLayout: Codable, Sendable, Equatable {
        /// Logits are clamped to [−bound, bound] (|z| = 16 is a probability within 1.2e-7 of 0 or 1).
        public var logitBound: Double
        /// Bins per unit of logit.
        public var binsPerUnit: Int

        public init(logitBound: Double = 16, binsPerUnit: Int = 16) {
            self.logitBound = logitBound
            self.binsPerUnit = binsPerUnit
        }

        enum CodingKeys: String, CodingKey {
            case logitBound = "logit_bound"
            case binsPerUnit = "bins_per_unit"
        }

        /// The number of bins.
        public var binCount: Int { Int((2 * logitBound * Double(binsPerUnit)).rounded(.up)) }

        /// The bin of logit `z`.
        func bin(_ z: Double) -> Int {
            let position = ((z + logitBound) * Double(binsPerUnit)).rounded(.down)
            return Int(min(max(position, 0), Double(binCount - 1)))
        }
    }

    /// The histogram layout.
    public let layout: HistogramLayout
    /// Decision threshold on the logit (0 ⇔ probability 0.5).
    public let logitThreshold: Double
    /// Decisions at the threshold.
    public private(set) var confusion: ConfusionCounts
    /// Σ log-loss over the records.
    public private(set) var logLossSum: Double
    /// Positive records per logit bin.
    public private(set) var positiveHistogram: [Int]
    /// Negative records per logit bin.
    public private(set) var negativeHistogram: [Int]

    /// An empty accumulator.
    public init(layout: HistogramLayout = HistogramLayout(), logitThreshold: Double = 0) {
        precondition(layout.logitBound > 0 && layout.binsPerUnit > 0, "histogram layout needs a positive bound and bin count")
        self.layout = layout
        self.logitThreshold = logitThreshold
        confusion = ConfusionCounts()
        logLossSum = 0
        positiveHistogram = [Int](repeating: 0, count: layout.binCount)
        negativeHistogram = [Int](repeating: 0, count: layout.binCount)
    }

    enum CodingKeys: String, CodingKey {
        case layout, confusion
        case logitThreshold = "logit_threshold"
        case logLossSum = "log_loss_sum"
        case positiveHistogram = "positive_histogram"
        case negativeHistogram = "negative_histogram"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        layout = try container.decode(HistogramLayout.self, forKey: .layout)
        logitThreshold = try container.decode(Double.self, forKey: .logitThreshold)
        confusion = try container.decode(ConfusionCounts.self, forKey: .confusion)
        logLossSum = try container.decode(Double.self, forKey: .logLossSum)
        positiveHistogram = try container.decode([Int].self, forKey: .positiveHistogram)
        negativeHistogram = try container.decode([Int].self, forKey: .negativeHistogram)
        // A peer's accumulator is untrusted input: check its shape before any arithmetic.
        guard layout.logitBound > 0, layout.logitBound <= 1e3, layout.binsPerUnit > 0, layout.binsPerUnit <= 1 << 12,
              positiveHistogram.count == layout.binCount, negativeHistogram.count == layout.binCount,
              (positiveHistogram + negativeHistogram).allSatisfy({ $0 >= 0 }),
              logLossSum.isFinite, logLossSum >= 0
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "inconsistent metrics accumulator"))
        }
    }

    /// Records one prediction.
    public mutating func add(logit z: Double, isPositive: Bool) {
        confusion.add(predictedPositive: z >= logitThreshold, isPositive: isPositive)
        logLossSum += LogisticRegression.logLoss(logit: z, label: isPositive ? 1 : 0)
        if isPositive { positiveHistogram[layout.bin(z)] += 1 } else { negativeHistogram[layout.bin(z)] += 1 }
    }

    /// Adds another participant's accumulator.
    public mutating func merge(_ other: MetricsAccumulator) throws(ModelError) {
        guard other.layout == layout, other.logitThreshold == logitThreshold else {
            throw ModelError(
                code: "model.incompatible_metrics",
                message: "cannot merge evaluation results with a different histogram layout or threshold; "
                    + "all participants must use the policy's evaluation settings"
            )
        }
        confusion.merge(other.confusion)
        logLossSum += other.logLossSum
        for bin in positiveHistogram.indices {
            positiveHistogram[bin] += other.positiveHistogram[bin]
            negativeHistogram[bin] += other.negativeHistogram[bin]
        }
    }

    /// ROC AUC from the histograms (scores in one bin count as tied); `nil` if a class is absent.
    public var histogramAUC: Double? {
        let positives = positiveHistogram.reduce(0, +)
        let negatives = negativeHistogram.reduce(0, +)
        guard positives > 0, negatives > 0 else { return nil }
        var negativesBelow = 0.0
        var concordant = 0.0
        for bin in positiveHistogram.indices {
            concordant += Double(positiveHistogram[bin]) * (negativesBelow + 0.5 * Double(negativeHistogram[bin]))
            negativesBelow += Double(negativeHistogram[bin])
        }
        return concordant / (Double(positives) * Double(negatives))
    }

    /// The metrics of everything added and merged so far.
    public func metrics() -> BinaryClassificationMetrics {
        let count = confusion.total
        return BinaryClassificationMetrics(
            count: count,
            accuracy: confusion.accuracy, precision: confusion.precision, recall: confusion.recall, f1: confusion.f1,
            rocAUC: histogramAUC,
            logLoss: count == 0 ? 0 : logLossSum / Double(count),
            confusion: confusion
        )
    }
}
