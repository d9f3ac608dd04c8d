import Foundation
import Testing

@testable import CohortPrivacy

/// The accountant against Google's `dp_accounting` 0.6.0 (values computed by that library; see
/// Fixtures/README.md). Never checked against itself.
@Suite struct AccountantReferenceTests {
    static let tolerance = 1e-6

    @Test func matchesDPAccountingReferenceFile() throws {
        let rows = try fixtureRows("accountant_reference")
        #expect(rows.count >= 36)
        for row in rows {
            let mechanism = try SubsampledGaussian(
                samplingRate: row.double("sampling_rate"), noiseMultiplier: row.double("noise_multiplier"))
            let result = try PrivacyCalculator.epsilon(
                mechanism: mechanism, rounds: row.int("rounds"), delta: row.double("delta"))
            #expect(relativeError(result.epsilon, row.double("epsilon")) <= Self.tolerance, "row \(row)")
            #expect(result.order == row.double("order"), "row \(row)")
        }
    }

    @Test func matchesDPAccountingOnAWideGrid() throws {
        let rows = try fixtureRows("accountant_grid")
        #expect(rows.count > 1000)
        var failures: [String] = []
        for row in rows {
            let mechanism = try SubsampledGaussian(
                samplingRate: row.double("sampling_rate"), noiseMultiplier: row.double("noise_multiplier"))
            let result = try PrivacyCalculator.epsilon(
                mechanism: mechanism, rounds: row.int("rounds"), delta: row.double("delta"))
            let expected = row.double("epsilon")
            if relativeError(result.epsilon, expected) > Self.tolerance {
                failures.append("\(row): got \(result.epsilon) at order \(result.order)")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) rows differ, first: \(failures.prefix(5))")
    }

    @Test func composesHeterogeneousRoundsLikeDPAccounting() throws {
        let rows = try fixtureRows("accountant_heterogeneous")
        #expect(rows.count >= 10)
        for row in rows {
            var accountant = RDPAccountant()
            for segment in row["rounds"]!.split(separator: ";") {
                let parts = segment.split(separator: ":").map { Double($0)! }
                accountant.compose(
                    try SubsampledGaussian(samplingRate: parts[0], noiseMultiplier: parts[1]), rounds: Int(parts[2]))
            }
            let result = accountant.epsilon(delta: row.double("delta"))
            #expect(relativeError(result.epsilon, row.double("epsilon")) <= Self.tolerance, "row \(row)")
            #expect(result.order == row.double("order"), "row \(row)")
        }
    }

    /// q = 1 is the plain Gaussian mechanism, whose RDP is Tα/(2σ²) in closed form (Mironov 2017,
    /// Prop. 7); the test recomputes the conversion by hand from that formula.
    @Test(arguments: [(0.8, 1), (1.0, 100), (2.0, 10_000), (5.0, 1)])
    func gaussianMechanismMatchesClosedForm(sigma: Double, rounds: Int) throws {
        let delta = 1e-5
        var best = Double.infinity
        for alpha in RDPAccountant.defaultOrders {
            let rdp = Double(rounds) * alpha / (2 * sigma * sigma)
            best = min(best, rdp + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1))
        }
        let mechanism = try SubsampledGaussian(samplingRate: 1, noiseMultiplier: sigma)
        let result = try PrivacyCalculator.epsilon(mechanism: mechanism, rounds: rounds, delta: delta)
        #expect(relativeError(result.epsilon, best) <= 1e-12)
    }

    @Test func plannerMatchesReference() throws {
        let rows = try fixtureRows("planner_reference")
        #expect(rows.count >= 6)
        for row in rows {
            let plan = try PrivacyCalculator.noiseMultiplier(
                targetEpsilon: row.double("target_epsilon"), delta: row.double("delta"),
                samplingRate: row.double("sampling_rate"), rounds: row.int("rounds")
            )
            #expect(
                abs(plan.noiseMultiplier - row.double("noise_multiplier")) <= 1e-3,
                "row \(row): got \(plan.noiseMultiplier)")
            #expect(plan.epsilon <= row.double("target_epsilon"))
        }
    }

    @Test func fractionalOrderThatDoesNotConvergeIsExcluded() throws {
        // For q = 0.5, σ = 0.5 the series of MTZ 2019 Sec. 3.3 at α = 1.5 and 1.6 does not settle
        // within 1,000 terms; dp_accounting 0.6.0 then excludes the order (RDP = +∞). The finite
        // values are dp_accounting's for the same call.
        let mechanism = try SubsampledGaussian(samplingRate: 0.5, noiseMultiplier: 0.5)
        let rdp = RDPAccountant.rdp(of: mechanism, orders: [1.5, 1.6, 1.7, 2.5, 7])
        #expect(rdp[0] == .infinity)
        #expect(rdp[1] == .infinity)
        #expect(relativeError(rdp[2], 1.9456478937238837) <= 1e-9)
        #expect(relativeError(rdp[3], 3.849489983604059) <= 1e-9)
        #expect(relativeError(rdp[4], 13.191328289390775) <= 1e-9)
    }
}
