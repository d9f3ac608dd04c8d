import CohortTesting
import Foundation
import Testing

@testable import CohortModel

/// Validation of tables against a schema: every rejection has its code and location, every
/// tolerated problem is counted in the attestation.
@Suite struct SchemaValidationTests {
    /// A small schema exercising every option.
    static func schema(
        outOfRange: OutOfRangePolicy = .reject, unknown: UnknownCategoryPolicy = .reject
    ) -> FeatureSchema {
        FeatureSchema(
            name: "toy",
            label: LabelSpecification(column: "y", positiveClass: "yes", negativeClass: "no"),
            numeric: [
                NumericFeature(
                    name: "age", range: ValueRange(min: 18, max: 100), outOfRange: outOfRange,
                    imputation: NumericImputation(strategy: .median, value: 40),
                    scaling: Scaling(mean: 40, standardDeviation: 10)),
                NumericFeature(name: "income", imputation: NumericImputation(strategy: .constant, value: 0)),
            ],
            categorical: [
                CategoricalFeature(
                    name: "home", categories: ["own", "rent"],
                    imputation: CategoricalImputation(strategy: .missingCategory), unknownCategory: unknown),
                CategoricalFeature(
                    name: "job", categories: ["a", "b", "c"],
                    imputation: CategoricalImputation(strategy: .mostFrequent, value: "b")),
            ]
        )
    }

    static func table(_ text: String) throws -> CSVTable { try CSVReader.parse(text: text, source: "silo.csv") }

