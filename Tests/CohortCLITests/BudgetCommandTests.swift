import Foundation
import Testing

/// `cohort budget` end to end, through the built binary. Expected values are dp_accounting 0.6.0's:
/// `--mechanism continuous` against rows of Tests/CohortPrivacyTests/Fixtures/accountant_reference.csv
/// and planner_reference.csv; `--mechanism discrete` (the default) against
/// lemma_planner_reference.csv (Scripts/reference/make_lemma_reference.py).
@Suite struct BudgetCommandTests {
    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func epsilonAsJSON() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "epsilon", "--sampling-rate", "0.1", "--noise-multiplier", "1.0",
            "--rounds", "100", "--delta", "1e-5", "--mechanism", "continuous", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try json(result.stdout)
        let epsilon = try #require(object["epsilon"] as? Double)
        #expect(abs(epsilon - 7.903850223578231) / 7.903850223578231 <= 1e-6)
        #expect(object["order"] as? Double == 3.2)
        #expect(object["delta"] as? Double == 1e-5)
        #expect(object["mechanism"] as? String == "continuous")
        #expect(object["charge_method"] == nil)
    }

    @Test func epsilonAsText() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "epsilon", "--sampling-rate", "1", "--noise-multiplier", "2",
            "--rounds", "1", "--delta", "1e-5", "--mechanism", "continuous",
        ])
        #expect(result.status == 0)
        #expect(result.stdout.contains("ε = 2.16571565902944"))
        #expect(result.stdout.contains("order 9.6"))
    }

    @Test func planAsJSON() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "plan", "--target-epsilon", "3", "--delta", "1e-5", "--sampling-rate", "0.1",
            "--rounds", "1000", "--mechanism", "continuous", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try json(result.stdout)
        let sigma = try #require(object["noise_multiplier"] as? Double)
        #expect(abs(sigma - 4.825759) <= 1e-3)
        #expect(try #require(object["epsilon"] as? Double) <= 3)
    }

    /// The acceptance figures: the demo plan (q 0.2) and the credit plan (q 0.1), 50 rounds,
    /// δ 1e-5, under what the coordinator charges (the default mechanism).
    @Test(arguments: [("0.2", "3", 2.4098), ("0.2", "1", 5.9784), ("0.1", "3", 1.4547), ("0.1", "1", 3.1848)])
    func discretePlanMatchesLemmaReference(samplingRate: String, target: String, expected: Double) throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "plan", "--target-epsilon", target, "--delta", "1e-5", "--sampling-rate", samplingRate,
            "--rounds", "50", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try json(result.stdout)
        let sigma = try #require(object["noise_multiplier"] as? Double)
        #expect(abs(sigma - expected) <= 5e-4, "got \(sigma)")
        #expect(try #require(object["epsilon"] as? Double) <= Double(target)!)
        #expect(object["mechanism"] as? String == "discrete")
        #expect(object["charge_method"] as? String == "mtz-integer-add-symmetric-v2")
    }

    /// `epsilon --mechanism discrete` is the v2 charge: at σ = 2.40975 (the reference plan for
    /// ε = 3, 2.409747, rounded up) it gives ε just under 3 at an integer order, above the
    /// continuous reference.
    @Test func discreteEpsilonIsTheCharge() throws {
        let arguments = [
            "budget", "epsilon", "--sampling-rate", "0.2", "--noise-multiplier", "2.40975", "--rounds", "50", "--delta",
            "1e-5", "--json",
        ]
        let discrete = try json(try BuiltBinary("cohort").run(arguments).stdout)
        let continuous = try json(try BuiltBinary("cohort").run(arguments + ["--mechanism", "continuous"]).stdout)
        let charged = try #require(discrete["epsilon"] as? Double)
        let order = try #require(discrete["order"] as? Double)
        #expect(charged <= 3 && charged > 2.9999)
        #expect(order.rounded() == order)
        #expect(try #require(continuous["epsilon"] as? Double) <= charged)
    }

    @Test func unknownMechanismIsAUsageError() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "plan", "--target-epsilon", "3", "--delta", "1e-5", "--sampling-rate", "0.2", "--rounds", "50",
            "--mechanism", "gaussian",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--mechanism"))
        #expect(result.stderr.contains("discrete"))
    }

    /// Each rejected argument: non-zero exit, a message naming the problem, no NaN on stdout.
    @Test(arguments: [
        (
            ["--sampling-rate", "0", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1e-5"],
            "privacy.invalid_sampling_rate"
        ),
        (
            ["--sampling-rate", "1.5", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1e-5"],
            "privacy.invalid_sampling_rate"
        ),
        (
            ["--sampling-rate", "nan", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1e-5"],
            "privacy.invalid_sampling_rate"
        ),
        (
            ["--sampling-rate", "0.1", "--noise-multiplier", "0", "--rounds", "10", "--delta", "1e-5"],
            "privacy.invalid_noise_multiplier"
        ),
        (
            ["--sampling-rate", "0.1", "--noise-multiplier", "-2", "--rounds", "10", "--delta", "1e-5"],
            "privacy.invalid_noise_multiplier"
        ),
        (
            ["--sampling-rate", "0.1", "--noise-multiplier", "nan", "--rounds", "10", "--delta", "1e-5"],
            "privacy.invalid_noise_multiplier"
        ),
        (
            ["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "0", "--delta", "1e-5"],
            "privacy.invalid_rounds"
        ),
        (
            ["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "10", "--delta", "1"],
            "privacy.invalid_delta"
        ),
        (
            ["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "10", "--delta", "0"],
            "privacy.invalid_delta"
        ),
        (
            ["--sampling-rate", "0.1", "--noise-multiplier", "1", "--rounds", "10", "--delta", "nan"],
            "privacy.invalid_delta"
        ),
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
            "budget", "plan", "--target-epsilon", "0.0001", "--delta", "1e-5", "--sampling-rate", "1", "--rounds",
            "100000",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("privacy.target_unreachable"))
        #expect(result.stderr.contains("raise the target"))
    }

    @Test func malformedNumberIsAUsageError() throws {
        let result = try BuiltBinary("cohort").run([
            "budget", "epsilon", "--sampling-rate", "abc", "--noise-multiplier", "1", "--rounds", "10", "--delta",
            "1e-5",
        ])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--sampling-rate"))
    }
}
