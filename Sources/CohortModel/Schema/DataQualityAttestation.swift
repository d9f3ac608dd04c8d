import Foundation

/// A participant's statement about its local data, checked by the coordinator's pre-round gate.
///
/// It carries counts only — never a value from a record. The counts are exact and not noised:
/// they are what the design's data-quality gate asks for (schema match, missing rate, minimum
/// records), and a consortium that considers label counts sensitive should gate on coarser
/// figures. Versioned, as every persisted Cohort format.
public struct DataQualityAttestation: Codable, Sendable, Equatable {
    /// The attestation format version this code writes.
    public static let currentVersion = 1

    /// Format version.
    public var version: Int
    /// `FeatureSchema.name` of the schema the data was checked against.
    public var schemaName: String
    /// `FeatureSchema.digest()` of that schema: equal digests mean the columns matched the same schema.
    public var schemaDigest: String
    /// Number of records (excluding the header).
    public var rows: Int
    /// Number of schema columns (label and features) found in the file; loading fails unless all are.
    public var columnsMatched: Int
    /// Header names the schema does not use (names only; they are ignored).
    public var extraColumns: [String]
    /// Per schema column, in `FeatureSchema.columnNames` order.
    public var columns: [ColumnQuality]
    /// Missing cells over all schema columns divided by rows × schema columns (0 for no rows).
    public var overallMissingRate: Double
    /// Numeric values outside their range (clamped or imputed as the schema says).
    public var outOfRangeCount: Int
    /// Categorical values outside their category list (imputed as the schema says).
    public var unknownCategoryCount: Int
    /// Records per class.
    public var labelCounts: LabelCounts
    /// Records in the participant's training split (`training_rows`), the rest of `rows` being its
    /// local holdout, which is never trained on. The coordinator takes it as the participant's
    /// share of the public record count N that the record unit divides by (q·N) and states its
    /// guarantee for (zero-out neighbours, docs/PRIVACY.md). `nil` when the participant did not
    /// say (participants before this field); the coordinator then falls back to `rows`.
    /// In 0…`rows` when present.
    public var trainingRows: Int?

    public init(
        version: Int = DataQualityAttestation.currentVersion,
        schemaName: String,
        schemaDigest: String,
        rows: Int,
        columnsMatched: Int,
        extraColumns: [String],
        columns: [ColumnQuality],
        overallMissingRate: Double,
        outOfRangeCount: Int,
        unknownCategoryCount: Int,
        labelCounts: LabelCounts,
        trainingRows: Int? = nil
    ) {
        self.version = version
        self.schemaName = schemaName
        self.schemaDigest = schemaDigest
        self.rows = rows
        self.columnsMatched = columnsMatched
        self.extraColumns = extraColumns
        self.columns = columns
        self.overallMissingRate = overallMissingRate
        self.outOfRangeCount = outOfRangeCount
        self.unknownCategoryCount = unknownCategoryCount
        self.labelCounts = labelCounts
        self.trainingRows = trainingRows
    }

    enum CodingKeys: String, CodingKey {
        case version, rows, columns
        case schemaName = "schema_name"
        case schemaDigest = "schema_digest"
        case columnsMatched = "columns_matched"
        case extraColumns = "extra_columns"
        case overallMissingRate = "overall_missing_rate"
        case outOfRangeCount = "out_of_range_count"
        case unknownCategoryCount = "unknown_category_count"
        case labelCounts = "label_counts"
        case trainingRows = "training_rows"
    }

