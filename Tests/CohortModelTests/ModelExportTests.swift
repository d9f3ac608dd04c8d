import CohortTesting
import Foundation
import Testing

@testable import CohortModel

/// A model export scores the shipped data the same in Swift and in the Python snippet of
/// docs/MODEL.md (run as documented, with numpy + safetensors, which Scripts/test.sh installs).
@Suite("Model export", .serialized)
struct ModelExportTests {
    /// A logistic regression fitted (plain gradient descent, no privacy: only its scores matter
    /// here) and checkpointed as the coordinator does, with optimizer state.
    static func checkpoint(schema: FeatureSchema, csv: String, round: Int) throws -> SafetensorsFile {
        let data = try schema.prepare(csvPath: csv).dataset
        var model = LogisticRegression(featureCount: schema.encodedDimension)
        for _ in 0..<60 {
            let gradient = try model.lossAndGradient(data, l2: 1e-3).gradient
            model = try LogisticRegression(
                parameters: zip(model.parameters, gradient).map { Float(Double($0) - 0.5 * $1) })
        }
        let optimizer = try ServerOptimizer(
            learningRate: 1, momentum: 0.5, weightDecay: 0,
            velocity: [Float](repeating: 0.25, count: model.parameters.count))
        return try ModelCheckpoint(
            round: round, model: ModelParameters(parameters: model.parameters), optimizer: optimizer,
            schemaDigest: schema.digest()
        )
        .safetensors()
    }

