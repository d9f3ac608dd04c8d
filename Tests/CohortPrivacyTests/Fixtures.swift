import Foundation

/// Reads a CSV fixture shipped with the tests (header row, comma-separated, no quoting).
func fixtureRows(_ name: String) throws -> [[String: String]] {
    guard let url = Bundle.module.url(forResource: name, withExtension: "csv", subdirectory: "Fixtures") else {
        throw FixtureError(message: "fixture \(name).csv is missing from Tests/CohortPrivacyTests/Fixtures")
    }
    let lines = try String(contentsOf: url, encoding: .utf8).split(whereSeparator: \.isNewline)
    let header = lines[0].split(separator: ",").map(String.init)
    return lines.dropFirst().map { line in
        Dictionary(
            uniqueKeysWithValues: zip(
                header, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
    }
}

struct FixtureError: Error { let message: String }

extension Dictionary where Key == String, Value == String {
    func double(_ key: String) -> Double { Double(self[key]!)! }
    func int(_ key: String) -> Int { Int(self[key]!)! }
}

func relativeError(_ actual: Double, _ expected: Double) -> Double {
    if actual == expected { return 0 }
    return abs(actual - expected) / max(abs(expected), 1e-300)
}
