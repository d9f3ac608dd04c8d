import CohortTesting
import Foundation
import Testing

@testable import CohortModel

@Suite struct SafetensorsTests {
    static func sample() throws -> SafetensorsFile {
        SafetensorsFile(
            tensors: [
                ("weight", try Tensor(shape: [2, 3], values: [1, -2.5, 3e-8, .greatestFiniteMagnitude, -0.0, 42])),
                ("bias", Tensor(vector: [0.125])),
                ("empty", try Tensor(shape: [0, 4], values: [])),
                ("scalar", try Tensor(shape: [], values: [7])),
            ],
            metadata: ["cohort.round": "3", "note": "quote \" backslash \\ newline \n ünï"]
        )
    }

    @Test func roundTripThroughFile() throws {
        let directory = try TemporaryDirectory()
        let file = try Self.sample()
        try file.write(path: directory.file("model.safetensors"))
        let back = try SafetensorsFile.read(path: directory.file("model.safetensors"))
        #expect(back == file)
        let bytes = try file.encoded()
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(bytes.count == 8 + headerLength + 4 * (6 + 1 + 0 + 1))
        // Data is raw little-endian float32: the bias 0.125 = 0x3E000000 follows the 6 weights.
        #expect(Array(bytes[(8 + headerLength + 24)..<(8 + headerLength + 28)]) == [0x00, 0x00, 0x00, 0x3E])
    }

    /// A file with a hand-written header and `data` bytes.
    static func file(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        return bytes + json + data
    }

