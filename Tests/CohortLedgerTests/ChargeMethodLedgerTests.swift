import CohortCrypto
import CohortPrivacy
import CohortTesting
import Foundation
import Testing

@testable import CohortLedger

/// `charge_method`, the frozen round plan, the refusal's projection and the metric ranges, as the
/// verifier enforces them (docs/LEDGER.md §5, §6).
@Suite("Charge methods, plans and metrics in the ledger")
struct ChargeMethodLedgerTests {
    static func verify(_ bytes: [UInt8], key: [UInt8] = Fixtures.testKey().publicKey) -> LedgerError? {
        ledgerError { _ = try LedgerVerifier.verify(bytes: bytes, publicKey: key, signatures: .everyEntry) }
    }

    // MARK: - The v1 fixture

    static func fixtureLines() throws -> [[UInt8]] {
        Fixtures.lines(try LedgerVerifier.readLedger(V1LedgerFixtureTests.ledgerPath))
    }

    static func fixtureKey() throws -> [UInt8] {
        try KeyFile.readPublic(kind: .ed25519Public, from: V1LedgerFixtureTests.keyPath)
    }

    @Test("the v1 fixture, written before charge_method existed, verifies with the v1 formula")
    func v1FixtureVerifies() throws {
        let key = try Self.fixtureKey()
        let result = try LedgerVerifier.verify(file: V1LedgerFixtureTests.ledgerPath, publicKey: key, keepEntries: true)
        #expect(result.state.roundsCharged == 6)
        let charges = result.entries.compactMap { entry -> RoundChargedPayload? in
            if case .roundCharged(let charge) = try? entry.record() { return charge }
            return nil
        }
        #expect(charges.count == 6)
        #expect(charges.allSatisfy { $0.chargeMethod == nil && $0.effectiveChargeMethod == .integerAddRemoveMax })
        #expect(
            result.entries.allSatisfy { !String(decoding: $0.canonicalLine, as: UTF8.self).contains("charge_method") })
        // The recomputed state is the v1 composition of the six charges.
        var accountant = ChargeAccountant()
        for charge in charges {
            try accountant.compose(
                SubsampledGaussian(samplingRate: charge.samplingRate, noiseMultiplier: charge.noiseMultiplier),
                method: .integerAddRemoveMax)
        }
        let last = try #require(charges.last)
        #expect(
            abs(accountant.epsilon(delta: Fixtures.delta).epsilon - last.cumulativeEpsilon) <= 1e-12
                * last.cumulativeEpsilon)
        #expect(abs(result.state.cumulativeEpsilon - last.cumulativeEpsilon) <= 1e-12 * last.cumulativeEpsilon)
        // Under v2 the same history would be charged less: the fixture really is v1.
        var v2 = ChargeAccountant()
        for charge in charges {
            try v2.compose(
                SubsampledGaussian(samplingRate: charge.samplingRate, noiseMultiplier: charge.noiseMultiplier),
                method: .integerAddSymmetric)
        }
        #expect(v2.epsilon(delta: Fixtures.delta).epsilon < last.cumulativeEpsilon)
    }

    /// The index of the fixture's first `round.charged` line.
    static func firstChargeIndex(_ lines: [[UInt8]]) throws -> Int {
        try #require(lines.firstIndex { String(decoding: $0, as: UTF8.self).contains(#""kind":"round.charged""#) })
    }

    @Test("a v1 charge altered and re-signed with the key is caught by the v1 recomputation")
    func v1TamperedChargeFails() throws {
        let lines = try Self.fixtureLines()
        let key = Fixtures.testKey()
        let index = try Self.firstChargeIndex(lines)
        let lowered = try Fixtures.resign(lines, from: index, key: key) { data in
            data["round_epsilon"] = .number(data["round_epsilon"]!.doubleValue! * (1 - 1e-6))
        }
        let error = try #require(Self.verify(Fixtures.join(lowered), key: try Self.fixtureKey()))
        #expect(error.code == .epsilonMismatch)
        #expect(error.line == index + 1)
    }

    @Test("relabelling a v1 charge as v2 (re-signed) fails: its values are v1's")
    func v1RelabelledAsV2Fails() throws {
        let lines = try Self.fixtureLines()
        let index = try Self.firstChargeIndex(lines)
        let relabelled = try Fixtures.resign(lines, from: index, key: Fixtures.testKey()) { data in
            data["charge_method"] = .string(ChargeMethod.integerAddSymmetric.rawValue)
        }
        let error = try #require(Self.verify(Fixtures.join(relabelled), key: try Self.fixtureKey()))
        #expect(error.code == .epsilonMismatch)
        #expect(error.line == index + 1)
        #expect(error.message.contains("mtz-integer-add-symmetric-v2"))
    }

    @Test("a v1 charge edited without the key fails its signature")
    func v1EditedWithoutKeyFails() throws {
        var lines = try Self.fixtureLines()
        let index = try Self.firstChargeIndex(lines)
        let text = String(decoding: lines[index], as: UTF8.self)
        let edited = text.replacingOccurrences(of: #""noise_multiplier":1.2"#, with: #""noise_multiplier":1.3"#)
        #expect(edited != text)
        lines[index] = Array(edited.utf8)
        let error = try #require(Self.verify(Fixtures.join(lines), key: try Self.fixtureKey()))
        #expect(error.code == .badSignature || error.code == .epsilonMismatch)
        #expect(error.line == index + 1)
    }

    @Test("an unknown charge_method is a bad entry naming the known ones")
    func unknownMethodRejected() throws {
        let lines = try Self.fixtureLines()
        let index = try Self.firstChargeIndex(lines)
        let relabelled = try Fixtures.resign(lines, from: index, key: Fixtures.testKey()) { data in
            data["charge_method"] = .string("mtz-v3")
        }
        let error = try #require(Self.verify(Fixtures.join(relabelled), key: try Self.fixtureKey()))
        #expect(error.code == .badEntry)
        #expect(error.message.contains("charge_method"))
        #expect(error.message.contains("mtz-add-zhu-wang-remove-v1"))
    }

    // MARK: - New ledgers

    static func plan(
        q: Double = 0.2, sigma: Double = 2.41, unit: PrivacyUnit = .record, records: Int = 400
    ) -> RoundPlanRecord {
        let clip = 1.0
        let dimension = 31
        let grid = 1e-3 * clip / Double(dimension).squareRoot()
        let sensitivity =
            clip + grid * Double(dimension).squareRoot() + (unit == .record ? 0x1p-23 * Double(records) * clip : 0)
            + RoundPlanRecord.sensitivityMargin * clip
        return RoundPlanRecord(
            unit: unit, samplingRate: q, noiseMultiplier: sigma, clippingBound: clip, gridStep: grid,
            sensitivity: sensitivity,
            dimension: dimension, records: unit == .record ? records : 0, chargeMethod: .current, delta: Fixtures.delta)
    }

    static let metrics: [String: Double] = [
        "count": 120, "accuracy": 0.925, "precision": 0.9, "recall": 0.875, "f1": 0.8875, "roc_auc": 0.95,
    ]

    /// The passing pre-round decisions a planned round opens on: budget (with its projection)
    /// and quorum.
    static func preRoundGates(round: Int, projected: Double) -> [GateDecisionPayload] {
        [
            GateDecisionPayload(
                round: round, gate: "budget", passed: true, reason: "within the cap",
                inputs: ["projected_epsilon": .number(projected)]),
            GateDecisionPayload(
                round: round, gate: "quorum", passed: true, reason: "3 eligible", inputs: ["eligible_count": 3]),
        ]
    }

    /// Line indices of the planned ledger: 0 genesis; round 1: 1, 2 decisions, 3 opened,
    /// 4 charged, 5 closed; round 2: 6, 7 decisions, 8 opened, 9 charged, 10 closed.
    static let secondOpened = 8
    static let secondCharged = 9

    /// Genesis and `rounds` planned rounds written through the writer (which runs the checks).
    static func plannedLedger(rounds: Int, in directory: TemporaryDirectory) throws -> LedgerWriter {
        let key = Fixtures.testKey()
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key), clock: TestClock().now
        )
        for round in 1...rounds {
            let plan = plan()
            let projected = try writer.state.projectedCharge(plan: plan)
            for decision in preRoundGates(round: round, projected: projected.cumulativeEpsilon) {
                try writer.append(decision)
            }
            try writer.append(
                RoundOpenedPayload(
                    round: round, participantsSampled: 3, participantsEligible: 3,
                    mechanism: "poisson-subsampled-discrete-gaussian", plan: plan))
            try writer.append(
                RoundChargedPayload(
                    round: round, plan: plan, projected: projected, contributors: ["bank-a"],
                    updateDigests: ["bank-a": SHA256.hexDigest(utf8: "u\(round)")]))
            try writer.append(
                RoundClosedPayload(
                    round: round, modelSHA256: SHA256.hexDigest(utf8: "m\(round)"), checkpoint: "c\(round)",
                    metrics: metrics))
        }
        return writer
    }

    @Test("planned v2 rounds verify; entries carry charge_method and the plan")
    func plannedRoundsVerify() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try Self.plannedLedger(rounds: 3, in: directory)
        let bytes = Fixtures.read(directory.ledgerPath)
        #expect(Self.verify(bytes) == nil)
        let lines = Fixtures.lines(bytes).map { String(decoding: $0, as: UTF8.self) }
        #expect(
            lines[3].contains(
                #""plan":{"charge_method":"mtz-integer-add-symmetric-v2","clipping_bound":1,"delta":0.00001,"#))
        #expect(lines[4].contains(#""charge_method":"mtz-integer-add-symmetric-v2""#))
        // The plan decodes to what was written.
        let opened = try LedgerEntry(json: JSONParser.parse(Array(lines[3].utf8))).record()
        #expect(
            opened
                == .roundOpened(
                    RoundOpenedPayload(
                        round: 1, participantsSampled: 3, participantsEligible: 3,
                        mechanism: "poisson-subsampled-discrete-gaussian", plan: Self.plan())))
        // The state's charge is v2: three rounds of the plan.
        var accountant = ChargeAccountant()
        try accountant.compose(try Self.plan().mechanism(), rounds: 3, method: .integerAddSymmetric)
        #expect(abs(writer.state.cumulativeEpsilon - accountant.epsilon(delta: Fixtures.delta).epsilon) <= 1e-12)
        #expect(
            writer.state.chargesByMethod[
                ChargedMechanism(mechanism: try Self.plan().mechanism(), method: .integerAddSymmetric)] == 3)
    }

    /// The lines of a 2-round planned ledger, with entry `index`'s data edited and re-signed.
    static func planned(
        editing index: Int, _ edit: (inout [String: JSONValue]) -> Void
    ) throws -> (bytes: [UInt8], line: Int) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try plannedLedger(rounds: 2, in: directory)
        let lines = Fixtures.lines(Fixtures.read(directory.ledgerPath))
        return (Fixtures.join(try Fixtures.resign(lines, from: index, key: Fixtures.testKey(), edit: edit)), index + 1)
    }

    @Test(
        "a charge that differs from its plan in any frozen field fails with ledger.plan_mismatch",
        arguments: [
            "unit", "sampling_rate", "noise_multiplier", "clipping_bound", "grid_step", "sensitivity", "dimension",
            "charge_method",
        ])
    func chargeDiffersFromPlan(field: String) throws {
        let (bytes, line) = try Self.planned(editing: Self.secondOpened) { data in
            var plan = data["plan"]!.objectValue!
            switch field {
            case "unit":
                plan["unit"] = .string("participant")
                plan["records"] = .integer(0)
            case "dimension": plan["dimension"] = .integer(30)
            case "charge_method": plan["charge_method"] = .string(ChargeMethod.integerAddRemoveMax.rawValue)
            case "sensitivity": plan["sensitivity"] = .number(plan["sensitivity"]!.doubleValue! * 1.5)
            // Smaller C, γ, q, σ: the plan itself stays valid (its sensitivity still covers C + γ√d).
            default: plan[field] = .number(plan[field]!.doubleValue! * 0.8)
            }
            data["plan"] = .object(plan)
        }
        let error = try #require(Self.verify(bytes))
        #expect(error.code == .planMismatch, "\(error)")
        #expect(error.line == line + 1)
        #expect(error.message.contains(field))
    }

    @Test("a plan at another δ fails at the round.opened")
    func planDeltaMismatch() throws {
        let (bytes, line) = try Self.planned(editing: Self.secondOpened) { data in
            var plan = data["plan"]!.objectValue!
            plan["delta"] = .number(1e-6)
            data["plan"] = .object(plan)
        }
        let error = try #require(Self.verify(bytes))
        #expect(error.code == .planMismatch)
        #expect(error.line == line)
    }

    @Test("a record-unit plan whose sensitivity omits the float32 term 2^-23·N·C fails")
    func planSensitivityTooSmall() throws {
        // Without the explicit margin every coordinator-written plan carries, the plan is short.
        let (unmargined, unmarginedLine) = try Self.planned(editing: Self.secondOpened) { data in
            var plan = data["plan"]!.objectValue!
            plan["sensitivity"] = .number(plan["sensitivity"]!.doubleValue! - RoundPlanRecord.sensitivityMargin)
            data["plan"] = .object(plan)
        }
        let short = try #require(Self.verify(unmargined))
        #expect(short.code == .sensitivityMismatch && short.line == unmarginedLine, "\(short)")
        let (bytes, line) = try Self.planned(editing: Self.secondOpened) { data in
            var plan = data["plan"]!.objectValue!
            plan["records"] = .integer(4_000_000)
            data["plan"] = .object(plan)
        }
        let error = try #require(Self.verify(bytes))
        #expect(error.code == .sensitivityMismatch)
        #expect(error.line == line)
    }

    @Test("a participant-unit plan with records ≠ 0, or a plan missing a field, is a bad entry")
    func malformedPlans() throws {
        let (participant, line) = try Self.planned(editing: Self.secondOpened) { data in
            var plan = data["plan"]!.objectValue!
            plan["unit"] = .string("participant")
            data["plan"] = .object(plan)
        }
        let error = try #require(Self.verify(participant))
        #expect(error.code == .badEntry)
        #expect(error.line == line)
        #expect(error.message.contains("data.plan.records"))
        let (missing, _) = try Self.planned(editing: Self.secondOpened) { data in
            var plan = data["plan"]!.objectValue!
            plan["grid_step"] = nil
            data["plan"] = .object(plan)
        }
        let missingError = try #require(Self.verify(missing))
        #expect(missingError.code == .badEntry)
        #expect(missingError.message.contains("data.plan.grid_step is missing"))
    }

    @Test("a planned charge whose ε is not the projection from the history fails")
    func plannedChargeWrongEpsilon() throws {
        let (bytes, line) = try Self.planned(editing: Self.secondCharged) { data in
            data["cumulative_epsilon"] = .number(data["cumulative_epsilon"]!.doubleValue! * (1 + 1e-8))
        }
        let error = try #require(Self.verify(bytes))
        #expect(error.code == .epsilonMismatch)
        #expect(error.line == line)
    }

    @Test("the recorded cumulative ε is compared with the cap exactly")
    func capIsExact() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let plan = Self.plan()
        let projected = try LedgerState().projectedCharge(plan: plan)
        // Cap = the recomputed value; the recorded one is 1 ulp above it (within 1e-9 relative).
        let bytes = Fixtures.forge(
            [
                ("genesis", Fixtures.genesis(key: key, epsilonMax: projected.cumulativeEpsilon).data)
            ] + Self.preRoundGates(round: 1, projected: projected.cumulativeEpsilon).map { ("gate.decision", $0.data) }
                + [
                    (
                        "round.opened",
                        RoundOpenedPayload(
                            round: 1, participantsSampled: 1, participantsEligible: 1, mechanism: "m", plan: plan
                        ).data
                    ),
                    (
                        "round.charged",
                        RoundChargedPayload(
                            round: 1, plan: plan,
                            projected: ProjectedCharge(
                                roundEpsilon: projected.roundEpsilon,
                                cumulativeEpsilon: projected.cumulativeEpsilon.nextUp,
                                cumulativeOrder: projected.cumulativeOrder),
                            contributors: [], updateDigests: [:]
                        ).data
                    ),
                ], key: key)
        let error = try #require(Self.verify(bytes))
        #expect(error.code == .budgetExceeded)
        #expect(error.line == 5)
    }

    // MARK: - Refusals

    static func refusalLedger(_ refused: RoundRefusedPayload) -> [UInt8] {
        let key = Fixtures.testKey()
        return Fixtures.forge(
            [("genesis", Fixtures.genesis(key: key).data), ("round.refused", refused.data)], key: key)
    }

    @Test("a refusal states the q, σ and method it projected with, and its projection is recomputed")
    func refusalProjection() throws {
        let mechanism = try SubsampledGaussian(samplingRate: 0.2, noiseMultiplier: 0.3)
        let projected = try LedgerState().projectedCharge(mechanism: mechanism, delta: Fixtures.delta, method: .current)
        let good = RoundRefusedPayload(
            round: 1, gate: "budget", reason: "over", projectedEpsilon: projected.cumulativeEpsilon, epsilonMax: 8,
            samplingRate: 0.2, noiseMultiplier: 0.3)
        #expect(good.chargeMethod == .current)
        #expect(Self.verify(Self.refusalLedger(good)) == nil)
        var wrong = good
        wrong.projectedEpsilon *= 0.9
        let error = try #require(Self.verify(Self.refusalLedger(wrong)))
        #expect(error.code == .epsilonMismatch)
        #expect(error.line == 2)
        // Old refusals without the fields still verify.
        #expect(
            Self.verify(
                Self.refusalLedger(
                    RoundRefusedPayload(round: 1, gate: "budget", reason: "over", projectedEpsilon: 9, epsilonMax: 8)))
                == nil)
        // q without σ and method is malformed.
        var partial = good.data.objectValue!
        partial["noise_multiplier"] = nil
        let key = Fixtures.testKey()
        let partialError = try #require(
            Self.verify(
                Fixtures.forge(
                    [("genesis", Fixtures.genesis(key: key).data), ("round.refused", .object(partial))], key: key)))
        #expect(partialError.code == .badEntry)
    }

    // MARK: - Metrics

    static func closedLedger(metrics: [String: JSONValue], evaluation: Bool) -> [UInt8] {
        let key = Fixtures.testKey()
        let charge = Fixtures.charge(round: 1, state: LedgerState.afterGenesis(delta: Fixtures.delta))
        var records: [(String, JSONValue)] = [
            ("genesis", Fixtures.genesis(key: key).data),
            (
                "round.opened",
                RoundOpenedPayload(round: 1, participantsSampled: 3, participantsEligible: 4, mechanism: "m").data
            ),
            ("round.charged", charge.data),
        ]
        if evaluation {
            records.append(
                (
                    "evaluation.recorded",
                    .object([
                        "round": .integer(1), "participants": .object(["bank-a": .object(metrics)]),
                        "aggregate": .object([:]),
                    ])
                ))
        } else {
            records.append(
                (
                    "round.closed",
                    .object([
                        "round": .integer(1), "model_sha256": .string(SHA256.hexDigest(utf8: "m")),
                        "checkpoint": .string("c"), "metrics": .object(metrics),
                    ])
                ))
        }
        return Fixtures.forge(records, key: key)
    }

    @Test("metrics the coordinator writes, in range, verify", arguments: [false, true])
    func metricsInRange(evaluation: Bool) throws {
        let metrics = Self.metrics.mapValues { JSONValue.number($0) }
        #expect(Self.verify(Self.closedLedger(metrics: metrics, evaluation: evaluation)) == nil)
        #expect(
            Self.verify(
                Self.closedLedger(
                    metrics: ["accuracy": .number(0), "roc_auc": .number(1), "count": .number(0)],
                    evaluation: evaluation)) == nil)
        // The holdout loss, at both ends of its range (older ledgers, as above, have none).
        for loss in [0, 0.3125, LedgerMetric.maximumLoss] {
            let metrics: [String: JSONValue] = ["count": .number(8), "loss": .number(loss)]
            #expect(Self.verify(Self.closedLedger(metrics: metrics, evaluation: evaluation)) == nil)
        }
    }

    @Test(
        "out-of-range or unknown metrics fail verification",
        arguments: [
            ("accuracy", 1.5), ("precision", -0.1), ("recall", 2), ("f1", 1.0000001), ("roc_auc", -1), ("count", 2.5),
            ("count", -1), ("auc", 0.9), ("update_norm", 0.75), ("loss", -0.1), ("loss", 34.6), ("log_loss", 0.5),
        ])
    func metricsOutOfRange(name: String, value: Double) throws {
        for evaluation in [false, true] {
            let error = try #require(
                Self.verify(Self.closedLedger(metrics: [name: .number(value)], evaluation: evaluation)),
                "\(name) \(value)")
            #expect(error.code == .badEntry)
            #expect(error.line == 4)
            #expect(error.message.contains(name))
        }
    }
}

extension LedgerState {
    /// The state right after a genesis at `delta`, for projections in tests.
    static func afterGenesis(delta: Double) -> LedgerState {
        var state = LedgerState()
        state.delta = delta
        return state
    }
}
