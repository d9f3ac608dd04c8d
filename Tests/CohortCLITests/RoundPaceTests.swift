import Testing

@testable import CohortCLI

/// The round duration and ETA of `cohort round status --watch`, fed statuses as a watch sees them.
@Suite struct RoundPaceTests {
    @Test func paceAndETAFromTheCoordinatorsOpeningTimes() {
        var pace = RoundPace()
        // Watch starts during round 4 (opened at t = 10 s); 6 rounds queued after it.
        pace.observe(currentRound: 4, openedAtMillis: 10_000)
        #expect(pace.secondsPerRound == nil)
        #expect(pace.etaSeconds(queued: 6, currentOpenedAtMillis: 10_000, nowMillis: 11_000) == nil)
        #expect(
            pace.describe(currentRound: 4, currentOpenedAtMillis: 10_000, queued: 6, nowMillis: 11_000)
                == "round 4 open 1.00 s · ETA after the next round opens (7 rounds left)")
        // The same round polled again changes nothing.
        pace.observe(currentRound: 4, openedAtMillis: 10_000)
        #expect(pace.openings.count == 1)
        // Round 5 opens at 12 s: 2 s per round.
        pace.observe(currentRound: 5, openedAtMillis: 12_000)
        #expect(pace.secondsPerRound == 2)
        #expect(pace.lastRoundSeconds?.rounds == 4...4 && pace.lastRoundSeconds?.seconds == 2)
        // 0.5 s into round 5 with 5 queued: 1.5 s left of it plus 5 × 2 s.
        #expect(pace.etaSeconds(queued: 5, currentOpenedAtMillis: 12_000, nowMillis: 12_500) == 11.5)
        #expect(
            pace.describe(currentRound: 5, currentOpenedAtMillis: 12_000, queued: 5, nowMillis: 12_500)
                == "round 5 open 0.50 s · round 4 took 2.00 s · 2.00 s/round · ETA 12 s (6 rounds left)")
        // Polls missed rounds 6 and 7: round 8 opening at 20 s still gives the pace (10 s over 4 rounds).
        pace.observe(currentRound: 8, openedAtMillis: 20_000)
        #expect(pace.secondsPerRound == 2.5)
        #expect(pace.lastRoundSeconds?.rounds == 5...7 && pace.lastRoundSeconds?.seconds == 8.0 / 3)
        // A round running longer than the pace counts as about to end, not as negative time.
        #expect(pace.etaSeconds(queued: 2, currentOpenedAtMillis: 20_000, nowMillis: 25_000) == 5)
        // Nothing running or queued: done.
        #expect(pace.etaSeconds(queued: 0, currentOpenedAtMillis: nil, nowMillis: 30_000) == 0)
        #expect(
            pace.describe(currentRound: nil, currentOpenedAtMillis: nil, queued: 0, nowMillis: 30_000)
                == "rounds 5–7 took 2.67 s each")
    }

    @Test func paceFollowsRecentRoundsAndIgnoresBackwardsOpenings() {
        var pace = RoundPace()
        for round in 1...10 { pace.observe(currentRound: round, openedAtMillis: Int64(round) * 1_000) }  // 1 s each
        // Then 3 s each.
        for round in 11...16 { pace.observe(currentRound: round, openedAtMillis: 10_000 + Int64(round - 10) * 3_000) }
        #expect(pace.secondsPerRound == 3)  // only the last five rounds count
        pace.observe(currentRound: 3, openedAtMillis: 99_000)  // an older round number: ignored
        pace.observe(currentRound: 17, openedAtMillis: 1_000)  // an opening earlier than the last: ignored
        #expect(pace.openings.last?.round == 16)
    }

    @Test func clockBehindTheCoordinatorShowsZeroNotNegative() {
        #expect(RoundPace.elapsedSeconds(openedAtMillis: 5_000, nowMillis: 4_000) == 0)
        #expect(RoundPace.format(0.4321) == "0.43 s")
        #expect(RoundPace.format(42.4) == "42 s")
        #expect(RoundPace.format(245) == "4 min 05 s")
        #expect(RoundPace.format(7_380) == "2 h 03 min")
        #expect(RoundPace.format(.infinity) == "?")
    }
}
