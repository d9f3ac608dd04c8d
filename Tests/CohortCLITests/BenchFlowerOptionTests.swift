import Foundation
import Testing

/// `cohort-bench round --flower-clients-per-process K` and the script option it passes
/// (`Scripts/reference/flower_round.py --clients-per-process K`): a count outside what they
/// accept is refused before anything starts, with the range that is allowed.
@Suite struct BenchFlowerOptionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test(arguments: ["0", "-1", "257"])
    func benchRefusesAClientCountOutsideItsRange(value: String) throws {
        let result = try BuiltBinary("cohort-bench").run([
            "round", "--participants", "2", "--parameters", "10", "--flower-clients-per-process=\(value)",
        ])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("--flower-clients-per-process must lie in 1…256"), "\(result.stderr)")
    }

    @Test func benchRefusesANonNumericClientCount() throws {
        let result = try BuiltBinary("cohort-bench").run(["round", "--flower-clients-per-process", "many"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("flower-clients-per-process"), "\(result.stderr)")
    }

    /// The script checks its arguments before it imports flwr, so this needs python3 only
    /// (Scripts/test.sh requires it).
    @Test(arguments: ["0", "-3"])
    func scriptRefusesAClientCountBelowOne(value: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Self.root + "/Scripts/reference/flower_round.py", "--clients-per-process=\(value)",
        ]
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2, "\(stderr)")
        #expect(stderr.contains("--clients-per-process must be >= 1 (got \(value))"), "\(stderr)")
    }
}
