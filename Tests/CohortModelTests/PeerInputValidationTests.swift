import Foundation
import Testing

@testable import CohortModel

/// The bounds on what a peer states, at their boundaries: 0, the maximum, the maximum + 1,
/// negative, 2^62 and NaN where a number is a Double.
@Suite struct PeerInputValidationTests {
    static func attestation(
        rows: Int = 100, positive: Int = 40, negative: Int = 60, missingRate: Double = 0.1,
        columnMissing: Int = 10, columnRate: Double = 0.1, schemaName: String = "wdbc",
        digest: String = String(repeating: "0a", count: 32)
    ) -> DataQualityAttestation {
        DataQualityAttestation(
            schemaName: schemaName, schemaDigest: digest, rows: rows, columnsMatched: 2, extraColumns: [],
            columns: [
                ColumnQuality(name: "diagnosis", missing: 0, missingRate: 0),
                ColumnQuality(name: "radius", missing: columnMissing, missingRate: columnRate),
            ],
            overallMissingRate: missingRate, outOfRangeCount: 0, unknownCategoryCount: 0,
            labelCounts: LabelCounts(positive: positive, negative: negative))
    }

    static func roundTrip(_ attestation: DataQualityAttestation) throws(ModelError) -> DataQualityAttestation {
        try DataQualityAttestation.decodeValidated(json: Array(try! JSONEncoder().encode(attestation)))
    }

    @Test(arguments: [0, 1, DataQualityAttestation.maximumRows])
    func rowsWithinBoundsDecode(rows: Int) throws {
        let decoded = try Self.roundTrip(
            Self.attestation(rows: rows, positive: 0, negative: rows, columnMissing: 0, columnRate: 0))
        #expect(decoded.rows == rows)
    }

    @Test(arguments: [DataQualityAttestation.maximumRows + 1, -1, 1 << 62, Int.max, 10_000_000_000])
    func rowsOutOfBoundsAreRefused(rows: Int) {
        let error = expectModelError("attestation.invalid") {
            _ = try Self.roundTrip(Self.attestation(rows: rows, positive: 0, negative: 0, columnMissing: 0))
        }
        #expect(error?.message.contains("`rows`") == true)
    }

    @Test func labelCountsMustBeNonNegativeAndWithinRows() {
        for (positive, negative) in [(-1, 10), (10, -1), (1 << 62, 1 << 62), (60, 41), (101, 0)] {
            let error = expectModelError("attestation.invalid") {
                _ = try Self.roundTrip(Self.attestation(positive: positive, negative: negative))
            }
            #expect(error?.message.contains("label_counts") == true)
        }
        #expect(throws: Never.self) { _ = try Self.roundTrip(Self.attestation(positive: 100, negative: 0)) }
        #expect(throws: Never.self) { _ = try Self.roundTrip(Self.attestation(positive: 0, negative: 0)) }
    }

