import CohortModel
import CohortPolicy
import Foundation
import Testing

@testable import CohortGovernance

/// The fixture written by Scripts/reference/governance_reference.py (numpy medians, scipy's
/// Jensen–Shannon distance squared); never values computed by Cohort itself.
struct GovernanceReference: Decodable {
    struct AnomalyPolicy: Decodable {
        var normZThreshold: Double
        var madFloor: Double
        var minCosine: Double
        var directionMargin: Double
    }

    struct Observation: Decodable {
        var participant: String
        var preClipNorm: Double
        var expectedContributions: Double
        var cosine: Double?
        var clipped: Bool
    }

    struct AnomalyExpected: Decodable {
        var normTestApplied: Bool
        var median: Double?
        var mad: Double?
        var scale: Double?
        var z: [String: Double]?
        var medianCosine: Double?
        var flags: [String: [String]]
        var flaggedOrClipped: Int
    }

    struct AnomalyCase: Decodable {
        var name: String
        var policy: AnomalyPolicy
        var observations: [Observation]
        var expected: AnomalyExpected
    }

    struct RiskPolicy: Decodable {
        var modelBiasWeight: Double
        var dataBiasWeight: Double
        var robustnessWeight: Double
        var metric: String
        var max: Double
    }

    struct RiskExpected: Decodable {
        var r1: Double
        var r2: Double
        var r3: Double
        var r: Double
        var passed: Bool
    }

    struct RiskCase: Decodable {
        var name: String
        var policy: RiskPolicy
        var participantMetrics: [String: [String: Double]]
        var labelCounts: [String: [Int]]
        var flaggedOrClipped: Int
        var contributors: Int
        var expected: RiskExpected
    }

    var anomaly: [AnomalyCase]
    var risk: [RiskCase]

    static func load() throws -> GovernanceReference {
        let url = try #require(
            Bundle.module.url(forResource: "governance_reference", withExtension: "json", subdirectory: "Fixtures"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(GovernanceReference.self, from: Data(contentsOf: url))
    }
}

/// |actual − expected| ≤ 1e-9, relative for magnitudes above 1.
func close(_ actual: Double?, _ expected: Double?, tolerance: Double = 1e-9) -> Bool {
    guard let actual, let expected else { return actual == nil && expected == nil }
    return abs(actual - expected) <= tolerance * Swift.max(1, abs(expected))
}

@Suite struct ReferenceValueTests {
    @Test func anomalyScreenMatchesTheReference() throws {
        let reference = try GovernanceReference.load()
        #expect(reference.anomaly.count >= 5)
        for testCase in reference.anomaly {
            let policy = Policy.Governance.Anomaly(
                normZThreshold: testCase.policy.normZThreshold, madFloor: testCase.policy.madFloor,
                minCosine: testCase.policy.minCosine, directionMargin: testCase.policy.directionMargin
            )
            let observations = testCase.observations.map {
                UpdateObservation(
                    participant: $0.participant, preClipNorm: $0.preClipNorm,
                    expectedContributions: $0.expectedContributions,
                    cosineToPreviousUpdate: $0.cosine, clipped: $0.clipped)
            }
            let result = AnomalyScreen.evaluate(observations: observations, policy: policy)
            let expected = testCase.expected
            #expect(result.normTestApplied == expected.normTestApplied, "\(testCase.name)")
            #expect(
                close(result.median, expected.median), "\(testCase.name) median \(String(describing: result.median))")
            #expect(close(result.mad, expected.mad), "\(testCase.name) MAD")
            #expect(close(result.scale, expected.scale), "\(testCase.name) scale")
            let expectedZ = expected.z ?? [:]
            #expect(Set(result.zScores.keys) == Set(expectedZ.keys), "\(testCase.name)")
            for (name, z) in expectedZ {
                #expect(
                    close(result.zScores[name], z),
                    "\(testCase.name) z[\(name)] = \(String(describing: result.zScores[name])), want \(z)")
            }
            #expect(
                close(result.outcome.inputs["median_cosine"]?.doubleValue, expected.medianCosine),
                "\(testCase.name) median cosine")
            let flags = result.flags.mapValues { $0.map(\.rawValue).sorted() }
            #expect(flags == expected.flags, "\(testCase.name)")
            #expect(result.outcome.passed == expected.flags.isEmpty, "\(testCase.name)")
            #expect(result.flaggedOrClipped == expected.flaggedOrClipped, "\(testCase.name)")
        }
    }

    @Test func riskScoreMatchesTheReference() throws {
        let reference = try GovernanceReference.load()
        #expect(reference.risk.count >= 5)
        for testCase in reference.risk {
            let policy = Policy.Governance.Risk(
                modelBiasWeight: testCase.policy.modelBiasWeight, dataBiasWeight: testCase.policy.dataBiasWeight,
                robustnessWeight: testCase.policy.robustnessWeight,
                metric: try #require(Policy.Governance.RiskMetric(rawValue: testCase.policy.metric)),
                max: testCase.policy.max
            )
            let counts = testCase.labelCounts.mapValues { LabelCounts(positive: $0[0], negative: $0[1]) }
            let result = RiskScore.evaluate(
                participantMetrics: testCase.participantMetrics, labelCounts: counts,
                flaggedOrClipped: testCase.flaggedOrClipped, contributors: testCase.contributors, policy: policy
            )
            let expected = testCase.expected
            #expect(close(result.r1, expected.r1), "\(testCase.name) R1 \(result.r1) want \(expected.r1)")
            #expect(close(result.r2, expected.r2), "\(testCase.name) R2 \(result.r2) want \(expected.r2)")
            #expect(close(result.r3, expected.r3), "\(testCase.name) R3 \(result.r3) want \(expected.r3)")
            #expect(close(result.r, expected.r), "\(testCase.name) R \(result.r) want \(expected.r)")
            #expect(result.outcome.passed == expected.passed, "\(testCase.name)")
            #expect(result.outcome.inputs["r"] == .number(result.r))
        }
    }

    /// Hand-derivable Jensen–Shannon values (bits): identical distributions 0, disjoint ones 1.
    @Test func jensenShannonEndpoints() {
        #expect(RobustStatistics.jensenShannonDivergence([0.3, 0.7], [0.3, 0.7]) == 0)
        #expect(RobustStatistics.jensenShannonDivergence([1, 0], [0, 1]) == 1)
        #expect(RobustStatistics.median([3, 1, 2]) == 2)
        #expect(RobustStatistics.median([4, 1, 3, 2]) == 2.5)
    }
}
