import CohortLedger
import CohortPolicy
import Testing

@testable import CohortGovernance

/// Five honest record-unit updates: norm ≈ 0.05 per expected contribution, aligned with the
/// previous global update.
func honestObservations() -> [UpdateObservation] {
    let rows = [120.0, 180, 240, 90, 300]
    let wobble = [1.0, 0.97, 1.04, 1.02, 0.99]
    return rows.indices.map { index in
        let contributions = 0.2 * rows[index]
        return UpdateObservation(
            participant: "honest-\(index)", preClipNorm: 0.05 * contributions * wobble[index],
            expectedContributions: contributions, cosineToPreviousUpdate: 0.3 + 0.05 * Double(index), clipped: false
        )
    }
}

/// Whether every number in `value` is finite (the ledger cannot hold NaN or ±∞).
func allNumbersFinite(_ value: JSONValue) -> Bool {
    switch value {
    case .number(let number): number.isFinite
    case .array(let elements): elements.allSatisfy(allNumbersFinite)
    case .object(let members): members.values.allSatisfy(allNumbersFinite)
    case .null, .bool, .string: true
    }
}

@Suite struct AnomalyScreenTests {
    let policy = Policy.Governance.Anomaly()

    @Test func scaledUpdateIsFlaggedByNorm() {
        var observations = honestObservations()
        observations.append(
            UpdateObservation(
                participant: "scaler", preClipNorm: 10 * 0.05 * 40, expectedContributions: 40,
                cosineToPreviousUpdate: 0.35, clipped: true
            ))
        let result = AnomalyScreen.evaluate(observations: observations, policy: policy)
        #expect(!result.outcome.passed)
        #expect(result.flags == ["scaler": [.norm]])
        #expect(result.outcome.reason.contains("scaler"))
        #expect(result.outcome.reason.contains("norm_z_threshold 3.5"))
        #expect(result.outcome.inputs["flags"]?["scaler"] == ["norm"])
        #expect(result.flaggedOrClipped == 1)
        #expect(result.outcome.gate == "anomaly")
    }

    @Test func signFlippedUpdateIsFlaggedByDirection() {
        var observations = honestObservations()
        observations.append(
            UpdateObservation(
                participant: "flipper", preClipNorm: 0.05 * 30, expectedContributions: 30,
                cosineToPreviousUpdate: -0.95, clipped: false
            ))
        let result = AnomalyScreen.evaluate(observations: observations, policy: policy)
        #expect(!result.outcome.passed)
        #expect(result.flags == ["flipper": [.direction]])
        #expect(result.outcome.reason.contains("min_cosine -0.6"))
        #expect(result.outcome.inputs["cosine"]?["flipper"] == .number(-0.95))
    }

    @Test func honestUpdatesPass() {
        let result = AnomalyScreen.evaluate(observations: honestObservations(), policy: policy)
        #expect(result.outcome.passed)
        #expect(result.flagged.isEmpty)
        #expect(result.outcome.inputs["norm_test_applied"] == true)
        #expect(result.outcome.inputs["z"]?.objectValue?.count == 5)
    }

    @Test func firstRoundSkipsDirection() {
        let observations = honestObservations().map {
            UpdateObservation(
                participant: $0.participant, preClipNorm: $0.preClipNorm,
                expectedContributions: $0.expectedContributions, cosineToPreviousUpdate: nil, clipped: false)
        }
        let result = AnomalyScreen.evaluate(observations: observations, policy: Policy.Governance.Anomaly(minCosine: 1))
        // min_cosine 1 would flag every update that has a cosine; none has one.
        #expect(result.outcome.passed)
        #expect(result.outcome.reason.contains("direction test skipped"))
        #expect(result.outcome.inputs["direction_tested"] == 0)
        #expect(result.outcome.inputs["cosine"]?["honest-0"] == .null)
    }

    @Test func fewerThanThreeObservationsSkipNormButNotDirection() {
        let observations = [
            UpdateObservation(
                participant: "a", preClipNorm: 1, expectedContributions: 1, cosineToPreviousUpdate: 0.5, clipped: false),
            UpdateObservation(
                participant: "b", preClipNorm: 1000, expectedContributions: 1, cosineToPreviousUpdate: -0.9,
                clipped: false),
        ]
        let result = AnomalyScreen.evaluate(observations: observations, policy: policy)
        #expect(!result.normTestApplied)
        #expect(result.median == nil && result.scale == nil && result.zScores.isEmpty)
        #expect(result.flags == ["b": [.direction]])
        #expect(result.outcome.reason.contains("norm test skipped"))
        #expect(result.outcome.inputs["norm_test_applied"] == false)
        #expect(result.outcome.inputs["median"] == .null)
    }

    @Test func smallNormsAreNotFlagged() {
        var observations = honestObservations()
        observations.append(
            UpdateObservation(
                participant: "tiny", preClipNorm: 1e-6, expectedContributions: 30, cosineToPreviousUpdate: 0.4,
                clipped: false
            ))
        // A small floor, so the tiny norm's z goes far below −threshold.
        let result = AnomalyScreen.evaluate(
            observations: observations, policy: Policy.Governance.Anomaly(madFloor: 0.1))
        #expect(result.outcome.passed, "the norm test is one-sided")
        #expect(result.zScores["tiny"]! < -3.5)
    }

    @Test func nonFiniteNormIsFlaggedAndKeptOutOfTheStatistics() {
        var observations = honestObservations()
        observations.append(
            UpdateObservation(
                participant: "broken", preClipNorm: .infinity, expectedContributions: 30, cosineToPreviousUpdate: nil,
                clipped: true
            ))
        let result = AnomalyScreen.evaluate(observations: observations, policy: policy)
        #expect(result.flags["broken"] == [.nonFinite])
        #expect(result.zScores["broken"] == nil)
        #expect(result.zScores.count == 5)
        // Every recorded number is finite (the ledger has no NaN or ∞).
        #expect(allNumbersFinite(result.outcome.payload(round: 1).data))
    }

    @Test func zAndCosineAreRoundedToFourDecimalsInTheInputs() {
        var observations = honestObservations()
        observations[0].cosineToPreviousUpdate = 0.123456789
        let result = AnomalyScreen.evaluate(observations: observations, policy: policy)
        #expect(result.outcome.inputs["cosine"]?["honest-0"] == .number(0.1235))
        for (name, z) in result.zScores {
            let recorded = result.outcome.inputs["z"]?[name]?.doubleValue
            #expect(recorded != nil && abs(recorded! - z) <= 0.00005 + 1e-12)
            #expect(recorded == (z * 10_000).rounded() / 10_000)
        }
    }

    @Test func cosineHelper() {
        #expect(AnomalyScreen.cosine([1, 0], [0, 1]) == 0)
        #expect(abs(AnomalyScreen.cosine([1, 2], [-1, -2])! + 1) < 1e-15)
        #expect(AnomalyScreen.cosine([3, 4], [6, 8]) == 1)
        #expect(AnomalyScreen.cosine([0, 0], [1, 1]) == nil)
        #expect(AnomalyScreen.cosine([1], [1, 2]) == nil)
    }
}