    @Test func encodesInFixedOrderWithImputationAndScaling() throws {
        let prepared = try Self.schema().prepare(
            Self.table(
                """
                y,job,extra,home,income,age
                yes,c,zz,rent,10.5,50
                no,,zz,,,
                no, a ,,own,2,18

                """))
        let data = prepared.dataset
        #expect(
            data.featureNames == [
                "age", "income", "home=own", "home=rent", "home=<missing>", "job=a", "job=b", "job=c",
            ])
        #expect(Array(data.row(0)) == [1, 10.5, 0, 1, 0, 0, 0, 1])
        #expect(Array(data.row(1)) == [0, 0, 0, 0, 1, 0, 1, 0])  // age imputed 40 → 0 after scaling
        #expect(Array(data.row(2)) == [-2.2, 2, 1, 0, 0, 1, 0, 0])
        #expect(data.labels == [1, 0, 0])
        let attestation = prepared.attestation
        #expect(attestation.rows == 3)
        #expect(attestation.columnsMatched == 5)
        #expect(attestation.extraColumns == ["extra"])
        #expect(attestation.column("age")?.missing == 1)
        #expect(attestation.column("job")?.missing == 1)
        #expect(attestation.column("home")?.missingRate == 1.0 / 3)
        #expect(attestation.overallMissingRate == 4.0 / 15)
        #expect(attestation.labelCounts == LabelCounts(positive: 1, negative: 2))
        #expect(attestation.schemaDigest == (try Self.schema().digest()))
    }

    @Test func missingColumnsAreNamedTogether() {
        let error = expectModelError("schema.missing_column") {
            _ = try Self.schema().prepare(Self.table("y,age,home\nyes,20,own\n"))
        }
        #expect(error?.location == FileLocation(file: "silo.csv", line: 1))
        #expect(error?.message.contains("'income', 'job'") == true)
    }

    @Test func nonNumericAndNonFiniteValues() {
        for bad in ["abc", "nan", "inf", "1,5"] {
            let cell = bad.contains(",") ? "\"\(bad)\"" : bad
            let error = expectModelError("data.non_numeric_value") {
                _ = try Self.schema().prepare(Self.table("y,age,income,home,job\nno,30,1,own,a\nyes,\(cell),1,own,a\n"))
            }
            #expect(error?.location == FileLocation(file: "silo.csv", line: 3, column: 2, columnName: "age"))
            // The offending value itself is never echoed.
            #expect(error?.message.contains(bad) == false)
        }
    }

    @Test func outOfRangeRejectedOrCounted() throws {
        let text = "y,age,income,home,job\nno,30,1,own,a\nyes,120,1,own,a\nno,5,1,own,a\n"
        let error = expectModelError("data.out_of_range") { _ = try Self.schema().prepare(Self.table(text)) }
        #expect(error?.location == FileLocation(file: "silo.csv", line: 3, column: 2, columnName: "age"))
        #expect(error?.message.contains("[18.0, 100.0]") == true)

        let clamped = try Self.schema(outOfRange: .clamp).prepare(Self.table(text))
        #expect(clamped.attestation.outOfRangeCount == 2)
        #expect(clamped.attestation.column("age")?.outOfRange == 2)
        #expect(clamped.dataset.row(1).first == 6)  // (100 − 40) / 10
        #expect(clamped.dataset.row(2).first == -2.2)  // (18 − 40) / 10

        let imputed = try Self.schema(outOfRange: .impute).prepare(Self.table(text))
        #expect(imputed.attestation.outOfRangeCount == 2)
        #expect(imputed.dataset.row(1).first == 0)
    }

    @Test func unknownCategoryRejectedOrImputed() throws {
        let text = "y,age,income,home,job\nno,30,1,own,a\nyes,30,1,Own,a\n"
        let error = expectModelError("data.unknown_category") { _ = try Self.schema().prepare(Self.table(text)) }
        #expect(error?.location == FileLocation(file: "silo.csv", line: 3, column: 4, columnName: "home"))
        let imputed = try Self.schema(unknown: .impute).prepare(Self.table(text))
        #expect(imputed.attestation.unknownCategoryCount == 1)
        #expect(imputed.attestation.column("home")?.unknownCategory == 1)
        #expect(Array(imputed.dataset.row(1)).dropFirst(2).prefix(3) == [0, 0, 1])  // the <missing> indicator
    }

    @Test func labelProblems() {
        let missing = expectModelError("data.missing_label") {
            _ = try Self.schema().prepare(Self.table("y,age,income,home,job\nno,30,1,own,a\n,30,1,own,a\n"))
        }
        #expect(missing?.location == FileLocation(file: "silo.csv", line: 3, column: 1, columnName: "y"))
        let unknown = expectModelError("data.unknown_label") {
            _ = try Self.schema().prepare(Self.table("y,age,income,home,job\nYes,30,1,own,a\n"))
        }
        #expect(unknown?.location?.line == 2)
    }

    @Test func invalidSchemasNameTheField() {
        var schema = Self.schema()
        schema.numeric[0].scaling = Scaling(mean: 0, standardDeviation: 0)
        let deviation = expectModelError("schema.invalid") { try schema.validate() }
        #expect(deviation?.message.contains("numeric[0].scaling.standard_deviation") == true)

        schema = Self.schema()
        schema.categorical[1].imputation = CategoricalImputation(strategy: .constant, value: "z")
        let imputation = expectModelError("schema.invalid") { try schema.validate() }
        #expect(imputation?.message.contains("categorical[1].imputation.value") == true)

        schema = Self.schema()
        schema.categorical[0].name = "age"
        _ = expectModelError("schema.invalid") { try schema.validate() }

        schema = Self.schema()
        schema.numeric[0].imputation.value = 10  // below the range's min of 18
        _ = expectModelError("schema.invalid") { try schema.validate() }

        schema = Self.schema()
        schema.version = 2
        _ = expectModelError("schema.unsupported_version") { try schema.validate() }
    }

    @Test func jsonDefaultsAndErrors() throws {
        // Optional keys (range, scaling, policies, categorical) may be left out, as in a YAML policy.
        let minimal = """
            {"version": 1, "name": "m", "label": {"column": "y", "positive_class": "1", "negative_class": "0"},
             "numeric": [{"name": "x", "imputation": {"strategy": "mean", "value": 0.5}}]}
            """
        let schema = try FeatureSchema.decode(json: Array(minimal.utf8))
        #expect(schema.numeric[0].outOfRange == .reject)
        #expect(schema.categorical.isEmpty)
        let back = try FeatureSchema.decode(json: schema.canonicalJSON())
        #expect(back == schema)

        let missingField = expectModelError("schema.invalid_json") {
            _ = try FeatureSchema.decode(
                json: Array(#"{"version": 1, "name": "m", "label": {"column": "y"}}"#.utf8), source: "p.json")
        }
        #expect(missingField?.message.contains("positive_class") == true)
        #expect(missingField?.message.hasPrefix("p.json") == true)
    }

    @Test func digestDependsOnContent() throws {
        let a = try Self.schema().digest()
        var changed = Self.schema()
        changed.numeric[0].scaling = Scaling(mean: 41, standardDeviation: 10)
        #expect(a.count == 64)
        #expect(a == (try Self.schema().digest()))
        #expect(a != (try changed.digest()))
    }

    @Test func requirementsGate() throws {
        let prepared = try Self.schema().prepare(Self.table("y,age,income,home,job\nyes,30,,own,a\nno,30,1,own,a\n"))
        #expect(prepared.attestation.violations(of: DataQualityRequirements()).isEmpty)
        let strict = DataQualityRequirements(minimumRows: 10, maximumColumnMissingRate: 0.2)
        #expect(prepared.attestation.violations(of: strict).count == 2)
        let json = try JSONEncoder().encode(prepared.attestation)
        #expect(try JSONDecoder().decode(DataQualityAttestation.self, from: json) == prepared.attestation)
    }

    @Test func creditAttestationMatchesKnownMissingCounts() throws {
        let prepared = try Datasets.creditSchema.prepare(csvPath: Repository.creditCSV)
        let attestation = prepared.attestation
        #expect(attestation.rows == 4454)
        let expected = ["Income": 381, "Assets": 47, "Debt": 18, "Home": 6, "Job": 2, "Marital": 1]
        for column in attestation.columns {
            #expect(column.missing == expected[column.name, default: 0], "column \(column.name)")
        }
        #expect(attestation.overallMissingRate == 455.0 / (4454 * 14))
        #expect(attestation.labelCounts == LabelCounts(positive: 1254, negative: 3200))
        #expect(attestation.outOfRangeCount == 0)
        #expect(attestation.extraColumns.isEmpty)
        #expect(prepared.dataset.dimension == 9 + 7 + 5 + 2 + 4)
    }

    @Test func wdbcAttestation() throws {
        let prepared = try Datasets.wdbcSchema.prepare(csvPath: Repository.wdbcCSV)
        #expect(prepared.attestation.labelCounts == LabelCounts(positive: 212, negative: 357))
        #expect(prepared.attestation.overallMissingRate == 0)
        #expect(prepared.dataset.dimension == 30)
        // Scaled with the full set's own statistics, each feature has mean ≈ 0 and variance ≈ 1.
        for j in 0..<30 {
            let data = prepared.dataset
            let column = (0..<data.count).map { Double(data.features[$0 * data.dimension + j]) }
            let mean = column.reduce(0, +) / Double(column.count)
            let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(column.count)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-4)
        }
    }
}
