import Testing

@testable import CohortCoordinator

@Suite struct RoundStateMachineTests {
    typealias Machine = RoundStateMachine

    @Test func happyPathChargesBeforeAggregating() throws {
        var machine = Machine()
        #expect(try machine.handle(.gatesPassed) == .sendInvitations)
        #expect(try machine.handle(.invitationsSent) == .none)
        #expect(try machine.handle(.updateAccepted(participant: "a")) == .none)
        #expect(try machine.handle(.updateAccepted(participant: "b")) == .none)
        #expect(try machine.handle(.collectionEnded(contributors: 2, minimum: 2)) == .writeCharge)
        #expect(machine.state == .collecting)
        #expect(try machine.handle(.chargeDurable) == .computeNoisedAggregate)
        #expect(try machine.handle(.aggregated) == .runPostAggregateChecksAndRelease)
        #expect(try machine.handle(.released) == .writeClose)
        #expect(try machine.handle(.closeDurable) == .none)
        #expect(machine.state == .closed)
        #expect(machine.contributors == ["a", "b"])
    }

    /// The driver hands an operator's abort to the machine at its next step: while aggregating
    /// or evaluating (state `aggregated`) and once released but not yet closed, the round ends
    /// charged; after the close is durable there is nothing left to abort.
    @Test(arguments: [RoundStateMachine.State.charged, .aggregated, .released])
    func abortAfterTheChargeEndsTheRoundCharged(at state: RoundStateMachine.State) throws {
        var machine = Machine()
        _ = try machine.handle(.gatesPassed)
        _ = try machine.handle(.invitationsSent)
        _ = try machine.handle(.updateAccepted(participant: "a"))
        _ = try machine.handle(.collectionEnded(contributors: 1, minimum: 1))
        _ = try machine.handle(.chargeDurable)
        if state != .charged { _ = try machine.handle(.aggregated) }
        if state == .released { _ = try machine.handle(.released) }
        #expect(machine.state == state)
        #expect(try machine.handle(.abort(reason: "operator")) == .abort(reason: "operator", charged: true))
        #expect(machine.state == .aborted)
        #expect(RoundStateMachine.Action.abort(reason: "operator", charged: true).isAbort)
    }

    @Test func abortAfterCloseIsRefused() throws {
        var machine = Machine()
        for event: RoundStateMachine.Event in [
            .gatesPassed, .invitationsSent, .updateAccepted(participant: "a"),
            .collectionEnded(contributors: 1, minimum: 1),
            .chargeDurable, .aggregated, .released, .closeDurable,
        ] {
            _ = try machine.handle(event)
        }
        #expect(throws: RoundStateMachine.InvalidTransition.self) { try machine.handle(.abort(reason: "late")) }
        #expect(machine.state == .closed)
        #expect(!RoundStateMachine.Action.none.isAbort)
    }

    @Test func belowQuorumIsChargedThenAborted() throws {
        var machine = Machine()
        _ = try machine.handle(.gatesPassed)
        _ = try machine.handle(.invitationsSent)
        _ = try machine.handle(.updateAccepted(participant: "a"))
        #expect(try machine.handle(.collectionEnded(contributors: 1, minimum: 2)) == .writeCharge)
        let action = try machine.handle(.chargeDurable)
        #expect(action == .abort(reason: "only 1 of the required 2 participants contributed", charged: true))
        #expect(machine.state == .aborted)
    }

