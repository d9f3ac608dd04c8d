/// How a participant's CSV columns become the model's feature vector. Codable (JSON here, YAML in
/// the coordinator's policy, where it is embedded), with snake_case keys.
///
/// Encoded layout, fixed by the schema so every silo builds identical vectors: the numeric
/// features in schema order, then for each categorical feature one indicator per category in the
/// schema's order (plus a final `<missing>` indicator when its imputation is `missing_category`).
///
/// Every constant that shapes the encoding — imputation values, scaling mean and standard
/// deviation, category lists — lives in the schema rather than being estimated from a silo's
/// own data. That is what makes silos comparable, and it matters for record-level DP: if a record
/// were scaled or imputed with statistics of its silo, adding or removing one record would change
/// the encodings (and gradients) of all the others, and the per-record sensitivity bound C that
/// the accountant relies on (Abadi et al. 2016, Sec. 3.1) would no longer hold.
public struct FeatureSchema: Codable, Sendable, Equatable {
    /// The schema format version this code writes and reads.
    public static let currentVersion = 1

    /// Format version; must equal `currentVersion`.
    public var version: Int
    /// A short name (e.g. `wdbc`), carried into attestations.
    public var name: String
    /// The label column and its two classes.
    public var label: LabelSpecification
    /// Numeric features, in encoding order.
    public var numeric: [NumericFeature]
    /// Categorical features, one-hot encoded after the numeric ones.
    public var categorical: [CategoricalFeature]

    public init(
        version: Int = FeatureSchema.currentVersion,
        name: String,
        label: LabelSpecification,
        numeric: [NumericFeature],
        categorical: [CategoricalFeature] = []
    ) {
        self.version = version
        self.name = name
        self.label = label
        self.numeric = numeric
        self.categorical = categorical
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        name = try container.decode(String.self, forKey: .name)
        label = try container.decode(LabelSpecification.self, forKey: .label)
        numeric = try container.decodeIfPresent([NumericFeature].self, forKey: .numeric) ?? []
        categorical = try container.decodeIfPresent([CategoricalFeature].self, forKey: .categorical) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case version, name, label, numeric, categorical
    }

    /// The names of the encoded features, in vector order: numeric names, then `column=category`.
    public var encodedFeatureNames: [String] {
        var names = numeric.map(\.name)
        for feature in categorical {
            names += feature.categories.map { "\(feature.name)=\($0)" }
            if feature.imputation.strategy == .missingCategory { names.append("\(feature.name)=<missing>") }
        }
        return names
    }

    /// The number of encoded features (the model has one more parameter, the bias).
    public var encodedDimension: Int {
        numeric.count + categorical.reduce(0) { $0 + $1.encodedWidth }
    }

    /// The data columns the schema reads: the label column, then features in schema order.
    public var columnNames: [String] {
        [label.column] + numeric.map(\.name) + categorical.map(\.name)
    }
}

/// The label column and the spelling of its two classes.
///
/// Both classes are spelled out so that a typo (`Malignant`) is rejected instead of silently
/// becoming the negative class.
public struct LabelSpecification: Codable, Sendable, Equatable {
    /// The column holding the class.
    public var column: String
    /// The class encoded as 1: the "positive" of precision, recall and F1.
    public var positiveClass: String
    /// The class encoded as 0.
    public var negativeClass: String

    public init(column: String, positiveClass: String, negativeClass: String) {
        self.column = column
        self.positiveClass = positiveClass
        self.negativeClass = negativeClass
    }

    enum CodingKeys: String, CodingKey {
        case column
        case positiveClass = "positive_class"
        case negativeClass = "negative_class"
    }
}

/// A numeric column: valid range, imputation of missing cells, and fixed standardisation.
public struct NumericFeature: Codable, Sendable, Equatable {
    /// The column name.
    public var name: String
    /// The valid range; `nil` accepts any finite number.
    public var range: ValueRange?
    /// What to do with a value outside `range` (default `reject`).
    public var outOfRange: OutOfRangePolicy
    /// The value that replaces a missing cell.
    public var imputation: NumericImputation
    /// Standardisation (x − mean) / standard deviation; `nil` leaves values unscaled.
    public var scaling: Scaling?

    public init(
        name: String,
        range: ValueRange? = nil,
        outOfRange: OutOfRangePolicy = .reject,
        imputation: NumericImputation,
        scaling: Scaling? = nil
    ) {
        self.name = name
        self.range = range
        self.outOfRange = outOfRange
        self.imputation = imputation
        self.scaling = scaling
    }

    enum CodingKeys: String, CodingKey {
        case name, range, imputation, scaling
        case outOfRange = "out_of_range"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        range = try container.decodeIfPresent(ValueRange.self, forKey: .range)
        outOfRange = try container.decodeIfPresent(OutOfRangePolicy.self, forKey: .outOfRange) ?? .reject
        imputation = try container.decode(NumericImputation.self, forKey: .imputation)
        scaling = try container.decodeIfPresent(Scaling.self, forKey: .scaling)
    }

