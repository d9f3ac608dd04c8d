import CohortCoordinator
import CohortLedger
import CohortParticipant
import CohortStorage
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// The governance gates and operator control over real mutual-TLS rounds: an in-process
/// coordinator and participants running the real participant runtime (one of them poisoned
/// through the test-only update transform where a test needs it).
@Suite(.serialized) struct GovernanceTests {
    static let operatorPrincipal = try! PeerIdentity(role: .operator, name: "ops-alice")
    static let auditorPrincipal = try! PeerIdentity(role: .auditor, name: "audit-bob")
    static let participantPrincipal = try! PeerIdentity(role: .participant, name: "hospital-a")

    func gateDecisions(_ consortium: Consortium, round: Int) throws -> [String: LedgerEntry] {
        var decisions: [String: LedgerEntry] = [:]
        for entry in try consortium.ledgerEntries()
        where entry.kind == "gate.decision" && entry.data["round"]?.intValue == round {
            decisions[entry.data["gate"]?.stringValue ?? ""] = entry
        }
        return decisions
    }

    /// Starts hospital-a, -b and -c, waits for them and runs one round. Returns the participant
    /// tasks and the outcome of a round that closed; otherwise records the outcome, shuts the
    /// consortium down and returns nil.
    func runOneRound(
        _ consortium: Consortium
    ) async throws -> (tasks: [Task<Participant.Summary, any Error>], outcome: RoundOutcome)? {
        let tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        try await consortium.waitForConnected(3)
        let outcome = try await consortium.coordinator.runRound()
        guard case .closed = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return nil
        }
        return (tasks, outcome)
    }

    func verifiedState(_ consortium: Consortium) throws -> LedgerState {
        try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey()
        ).state
    }

    @Test func everyGateDecisionIsLedgeredAndShown() async throws {
        let consortium = try await Consortium(
            extraYAML: """
                governance:
                  evaluation:
                    min_accuracy: 0.5

                """)
        guard let (tasks, _) = try await runOneRound(consortium) else { return }
        let decisions = try gateDecisions(consortium, round: 1)
        let gates = [
            "model_version", "budget", "suspension", "data_quality", "quorum", "update_checks", "anomaly", "risk",
            "evaluation",
        ]
        #expect(Set(decisions.keys) == Set(gates))
        for gate in gates { #expect(decisions[gate]?.data["passed"] == .bool(true), "gate \(gate)") }
        // Pre-round decisions precede the opening; the charge precedes the post-aggregate ones.
        let kinds = try consortium.ledgerEntries().map(\.kind)
        let opened = try #require(kinds.firstIndex(of: "round.opened"))
        let charged = try #require(kinds.firstIndex(of: "round.charged"))
        #expect(kinds[..<opened].filter { $0 == "gate.decision" }.count == 5)
        let entries = try consortium.ledgerEntries()
        let anomalyIndex = try #require(
            entries.firstIndex { $0.kind == "gate.decision" && $0.data["gate"]?.stringValue == "anomaly" })
        #expect(anomalyIndex > charged)
        #expect(decisions["evaluation"]?.data["inputs"]?["promoted"] == .bool(true))
        let state = try verifiedState(consortium)
        #expect(state.latestApprovedRound == 1)
        // `cohort ledger show` renders every gate with its outcome.
        let table = LedgerRendering.table(entries)
        for gate in gates { #expect(table.contains("gate \(gate): pass"), "show lists \(gate)") }
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    @Test func suspendedParticipantIsNotSampledAndRolesAreEnforced() async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        try await consortium.waitForConnected(3)
        let coordinator = consortium.coordinator
        // Participants only train; auditors only read.
        await #expect(throws: ControlError.self) {
            _ = try await coordinator.requestRounds(1, by: Self.participantPrincipal)
        }
        await #expect(throws: ControlError.self) {
            _ = try await coordinator.suspend(participant: "hospital-c", reason: "", by: Self.auditorPrincipal)
        }
        do {
            _ = try await coordinator.abortRound(reason: "", by: Self.auditorPrincipal)
            Issue.record("an auditor aborted")
        } catch {
            #expect(error.code == "control.forbidden" && error.category == .forbidden)
            #expect(error.message.contains("auditor audit-bob"))
        }
        #expect(consortium.capture.text.contains("control action refused"))
        #expect(await coordinator.status().participants.count == 3)
        await #expect(throws: ControlError.self) {
            _ = try await coordinator.suspend(participant: "nobody", reason: "", by: Self.operatorPrincipal)
        }
        let suspended = try await coordinator.suspend(
            participant: "hospital-c", reason: "maintenance window", by: Self.operatorPrincipal)
        #expect(suspended.suspended && suspended.suspensionReason?.contains("maintenance window") == true)
        let outcome = try await coordinator.runRound()
        guard case .closed(_, let contributors, _, _) = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        let suspension = try #require(try gateDecisions(consortium, round: 1)["suspension"])
        #expect(suspension.data["inputs"]?["excluded"] == .array([.string("hospital-c")]))
        // The suspension survives a restart of the coordinator's state.
        let onDisk = try String(contentsOfFile: consortium.stateDirectory + "/suspended.json", encoding: .utf8)
        #expect(onDisk.contains("hospital-c"))
        _ = try await coordinator.reinstate(participant: "hospital-c", by: Self.operatorPrincipal)
        let second = try await coordinator.runRound()
        guard case .closed(_, let all, _, _) = second else {
            Issue.record("second round did not close: \(second)")
            await consortium.shutdown()
            return
        }
        #expect(Set(all) == ["hospital-a", "hospital-b", "hospital-c"])
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    @Test func policyApiSectionNamesWhoHoldsEachRole() async throws {
        let consortium = try await Consortium(
            apiYAML: """
                api:
                  listen: 127.0.0.1:0
                  operators: [ops-alice]
                  auditors: [audit-carol]

                """)
        let coordinator = consortium.coordinator
        _ = try await coordinator.pause(by: Self.operatorPrincipal)
        let mallory = try PeerIdentity(role: .operator, name: "ops-mallory")
        do {
            _ = try await coordinator.pause(by: mallory)
            Issue.record("an unlisted operator paused")
        } catch {
            #expect(error.code == "control.not_listed" && error.message.contains("api.operators"))
        }
        await #expect(throws: ControlError.self) { try await coordinator.authorize(Self.auditorPrincipal, .readStatus) }
        try await coordinator.authorize(PeerIdentity(role: .auditor, name: "audit-carol"), .readLedger)
        #expect(consortium.capture.text.contains("ops-mallory is not listed in api.operators"))
        await consortium.shutdown()
    }

    @Test func budgetGateRecordsTheProjectionAndAlerts() async throws {
        let alerts = AlertBox()
        let consortium = try await Consortium(epsilonMax: 0.5, alertSink: { alert in alerts.add(alert) })
        let outcome = try await consortium.coordinator.runRound()
        guard case .refused(1, "budget", let reason) = outcome else {
            Issue.record("not refused by the budget gate: \(outcome)")
            await consortium.shutdown()
            return
        }
        let budget = try #require(try gateDecisions(consortium, round: 1)["budget"])
        #expect(budget.data["passed"] == .bool(false))
        let projected = try #require(budget.data["inputs"]?["projected_epsilon"]?.doubleValue)
        #expect(projected > 0.5)
        #expect(reason.contains(String(projected.description.prefix(6))))
        // The refusal records the q, σ and charge method it projected with, and the verifier
        // recomputes the projection from them.
        let refused = try #require(try consortium.ledgerEntries().last)
        #expect(refused.kind == "round.refused")
        #expect(refused.data["sampling_rate"]?.doubleValue != nil)
        #expect(refused.data["noise_multiplier"]?.doubleValue != nil)
        #expect(refused.data["charge_method"]?.stringValue == "mtz-integer-add-symmetric-v2")
        _ = try verifiedState(consortium)
        for _ in 0..<100 where alerts.all.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(alerts.all.first?.gate == "budget" && alerts.all.first?.kind == "gate_failed")
        await consortium.shutdown()
    }

    @Test func policyAdoptionNeverGoesBelowWhatIsSpent() async throws {
        let consortium = try await Consortium()
        let tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        try await consortium.waitForConnected(3)
        guard case .closed(_, _, _, let spent) = try await consortium.coordinator.runRound() else {
            Issue.record("round did not close")
            await consortium.shutdown()
            return
        }
        let text = try String(contentsOfFile: consortium.policyPath, encoding: .utf8)
        let below = text.replacingOccurrences(of: "epsilon_max: 10.0", with: "epsilon_max: \(spent / 2)")
        #expect(below != text)
        let entriesBefore = try consortium.ledgerEntries().count
        do {
            _ = try await consortium.coordinator.adoptPolicy(yaml: below, by: Self.operatorPrincipal)
            Issue.record("a cap below the spent ε was adopted")
        } catch {
            #expect(error.code == "policy.epsilon_below_spent")
            #expect(error.message.contains("\(spent)"))
        }
        await #expect(throws: ControlError.self) {
            _ = try await consortium.coordinator.adoptPolicy(yaml: text, by: Self.auditorPrincipal)
        }
        // A signing key that exists but is not a key file: refused before anything is recorded.
        let keyPath = consortium.identity("hospital-a").ed25519PublicKey
        let badKey = text.replacingOccurrences(of: keyPath, with: consortium.policyPath)
        #expect(badKey != text)
        do {
            _ = try await consortium.coordinator.adoptPolicy(yaml: badKey, by: Self.operatorPrincipal)
            Issue.record("a policy with an unreadable signing key was adopted")
        } catch {
            #expect(error.code == "policy.unreadable_key" && error.message.contains("participants[0].signing_key"))
        }
        #expect(try consortium.ledgerEntries().count == entriesBefore)
        // A higher cap is refused: the cap is fixed for a ledger (docs/PRIVACY.md, the filter).
        let raised = text.replacingOccurrences(of: "epsilon_max: 10.0", with: "epsilon_max: 12.5")
        do {
            _ = try await consortium.coordinator.adoptPolicy(yaml: raised, by: Self.operatorPrincipal)
            Issue.record("a cap above the one in force was adopted")
        } catch {
            #expect(error.code == "policy.epsilon_max_raised" && error.message.contains("new ledger"))
        }
        #expect(try consortium.ledgerEntries().count == entriesBefore)
        let lowered = text.replacingOccurrences(of: "epsilon_max: 10.0", with: "epsilon_max: 9.5")
        let adoption = try await consortium.coordinator.adoptPolicy(yaml: lowered, by: Self.operatorPrincipal)
        #expect(adoption.oldEpsilonMax == 10 && adoption.newEpsilonMax == 9.5)
        let entry = try #require(try consortium.ledgerEntries().last)
        #expect(entry.kind == "policy.adopted")
        #expect(entry.data["operator"]?.stringValue == "ops-alice")
        #expect(entry.data["old_epsilon_max"]?.doubleValue == 10 && entry.data["new_epsilon_max"]?.doubleValue == 9.5)
        #expect(try verifiedState(consortium).epsilonMax == 9.5)
        #expect(await consortium.coordinator.budgetStatus().epsilonMax == 9.5)
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    /// δ above 1/(10·N) is warned about when the coordinator starts, in both units: N is the
    /// participants the policy names (participant unit) or, before any attestation, the fewest
    /// records a round can protect (record unit: quorum × min_rows).
    @Test(arguments: [
        ("participant", "0.05", true), ("participant", "1e-5", false), ("record", "0.2", true),
        ("record", "1e-5", false),
    ])
    func deltaAboveGuidanceIsWarnedAtStart(unit: String, delta: String, warns: Bool) async throws {
        let files = try ConsortiumFiles(unit: unit)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let text = try String(contentsOfFile: files.policyPath, encoding: .utf8)
        try text.replacingOccurrences(of: "delta: 1e-5", with: "delta: \(delta)")
            .write(toFile: files.policyPath, atomically: true, encoding: .utf8)
        let capture = LogCapture()
        let coordinator = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        await coordinator.shutdown()
        #expect(
            capture.text.contains("privacy.delta is above 1/(10·N)") == warns, "\(unit) δ \(delta): \(capture.text)")
    }

    @Test func adoptedPolicyStaysInForceAcrossRestarts() async throws {
        let files = try ConsortiumFiles()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let original = try String(contentsOfFile: files.policyPath, encoding: .utf8)
        do {
            let first = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
            _ = try await first.adoptPolicy(
                yaml: original.replacingOccurrences(of: "epsilon_max: 10.0", with: "epsilon_max: 9.5"),
                by: Self.operatorPrincipal)
            await first.shutdown()
        }
        // Restarted with the original file, the coordinator keeps the adopted policy.
        let second = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        #expect(await second.budgetStatus().epsilonMax == 9.5)
        #expect(capture.text.contains("using the adopted policy in force"))
        await second.shutdown()
        // A policy file edited behind the ledger's back is refused at start.
        try original.replacingOccurrences(of: "epsilon_max: 10.0", with: "epsilon_max: 99.0").write(
            toFile: files.policyPath, atomically: true, encoding: .utf8)
        do {
            _ = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
            Issue.record("a coordinator started with a policy that is not in force")
        } catch let error as CoordinatorError {
            #expect(error.code == "coordinator.policy_mismatch")
            #expect(error.message.contains("cohort policy adopt"))
        }
    }

    @Test(arguments: [Poison.scaled, Poison.signFlipped])
    func poisonedParticipantIsFlaggedAcrossRounds(poison: Poison) async throws {
        let consortium = try await Consortium(
            names: ["hospital-a", "hospital-b", "hospital-c", "hospital-d"], epsilonMax: 50, noiseMultiplier: 1.0,
            extraYAML: """
                governance:
                  anomaly:
                    action: flag_only

                """)
        var tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        tasks.append(Task { try await consortium.participant("hospital-d", transform: poison.transform).run() })
        try await consortium.waitForConnected(4)
        for _ in 1...3 {
            let outcome = try await consortium.coordinator.runRound()
            guard case .closed = outcome else {
                Issue.record("round did not close: \(outcome)")
                break
            }
        }
        let statuses = await consortium.coordinator.participantStatuses()
        let flagged = Dictionary(uniqueKeysWithValues: statuses.map { ($0.name, $0.flaggedRounds) })
        // Round 1 has no previous update, so a sign flip can only show from round 2.
        #expect(flagged["hospital-d"] == (poison == .scaled ? [1, 2, 3] : [2, 3]), "\(flagged)")
        for honest in ["hospital-a", "hospital-b", "hospital-c"] {
            #expect(flagged[honest] == [], "\(honest) flagged: \(flagged)")
        }
        let anomaly = try #require(try gateDecisions(consortium, round: 3)["anomaly"])
        #expect(anomaly.data["passed"] == .bool(false))
        #expect(anomaly.data["reason"]?.stringValue?.contains("hospital-d") == true)
        // A model built from a flagged update is released (flag_only) but never approved.
        let evaluation = try #require(try gateDecisions(consortium, round: 3)["evaluation"])
        #expect(evaluation.data["inputs"]?["promoted"] == .bool(false))
        #expect(evaluation.data["inputs"]?["anomaly_passed"] == .bool(false))
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    /// Participant unit: a flagged update is judged (the ledger's anomaly decision fails) but the
    /// flag is not remembered against a name, so status and the participant list never say who
    /// was sampled.
    @Test func participantUnitRemembersNoFlaggedName() async throws {
        let consortium = try await Consortium(
            names: ["hospital-a", "hospital-b", "hospital-c", "hospital-d"], epsilonMax: 50, unit: "participant",
            samplingRate: 1.0, noiseMultiplier: 1.0,
            extraYAML: """
                governance:
                  anomaly:
                    action: flag_only

                """)
        var tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        tasks.append(Task { try await consortium.participant("hospital-d", transform: Poison.scaled.transform).run() })
        try await consortium.waitForConnected(4)
        let outcome = try await consortium.coordinator.runRound()
        guard case .closed = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        let anomaly = try #require(try gateDecisions(consortium, round: 1)["anomaly"])
        #expect(anomaly.data["passed"] == .bool(false), "the poisoned update was not flagged: \(anomaly.data)")
        for status in await consortium.coordinator.participantStatuses() {
            #expect(status.flaggedRounds.isEmpty, "\(status.name) remembered as flagged: \(status.flaggedRounds)")
        }
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    @Test func discardedRoundKeepsItsChargeAndTheModel() async throws {
        let consortium = try await Consortium(
            epsilonMax: 50, noiseMultiplier: 1.0,
            extraYAML: """
                governance:
                  anomaly:
                    action: discard_round
                    suspend_flagged: true

                """)
        var tasks = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        tasks.append(Task { try await consortium.participant("hospital-c", transform: Poison.scaled.transform).run() })
        try await consortium.waitForConnected(3)
        let before = await consortium.coordinator.globalModel
        let outcome = try await consortium.coordinator.runRound()
        guard case .aborted(1, let reason, true) = outcome else {
            Issue.record("the anomaly gate did not discard the round: \(outcome)")
            await consortium.shutdown()
            return
        }
        #expect(reason.contains("anomaly"))
        #expect(await consortium.coordinator.globalModel == before)
        #expect(try verifiedState(consortium).roundsCharged == 1)
        let statuses = await consortium.coordinator.participantStatuses()
        #expect(statuses.first { $0.name == "hospital-c" }?.suspended == true)
        // The next round runs without the suspended silo and closes.
        let next = try await consortium.coordinator.runRound()
        guard case .closed(_, let contributors, _, _) = next else {
            Issue.record("round 2 did not close: \(next)")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    @Test func modelFailingTheEvaluationGateIsNotPromoted() async throws {
        let consortium = try await Consortium(
            extraYAML: """
                governance:
                  evaluation:
                    min_accuracy: 0.9999
                    min_roc_auc: 0.9999

                """)
        guard let (tasks, _) = try await runOneRound(consortium) else { return }
        let evaluation = try #require(try gateDecisions(consortium, round: 1)["evaluation"])
        #expect(evaluation.data["passed"] == .bool(false))
        #expect(evaluation.data["inputs"]?["promoted"] == .bool(false))
        // The ledger says the evaluation fell below the policy, never by how much: the exact
        // metrics are in the coordinator's evaluation store.
        #expect(evaluation.data["reason"]?.stringValue?.contains("below the policy") == true)
        #expect(evaluation.data["inputs"]?["aggregate"] == nil)
        #expect(evaluation.data["inputs"]?["thresholds"]?["min_accuracy"]?.doubleValue == 0.9999)
        let storePath = EvaluationStore.path(stateDirectory: consortium.stateDirectory)
        let stored = try #require(try EvaluationStore.read(path: storePath).last)
        #expect((stored.record.metrics["accuracy"] ?? 1) < 0.9999)
        #expect(try verifiedState(consortium).latestApprovedRound == nil)
        let status = await consortium.coordinator.status()
        #expect(status.latestApprovedRound == nil)
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    /// The auditor-readable ledger keeps each gate's decision and the public rule it applied;
    /// the exact record statistics (rows, label counts, missing rates, norms, z-scores, cosines,
    /// risk terms) go to the operator-only gate-input store, to which the entry commits.
    @Test func ledgerKeepsDecisionsAndTheStoreKeepsRecordStatistics() async throws {
        // The three slices hold 190, 190 and 189 records.
        let consortium = try await Consortium(
            extraYAML: """
                governance:
                  data_quality:
                    min_rows: 190

                """)
        guard let (tasks, _) = try await runOneRound(consortium) else { return }
        let decisions = try gateDecisions(consortium, round: 1)
        let storePath = GateInputStore.path(stateDirectory: consortium.stateDirectory)
        #expect(try DurableFile.permissions(of: storePath) == 0o600)
        let stored = Dictionary(
            try GateInputStore.read(path: storePath).map { ($0.sha256, $0.record) }, uniquingKeysWith: { $1 })
        for gate in ["data_quality", "anomaly", "risk"] {
            let entry = try #require(decisions[gate])
            let inputs = try #require(entry.data["inputs"]?.objectValue)
            let exact = GateDecisionPayload.exactRecordInputs[gate] ?? []
            #expect(Set(inputs.keys).isDisjoint(with: exact), "\(gate) ledgers \(inputs.keys.sorted())")
            let commitment = try #require(entry.data["inputs_sha256"]?.stringValue, "\(gate) commits to no store line")
            let line = try #require(stored[commitment])
            #expect(line.gate == gate && line.round == 1)
        }
        // The ledger names the failing rule, not the figure; the store keeps the figure.
        let quality = try #require(decisions["data_quality"])
        #expect(quality.data["reason"]?.stringValue?.contains("hospital-c (min_rows)") == true, "\(quality.data)")
        #expect(quality.data["reason"]?.stringValue?.contains("189") == false)
        let ledgered = try #require(quality.data["inputs"]?["participants"]?["hospital-c"]?.objectValue)
        #expect(ledgered["rows"] == nil && ledgered["failed_rules"] == .array(["min_rows"]))
        let exactLine = try #require(stored[quality.data["inputs_sha256"]?.stringValue ?? ""])
        #expect(exactLine.inputs["participants"]?["hospital-c"]?["rows"]?.intValue == 189)
        // Every commitment opens against the store.
        let result = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey(), keepEntries: true)
        #expect(try GateInputStore.check(path: storePath, against: result.entries).commitmentsChecked >= 3)
        await consortium.shutdown()
        for task in tasks.prefix(2) { _ = try await task.value }
        _ = await tasks[2].result
    }

    @Test func participantFailingDataQualitySitsOut() async throws {
        // The three slices hold 190, 190 and 189 records.
        let consortium = try await Consortium(
            extraYAML: """
                governance:
                  data_quality:
                    min_rows: 190

                """)
        guard let (tasks, outcome) = try await runOneRound(consortium),
            case .closed(_, let contributors, _, _) = outcome
        else { return }
        #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        let quality = try #require(try gateDecisions(consortium, round: 1)["data_quality"])
        #expect(quality.data["passed"] == .bool(false))
        #expect(quality.data["reason"]?.stringValue?.contains("hospital-c") == true)
        await consortium.shutdown()
        for task in tasks.prefix(2) { _ = try await task.value }
        // The ineligible participant was told why (`participant.ineligible`, the gate's reason) and stopped.
        let result = await tasks[2].result
        guard case .failure(let failure) = result, let error = failure as? ParticipantError else {
            Issue.record("hospital-c did not stop on its ineligibility: \(result)")
            return
        }
        #expect(error.code == "participant.ineligible")
        #expect(error.message.contains("189 records, the policy requires at least 190"))
    }
}

enum Poison: String, CaseIterable, Sendable, CustomStringConvertible {
    case scaled, signFlipped
    var description: String { rawValue }
    var transform: @Sendable (UInt64, [Float]) -> [Float] {
        switch self {
        // A factor the record-unit norm bound (C × attested records) still admits, so the anomaly
        // screen is what catches it; a ×25 update is refused before the sum (`update.norm_out_of_range`).
        case .scaled: { _, values in values.map { $0 * 6 } }
        case .signFlipped: { _, values in values.map { -$0 } }
        }
    }
}

final class AlertBox: @unchecked Sendable {
    // @unchecked Sendable: `alerts` is only touched under `lock`.
    private let lock = NSLock()
    private var alerts: [GovernanceAlert] = []
    func add(_ alert: GovernanceAlert) {
        lock.lock()
        alerts.append(alert)
        lock.unlock()
    }
    var all: [GovernanceAlert] {
        lock.lock()
        defer { lock.unlock() }
        return alerts
    }
}
