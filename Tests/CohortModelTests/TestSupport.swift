import CohortTesting
import Foundation
import Testing

@testable import CohortModel

/// The data sets the model tests read, in the repository.
extension Repository {
    static var wdbcCSV: String { path("Data/breast_cancer_wdbc.csv") }
    static var creditCSV: String { path("Data/credit_scoring.csv") }
    static var wdbcSchema: String { path("Data/schemas/wdbc.json") }
    static var creditSchema: String { path("Data/schemas/credit.json") }
}

/// Runs `body` and returns the `ModelError` it throws (failing the test if it throws nothing).
func expectModelError(
    _ code: String, sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> ModelError? {
    do {
        try body()
        Issue.record("expected error \(code), got success", sourceLocation: sourceLocation)
        return nil
    } catch let error as ModelError {
        #expect(error.code == code, "message: \(error.message)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected ModelError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The shipped data sets, encoded with the shipped schemas (loaded once per process).
enum Datasets {
    static let wdbcTable: CSVTable = try! CSVTable.read(path: Repository.wdbcCSV)
    static let creditTable: CSVTable = try! CSVTable.read(path: Repository.creditCSV)
    static let wdbcSchema: FeatureSchema = try! FeatureSchema.load(path: Repository.wdbcSchema)
    static let creditSchema: FeatureSchema = try! FeatureSchema.load(path: Repository.creditSchema)

    /// Labels of a table's rows as booleans (positive class = true).
    static func labels(_ table: CSVTable, _ schema: FeatureSchema) -> [Bool] {
        let column = table.columnIndex(named: schema.label.column)!
        return table.rows.map { $0[column] == schema.label.positiveClass }
    }
}
