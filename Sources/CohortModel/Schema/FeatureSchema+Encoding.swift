import CohortCrypto

/// Encoded records with the attestation of the file they came from.
public struct PreparedData: Sendable {
    /// The records, encoded as the schema says.
    public let dataset: EncodedDataset
    /// Counts about the file: rows, missing values, out-of-range values, labels.
    public let attestation: DataQualityAttestation
}

extension FeatureSchema {
    /// Reads the CSV file at `path`, validates it against the schema and encodes it, streaming
    /// (`CSVStream`): each record is encoded as it is read, so memory holds the encoded matrix
    /// (4 bytes per encoded value), never the file or a table of its cells.
    public func prepare(csvPath path: String) throws(ModelError) -> PreparedData {
        var stream = try CSVStream(path: path)
        defer { stream.closeFile() }
        return try prepare(source: path, header: stream.header, expectedRows: nil) {
            () throws(ModelError) -> ([String?], Int)? in
            try stream.next().map { ($0.cells, $0.line) }
        }
    }

    /// ``prepare(csvPath:)`` with each record's holdout membership decided as it is read, from
    /// its raw cells (every cell of the record as it appears in the file, extra columns included)
    /// and the silo's secret key: record i is held out when PRF(cells of record i) < f
    /// (``DataSplit/isHeldOut(_:prf:testFraction:)``). The decision reads that record only, so the
    /// split of a file and of the same file with one record added or removed differ in that
    /// record alone (docs/PRIVACY.md, "Holdout"). The raw cells are dropped after the decision;
    /// only the encoded matrix and one index per record are kept.
    ///
    /// The attestation's `training_rows` is the size of the training part.
    /// - Throws: `data.invalid_split` unless f ∈ (0, 1), then every error of ``prepare(csvPath:)``.
    public func prepare(
        csvPath path: String, keyedHoldout prf: KeyedPRF, testFraction: Double
    ) throws(ModelError) -> (data: PreparedData, split: TrainTestSplit) {
        try DataSplit.checkTestFraction(testFraction)
        var stream = try CSVStream(path: path)
        defer { stream.closeFile() }
        var train: [Int] = []
        var test: [Int] = []
        var index = 0
        let prepared = try prepare(source: path, header: stream.header, expectedRows: nil) {
            () throws(ModelError) -> ([String?], Int)? in
            guard let record = try stream.next() else { return nil }
            if DataSplit.isHeldOut(record.cells, prf: prf, testFraction: testFraction) {
                test.append(index)
            } else {
                train.append(index)
            }
            index += 1
            return (record.cells, record.line)
        }
        var attestation = prepared.attestation
        attestation.trainingRows = train.count
        return (
            PreparedData(dataset: prepared.dataset, attestation: attestation), TrainTestSplit(train: train, test: test)
        )
    }

    /// Validates `table` against the schema and encodes it.
    ///
    /// Always an error (code, file, line, column, what to do): a schema column absent from the
    /// header (`schema.missing_column`, all absent columns named at once); a missing or unknown
    /// label (`data.missing_label`, `data.unknown_label`); a numeric cell that is not a finite
    /// number (`data.non_numeric_value`). As the schema's policy says, either an error or counted
    /// in the attestation: a numeric value outside its range (`data.out_of_range`, or clamped /
    /// imputed); a category outside the list (`data.unknown_category`, or imputed). Missing
    /// feature cells are imputed and counted. Surrounding spaces in cells are ignored; extra
    /// columns are ignored and listed (by name) in the attestation.
    public func prepare(_ table: CSVTable) throws(ModelError) -> PreparedData {
        var index = 0
        return try prepare(source: table.source, header: table.header, expectedRows: table.rows.count) {
            () throws(ModelError) -> ([String?], Int)? in
            guard index < table.rows.count else { return nil }
            defer { index += 1 }
            return (table.rows[index], table.lineNumbers[index])
        }
    }