    /// The fenced Python block between the export-snippet markers of docs/MODEL.md.
    static func documentedSnippet() throws -> String {
        let text = try String(contentsOfFile: Repository.path("docs/MODEL.md"), encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- export-snippet:begin -->\n```python\n"))
        let end = try #require(
            text.range(of: "```\n<!-- export-snippet:end -->", range: begin.upperBound..<text.endIndex))
        return String(text[begin.upperBound..<end.lowerBound])
    }

    /// Runs `python3 script args…`; fails the test loudly when python3, numpy or safetensors is missing.
    static func runPython(script: String, arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let message = String(decoding: stderr, as: UTF8.self)
        if message.contains("No module named") {
            Issue.record(
                "the documented snippet needs python3 with numpy and safetensors; run Scripts/test.sh, which installs them: \(message)"
            )
        }
        #expect(process.terminationStatus == 0, "python3 failed: \(message)")
        return String(decoding: stdout, as: UTF8.self)
    }

    @Test(arguments: [
        ("wdbc", Repository.wdbcSchema, Repository.wdbcCSV), ("credit", Repository.creditSchema, Repository.creditCSV),
    ])
    func exportedModelScoresTheShippedDataIdenticallyInSwiftAndInTheDocumentedPython(
        name: String, schemaPath: String, csv: String
    ) throws {
        let directory = try TemporaryDirectory()
        let schema = try FeatureSchema.load(path: schemaPath)
        let checkpoint = try Self.checkpoint(schema: schema, csv: csv, round: 7)
        let export = try ModelExport(
            checkpoint: checkpoint, checkpointSHA256: String(repeating: "ab", count: 32), approved: true, schema: schema
        )
        let path = try directory.write("\(name).safetensors", bytes: try export.safetensors().encoded())

        // What a hospital receives: the file alone.
        let file = try SafetensorsFile.read(path: path)
        #expect(file.tensors.map(\.name) == ["weight", "bias"])  // no optimizer state
        #expect(file.tensor(named: "weight")?.shape == [1, schema.encodedDimension])
        #expect(file.tensor(named: "bias")?.shape == [1])
        #expect(file.metadata["cohort.round"] == "7")
        #expect(file.metadata["cohort.approved"] == "true")
        #expect(file.metadata["cohort.model_kind"] == "logistic_regression")
        let loaded = try ModelExport(safetensors: file, source: path)
        #expect(loaded.schema == schema)
        let features = try JSONDecoder().decode(
            [String].self, from: Data(try #require(file.metadata["cohort.encoded_features"]).utf8))
        #expect(features == schema.encodedFeatureNames)

        let swift = try loaded.probabilities(try loaded.schema.prepare(csvPath: csv).dataset)
        let script = try directory.write("score.py", try Self.documentedSnippet())
        let python = try Self.runPython(script: script, arguments: [path, csv]).split(separator: "\n").map {
            Double($0)
        }
        try #require(python.count == swift.count, "python scored \(python.count) rows, Swift \(swift.count)")
        var worst = 0.0
        for (index, value) in python.enumerated() {
            let score = try #require(value, "python printed a non-number on row \(index + 1)")
            worst = max(worst, abs(score - swift[index]))
        }
        #expect(worst <= 1e-6, "largest difference \(worst)")
        // The scores are not trivially equal: the model separates the classes.
        #expect(Set(swift.map { $0 > 0.5 }).count == 2)
    }

    @Test func exportRefusesAnotherSchemaAndReadsOnlyExports() throws {
        let wdbc = try FeatureSchema.load(path: Repository.wdbcSchema)
        let credit = try FeatureSchema.load(path: Repository.creditSchema)
        let checkpoint = try Self.checkpoint(schema: wdbc, csv: Repository.wdbcCSV, round: 2)
        do {
            _ = try ModelExport(checkpoint: checkpoint, checkpointSHA256: "00", approved: false, schema: credit)
            Issue.record("a checkpoint of another schema was exported")
        } catch {
            #expect(error.code == "export.schema_mismatch")
        }
        // A checkpoint is not an export.
        do {
            _ = try ModelExport(safetensors: checkpoint, source: "round-000002.safetensors")
            Issue.record("a checkpoint was read as an export")
        } catch {
            #expect(error.code == "export.invalid_file")
            #expect(error.message.contains("round-000002.safetensors"))
        }
        // An export whose embedded schema was edited after the fact.
        var file = try ModelExport(checkpoint: checkpoint, checkpointSHA256: "00", approved: false, schema: wdbc)
            .safetensors()
        file.metadata["cohort.schema"] = String(decoding: try credit.canonicalJSON(), as: UTF8.self)
        do {
            _ = try ModelExport(safetensors: file)
            Issue.record("an export with a replaced schema was accepted")
        } catch {
            #expect(error.code == "export.invalid_file")
        }
        // An unknown kind is named, not scored as logistic regression.
        var other = try ModelExport(checkpoint: checkpoint, checkpointSHA256: "00", approved: false, schema: wdbc)
        other.modelKind = "gradient_boosting"
        do {
            _ = try other.scoringModel()
            Issue.record("an unknown kind was scored")
        } catch {
            #expect(error.code == "export.unsupported_kind")
        }
    }

    /// An export file scores only records of its own width: records encoded with another schema,
    /// and a file whose weight no longer fits its embedded schema, are refused with
    /// `export.dimension_mismatch` naming both sizes, and the file on disk is left as it was.
    @Test func exportRefusesRecordsAndWeightsOfAnotherWidth() throws {
        let wdbc = try FeatureSchema.load(path: Repository.wdbcSchema)
        let credit = try FeatureSchema.load(path: Repository.creditSchema)
        #expect(wdbc.encodedDimension != credit.encodedDimension)
        let directory = try TemporaryDirectory(prefix: "export")
        let export = try ModelExport(
            checkpoint: Self.checkpoint(schema: wdbc, csv: Repository.wdbcCSV, round: 2), checkpointSHA256: "00",
            approved: true, schema: wdbc)
        let path = try directory.write("model.safetensors", bytes: export.safetensors().encoded())
        func load(_ path: String) throws -> ModelExport {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            return try ModelExport(safetensors: SafetensorsFile.decode(bytes, source: path), source: path)
        }
        let loaded = try load(path)
        let creditRecords = try credit.prepare(csvPath: Repository.creditCSV).dataset
        do {
            _ = try loaded.probabilities(creditRecords)
            Issue.record("records of another schema were scored")
        } catch {
            #expect(error.code == "export.dimension_mismatch")
            #expect(
                error.message.contains(
                    "the records have \(credit.encodedDimension) encoded features, the model takes \(wdbc.encodedDimension)"
                ))
            #expect(error.message.contains("encode them with the schema embedded in the export"))
        }
        // Its own schema's records score.
        #expect(try loaded.probabilities(wdbc.prepare(csvPath: Repository.wdbcCSV).dataset).count == 569)

        // The file edited: the weight cut to 20 values (still a valid safetensors file and export).
        var file = try export.safetensors()
        let weight = try #require(file.tensors.firstIndex { $0.name == "weight" })
        file.tensors[weight].tensor = Tensor(vector: Array(file.tensors[weight].tensor.values.prefix(20)))
        let cutPath = try directory.write("cut.safetensors", bytes: file.encoded())
        let cutBytes = try Data(contentsOf: URL(fileURLWithPath: cutPath))
        let cut = try load(cutPath)
        do {
            _ = try cut.scoringModel()
            Issue.record("a weight of 20 values was scored against a schema of \(wdbc.encodedDimension) features")
        } catch {
            #expect(error.code == "export.dimension_mismatch")
            #expect(error.message.contains("the weight has 20 values, the schema encodes \(wdbc.encodedDimension)"))
            #expect(error.message.contains("write it again with `cohort model export`"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: cutPath)) == cutBytes)
    }

    /// A checkpoint path that exists but cannot be read (here a directory where the file should
    /// be) is refused with `export.checkpoint_unreadable`, naming the path and what to do.
    @Test func unreadableCheckpointIsRefusedWithItsPath() throws {
        let state = try TemporaryDirectory(prefix: "export-state")
        let path = state.path + "/checkpoints/round-000001.safetensors"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        do {
            _ = try ModelExporter.export(
                stateDirectory: state.path, released: [1: String(repeating: "0", count: 64)], approvedRounds: [],
                latestApprovedRound: nil, schema: FeatureSchema.load(path: Repository.wdbcSchema), selection: .round(1))
            Issue.record("an unreadable checkpoint was exported")
        } catch {
            #expect(error.code == "export.checkpoint_unreadable")
            #expect(error.message.hasPrefix("cannot read \(path): "))
            #expect(error.message.hasSuffix("check its permissions, or restore it from backup"))
        }
    }

    @Test func otherLayoutsTravelWithTheirKindAndLayout() throws {
        let schema = try FeatureSchema.load(path: Repository.wdbcSchema)
        let d = schema.encodedDimension
        // A checkpoint in another layout (two named tensors of different shapes) that records its layout only.
        let checkpoint = SafetensorsFile(
            tensors: [
                ("layers.0.weight", try Tensor(shape: [4, d], values: [Float](repeating: 0.1, count: 4 * d))),
                ("layers.0.bias", Tensor(vector: [0, 0, 0, 0])),
                ("velocity", Tensor(vector: [Float](repeating: 0, count: 4 * d + 4))),
            ],
            metadata: [
                "cohort.format": "cohort.checkpoint", "cohort.version": "2", "cohort.round": "3",
                "cohort.schema_digest": try schema.digest(), "cohort.layout": #"{"tensors":[]}"#,
            ]
        )
        do {
            _ = try ModelExport(checkpoint: checkpoint, checkpointSHA256: "00", approved: false, schema: schema)
            Issue.record("a checkpoint without a kind was exported as some kind")
        } catch {
            #expect(error.code == "export.unknown_kind")
        }
        let export = try ModelExport(
            checkpoint: checkpoint, checkpointSHA256: "00", approved: false, schema: schema, modelKind: "mlp")
        let file = try SafetensorsFile.decode(try export.safetensors().encoded())
        #expect(file.tensors.map(\.name) == ["layers.0.weight", "layers.0.bias"])
        #expect(file.metadata["cohort.model_kind"] == "mlp")
        #expect(file.metadata["cohort.layout"] == #"{"tensors":[]}"#)
        let loaded = try ModelExport(safetensors: file)
        #expect(loaded.modelMetadata["cohort.layout"] == #"{"tensors":[]}"#)
    }
}