    @Test func noContributorsAbortsUncharged() throws {
        var machine = Machine()
        _ = try machine.handle(.gatesPassed)
        _ = try machine.handle(.invitationsSent)
        #expect(
            try machine.handle(.collectionEnded(contributors: 0, minimum: 2))
                == .abort(reason: "no participant contributed (at least 2 required)", charged: false))
    }

    /// A secret sample (participant unit) is charged and released whatever came back, even
    /// nothing and even below the quorum: the outcome must not reveal the sample's size.
    @Test func secretSampleIsChargedAndReleasedWhateverTheCount() throws {
        for count in [0, 1] {
            var machine = Machine()
            _ = try machine.handle(.gatesPassed)
            _ = try machine.handle(.invitationsSent)
            if count == 1 { _ = try machine.handle(.updateAccepted(participant: "a")) }
            #expect(
                try machine.handle(.collectionEnded(contributors: count, minimum: 2, sampleIsSecret: true))
                    == .writeCharge)
            #expect(try machine.handle(.chargeDurable) == .computeNoisedAggregate)
            #expect(machine.charged)
        }
    }

    @Test func refusedBeforeOpen() throws {
        var machine = Machine()
        #expect(
            try machine.handle(.gateFailed(gate: "budget", reason: "ε 3.2 > 3"))
                == .refuse(gate: "budget", reason: "ε 3.2 > 3"))
        #expect(machine.state == .refused)
    }

    @Test func abortAfterChargeKeepsCharge() throws {
        var machine = Machine()
        _ = try machine.handle(.gatesPassed)
        _ = try machine.handle(.invitationsSent)
        _ = try machine.handle(.updateAccepted(participant: "a"))
        _ = try machine.handle(.collectionEnded(contributors: 1, minimum: 1))
        _ = try machine.handle(.chargeDurable)
        #expect(try machine.handle(.abort(reason: "disk full")) == .abort(reason: "disk full", charged: true))
    }

    /// Exhaustive: from every reachable state, every event either has a defined transition or is
    /// refused; no event reaches aggregation or release without a durable charge; and a secret
    /// sample's end of collection (the participant unit) is charged and released whatever came
    /// back, none, fewer than the quorum or more.
    @Test func noPathReleasesWithoutCharge() throws {
        let events: [Machine.Event] = [
            .gatesPassed, .gateFailed(gate: "g", reason: "r"), .invitationsSent, .updateAccepted(participant: "p"),
            .collectionEnded(contributors: 2, minimum: 1), .collectionEnded(contributors: 1, minimum: 2),
            .collectionEnded(contributors: 0, minimum: 1),
            .collectionEnded(contributors: 0, minimum: 2, sampleIsSecret: true),
            .collectionEnded(contributors: 1, minimum: 2, sampleIsSecret: true),
            .collectionEnded(contributors: 2, minimum: 1, sampleIsSecret: true),
            .chargeDurable, .aggregated, .released, .closeDurable, .abort(reason: "x"),
        ]
        // Each reachable machine with whether its latest end of collection was a secret sample's.
        var frontier: [(machine: Machine, secretEnded: Bool?)] = [(Machine(), nil)]
        var visited = 0
        var secretVerdicts = 0
        while let (machine, secretEnded) = frontier.popLast(), visited < 20_000 {
            visited += 1
            for event in events {
                var next = machine
                guard let action = try? next.handle(event) else {
                    #expect(next == machine, "a refused event must not change the machine")
                    // A secret sample's end of collection is never refused while collecting.
                    if case .collectionEnded(_, _, true) = event { #expect(machine.state != .collecting) }
                    continue
                }
                var nextSecretEnded = secretEnded
                if case .collectionEnded(_, _, let secret) = event {
                    nextSecretEnded = secret
                    if secret {
                        // Charged whatever the count: the charge comes next, nothing is dropped.
                        #expect(action == .writeCharge, "\(event) from \(machine.state): \(action)")
                        #expect(next.state == .collecting && next.contributors == machine.contributors)
                        secretVerdicts += 1
                    }
                }
                if event == .chargeDurable && secretEnded == true {
                    // ...and released: neither the quorum nor an empty sample aborts it.
                    #expect(action == .computeNoisedAggregate, "after a secret sample's end: \(action)")
                    #expect(next.state == .charged && next.charged)
                }
                if action == .computeNoisedAggregate || action == .runPostAggregateChecksAndRelease
                    || action == .writeClose
                {
                    #expect(next.charged)
                }
                if next.state == .aborted && !next.contributors.isEmpty {
                    // A round that received updates ends charged, whatever ended it.
                    #expect(next.charged)
                    if case .abort(_, let charged) = action { #expect(charged) }
                }
                if next.state != machine.state || next.contributors.count < 3 {
                    if next.state != .closed && next.state != .aborted && next.state != .refused {
                        frontier.append((next, nextSecretEnded))
                    }
                }
            }
        }
        #expect(visited > 10)
        #expect(secretVerdicts > 0)
    }
}
