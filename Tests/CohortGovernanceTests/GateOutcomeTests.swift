import CohortLedger
import Testing

@testable import CohortGovernance

@Suite struct GateOutcomeTests {
    @Test func payloadCarriesTheOutcome() throws {
        let outcome = GateOutcome(gate: .quorum, passed: false, reason: "only 1", inputs: ["eligible_count": 1])
        let payload = outcome.payload(round: 7)
        #expect(payload.round == 7)
        #expect(payload.gate == "quorum")
        #expect(payload.passed == false)
        #expect(payload.reason == "only 1")
        #expect(payload.inputs["eligible_count"] == .number(1))
        // The payload round-trips through the ledger's decoder.
        #expect(try GateDecisionPayload(data: payload.data) == payload)
    }

    @Test func gateNamesAreStable() {
        #expect(
            GateName.allCases.map(\.rawValue) == [
                "budget", "quorum", "model_version", "suspension", "data_quality", "update_checks", "anomaly", "risk",
                "evaluation",
            ])
    }

    @Test func roundingKeepsNumbersFiniteAndDropsNegativeZero() {
        #expect(GateJSON.round(0.123456) == 0.1235)
        #expect(GateJSON.round(1e300) == 1e300)
        #expect(GateJSON.round(-0.00001).sign == .plus)
        #expect(GateJSON.rounded(.nan) == .null)
        #expect(GateJSON.number(.infinity) == .null)
    }
}