    /// Decodes and validates (``validate()``): an attestation is a peer's claim, so every number
    /// and string is range-checked where it is decoded. A failed check is a
    /// `DecodingError.dataCorrupted` whose underlying error is the ``ModelError``
    /// (`attestation.invalid`) naming the field; ``decodeValidated(json:)`` returns that error directly.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        schemaName = try container.decode(String.self, forKey: .schemaName)
        schemaDigest = try container.decode(String.self, forKey: .schemaDigest)
        rows = try container.decode(Int.self, forKey: .rows)
        columnsMatched = try container.decode(Int.self, forKey: .columnsMatched)
        extraColumns = try container.decode([String].self, forKey: .extraColumns)
        columns = try container.decode([ColumnQuality].self, forKey: .columns)
        overallMissingRate = try container.decode(Double.self, forKey: .overallMissingRate)
        outOfRangeCount = try container.decode(Int.self, forKey: .outOfRangeCount)
        unknownCategoryCount = try container.decode(Int.self, forKey: .unknownCategoryCount)
        labelCounts = try container.decode(LabelCounts.self, forKey: .labelCounts)
        trainingRows = try container.decodeIfPresent(Int.self, forKey: .trainingRows)
        do {
            try validate()
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.message, underlyingError: error))
        }
    }

    /// Decodes an attestation a peer sent as JSON and validates it.
    ///
    /// - Throws: `attestation.malformed` when the bytes are not an attestation object (bad JSON, a
    ///   missing field, a wrong type); `attestation.invalid` when a value is outside its bound
    ///   (``validate()``). The message names the field, never a value beyond its length.
    public static func decodeValidated(json: [UInt8]) throws(ModelError) -> DataQualityAttestation {
        do {
            return try JSONDecoder().decode(DataQualityAttestation.self, from: Data(json))
        } catch let DecodingError.dataCorrupted(context) where context.underlyingError is ModelError {
            throw context.underlyingError as! ModelError
        } catch {
            throw ModelError(
                code: "attestation.malformed",
                message:
                    "the data-quality attestation (\(json.count) bytes) is not a JSON attestation object: \(Self.describe(error)); "
                    + "send the attestation cohort-participant produces"
            )
        }
    }

    /// Where a decoding error happened, without quoting the input.
    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _):
            "field `\(PeerText.sanitized(key.stringValue, maxLength: 64))` is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "field `\(context.codingPath.map { PeerText.sanitized($0.stringValue, maxLength: 64) }.joined(separator: "."))` has the wrong type"
        default: "not valid JSON"
        }
    }

    // MARK: Bounds (docs/GOVERNANCE.md, "Attestation bounds")

    /// The most records one participant may attest: 10^9.
    public static let maximumRows = 1_000_000_000
    /// The most schema columns (and extra header columns) an attestation may list: 4,096.
    public static let maximumColumns = 4_096
    /// The longest schema name, digest or column name, in UTF-8 bytes: 256.
    public static let maximumNameLength = 256
    /// Schema digests are lowercase hexadecimal, at most 128 characters.
    public static let maximumDigestLength = 128

    /// Checks every field against its bound: version 1; `rows` in 0…``maximumRows``; label counts
    /// non-negative and summing to at most `rows`; per-column counts in 0…rows; missing rates
    /// finite and in [0, 1]; out-of-range and unknown-category totals in 0…rows × columns; at most
    /// ``maximumColumns`` columns; names at most ``maximumNameLength`` bytes without control
    /// characters; the digest lowercase hexadecimal; `training_rows`, when present, in 0…rows.
    /// - Throws: `attestation.invalid`, naming the field and its bound.
    public func validate() throws(ModelError) {
        func invalid(_ field: String, _ problem: String) -> ModelError {
            ModelError(
                code: "attestation.invalid",
                message:
                    "attestation field `\(field)` \(problem); send the attestation cohort-participant computes from the data"
            )
        }
        func checkName(_ text: String, _ field: String) throws(ModelError) {
            guard text.utf8.count <= Self.maximumNameLength else {
                throw invalid(field, "is \(text.utf8.count) bytes long, over the limit of \(Self.maximumNameLength)")
            }
            guard !text.unicodeScalars.contains(where: PeerText.isControl) else {
                throw invalid(field, "contains a control character")
            }
        }
        func checkCount(_ value: Int, _ field: String, max: Int) throws(ModelError) {
            guard value >= 0, value <= max else { throw invalid(field, "is \(value), outside 0...\(max)") }
        }
        func checkRate(_ value: Double, _ field: String) throws(ModelError) {
            guard value.isFinite, value >= 0, value <= 1 else { throw invalid(field, "is \(value), outside [0, 1]") }
        }
        guard version == Self.currentVersion else {
            throw invalid("version", "is \(version); this coordinator reads version \(Self.currentVersion)")
        }
        try checkName(schemaName, "schema_name")
        guard !schemaDigest.isEmpty, schemaDigest.utf8.count <= Self.maximumDigestLength,
            schemaDigest.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else {
            throw invalid("schema_digest", "is not 1 to \(Self.maximumDigestLength) lowercase hexadecimal characters")
        }
        try checkCount(rows, "rows", max: Self.maximumRows)
        guard columns.count <= Self.maximumColumns else {
            throw invalid("columns", "lists \(columns.count) columns, over the limit of \(Self.maximumColumns)")
        }
        guard extraColumns.count <= Self.maximumColumns else {
            throw invalid(
                "extra_columns", "lists \(extraColumns.count) names, over the limit of \(Self.maximumColumns)")
        }
        try checkCount(columnsMatched, "columns_matched", max: Self.maximumColumns)
        for (index, name) in extraColumns.enumerated() { try checkName(name, "extra_columns[\(index)]") }
        for (index, column) in columns.enumerated() {
            try checkName(column.name, "columns[\(index)].name")
            try checkCount(column.missing, "columns[\(index)].missing", max: rows)
            try checkRate(column.missingRate, "columns[\(index)].missing_rate")
            try checkCount(column.outOfRange, "columns[\(index)].out_of_range", max: rows)
            try checkCount(column.unknownCategory, "columns[\(index)].unknown_category", max: rows)
        }
        try checkRate(overallMissingRate, "overall_missing_rate")
        // rows ≤ 10^9 and columns ≤ 4,096: the product fits easily.
        let cellBound = rows * max(columns.count, 1)
        try checkCount(outOfRangeCount, "out_of_range_count", max: cellBound)
        try checkCount(unknownCategoryCount, "unknown_category_count", max: cellBound)
        try checkCount(labelCounts.positive, "label_counts.positive", max: rows)
        try checkCount(labelCounts.negative, "label_counts.negative", max: rows)
        guard labelCounts.positive + labelCounts.negative <= rows else {
            throw invalid(
                "label_counts",
                "sum to \(labelCounts.positive + labelCounts.negative), more than the \(rows) rows attested")
        }
        if let trainingRows { try checkCount(trainingRows, "training_rows", max: rows) }
    }

    /// The quality figures of the column named `name`, if it is a schema column.
    public func column(_ name: String) -> ColumnQuality? {
        columns.first { $0.name == name }
    }

    /// The reasons this attestation fails `requirements`, empty when it passes.
    public func violations(of requirements: DataQualityRequirements) -> [String] {
        var reasons: [String] = []
        if let digest = requirements.schemaDigest, digest != schemaDigest {
            reasons.append(
                "the data was checked against schema digest \(PeerText.sanitized(schemaDigest, maxLength: 80)), "
                    + "the policy requires \(digest) (a schema mismatch: use the consortium's schema file)")
        }
        if rows < requirements.minimumRows {
            reasons.append("\(rows) records, the policy requires at least \(requirements.minimumRows)")
        }
        if overallMissingRate > requirements.maximumMissingRate {
            reasons.append("overall missing rate \(overallMissingRate) exceeds \(requirements.maximumMissingRate)")
        }
        // Names are the participant's: each is length-capped and escaped, and at most 8 are listed.
        let tooSparse = columns.filter { $0.missingRate > requirements.maximumColumnMissingRate }
        for column in tooSparse.prefix(8) {
            reasons.append(
                "column '\(PeerText.sanitized(column.name, maxLength: 64))' missing rate \(column.missingRate) "
                    + "exceeds \(requirements.maximumColumnMissingRate)")
        }
        if tooSparse.count > 8 {
            reasons.append(
                "\(tooSparse.count - 8) more column(s) exceed missing rate \(requirements.maximumColumnMissingRate)")
        }
        if labelCounts.positive < requirements.minimumPerClass || labelCounts.negative < requirements.minimumPerClass {
            reasons.append("a class has fewer than \(requirements.minimumPerClass) records")
        }
        return reasons
    }
}