    /// The encoding of ``prepare(_:)`` over records delivered one at a time by `nextRecord`
    /// (cells and the line they start on), from a table or a stream.
    func prepare(
        source: String, header: [String], expectedRows: Int?, nextRecord: () throws(ModelError) -> ([String?], Int)?
    ) throws(ModelError) -> PreparedData {
        try validate()
        func columnIndex(named name: String) -> Int? { header.firstIndex(of: name) }
        func location(line: Int, column: Int) -> FileLocation {
            FileLocation(file: source, line: line, column: column + 1, columnName: header[column])
        }
        let headerLocation = FileLocation(file: source, line: 1)
        let absent = columnNames.filter { columnIndex(named: $0) == nil }
        guard absent.isEmpty else {
            throw ModelError(
                code: "schema.missing_column",
                message:
                    "the header lacks column(s) \(absent.map { "'\($0)'" }.joined(separator: ", ")) required by schema "
                    + "'\(name)'; export the file with these columns (an empty cell marks a missing value)",
                location: headerLocation
            )
        }
        let labelColumn = columnIndex(named: label.column)!
        let numericColumns = numeric.map { columnIndex(named: $0.name)! }
        let categoricalColumns = categorical.map { columnIndex(named: $0.name)! }
        let schemaColumns = Set(columnNames)

        let dimension = encodedDimension
        var matrix: [Float] = []
        var labels: [Float] = []
        matrix.reserveCapacity((expectedRows ?? 0) * dimension)
        labels.reserveCapacity(expectedRows ?? 0)
        var numericMissing = [Int](repeating: 0, count: numeric.count)
        var numericOutOfRange = [Int](repeating: 0, count: numeric.count)
        var categoricalMissing = [Int](repeating: 0, count: categorical.count)
        var categoricalUnknown = [Int](repeating: 0, count: categorical.count)
        var positives = 0

        var row = 0
        while let (cells, line) = try nextRecord() {
            defer { row += 1 }
            matrix.append(contentsOf: repeatElement(0, count: dimension))
            labels.append(0)
            // Label: never imputed — a record without a trustworthy class cannot be trained on.
            guard let rawLabel = cells[labelColumn].map(Self.trimmed), !rawLabel.isEmpty else {
                throw ModelError(
                    code: "data.missing_label",
                    message:
                        "the label cell is empty; every record needs '\(label.positiveClass)' or '\(label.negativeClass)' "
                        + "in column '\(label.column)' — remove the record or fill in its class",
                    location: location(line: line, column: labelColumn)
                )
            }
            if rawLabel == label.positiveClass {
                labels[row] = 1
                positives += 1
            } else if rawLabel != label.negativeClass {
                throw ModelError(
                    code: "data.unknown_label",
                    message:
                        "the label is neither '\(label.positiveClass)' nor '\(label.negativeClass)' (compared exactly, "
                        + "case-sensitive); correct the cell or the schema's label classes",
                    location: location(line: line, column: labelColumn)
                )
            }
            let base = row * dimension
            for (index, feature) in numeric.enumerated() {
                let column = numericColumns[index]
                var value: Double
                if let text = cells[column].map(Self.trimmed), !text.isEmpty {
                    guard let parsed = Double(text), parsed.isFinite else {
                        throw ModelError(
                            code: "data.non_numeric_value",
                            message:
                                "numeric feature '\(feature.name)' holds a value that is not a finite decimal number; "
                                + "write a number such as 12.5, or leave the cell empty for a missing value",
                            location: location(line: line, column: column)
                        )
                    }
                    value = parsed
                    if let range = feature.range, !range.contains(value) {
                        numericOutOfRange[index] += 1
                        switch feature.outOfRange {
                        case .reject:
                            throw ModelError(
                                code: "data.out_of_range",
                                message: "numeric feature '\(feature.name)' is outside its valid range "
                                    + "[\(range.min.map { "\($0)" } ?? "-∞"), \(range.max.map { "\($0)" } ?? "∞")]; "
                                    + "correct the value, or set out_of_range to clamp or impute in the schema",
                                location: location(line: line, column: column)
                            )
                        case .clamp: value = range.clamp(value)
                        case .impute: value = feature.imputation.value
                        }
                    }
                } else {
                    numericMissing[index] += 1
                    value = feature.imputation.value
                }
                matrix[base + index] = Float(feature.scaled(value))
            }
            var offset = base + numeric.count
            for (index, feature) in categorical.enumerated() {
                let column = categoricalColumns[index]
                var category: String? = nil
                if let text = cells[column].map(Self.trimmed), !text.isEmpty {
                    if feature.categories.contains(text) {
                        category = text
                    } else {
                        categoricalUnknown[index] += 1
                        if feature.unknownCategory == .reject {
                            throw ModelError(
                                code: "data.unknown_category",
                                message: "categorical feature '\(feature.name)' holds a value outside its categories "
                                    + "\(feature.categories) (compared exactly, case-sensitive); correct the value, "
                                    + "add the category to the schema, or set unknown_category to impute",
                                location: location(line: line, column: column)
                            )
                        }
                    }
                } else {
                    categoricalMissing[index] += 1
                }
                if let category {
                    matrix[offset + feature.categories.firstIndex(of: category)!] = 1
                } else if let imputed = feature.imputation.value {
                    matrix[offset + feature.categories.firstIndex(of: imputed)!] = 1
                } else {
                    matrix[offset + feature.categories.count] = 1  // the <missing> indicator
                }
                offset += feature.encodedWidth
            }
        }

        let rows = row
        func rate(_ count: Int) -> Double { rows == 0 ? 0 : Double(count) / Double(rows) }
        // The label column is never missing here: an empty label fails the load above.
        var columns = [ColumnQuality(name: label.column, missing: 0, missingRate: 0)]
        for (index, feature) in numeric.enumerated() {
            columns.append(
                ColumnQuality(
                    name: feature.name, missing: numericMissing[index], missingRate: rate(numericMissing[index]),
                    outOfRange: numericOutOfRange[index]
                ))
        }
        for (index, feature) in categorical.enumerated() {
            columns.append(
                ColumnQuality(
                    name: feature.name, missing: categoricalMissing[index],
                    missingRate: rate(categoricalMissing[index]),
                    unknownCategory: categoricalUnknown[index]
                ))
        }
        let totalMissing = columns.reduce(0) { $0 + $1.missing }
        let cells = rows * columns.count
        let attestation = DataQualityAttestation(
            schemaName: name,
            schemaDigest: try digest(),
            rows: rows,
            columnsMatched: columnNames.count,
            extraColumns: header.filter { !schemaColumns.contains($0) },
            columns: columns,
            overallMissingRate: cells == 0 ? 0 : Double(totalMissing) / Double(cells),
            outOfRangeCount: numericOutOfRange.reduce(0, +),
            unknownCategoryCount: categoricalUnknown.reduce(0, +),
            labelCounts: LabelCounts(positive: positives, negative: rows - positives)
        )
        return PreparedData(
            dataset: EncodedDataset(featureNames: encodedFeatureNames, features: matrix, labels: labels),
            attestation: attestation
        )
    }