    @Test func rejectsMalformedFiles() {
        let eight = [UInt8](repeating: 0, count: 8)
        _ = expectModelError("safetensors.truncated") { _ = try SafetensorsFile.decode([1, 2, 3]) }
        _ = expectModelError("safetensors.truncated") {
            _ = try SafetensorsFile.decode([200, 0, 0, 0, 0, 0, 0, 0] + Array("{}".utf8))
        }
        _ = expectModelError("safetensors.header_too_large") {
            _ = try SafetensorsFile.decode([0, 0, 0, 0, 0, 0, 0, 1] + Array("{}".utf8))
        }
        _ = expectModelError("safetensors.invalid_header") {
            _ = try SafetensorsFile.decode(Self.file(header: "[1,2]", data: []))
        }
        _ = expectModelError("safetensors.invalid_header") {
            _ = try SafetensorsFile.decode(Self.file(header: #"{"w": {"dtype": "F32", "shape": [2]}}"#, data: eight))
        }
        let dtype = expectModelError("safetensors.unsupported_dtype") {
            _ = try SafetensorsFile.decode(
                Self.file(
                    header: #"{"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}"#, data: eight),
                source: "x.safetensors")
        }
        #expect(dtype?.message.contains("'w' has dtype F64") == true)
        #expect(dtype?.message.hasPrefix("x.safetensors") == true)
        let size = expectModelError("safetensors.invalid_offsets") {
            _ = try SafetensorsFile.decode(
                Self.file(header: #"{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, data: eight))
        }
        #expect(size?.message.contains("shape [3] but 8 bytes") == true)
        let gap = expectModelError("safetensors.invalid_offsets") {
            _ = try SafetensorsFile.decode(
                Self.file(header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, data: eight))
        }
        #expect(gap?.message.contains("gap") == true)
        let overlap = expectModelError("safetensors.invalid_offsets") {
            _ = try SafetensorsFile.decode(
                Self.file(
                    header:
                        #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#,
                    data: eight))
        }
        #expect(overlap?.message.contains("overlaps") == true)
        _ = expectModelError("safetensors.invalid_offsets") {
            _ = try SafetensorsFile.decode(
                Self.file(header: #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, data: eight))
        }
        _ = expectModelError("safetensors.truncated") {
            _ = try SafetensorsFile.decode(
                Self.file(header: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}"#, data: eight))
        }
        _ = expectModelError("safetensors.shape_mismatch") { _ = try Tensor(shape: [2, 2], values: [1, 2, 3]) }
        _ = expectModelError("safetensors.duplicate_name") {
            _ = try SafetensorsFile(tensors: [("a", Tensor(vector: [1])), ("a", Tensor(vector: [2]))]).encoded()
        }
    }

    @Test func checkpointRoundTrip() throws {
        var model = try ModelParameters(parameters: [0.5, -1, 2, 0.25])
        var optimizer = try ServerOptimizer(learningRate: 0.5, momentum: 0.9)
        try optimizer.applyNoisedGradientSum([1, 2, 3, 4], expectedBatchSize: 10, to: &model)
        let checkpoint = ModelCheckpoint(round: 7, model: model, optimizer: optimizer, schemaDigest: "abc")
        let directory = try TemporaryDirectory()
        try checkpoint.safetensors().write(path: directory.file("round-7.safetensors"))
        let back = try ModelCheckpoint(safetensors: SafetensorsFile.read(path: directory.file("round-7.safetensors")))
        #expect(back == checkpoint)
        #expect(back.model == model)
        _ = expectModelError("model.invalid_checkpoint") {
            _ = try ModelCheckpoint(safetensors: SafetensorsFile(tensors: [("weight", Tensor(vector: [1]))]))
        }
    }

    // MARK: compatibility with the reference implementation (Python `safetensors`)

    static func python(_ code: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", code] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test func pythonReadsWhatCohortWrites() throws {
        try Python.require(["safetensors", "numpy"])
        let directory = try TemporaryDirectory()
        let path = directory.file("cohort.safetensors")
        try Self.sample().write(path: path)
        let script = """
            import json, sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="np") as f:
                metadata = f.metadata()
            print(json.dumps({"metadata": metadata, "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape),
                "values": [float(x) for x in v.reshape(-1)]} for k, v in tensors.items()}}))
            """
        let (status, output) = try Self.python(script, [path])
        try #require(status == 0, "python failed: \(output)")
        struct Dump: Decodable {
            struct Entry: Decodable {
                let dtype: String
                let shape: [Int]
                let values: [Double]
            }
            let metadata: [String: String]
            let tensors: [String: Entry]
        }
        let dump = try JSONDecoder().decode(Dump.self, from: Data(output.utf8))
        let sample = try Self.sample()
        #expect(dump.metadata == sample.metadata)
        #expect(dump.tensors.count == sample.tensors.count)
        for (name, tensor) in sample.tensors {
            let entry = try #require(dump.tensors[name])
            #expect(entry.dtype == "float32")
            #expect(entry.shape == tensor.shape)
            #expect(entry.values == tensor.values.map(Double.init))
        }
    }

    @Test func cohortReadsWhatPythonWrites() throws {
        try Python.require(["safetensors", "numpy"])
        let directory = try TemporaryDirectory()
        let path = directory.file("python.safetensors")
        let script = """
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({"weight": np.arange(12, dtype=np.float32).reshape(3, 4) / 8 - 0.5,
                       "bias": np.array([-1.5], dtype=np.float32),
                       "zz": np.zeros((0,), dtype=np.float32)},
                      sys.argv[1], metadata={"producer": "python", "round": "2"})
            """
        let (status, output) = try Self.python(script, [path])
        try #require(status == 0, "python failed: \(output)")
        let file = try SafetensorsFile.read(path: path)
        #expect(file.metadata == ["producer": "python", "round": "2"])
        let weight = try #require(file.tensor(named: "weight"))
        #expect(weight.shape == [3, 4])
        #expect(weight.values == (0..<12).map { Float($0) / 8 - 0.5 })
        #expect(file.tensor(named: "bias")?.values == [-1.5])
        #expect(file.tensor(named: "zz")?.shape == [0])

        // A float64 file from Python is refused with advice, not misread.
        let (status64, output64) = try Self.python(
            """
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({"w": np.ones(3)}, sys.argv[1])
            """, [path])
        try #require(status64 == 0, "python failed: \(output64)")
        _ = expectModelError("safetensors.unsupported_dtype") { _ = try SafetensorsFile.read(path: path) }
    }

    /// A tensor that may not be named so is refused before anything is written: the metadata
    /// key, or an empty name. No file (not even a temporary one) is left at the path.
    @Test func reservedOrEmptyTensorNameIsRefusedAndNothingIsWritten() throws {
        let directory = try TemporaryDirectory(prefix: "safetensors")
        for name in ["__metadata__", ""] {
            let file = SafetensorsFile(tensors: [(name, Tensor(vector: [1, 2]))], metadata: [:])
            let path = directory.file("bad.safetensors")
            let error = expectModelError("safetensors.invalid_name") { try file.write(path: path) }
            #expect(error?.message == "a tensor name must be non-empty and not '__metadata__'")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
        }
    }

    /// A checkpoint whose optimizer metadata is out of range (momentum 1.5: the velocity would
    /// grow without bound) is refused with `model.invalid_server_optimizer`, naming the values.
    @Test func checkpointWithAnInvalidServerOptimizerIsRefused() throws {
        let directory = try TemporaryDirectory(prefix: "safetensors")
        var file = try ModelCheckpoint(
            round: 1, model: ModelParameters(parameters: [0.5, -0.25, 0.1]),
            optimizer: ServerOptimizer(learningRate: 1, momentum: 0.5), schemaDigest: String(repeating: "0", count: 64)
        ).safetensors()
        file.metadata["cohort.server_momentum"] = "1.5"
        let path = directory.file("round-000001.safetensors")
        try file.write(path: path)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let error = expectModelError("model.invalid_server_optimizer") {
            _ = try ModelCheckpoint(safetensors: SafetensorsFile.decode(bytes, source: path))
        }
        #expect(error?.message.contains("momentum in [0, 1)") == true)
        #expect(error?.message.contains("got 1.0, 1.5, 0.0") == true, "\(String(describing: error))")
    }

    /// A path that cannot be read or written is refused with its own code and the path; a failed
    /// write leaves nothing at the target.
    @Test func unreadableAndUnwritablePathsAreRefusedWithThePath() throws {
        let directory = try TemporaryDirectory(prefix: "safetensors")
        let absent = directory.file("absent.safetensors")
        let read = expectModelError("safetensors.unreadable_file") { _ = try SafetensorsFile.read(path: absent) }
        #expect(read?.message.hasPrefix("cannot read \(absent): ") == true, "\(String(describing: read))")
        let file = SafetensorsFile(tensors: [("weight", Tensor(vector: [1, 2]))], metadata: [:])
        let target = directory.file("no-such-directory/model.safetensors")
        let write = expectModelError("safetensors.unwritable_file") { try file.write(path: target) }
        #expect(write?.message.hasPrefix("cannot write \(target): ") == true, "\(String(describing: write))")
        #expect(!FileManager.default.fileExists(atPath: target))
        let table = try CSVTable.read(path: Repository.wdbcCSV)
        let csvTarget = directory.file("no-such-directory/data.csv")
        let csv = expectModelError("csv.unwritable_file") { try table.write(path: csvTarget) }
        #expect(csv?.message.hasPrefix("cannot write the CSV file \(csvTarget): ") == true)
        #expect(!FileManager.default.fileExists(atPath: csvTarget))
    }
}