    /// Maps a valid, in-range raw value to its encoded value.
    @inline(__always)
    func scaled(_ value: Double) -> Double {
        guard let scaling else { return value }
        return (value - scaling.mean) / scaling.standardDeviation
    }
}

/// A closed interval [min, max]; either bound may be absent.
public struct ValueRange: Codable, Sendable, Equatable {
    /// The smallest valid value, if bounded below.
    public var min: Double?
    /// The largest valid value, if bounded above.
    public var max: Double?

    public init(min: Double? = nil, max: Double? = nil) {
        self.min = min
        self.max = max
    }

    /// Whether `value` lies in the interval.
    public func contains(_ value: Double) -> Bool {
        if let min, value < min { return false }
        if let max, value > max { return false }
        return true
    }

    /// `value` moved to the nearest bound when outside.
    public func clamp(_ value: Double) -> Double {
        var result = value
        if let min, result < min { result = min }
        if let max, result > max { result = max }
        return result
    }
}

/// What happens to a numeric value outside its feature's range. Every such value is counted in
/// the `DataQualityAttestation`, whatever the policy.
public enum OutOfRangePolicy: String, Codable, Sendable, CaseIterable {
    /// Loading fails with `data.out_of_range`, naming the cell.
    case reject
    /// The value is replaced by the nearest bound.
    case clamp
    /// The value is treated as missing and imputed.
    case impute
}

/// The replacement for a missing numeric cell. The value is fixed in the schema (see
/// `FeatureSchema`); `strategy` records how it was derived from the reference data.
public struct NumericImputation: Codable, Sendable, Equatable {
    /// How `value` was chosen.
    public enum Strategy: String, Codable, Sendable, CaseIterable {
        /// The median of the reference data.
        case median
        /// The mean of the reference data.
        case mean
        /// A constant chosen by the schema's author.
        case constant
    }

    /// How `value` was chosen.
    public var strategy: Strategy
    /// The value written into missing cells (before scaling).
    public var value: Double

    public init(strategy: Strategy, value: Double) {
        self.strategy = strategy
        self.value = value
    }
}

/// Standardisation constants, fixed in the schema so every silo scales identically.
public struct Scaling: Codable, Sendable, Equatable {
    /// Subtracted from the value.
    public var mean: Double
    /// Divides the centred value; must be > 0.
    public var standardDeviation: Double

    public init(mean: Double, standardDeviation: Double) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    enum CodingKeys: String, CodingKey {
        case mean
        case standardDeviation = "standard_deviation"
    }
}

/// A categorical column, one-hot encoded in the fixed order of `categories`.
public struct CategoricalFeature: Codable, Sendable, Equatable {
    /// The column name.
    public var name: String
    /// The allowed categories, in encoding order.
    public var categories: [String]
    /// What replaces a missing cell.
    public var imputation: CategoricalImputation
    /// What to do with a value not in `categories` (default `reject`).
    public var unknownCategory: UnknownCategoryPolicy

    public init(
        name: String,
        categories: [String],
        imputation: CategoricalImputation,
        unknownCategory: UnknownCategoryPolicy = .reject
    ) {
        self.name = name
        self.categories = categories
        self.imputation = imputation
        self.unknownCategory = unknownCategory
    }

    enum CodingKeys: String, CodingKey {
        case name, categories, imputation
        case unknownCategory = "unknown_category"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        categories = try container.decode([String].self, forKey: .categories)
        imputation = try container.decode(CategoricalImputation.self, forKey: .imputation)
        unknownCategory = try container.decodeIfPresent(UnknownCategoryPolicy.self, forKey: .unknownCategory) ?? .reject
    }

    /// The number of indicator columns this feature occupies.
    public var encodedWidth: Int {
        categories.count + (imputation.strategy == .missingCategory ? 1 : 0)
    }
}

/// The replacement for a missing categorical cell.
public struct CategoricalImputation: Codable, Sendable, Equatable {
    /// How a missing cell is encoded.
    public enum Strategy: String, Codable, Sendable, CaseIterable {
        /// As `value`, the most frequent category of the reference data.
        case mostFrequent = "most_frequent"
        /// As `value`, a category chosen by the schema's author.
        case constant
        /// As its own indicator column, `<name>=<missing>`; `value` must be absent.
        case missingCategory = "missing_category"
    }

    /// How a missing cell is encoded.
    public var strategy: Strategy
    /// The category written into missing cells (one of the feature's categories), unless the
    /// strategy is `missing_category`.
    public var value: String?

    public init(strategy: Strategy, value: String? = nil) {
        self.strategy = strategy
        self.value = value
    }
}

/// What happens to a categorical value outside the schema's categories. Every such value is
/// counted in the `DataQualityAttestation`, whatever the policy.
public enum UnknownCategoryPolicy: String, Codable, Sendable, CaseIterable {
    /// Loading fails with `data.unknown_category`, naming the cell.
    case reject
    /// The value is treated as missing and imputed.
    case impute
}