    /// This schema with its data-derived constants recomputed from `table`: `median` and `mean`
    /// imputation values, `most_frequent` categories, and the scaling mean and population standard
    /// deviation of every feature that has scaling (computed after imputation, as a
    /// scikit-learn imputer-then-scaler pipeline does). Constants, ranges, category lists and
    /// policies are kept. Used once, on the full public data set, to produce `Data/schemas/`.
    public func withReferenceStatistics(from table: CSVTable) throws(ModelError) -> FeatureSchema {
        var result = self
        for (index, feature) in numeric.enumerated() {
            guard let column = table.columnIndex(named: feature.name) else {
                throw ModelError(
                    code: "schema.missing_column", message: "reference data lacks column '\(feature.name)'",
                    location: FileLocation(file: table.source, line: 1))
            }
            var observed: [Double] = []
            var missing = 0
            for (row, cell) in table.rows.enumerated() {
                guard let text = cell[column].map(Self.trimmed), !text.isEmpty else {
                    missing += 1
                    continue
                }
                guard let value = Double(text), value.isFinite else {
                    throw ModelError(
                        code: "data.non_numeric_value", message: "reference value is not a finite number",
                        location: table.location(row: row, column: column))
                }
                if let range = feature.range, !range.contains(value) {
                    missing += 1
                    continue
                }
                observed.append(value)
            }
            guard !observed.isEmpty else {
                throw ModelError(
                    code: "data.no_values",
                    message: "reference column '\(feature.name)' has no valid value (all \(table.rows.count) "
                        + "empty or outside the schema's range); check the column holds values the schema accepts",
                    location: FileLocation(file: table.source, line: 1))
            }
            switch feature.imputation.strategy {
            case .median: result.numeric[index].imputation.value = Statistics.median(observed)
            case .mean: result.numeric[index].imputation.value = Statistics.mean(observed)
            case .constant: break
            }
            if feature.scaling != nil {
                let imputed = observed + Array(repeating: result.numeric[index].imputation.value, count: missing)
                let mean = Statistics.mean(imputed)
                let deviation = Statistics.populationStandardDeviation(imputed, mean: mean)
                result.numeric[index].scaling = Scaling(mean: mean, standardDeviation: deviation > 0 ? deviation : 1)
            }
        }
        for (index, feature) in categorical.enumerated() where feature.imputation.strategy == .mostFrequent {
            guard let column = table.columnIndex(named: feature.name) else {
                throw ModelError(
                    code: "schema.missing_column", message: "reference data lacks column '\(feature.name)'",
                    location: FileLocation(file: table.source, line: 1))
            }
            var counts = [Int](repeating: 0, count: feature.categories.count)
            for cell in table.rows {
                if let text = cell[column].map(Self.trimmed), let position = feature.categories.firstIndex(of: text) {
                    counts[position] += 1
                }
            }
            // Ties go to the category listed first, so the result does not depend on row order.
            let best = counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) }!
            result.categorical[index].imputation.value = feature.categories[best]
        }
        try result.validate()
        return result
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trimmed(_ text: String) -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isBlank($0) }) else { return "" }
        let last = text.lastIndex(where: { !isBlank($0) })!
        if first == text.startIndex && last == text.index(before: text.endIndex) { return text }
        return String(text[first...last])
    }
}

/// Small descriptive statistics in double precision.
enum Statistics {
    static func mean(_ values: [Double]) -> Double {
        values.reduce(0, +) / Double(values.count)
    }

    /// The median; the mean of the two middle values for an even count (as numpy).
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The population (ddof = 0) standard deviation, as scikit-learn's StandardScaler.
    static func populationStandardDeviation(_ values: [Double], mean: Double) -> Double {
        (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
    }
}
