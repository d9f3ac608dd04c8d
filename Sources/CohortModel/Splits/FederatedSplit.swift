/// The CSV files of a simulated consortium: one per silo, and one held-out test file.
public struct FederatedSplitFiles: Sendable, Equatable {
    /// One training file per silo, in silo order.
    public let silos: [String]
    /// The held-out test file (never given to training).
    public let test: String
}

extension DataSplit {
    /// Splits a labelled table as the demo needs it: a stratified held-out test set, then the
    /// training rows dealt to `silos` participants with Dirichlet label skew; each part is written
    /// with its original cells (missing values stay empty) to
    /// `<directory>/<prefix>-<n>.csv` (n = 1…silos) and `<directory>/<prefix>-test.csv`.
    /// - Parameters:
    ///   - table: the full data set.
    ///   - schema: names the label column and its positive class.
    ///   - silos: the number of participants.
    ///   - concentration: Dirichlet α (1 = moderate skew).
    ///   - testFraction: share of each class held out.
    ///   - minimumPerClass: the fewest records of each class per silo.
    ///   - seed: fixes both the held-out set and the partition.
    public static func writeFederatedSplit(
        _ table: CSVTable,
        schema: FeatureSchema,
        silos: Int,
        concentration: Double = 1,
        testFraction: Double = 0.2,
        minimumPerClass: Int = 5,
        seed: UInt64,
        directory: String,
        prefix: String
    ) throws(ModelError) -> FederatedSplitFiles {
        guard let labelColumn = table.columnIndex(named: schema.label.column) else {
            throw ModelError(
                code: "schema.missing_column", message: "the table lacks the label column '\(schema.label.column)'",
                location: FileLocation(file: table.source, line: 1))
        }
        let labels = table.rows.map { $0[labelColumn] == schema.label.positiveClass }
        let split = try stratifiedTrainTest(labels: labels, testFraction: testFraction, seed: seed)
        let parts = try dirichletLabelSkew(
            labels: labels, rows: split.train, silos: silos, concentration: concentration,
            minimumPerClass: minimumPerClass, seed: seed)
        var paths: [String] = []
        for (index, rows) in parts.enumerated() {
            let path = "\(directory)/\(prefix)-\(index + 1).csv"
            try table.selecting(rows: rows, source: path).write(path: path)
            paths.append(path)
        }
        let testPath = "\(directory)/\(prefix)-test.csv"
        try table.selecting(rows: split.test, source: testPath).write(path: testPath)
        return FederatedSplitFiles(silos: paths, test: testPath)
    }
}