    @Test func ratesMustBeFiniteAndWithinZeroAndOne() {
        for rate in [Double.nan, .infinity, -0.01, 1.000001] {
            _ = expectModelError("attestation.invalid") { try Self.attestation(missingRate: rate).validate() }
            _ = expectModelError("attestation.invalid") { try Self.attestation(columnRate: rate).validate() }
        }
        #expect(throws: Never.self) {
            try Self.attestation(missingRate: 1, columnMissing: 100, columnRate: 1).validate()
        }
        _ = expectModelError("attestation.invalid") { try Self.attestation(columnMissing: 101).validate() }
    }

    @Test func stringsAreBoundedInLengthAndCharset() {
        let longest = String(repeating: "n", count: DataQualityAttestation.maximumNameLength)
        #expect(throws: Never.self) { try Self.attestation(schemaName: longest).validate() }
        _ = expectModelError("attestation.invalid") { try Self.attestation(schemaName: longest + "n").validate() }
        _ = expectModelError("attestation.invalid") { try Self.attestation(schemaName: "a\u{1B}[2Jb").validate() }
        _ = expectModelError("attestation.invalid") { try Self.attestation(digest: "ABCDEF").validate() }
        _ = expectModelError("attestation.invalid") { try Self.attestation(digest: "").validate() }
        _ = expectModelError("attestation.invalid") {
            try Self.attestation(digest: String(repeating: "a", count: 129)).validate()
        }
    }

    @Test func malformedJSONIsMalformedNotInvalid() {
        _ = expectModelError("attestation.malformed") {
            _ = try DataQualityAttestation.decodeValidated(json: Array("{".utf8))
        }
        let error = expectModelError("attestation.malformed") {
            _ = try DataQualityAttestation.decodeValidated(json: Array(#"{"version":1}"#.utf8))
        }
        #expect(error?.message.contains("missing") == true)
    }

    @Test func violationsCapAndEscapePeerStrings() {
        var attestation = Self.attestation(digest: String(repeating: "f", count: 128))
        attestation.columns = (0..<50).map { ColumnQuality(name: "c\u{7}\($0)", missing: 100, missingRate: 1) }
        let reasons = attestation.violations(
            of: DataQualityRequirements(schemaDigest: "00", maximumColumnMissingRate: 0.5))
        #expect(reasons.count == 1 + 8 + 1)
        #expect(reasons.allSatisfy { !$0.unicodeScalars.contains { $0.value == 7 } })
        #expect(reasons.last == "42 more column(s) exceed missing rate 0.5")
        #expect(reasons[0].contains("…(+"))
    }

    @Test func peerTextEscapesAndTruncates() {
        #expect(PeerText.sanitized("ok") == "ok")
        #expect(PeerText.sanitized("a\nb\u{1B}") == "a\\u{a}b\\u{1b}")
        #expect(
            PeerText.sanitized(String(repeating: "x", count: 300), maxLength: 10) == String(repeating: "x", count: 10)
                + "…(+290)")
    }

    // MARK: Metrics accumulator

    static func accumulator(positives: Int, negatives: Int) -> MetricsAccumulator {
        var accumulator = MetricsAccumulator()
        for _ in 0..<positives { accumulator.add(logit: 1, isPositive: true) }
        for _ in 0..<negatives { accumulator.add(logit: -1, isPositive: false) }
        return accumulator
    }

    /// The accumulator's JSON with the confusion counts and the first bins replaced.
    static func tampered(
        truePositives: Int, falseNegatives: Int = 0, positiveBin: Int, layout: [String: Any]? = nil
    ) throws -> [UInt8] {
        var object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(MetricsAccumulator())) as? [String: Any])
        var histogram = [Int](repeating: 0, count: MetricsAccumulator().layout.binCount)
        histogram[0] = positiveBin
        object["positive_histogram"] = histogram
        object["confusion"] = [
            "true_positives": truePositives, "false_positives": 0, "true_negatives": 0,
            "false_negatives": falseNegatives,
        ]
        if let layout { object["layout"] = layout }
        return Array(try JSONSerialization.data(withJSONObject: object))
    }

    @Test func consistentAccumulatorsDecodeUpToTheMaximum() throws {
        let expected = MetricsAccumulator()
        #expect(
            try MetricsAccumulator.decodeValidated(
                json: Self.tampered(truePositives: 0, positiveBin: 0), expected: expected
            ).confusion.total == 0)
        let maximum = MetricsAccumulator.maximumCount
        let decoded = try MetricsAccumulator.decodeValidated(
            json: Self.tampered(truePositives: maximum, positiveBin: maximum), expected: expected)
        #expect(decoded.confusion.total == maximum)
    }

    @Test(arguments: [-1, MetricsAccumulator.maximumCount + 1, 1 << 62, Int.max])
    func countsOutOfRangeAreRefused(count: Int) {
        _ = expectModelError("evaluation.invalid") {
            _ = try MetricsAccumulator.decodeValidated(
                json: Self.tampered(truePositives: count, positiveBin: count), expected: MetricsAccumulator())
        }
    }

    @Test func countsMustEqualTheHistograms() {
        _ = expectModelError("evaluation.invalid") {
            _ = try MetricsAccumulator.decodeValidated(
                json: Self.tampered(truePositives: 5, positiveBin: 4), expected: MetricsAccumulator())
        }
        // 2^62 + 2^62 would overflow if added unchecked.
        _ = expectModelError("evaluation.invalid") {
            _ = try MetricsAccumulator.decodeValidated(
                json: Self.tampered(truePositives: 1 << 62, falseNegatives: 1 << 62, positiveBin: 0),
                expected: MetricsAccumulator())
        }
    }

    @Test func anotherLayoutOrTooManyRecordsIsRefused() throws {
        let other = Array(try JSONEncoder().encode(MetricsAccumulator(layout: .init(logitBound: 8, binsPerUnit: 4))))
        let error = expectModelError("evaluation.invalid") {
            _ = try MetricsAccumulator.decodeValidated(json: other, expected: MetricsAccumulator())
        }
        #expect(error?.message.contains("layout") == true)
        let ten = Array(try JSONEncoder().encode(Self.accumulator(positives: 6, negatives: 4)))
        #expect(throws: Never.self) {
            _ = try MetricsAccumulator.decodeValidated(json: ten, expected: MetricsAccumulator(), maximumCount: 10)
        }
        _ = expectModelError("evaluation.invalid") {
            _ = try MetricsAccumulator.decodeValidated(json: ten, expected: MetricsAccumulator(), maximumCount: 9)
        }
        for layout: [String: Any] in [
            ["logit_bound": Double.nan, "bins_per_unit": 16], ["logit_bound": 16, "bins_per_unit": 0],
            ["logit_bound": 1e9, "bins_per_unit": 16], ["logit_bound": 16, "bins_per_unit": 1 << 20],
        ] {
            // NaN does not serialise: such a document is simply not an accumulator.
            guard let json = try? Self.tampered(truePositives: 0, positiveBin: 0, layout: layout) else { continue }
            _ = expectModelError("evaluation.invalid") {
                _ = try MetricsAccumulator.decodeValidated(json: json, expected: MetricsAccumulator())
            }
        }
    }

    @Test func mergeIsCheckedAndLeavesTheTargetUnchangedOnOverflow() throws {
        var merged = Self.accumulator(positives: 3, negatives: 2)
        let before = merged
        var big = MetricsAccumulator()
        // Reached only through merges of validated accumulators: fill to the merged maximum.
        let maximum = try MetricsAccumulator.decodeValidated(
            json: Self.tampered(
                truePositives: MetricsAccumulator.maximumCount, positiveBin: MetricsAccumulator.maximumCount),
            expected: MetricsAccumulator())
        for _ in 0..<4 { try big.merge(maximum) }
        #expect(big.confusion.total == 4 * MetricsAccumulator.maximumCount)
        try merged.merge(big)
        #expect(merged.confusion.total == before.confusion.total + 4 * MetricsAccumulator.maximumCount)
        // Push past 2^52 merged records: refused, unchanged.
        // Push past 2^52 merged records (doubling: 10^9 · 2^23 > 2^52): refused, unchanged.
        var huge = maximum
        var failure: ModelError?
        for _ in 0..<64 {
            let copy = huge
            let totalBefore = huge.confusion.total
            do { try huge.merge(copy) } catch {
                failure = error
                #expect(huge.confusion.total == totalBefore)
                break
            }
        }
        #expect(failure?.code == "model.metrics_overflow")
        #expect(huge.confusion.total <= MetricsAccumulator.maximumMergedCount)
    }
}