/// Missing and invalid-value counts of one schema column.
public struct ColumnQuality: Codable, Sendable, Equatable {
    /// The column name.
    public var name: String
    /// Empty cells.
    public var missing: Int
    /// `missing / rows` (0 for no rows).
    public var missingRate: Double
    /// Values outside the feature's range (numeric columns).
    public var outOfRange: Int
    /// Values outside the feature's categories (categorical columns).
    public var unknownCategory: Int

    public init(name: String, missing: Int, missingRate: Double, outOfRange: Int = 0, unknownCategory: Int = 0) {
        self.name = name
        self.missing = missing
        self.missingRate = missingRate
        self.outOfRange = outOfRange
        self.unknownCategory = unknownCategory
    }

    enum CodingKeys: String, CodingKey {
        case name, missing
        case missingRate = "missing_rate"
        case outOfRange = "out_of_range"
        case unknownCategory = "unknown_category"
    }
}

/// Records per class.
public struct LabelCounts: Codable, Sendable, Equatable {
    /// Records of the schema's positive class.
    public var positive: Int
    /// Records of the schema's negative class.
    public var negative: Int

    public init(positive: Int, negative: Int) {
        self.positive = positive
        self.negative = negative
    }
}

/// The thresholds a policy's data-quality gate applies to an attestation. Defaults accept anything
/// that loaded.
public struct DataQualityRequirements: Codable, Sendable, Equatable {
    /// The required schema digest, or `nil` to accept any.
    public var schemaDigest: String?
    /// The fewest records a participant must hold (default 1).
    public var minimumRows: Int
    /// The largest overall missing rate (default 1).
    public var maximumMissingRate: Double
    /// The largest missing rate of any one column (default 1).
    public var maximumColumnMissingRate: Double
    /// The fewest records of each class (default 0).
    public var minimumPerClass: Int

