import ArgumentParser
import CohortPrivacy

/// `cohort budget`: privacy-budget arithmetic for the Poisson-subsampled Gaussian mechanism.
struct BudgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget",
        abstract: "Compute ε for a training plan, or plan the noise for a target ε.",
        discussion: """
            Values equal those of Google's dp_accounting 0.6.0 RdpAccountant (default RDP orders) \
            for the continuous Gaussian; the coordinator's ledger records what it actually charged.
            """,
        subcommands: [Epsilon.self, Plan.self, Status.self]
    )

    struct Epsilon: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "ε after T rounds with sampling rate q and noise multiplier σ, at δ."
        )

        @Option(parsing: .unconditional, help: "Poisson sampling rate q, in (0, 1].")
        var samplingRate: Double
        @Option(parsing: .unconditional, help: "Noise multiplier σ (noise standard deviation / L2 sensitivity), > 0.")
        var noiseMultiplier: Double
        @Option(parsing: .unconditional, help: "Number of rounds T, ≥ 1.")
        var rounds: Int
        @Option(parsing: .unconditional, help: "δ, in (0, 1).")
        var delta: Double
        @Flag(help: "Print one JSON object: {\"epsilon\", \"delta\", \"order\"}.")
        var json = false

        struct Output: Encodable {
            let epsilon: Double
            let delta: Double
            let order: Double
        }

        func run() throws {
            try reportingFailures(json: json) {
                let result: EpsilonResult
                do throws(PrivacyError) {
                    let mechanism = try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
                    result = try PrivacyCalculator.epsilon(mechanism: mechanism, rounds: rounds, delta: delta)
                } catch {
                    throw CommandFailure(code: error.code, message: error.message)
                }
                if json {
                    try CLIOutput.printJSON(Output(epsilon: result.epsilon, delta: delta, order: result.order))
                } else {
                    print("ε = \(result.epsilon) at δ = \(delta) after \(rounds) rounds "
                        + "(q = \(samplingRate), σ = \(noiseMultiplier)); optimal RDP order \(result.order)")
                }
            }
        }
    }

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The smallest noise multiplier σ keeping ε ≤ the target over T rounds."
        )

        @Option(parsing: .unconditional, help: "Target ε, > 0.")
        var targetEpsilon: Double
        @Option(parsing: .unconditional, help: "δ, in (0, 1).")
        var delta: Double
        @Option(parsing: .unconditional, help: "Poisson sampling rate q, in (0, 1].")
        var samplingRate: Double
        @Option(parsing: .unconditional, help: "Number of rounds T, ≥ 1.")
        var rounds: Int
        @Flag(help: "Print one JSON object: {\"noise_multiplier\", \"epsilon\"}.")
        var json = false

        struct Output: Encodable {
            let noiseMultiplier: Double
            let epsilon: Double

            enum CodingKeys: String, CodingKey {
                case noiseMultiplier = "noise_multiplier"
                case epsilon
            }
        }

        func run() throws {
            try reportingFailures(json: json) {
                let plan: NoisePlan
                do throws(PrivacyError) {
                    plan = try PrivacyCalculator.noiseMultiplier(
                        targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, rounds: rounds
                    )
                } catch {
                    throw CommandFailure(code: error.code, message: error.message)
                }
                if json {
                    try CLIOutput.printJSON(Output(noiseMultiplier: plan.noiseMultiplier, epsilon: plan.epsilon))
                } else {
                    print("σ = \(plan.noiseMultiplier) keeps ε = \(plan.epsilon) ≤ \(targetEpsilon) at δ = \(delta) "
                        + "over \(rounds) rounds with q = \(samplingRate)")
                }
            }
        }
    }
}
