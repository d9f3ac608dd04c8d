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
        labelCounts: LabelCounts
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
    }

    /// The quality figures of the column named `name`, if it is a schema column.
    public func column(_ name: String) -> ColumnQuality? {
        columns.first { $0.name == name }
    }

    /// The reasons this attestation fails `requirements`, empty when it passes.
    public func violations(of requirements: DataQualityRequirements) -> [String] {
        var reasons: [String] = []
        if let digest = requirements.schemaDigest, digest != schemaDigest {
            reasons.append("the data was checked against schema digest \(schemaDigest), the policy requires \(digest)")
        }
        if rows < requirements.minimumRows {
            reasons.append("\(rows) records, the policy requires at least \(requirements.minimumRows)")
        }
        if overallMissingRate > requirements.maximumMissingRate {
            reasons.append("overall missing rate \(overallMissingRate) exceeds \(requirements.maximumMissingRate)")
        }
        for column in columns where column.missingRate > requirements.maximumColumnMissingRate {
            reasons.append("column '\(column.name)' missing rate \(column.missingRate) exceeds \(requirements.maximumColumnMissingRate)")
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
        maximumMissingRate = try container.decodeIfPresent(Double.self, forKey: .maximumMissingRate)
            ?? defaults.maximumMissingRate
        maximumColumnMissingRate = try container.decodeIfPresent(Double.self, forKey: .maximumColumnMissingRate)
            ?? defaults.maximumColumnMissingRate
        minimumPerClass = try container.decodeIfPresent(Int.self, forKey: .minimumPerClass) ?? defaults.minimumPerClass
    }
}
