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
}
