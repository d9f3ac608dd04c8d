import Foundation
import Testing

/// `cohort budget` end to end, through the built binary. Expected values are dp_accounting 0.6.0's
/// (rows of Tests/CohortPrivacyTests/Fixtures/accountant_reference.csv and planner_reference.csv).
@Suite struct BudgetCommandTests {
    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func epsilonAsJSON() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "epsilon", "--sampling-rate", "0.1", "--noise-multiplier", "1.0",
            "--rounds", "100", "--delta", "1e-5", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try json(result.stdout)
        let epsilon = try #require(object["epsilon"] as? Double)
        #expect(abs(epsilon - 7.903850223578231) / 7.903850223578231 <= 1e-6)
        #expect(object["order"] as? Double == 3.2)
        #expect(object["delta"] as? Double == 1e-5)
    }

    @Test func epsilonAsText() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "epsilon", "--sampling-rate", "1", "--noise-multiplier", "2",
            "--rounds", "1", "--delta", "1e-5",
        ])
        #expect(result.status == 0)
        #expect(result.stdout.contains("ε = 2.16571565902944"))
        #expect(result.stdout.contains("order 9.6"))
    }

    @Test func planAsJSON() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "plan", "--target-epsilon", "3", "--delta", "1e-5", "--sampling-rate", "0.1",
            "--rounds", "1000", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try json(result.stdout)
        let sigma = try #require(object["noise_multiplier"] as? Double)
        #expect(abs(sigma - 4.825759) <= 1e-3)
        #expect(try #require(object["epsilon"] as? Double) <= 3)
    }

    /// Each rejected argument: non-zero exit, a message naming the problem, no NaN on stdout.
    @Test(arguments: [
        (["--sampling-rate", "0", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1e-5"], "privacy.invalid_sampling_rate"),
        (["--sampling-rate", "1.5", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1e-5"], "privacy.invalid_sampling_rate"),
        (["--sampling-rate", "nan", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1e-5"], "privacy.invalid_sampling_rate"),
        (["--sampling-rate", "0.1", "--noise-multiplier", "0", "--rounds", "10", "--delta", "1e-5"], "privacy.invalid_noise_multiplier"),
        (["--sampling-rate", "0.1", "--noise-multiplier", "-2", "--rounds", "10", "--delta", "1e-5"], "privacy.invalid_noise_multiplier"),
        (["--sampling-rate", "0.1", "--noise-multiplier", "nan", "--rounds", "10", "--delta", "1e-5"], "privacy.invalid_noise_multiplier"),
        (["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "0", "--delta", "1e-5"], "privacy.invalid_rounds"),
        (["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1"], "privacy.invalid_delta"),
        (["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "10", "--delta", "0"], "privacy.invalid_delta"),
        (["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "10", "--delta", "nan"], "privacy.invalid_delta"),
    ])
    func epsilonRejects(arguments: [String], code: String) throws {
        let result = try BuiltBinary("cohort").run(["budget", "epsilon"] + arguments + ["--json"])
        #expect(result.status == 2)
        #expect(result.stderr.contains(code))
        let object = try json(result.stdout)
        #expect(object["error"] as? String == code)
        #expect(!result.stdout.lowercased().contains("nan,"))
    }

    @Test func planRejectsUnreachableTarget() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "plan", "--target-epsilon", "0.0001", "--delta", "1e-5", "--sampling-rate", "1", "--rounds", "100000",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("privacy.target_unreachable"))
        #expect(result.stderr.contains("raise the target"))
    }

    @Test func malformedNumberIsAUsageError() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "epsilon", "--sampling-rate", "abc", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1e-5",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--sampling-rate"))
    }
}
