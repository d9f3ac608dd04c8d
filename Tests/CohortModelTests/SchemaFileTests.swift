import CohortTesting
import Foundation
import Testing

@testable import CohortModel

/// The shipped schemas: valid, and their constants are exactly the full data sets' statistics.
/// Run with COHORT_REGENERATE_SCHEMAS=1 to rewrite them after changing a range or policy.
@Suite struct SchemaFileTests {
    @Test(arguments: ["wdbc", "credit"])
    func shippedSchemaMatchesReferenceStatistics(name: String) throws {
        let schemaPath = Repository.path("Data/schemas/\(name).json")
        let csvPath = name == "wdbc" ? Repository.wdbcCSV : Repository.creditCSV
        let shipped = try FeatureSchema.load(path: schemaPath)
        let recomputed = try shipped.withReferenceStatistics(from: CSVTable.read(path: csvPath))
        if ProcessInfo.processInfo.environment["COHORT_REGENERATE_SCHEMAS"] == "1" {
            try Data(recomputed.prettyJSON()).write(to: URL(fileURLWithPath: schemaPath))
        }
        // A plain Bool keeps a failure message short (the schemas print as thousands of characters).
        let upToDate = recomputed == shipped
        #expect(upToDate, "Data/schemas/\(name).json is stale; rerun with COHORT_REGENERATE_SCHEMAS=1")
    }

    /// A schema path that cannot be read is refused with `schema.unreadable_file`, naming it.
    @Test func unreadableSchemaFileIsRefusedWithItsPath() throws {
        let directory = try TemporaryDirectory(prefix: "schema")
        for path in [directory.file("absent.json"), directory.path] {
            let error = expectModelError("schema.unreadable_file") { _ = try FeatureSchema.load(path: path) }
            #expect(error?.message.contains("cannot read the schema file") == true)
            #expect(error?.message.contains(path) == true, "names the file: \(String(describing: error))")
        }
    }

    /// Reference data whose column for a numeric feature holds no usable value (all empty) cannot
    /// give that feature a median: `data.no_values`, naming the column and the file.
    @Test func referenceColumnWithoutValuesIsRefused() throws {
        let directory = try TemporaryDirectory(prefix: "schema")
        let lines = try String(contentsOfFile: Repository.wdbcCSV, encoding: .utf8)
            .split(whereSeparator: \.isNewline).prefix(6)
        let blanked = lines.enumerated().map { index, line -> String in
            guard index > 0 else { return String(line) }
            var cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            cells[0] = ""  // mean_radius
            return cells.joined(separator: ",")
        }
        let path = try directory.write("reference.csv", blanked.joined(separator: "\n") + "\n")
        let schema = try FeatureSchema.load(path: Repository.wdbcSchema)
        let table = try CSVTable.read(path: path)
        let error = expectModelError("data.no_values") { _ = try schema.withReferenceStatistics(from: table) }
        #expect(error?.message.contains("reference column 'mean_radius' has no valid value (all 5 empty") == true)
        #expect(error?.message.contains("check the column holds values the schema accepts") == true)
        #expect(error?.location?.file == path)
    }
}
