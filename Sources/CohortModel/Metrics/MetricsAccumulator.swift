import Foundation

/// Mergeable evaluation state for federated evaluation: each participant evaluates the global
/// model on its own held-out records and sends this accumulator; the coordinator merges them and
/// reads the metrics.
///
/// What travels: confusion counts, the log-loss sum (binary cross-entropy per record, clamped as
/// scikit-learn clamps probabilities: see ``maximumRecordLoss``), and for ROC AUC two histograms of logits
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
        precondition(
            layout.logitBound > 0 && layout.binsPerUnit > 0, "histogram layout needs a positive bound and bin count")
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
        // A peer's accumulator is untrusted input: check its shape and counts before any arithmetic.
        do {
            try checkConsistency()
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    /// The largest log-loss one record adds: −ln ε with ε = ``BinaryMetrics/logLossEpsilon``
    /// (1e-15), ≈ 34.54. Loss is computed from the logit exactly (softplus) and then clamped to
    /// [−ln(1 − ε), −ln ε] — the same as clamping the probability to [ε, 1 − ε] before taking the
    /// cross-entropy, as ``BinaryMetrics/evaluate(probabilities:labels:threshold:)`` and
    /// scikit-learn's `log_loss` do — so one confidently wrong record (a logit of ±1000) counts
    /// 34.5, not 1000, and a peer's `log_loss_sum` has a known upper bound.
    public static let maximumRecordLoss = -log(BinaryMetrics.logLossEpsilon)
    /// The smallest log-loss one record adds: −ln(1 − ε).
    static let minimumRecordLoss = -log1p(-BinaryMetrics.logLossEpsilon)

    /// The log-loss of one record with logit `z`, clamped as ``maximumRecordLoss`` says.
    @inline(__always)
    public static func recordLoss(logit z: Double, isPositive: Bool) -> Double {
        min(max(LogisticRegression.logLoss(logit: z, label: isPositive ? 1 : 0), minimumRecordLoss), maximumRecordLoss)
    }

    /// The most records one accumulator may count: 10^9, the most rows a participant may attest
    /// (`DataQualityAttestation.maximumRows`).
    public static let maximumCount = 1_000_000_000
    /// The most records merged accumulators may count: 2^52, so every total and ratio is exact.
    public static let maximumMergedCount = 1 << 52

    /// The checks every decoded accumulator passes: a sane layout (bound in (0, 1000], 1…4096
    /// bins per unit), histograms of the layout's bin count, every count in
    /// 0…``maximumCount``, confusion counts that agree with the histograms (TP + FN = Σ positive
    /// bins, FP + TN = Σ negative bins) with a total of at most ``maximumCount``, and a finite,
    /// non-negative log-loss sum of at most ``maximumRecordLoss`` per record counted.
    /// - Throws: `evaluation.invalid`, naming what is wrong.
    public func checkConsistency() throws(ModelError) {
        func invalid(_ problem: String) -> ModelError {
            ModelError(
                code: "evaluation.invalid",
                message:
                    "evaluation result: \(problem); send the accumulator cohort-participant computes on its holdout")
        }
        guard layout.logitBound.isFinite, layout.logitBound > 0, layout.logitBound <= 1e3,
            layout.binsPerUnit > 0, layout.binsPerUnit <= 1 << 12
        else { throw invalid("histogram layout (logit_bound in (0, 1000], bins_per_unit in 1...4096) is out of range") }
        guard logitThreshold.isFinite else { throw invalid("logit_threshold is not finite") }
        guard positiveHistogram.count == layout.binCount, negativeHistogram.count == layout.binCount else {
            throw invalid(
                "histograms have \(positiveHistogram.count) and \(negativeHistogram.count) bins; the layout has \(layout.binCount)"
            )
        }
        let limit = Self.maximumCount
        var positives = 0
        var negatives = 0
        for bin in positiveHistogram.indices {
            let positive = positiveHistogram[bin]
            let negative = negativeHistogram[bin]
            guard positive >= 0, negative >= 0, positive <= limit, negative <= limit else {
                throw invalid("histogram bin \(bin) holds a count outside 0...\(limit)")
            }
            // Each term ≤ 10^9 and the running totals stay ≤ 10^9 (checked below), so no overflow.
            positives += positive
            negatives += negative
            guard positives <= limit, negatives <= limit else {
                throw invalid("histograms count more than \(limit) records")
            }
        }
        let counts = [
            confusion.truePositives, confusion.falsePositives, confusion.trueNegatives, confusion.falseNegatives,
        ]
        guard counts.allSatisfy({ $0 >= 0 && $0 <= limit }) else {
            throw invalid("a confusion count is outside 0...\(limit)")
        }
        guard confusion.truePositives + confusion.falseNegatives == positives,
            confusion.falsePositives + confusion.trueNegatives == negatives
        else {
            throw invalid(
                "confusion counts (\(confusion.truePositives + confusion.falseNegatives) positive, "
                    + "\(confusion.falsePositives + confusion.trueNegatives) negative) disagree with the histograms (\(positives), \(negatives))"
            )
        }
        guard positives + negatives <= limit else { throw invalid("counts more than \(limit) records") }
        guard logLossSum.isFinite, logLossSum >= 0 else {
            throw invalid("log_loss_sum is not a finite non-negative number")
        }
        // Every record adds at most −ln ε; the relative slack covers float rounding of the sum.
        let records = positives + negatives
        guard logLossSum <= Double(records) * Self.maximumRecordLoss * (1 + 1e-9) else {
            throw invalid(
                "log_loss_sum \(logLossSum) exceeds \(records) records × \(Self.maximumRecordLoss) (−ln 1e-15, the "
                    + "clamped loss of a record)")
        }
    }

    /// Validates a peer's accumulator against what the coordinator expects, beyond
    /// ``checkConsistency()`` (which decoding already ran): the same histogram layout and
    /// threshold as `expected`, and at most `maximumCount` records (the participant's attested
    /// holdout bound, when the caller knows it).
    /// - Throws: `evaluation.invalid`.
    public func validate(against expected: MetricsAccumulator, maximumCount: Int? = nil) throws(ModelError) {
        try checkConsistency()
        guard layout == expected.layout, logitThreshold == expected.logitThreshold else {
            throw ModelError(
                code: "evaluation.invalid",
                message:
                    "evaluation result uses histogram layout (logit_bound \(layout.logitBound), bins_per_unit \(layout.binsPerUnit), "
                    + "threshold \(logitThreshold)); the coordinator expects (\(expected.layout.logitBound), \(expected.layout.binsPerUnit), "
                    + "\(expected.logitThreshold)); use the consortium's evaluation settings")
        }
        if let maximumCount, confusion.total > maximumCount {
            throw ModelError(
                code: "evaluation.invalid",
                message:
                    "evaluation result counts \(confusion.total) records, more than the \(maximumCount) the participant attested"
            )
        }
    }

    /// Decodes a peer's JSON accumulator and validates it against `expected`.
    /// - Throws: `evaluation.invalid` (also for JSON that is not an accumulator).
    public static func decodeValidated(
        json: [UInt8], expected: MetricsAccumulator, maximumCount: Int? = nil
    ) throws(ModelError) -> MetricsAccumulator {
        let decoded: MetricsAccumulator
        do {
            decoded = try JSONDecoder().decode(MetricsAccumulator.self, from: Data(json))
        } catch let DecodingError.dataCorrupted(context) where context.underlyingError is ModelError {
            throw context.underlyingError as! ModelError
        } catch {
            throw ModelError(
                code: "evaluation.invalid",
                message: "the evaluation result (\(json.count) bytes) is not a JSON metrics accumulator")
        }
        try decoded.validate(against: expected, maximumCount: maximumCount)
        return decoded
    }

    /// Records one prediction.
    public mutating func add(logit z: Double, isPositive: Bool) {
        confusion.add(predictedPositive: z >= logitThreshold, isPositive: isPositive)
        logLossSum += Self.recordLoss(logit: z, isPositive: isPositive)
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
        // Checked arithmetic into copies: a merge that would overflow (or pass
        // ``maximumMergedCount``) throws `model.metrics_overflow` and leaves this accumulator unchanged.
        let overflow = ModelError(
            code: "model.metrics_overflow",
            message:
                "merging this evaluation result would count more than \(Self.maximumMergedCount) records; it is left out"
        )
        func add(_ a: Int, _ b: Int) throws(ModelError) -> Int {
            let (sum, overflowed) = a.addingReportingOverflow(b)
            guard !overflowed, sum >= 0, sum <= Self.maximumMergedCount else { throw overflow }
            return sum
        }
        guard other.positiveHistogram.count == positiveHistogram.count,
            other.negativeHistogram.count == negativeHistogram.count
        else {
            throw ModelError(
                code: "model.incompatible_metrics",
                message: "cannot merge evaluation results with a different number of histogram bins")
        }
        let mergedConfusion = ConfusionCounts(
            truePositives: try add(confusion.truePositives, other.confusion.truePositives),
            falsePositives: try add(confusion.falsePositives, other.confusion.falsePositives),
            trueNegatives: try add(confusion.trueNegatives, other.confusion.trueNegatives),
            falseNegatives: try add(confusion.falseNegatives, other.confusion.falseNegatives))
        _ = try add(
            mergedConfusion.truePositives + mergedConfusion.falseNegatives,
            mergedConfusion.falsePositives + mergedConfusion.trueNegatives)
        var positive = positiveHistogram
        var negative = negativeHistogram
        for bin in positive.indices {
            positive[bin] = try add(positive[bin], other.positiveHistogram[bin])
            negative[bin] = try add(negative[bin], other.negativeHistogram[bin])
        }
        let loss = logLossSum + other.logLossSum
        guard loss.isFinite else { throw overflow }
        confusion = mergedConfusion
        logLossSum = loss
        positiveHistogram = positive
        negativeHistogram = negative
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
