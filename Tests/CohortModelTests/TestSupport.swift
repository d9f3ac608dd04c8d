import Foundation
import Testing
@testable import CohortModel

/// Repository paths, located from this file so tests need no resource bundle.
enum Repository {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/CohortModelTests/TestSupport.swift
        return url.path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }

    static var wdbcCSV: String { path("Data/breast_cancer_wdbc.csv") }
    static var creditCSV: String { path("Data/credit_scoring.csv") }
    static var wdbcSchema: String { path("Data/schemas/wdbc.json") }
    static var creditSchema: String { path("Data/schemas/credit.json") }
}

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-model-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let target = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: target))
        return target
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
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
