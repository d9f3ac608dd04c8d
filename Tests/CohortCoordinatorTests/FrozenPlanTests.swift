import CohortCoordinator
import CohortLedger
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// A round's mechanism is frozen when it opens: a policy adopted while it collects changes
/// nothing about how it is sampled, noised or charged, and applies from the next round.
@Suite(.serialized) struct FrozenPlanTests {
    static let operatorPrincipal = try! PeerIdentity(role: .operator, name: "ops-alice")

    /// What a scripted participant found in one invitation.
    struct SeenInvitation: Sendable {
        let round: Int
        let parameters: TrainingParameters
        /// The global model the round trains.
        let model: [Float]
    }

    /// The invitations carry the plan frozen at opening (q), the noise in the released model has
    /// the plan's σ, and the ledger charges exactly that plan; an adoption while round 1 collects
    /// (σ 2 → 16, q 0.2 → 0.1) applies from round 2 on, in all three.
    @Test func anAdoptionWhileARoundCollectsAppliesFromTheNextRound() async throws {
        // The scripted participants never answer the candidate's evaluation request: a short
        // evaluation timeout keeps each round from waiting for them.
        let consortium = try await Consortium(
            names: ["hospital-a", "hospital-b"], minParticipants: 2, samplingRate: 0.2, noiseMultiplier: 2.0,
            evaluationTimeoutSeconds: 1)
        let invited = AsyncStream<Void>.makeStream()
        // One release stream per participant (an AsyncStream has a single consumer).
        let releases = (0..<2).map { _ in AsyncStream<Void>.makeStream() }
        // Two participants that answer round 1 only once the test lets them, then train honestly;
        // each keeps what its invitations carried.
        let scripted = zip(["hospital-a", "hospital-b"], releases).map { name, release in
            Task {
                try await consortium.scripted(name) { session -> [SeenInvitation] in
                    var seen: [SeenInvitation] = []
                    // The model this participant holds: an invitation leaves it out when the
                    // participant already has it from the candidate's evaluation request.
                    var held: [Float] = []
                    while let frame = try await session.frames.next() {
                        switch frame.type {
                        case .evaluateRequest:
                            held = try frame.decode(EvaluateRequest.self).model
                        case .roundInvite:
                            let invite = try frame.decode(RoundInvite.self)
                            if !invite.globalModel.isEmpty { held = invite.globalModel }
                            #expect(ModelDigest.of(held) == invite.modelDigest, "round \(invite.round)'s model")
                            seen.append(
                                SeenInvitation(
                                    round: Int(invite.round),
                                    parameters: try TrainingParameters.decode(invite.trainingParameters),
                                    model: held))
                            if invite.round == 1 {
                                invited.continuation.yield()
                                for await _ in release.stream {}
                            }
                            let dimension = Int(session.welcome.model.dimension)
                            try await session.outbound.send(
                                session.update(for: invite, values: [Float](repeating: 0.01, count: dimension)))
                        case .bye: return seen
                        default: continue
                        }
                    }
                    return seen
                }
            }
        }
        try await consortium.waitForConnected(2)
        let first = Task { try await consortium.coordinator.runRound() }
        var seen = 0
        for await _ in invited.stream {
            seen += 1
            if seen == 2 { break }
        }
        // Round 1 is collecting: raise σ eightfold and halve q. (Eightfold, so that the noise in a
        // 31-parameter model tells the two apart beyond doubt; see below.)
        let text = try String(contentsOfFile: consortium.policyPath, encoding: .utf8)
        let adopted = text.replacingOccurrences(of: "noise_multiplier: 2.0", with: "noise_multiplier: 16.0")
            .replacingOccurrences(of: "sampling_rate: 0.2", with: "sampling_rate: 0.1")
        #expect(adopted != text)
        _ = try await consortium.coordinator.adoptPolicy(yaml: adopted, by: Self.operatorPrincipal)
        for release in releases { release.continuation.finish() }
        guard case .closed = try await first.value else {
            Issue.record("round 1 did not close")
            await consortium.shutdown()
            return
        }
        // Round 3 only shows the model round 2 released (in its invitation).
        for round in 2...3 {
            guard case .closed = try await consortium.coordinator.runRound() else {
                Issue.record("round \(round) did not close")
                await consortium.shutdown()
                return
            }
        }
        let entries = try consortium.ledgerEntries()
        func payload<P: LedgerPayload>(_ type: P.Type, round: Int) throws -> P {
            let entry = try #require(
                entries.first { $0.kind == P.kind && $0.data["round"]?.doubleValue == Double(round) })
            return try P(data: entry.data)
        }
        // Round 1: opened, noised and charged with the plan it opened with.
        let opened1 = try #require(try payload(RoundOpenedPayload.self, round: 1).plan)
        let charged1 = try payload(RoundChargedPayload.self, round: 1)
        #expect(opened1.noiseMultiplier == 2.0 && opened1.samplingRate == 0.2)
        #expect(charged1.noiseMultiplier == 2.0 && charged1.samplingRate == 0.2)
        #expect(charged1.sensitivity == opened1.sensitivity && charged1.gridStep == opened1.gridStep)
        // The plan's Δ covers C + γ√d + 2^-23·N·C with the explicit margin, N the public rows.
        #expect(opened1.sensitivity >= opened1.minimumSensitivity * (1 - 1e-12))
        #expect(opened1.sensitivity > opened1.minimumSensitivity - 0.5e-6 * opened1.clippingBound)
        #expect(opened1.records > 0)
        // Round 2: the adopted values.
        let opened2 = try #require(try payload(RoundOpenedPayload.self, round: 2).plan)
        let charged2 = try payload(RoundChargedPayload.self, round: 2)
        #expect(opened2.noiseMultiplier == 16.0 && opened2.samplingRate == 0.1)
        #expect(charged2.noiseMultiplier == 16.0 && charged2.samplingRate == 0.1)
        let verified = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey())
        #expect(verified.state.lastClosedRound == 3)
        await consortium.shutdown()

        // What the participants were sent: round 1's invitation the q of the plan it is charged
        // for (the participants sample their records with it), round 2's and 3's the adopted q.
        var invitations: [[SeenInvitation]] = []
        for task in scripted { invitations.append(try await task.value) }
        for seen in invitations {
            #expect(seen.map(\.round) == [1, 2, 3])
            #expect(seen.map(\.parameters.samplingRate) == [0.2, 0.1, 0.1])
        }
        // The noise each round released, recovered from the models: with the server learning
        // rate η = 0.5 and no momentum, w' = w − η·(Σ updates + noise)/(q·N), and each of the two
        // updates is 0.01 in every coordinate. The noise is discrete Gaussian with standard
        // deviation σ·Δ per coordinate. Over d = 31 coordinates its estimated σ lies within a
        // factor 4 of the true one except with probability far below 1e-12 (χ²₃₁ > 496 or < 1.9),
        // and σ 2 and σ 16 are 8 apart: a round noised with the other plan's σ fails here.
        let models = try #require(invitations.first).map(\.model)
        let dimension = models[0].count
        #expect(dimension >= 31 && models.allSatisfy { $0.count == dimension })
        for (round, plan, charged) in [(1, opened1, charged1), (2, opened2, charged2)] {
            let before = models[round - 1]
            let after = models[round]
            let divisor = plan.samplingRate * Double(plan.records)
            let noise = (0..<dimension).map { index in
                (Double(before[index]) - Double(after[index])) / 0.5 * divisor - 2 * Double(Float(0.01))
            }
            let estimatedSigma =
                (noise.map { $0 * $0 }.reduce(0, +) / Double(dimension)).squareRoot() / plan.sensitivity
            #expect(
                estimatedSigma > charged.noiseMultiplier / 4 && estimatedSigma < charged.noiseMultiplier * 4,
                "round \(round): noise of σ ≈ \(estimatedSigma) released, σ \(charged.noiseMultiplier) charged")
        }
    }

    /// The gates and the anomaly action read the round's snapshot too: a policy adopted while
    /// round 1 collects, switching the anomaly screen to `discard_round` with `suspend_flagged`,
    /// neither discards round 1 nor suspends the participant it flags.
    @Test func anAdoptionWhileARoundCollectsLeavesItsGatesAlone() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c", "hospital-d"]
        let consortium = try await Consortium(
            names: names, epsilonMax: 50, noiseMultiplier: 1.0,
            extraYAML: """
                governance:
                  anomaly:
                    action: flag_only

                """)
        let invited = AsyncStream<Void>.makeStream()
        let releases = names.map { _ in AsyncStream<Void>.makeStream() }
        // Three honest updates and one six times larger, which the norm test flags.
        let scripted = zip(names, releases).map { name, release in
            Task {
                try await consortium.scripted(name) { session -> Int in
                    var rounds = 0
                    while let frame = try await session.frames.next() {
                        switch frame.type {
                        case .roundInvite:
                            let invite = try frame.decode(RoundInvite.self)
                            invited.continuation.yield()
                            for await _ in release.stream {}
                            let value: Float = name == "hospital-d" ? 0.06 : 0.01
                            let dimension = Int(session.welcome.model.dimension)
                            try await session.outbound.send(
                                session.update(for: invite, values: [Float](repeating: value, count: dimension)))
                            rounds += 1
                        case .bye: return rounds
                        default: continue
                        }
                    }
                    return rounds
                }
            }
        }
        try await consortium.waitForConnected(4)
        let first = Task { try await consortium.coordinator.runRound() }
        var seen = 0
        for await _ in invited.stream {
            seen += 1
            if seen == names.count { break }
        }
        let text = try String(contentsOfFile: consortium.policyPath, encoding: .utf8)
        let adopted = text.replacingOccurrences(
            of: "    action: flag_only", with: "    action: discard_round\n    suspend_flagged: true")
        #expect(adopted != text)
        _ = try await consortium.coordinator.adoptPolicy(yaml: adopted, by: Self.operatorPrincipal)
        for release in releases { release.continuation.finish() }
        let outcome = try await first.value
        guard case .closed = outcome else {
            Issue.record("round 1 was not released as its snapshot (flag_only) says: \(outcome)")
            await consortium.shutdown()
            return
        }
        let anomaly = try #require(
            try consortium.ledgerEntries().first {
                $0.kind == "gate.decision" && $0.data["gate"]?.stringValue == "anomaly"
            })
        #expect(anomaly.data["passed"] == .bool(false), "hospital-d was not flagged: \(anomaly.data)")
        let statuses = await consortium.coordinator.participantStatuses()
        let flagged = try #require(statuses.first { $0.name == "hospital-d" })
        #expect(flagged.flaggedRounds == [1] && !flagged.suspended, "\(flagged)")
        await consortium.shutdown()
        for task in scripted { _ = try? await task.value }
    }
}
