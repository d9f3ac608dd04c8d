import ArgumentParser
import CohortPrivacy

/// `cohort budget`: privacy-budget arithmetic for the Poisson-subsampled Gaussian mechanism.
struct BudgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budget",
        abstract: "Compute ε for a training plan, or plan the noise for a target ε.",
        discussion: """
            --mechanism discrete (the default) is exactly what the coordinator charges new rounds: \
            the discrete-Gaussian charge mtz-integer-add-symmetric-v2 at the integer RDP orders \
            (docs/PRIVACY.md, "The charge"). --mechanism continuous is the continuous-Gaussian \
            reference, equal to Google's dp_accounting 0.6.0 RdpAccountant (default orders, \
            fractional ones included) to 1e-6 relative.
            """,
        subcommands: [Epsilon.self, Plan.self, Status.self]
    )

    /// Which accountant a budget question is answered with.
    enum Mechanism: String, ExpressibleByArgument, CaseIterable {
        /// The coordinator's charge for new rounds (`ChargeMethod.current`, integer orders).
        case discrete
        /// The continuous-Gaussian reference (`RDPAccountant`, dp_accounting's default orders).
        case continuous

        /// The charge method the answer uses, if any.
        var chargeMethod: String? { self == .discrete ? ChargeMethod.current.rawValue : nil }
    }

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
        @Option(
            help: "discrete (what the coordinator charges, the default) or continuous (the dp_accounting reference).")
        var mechanism: Mechanism = .discrete
        @Flag(help: "Print one JSON object: {\"epsilon\", \"delta\", \"order\", \"mechanism\", \"charge_method\"}.")
        var json = false

        struct Output: Encodable {
            let epsilon: Double
            let delta: Double
            let order: Double
            let mechanism: String
            let chargeMethod: String?

            enum CodingKeys: String, CodingKey {
                case epsilon, delta, order, mechanism
                case chargeMethod = "charge_method"
            }
        }

        func run() throws {
            try reportingFailures(json: json) {
                let result: EpsilonResult
                do throws(PrivacyError) {
                    let mechanism = try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
                    switch self.mechanism {
                    case .discrete:
                        result = try PrivacyCalculator.chargedEpsilon(
                            mechanism: mechanism, rounds: rounds, delta: delta)
                    case .continuous:
                        result = try PrivacyCalculator.epsilon(mechanism: mechanism, rounds: rounds, delta: delta)
                    }
                } catch {
                    throw CommandFailure(code: error.code, message: error.message)
                }
                if json {
                    try CLIOutput.printJSON(
                        Output(
                            epsilon: result.epsilon, delta: delta, order: result.order, mechanism: mechanism.rawValue,
                            chargeMethod: mechanism.chargeMethod))
                } else {
                    print(
                        "ε = \(result.epsilon) at δ = \(delta) after \(rounds) rounds "
                            + "(q = \(samplingRate), σ = \(noiseMultiplier)); optimal RDP order \(result.order); "
                            + (mechanism.chargeMethod.map { "discrete Gaussian, charge method \($0)" }
                                ?? "continuous Gaussian reference"))
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
        @Option(
            help: "discrete (what the coordinator charges, the default) or continuous (the dp_accounting reference).")
        var mechanism: Mechanism = .discrete
        @Flag(help: "Print one JSON object: {\"noise_multiplier\", \"epsilon\", \"mechanism\", \"charge_method\"}.")
        var json = false

        struct Output: Encodable {
            let noiseMultiplier: Double
            let epsilon: Double
            let mechanism: String
            let chargeMethod: String?

            enum CodingKeys: String, CodingKey {
                case noiseMultiplier = "noise_multiplier"
                case epsilon, mechanism
                case chargeMethod = "charge_method"
            }
        }

        func run() throws {
            try reportingFailures(json: json) {
                let plan: NoisePlan
                do throws(PrivacyError) {
                    switch mechanism {
                    case .discrete:
                        plan = try PrivacyCalculator.chargedNoiseMultiplier(
                            targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, rounds: rounds)
                    case .continuous:
                        plan = try PrivacyCalculator.noiseMultiplier(
                            targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, rounds: rounds)
                    }
                } catch {
                    throw CommandFailure(code: error.code, message: error.message)
                }
                if json {
                    try CLIOutput.printJSON(
                        Output(
                            noiseMultiplier: plan.noiseMultiplier, epsilon: plan.epsilon, mechanism: mechanism.rawValue,
                            chargeMethod: mechanism.chargeMethod))
                } else {
                    print(
                        "σ = \(plan.noiseMultiplier) keeps ε = \(plan.epsilon) ≤ \(targetEpsilon) at δ = \(delta) "
                            + "over \(rounds) rounds with q = \(samplingRate); "
                            + (mechanism.chargeMethod.map { "discrete Gaussian, charge method \($0)" }
                                ?? "continuous Gaussian reference"))
                }
            }
        }
    }
}
