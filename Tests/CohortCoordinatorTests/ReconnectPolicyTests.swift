import CohortParticipant
import Testing

/// The participant's reconnection backoff: exponential, jittered within [b/2, b], capped, bounded.
struct ReconnectPolicyTests {
    let policy = ReconnectPolicy(
        initialDelay: .milliseconds(100), maximumDelay: .seconds(2), multiplier: 2, maximumAttempts: 8)

    @Test func delaysGrowExponentiallyWithinTheirJitterBandAndStopAtTheCap() throws {
        let expectedBounds: [Duration] = [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1_600),
            .seconds(2), .seconds(2), .seconds(2),
        ]
        for (index, bound) in expectedBounds.enumerated() {
            let low = try #require(policy.delay(afterFailures: index + 1, unitRandom: 0))
            let high = try #require(policy.delay(afterFailures: index + 1, unitRandom: 1))
            #expect(low == bound / 2, "attempt \(index + 1)")
            #expect(high == bound, "attempt \(index + 1)")
            let middle = try #require(policy.delay(afterFailures: index + 1, unitRandom: 0.5))
            #expect(middle > low && middle < high)
        }
    }

    @Test func itGivesUpAfterTheMaximumAttemptsAndNeverIsNever() {
        #expect(policy.delay(afterFailures: 8, unitRandom: 0.5) != nil)
        #expect(policy.delay(afterFailures: 9, unitRandom: 0.5) == nil)
        #expect(policy.delay(afterFailures: 0, unitRandom: 0.5) == nil)
        #expect(ReconnectPolicy.never.delay(afterFailures: 1, unitRandom: 0.5) == nil)
    }

    @Test func hugeAttemptCountsAndOddRandomsStayWithinTheCap() throws {
        let patient = ReconnectPolicy(
            initialDelay: .milliseconds(250), maximumDelay: .seconds(30), maximumAttempts: .max)
        for random in [-1.0, 2.0, .nan, .infinity] {
            let delay = try #require(patient.delay(afterFailures: 1_000_000, unitRandom: random))
            #expect(delay <= .seconds(30) && delay >= .seconds(15), "\(random): \(delay)")
        }
    }
}