    public init(
        schemaDigest: String? = nil,
        minimumRows: Int = 1,
        maximumMissingRate: Double = 1,
        maximumColumnMissingRate: Double = 1,
        minimumPerClass: Int = 0
    ) {
        self.schemaDigest = schemaDigest
        self.minimumRows = minimumRows
        self.maximumMissingRate = maximumMissingRate
        self.maximumColumnMissingRate = maximumColumnMissingRate
        self.minimumPerClass = minimumPerClass
    }

    enum CodingKeys: String, CodingKey {
        case schemaDigest = "schema_digest"
        case minimumRows = "minimum_rows"
        case maximumMissingRate = "maximum_missing_rate"
        case maximumColumnMissingRate = "maximum_column_missing_rate"
        case minimumPerClass = "minimum_per_class"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = DataQualityRequirements()
        schemaDigest = try container.decodeIfPresent(String.self, forKey: .schemaDigest)
        minimumRows = try container.decodeIfPresent(Int.self, forKey: .minimumRows) ?? defaults.minimumRows
        maximumMissingRate =
            try container.decodeIfPresent(Double.self, forKey: .maximumMissingRate)
            ?? defaults.maximumMissingRate
        maximumColumnMissingRate =
            try container.decodeIfPresent(Double.self, forKey: .maximumColumnMissingRate)
            ?? defaults.maximumColumnMissingRate
        minimumPerClass = try container.decodeIfPresent(Int.self, forKey: .minimumPerClass) ?? defaults.minimumPerClass
    }
}
