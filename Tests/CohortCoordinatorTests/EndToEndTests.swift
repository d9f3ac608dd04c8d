import CohortCoordinator
import CohortCrypto
import CohortLedger
import CohortModel
import CohortParticipant
import CohortStorage
import CohortTesting
import CohortTransport
import Foundation
import NIOCore
import NIOSSL
import Testing

/// Full rounds over real mutual-TLS sockets on 127.0.0.1: an in-process coordinator, honest
/// participants running the real participant runtime, and scripted ones sending bad input.
@Suite(.serialized) struct EndToEndTests {
    @Test func fullRoundWithThreeParticipants() async throws {
        let consortium = try await Consortium()
        let tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        try await consortium.waitForConnected(3)
        let before = await consortium.coordinator.globalModel
        let outcome = try await consortium.coordinator.runRound()
        guard case .closed(let round, let contributors, let roundEpsilon, let cumulative) = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        #expect(round == 1)
        #expect(Set(contributors) == ["hospital-a", "hospital-b", "hospital-c"])
        #expect(roundEpsilon > 0 && cumulative == roundEpsilon)
        #expect(await consortium.coordinator.globalModel != before)
        // The ledger: genesis, opened, charged (before) closed; it verifies under the coordinator's key.
        // Gate decisions (GovernanceTests) interleave; the round's own steps keep this order.
        let kinds = try consortium.ledgerEntries().map(\.kind).filter { $0 != "gate.decision" }
        #expect(kinds == ["genesis", "round.opened", "round.charged", "evaluation.recorded", "round.closed"])
        let closed = try #require(consortium.ledgerEntries().last)
        // The exact metrics are in the coordinator's evaluation store (0600), not in the ledger,
        // which commits to the store's line.
        #expect(closed.data["metrics"] == nil)
        let storePath = EvaluationStore.path(stateDirectory: consortium.stateDirectory)
        #expect(try DurableFile.permissions(of: storePath) == 0o600)
        let stored = try #require(try EvaluationStore.read(path: storePath).last)
        #expect(closed.data["evaluation_sha256"]?.stringValue == stored.sha256)
        #expect(stored.record.round == 1 && stored.record.participants == 3)
        #expect(stored.record.modelSHA256 == closed.data["model_sha256"]?.stringValue)
        #expect((stored.record.metrics["accuracy"] ?? 0) > 0.5)
        // Each participant evaluated on exactly its keyed holdout (the records its key puts
        // aside, about a fifth), which Participant.loadLocalData reproduces from the same key file.
        var holdouts: [String: Int] = [:]
        for name in ["hospital-a", "hospital-b", "hospital-c"] {
            let identity = consortium.identity(name)
            holdouts[name] = try Participant.loadLocalData(
                configuration: ParticipantConfiguration(
                    host: "127.0.0.1", port: consortium.port, identity: identity,
                    dataPath: identity.directory + "/data.csv",
                    schemaPath: consortium.schemaPath),
                logger: consortium.capture.logger("test")
            ).holdout.count
        }
        let recorded = try #require(try consortium.ledgerEntries().first { $0.kind == "evaluation.recorded" })
        #expect(recorded.data["participants"] == nil && recorded.data["aggregate"] == nil)
        #expect(recorded.data["evaluation_sha256"]?.stringValue == stored.sha256)
        #expect(recorded.data["participants_evaluated"]?.intValue == 3)
        #expect(stored.record.metrics["count"] == Double(holdouts.values.reduce(0, +)))
        // No gate decision carries a holdout metric either.
        for entry in try consortium.ledgerEntries() where entry.kind == "gate.decision" {
            #expect(entry.data["inputs"]?["aggregate"] == nil && entry.data["inputs"]?["r1"] == nil, "\(entry.data)")
        }
        // The public N of the round is the participants' training rows: the file's rows less
        // their holdouts (569 WDBC records in all), never the holdout rows too.
        let opened = try #require(try consortium.ledgerEntries().first { $0.kind == "round.opened" })
        let plan = try #require(try RoundOpenedPayload(data: opened.data).plan)
        #expect(plan.records == 569 - holdouts.values.reduce(0, +))
        #expect(abs(holdouts.values.reduce(0, +) - 114) < 40)
        let verified = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey(),
            keepEntries: true)
        #expect(verified.state.lastClosedRound == 1)
        #expect(try EvaluationStore.check(path: storePath, against: verified.entries).commitmentsChecked == 2)
        #expect(
            FileManager.default.fileExists(atPath: consortium.stateDirectory + "/checkpoints/round-000001.safetensors"))
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    /// What a scripted participant saw of two rounds.
    struct TwoRoundsSeen: Sendable {
        var firstInvite: RoundInvite
        var evaluateRequest: EvaluateRequest
        var secondInvite: RoundInvite
        var secondInvitePayloadBytes: Int
        var dimension: Int
    }

    @Test func nextRoundNamesTheEvaluatedCandidateInsteadOfResendingIt() async throws {
        let consortium = try await Consortium()
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let observer = Task {
            try await consortium.scripted("hospital-c") { session -> TwoRoundsSeen in
                let dimension = Int(session.welcome.model.dimension)
                func evaluate() async throws -> EvaluateRequest {
                    let request = try await session.next(.evaluateRequest).decode(EvaluateRequest.self)
                    var accumulator = MetricsAccumulator()
                    accumulator.add(logit: 0.5, isPositive: true)
                    try await session.outbound.send(
                        EvaluationResult(round: request.round, json: Array(try JSONEncoder().encode(accumulator))))
                    return request
                }
                let first = try await session.next(.roundInvite).decode(RoundInvite.self)
                try await session.outbound.send(
                    session.update(for: first, values: [Float](repeating: 0, count: dimension)))
                let request = try await evaluate()
                let secondFrame = try await session.next(.roundInvite)
                let second = try secondFrame.decode(RoundInvite.self)
                try await session.outbound.send(
                    session.update(for: second, values: [Float](repeating: 0, count: dimension)))
                _ = try await evaluate()
                return TwoRoundsSeen(
                    firstInvite: first, evaluateRequest: request, secondInvite: second,
                    secondInvitePayloadBytes: secondFrame.payload.readableBytes, dimension: dimension)
            }
        }
        try await consortium.waitForConnected(3)
        guard case .closed = try await consortium.coordinator.runRound() else {
            Issue.record("round 1 did not close")
            await consortium.shutdown()
            return
        }
        let candidate = await consortium.coordinator.globalModel
        let second = try await consortium.coordinator.runRound()
        let seen = try await observer.value
        // Round 1: nobody holds a model yet, so it travels in full.
        #expect(!seen.firstInvite.refersToHeldModel)
        #expect(seen.firstInvite.globalModel.count == seen.dimension)
        #expect(seen.firstInvite.modelDigest == SHA256.digest(TensorCoding.encode(seen.firstInvite.globalModel)))
        // The evaluation request carries round 1's released model with its digest…
        #expect(seen.evaluateRequest.model == candidate)
        #expect(seen.evaluateRequest.modelDigest == SHA256.digest(TensorCoding.encode(candidate)))
        // …and round 2's invitation names it instead of carrying it again.
        #expect(seen.secondInvite.refersToHeldModel)
        #expect(seen.secondInvite.modelDigest == seen.evaluateRequest.modelDigest)
        #expect(seen.secondInvitePayloadBytes < 1_000)
        // The real participants resolved the reference and trained on the candidate.
        guard case .closed(2, let contributors, _, _) = second else {
            Issue.record("round 2 did not close: \(second)")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b", "hospital-c"])
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    @Test func participantDisconnectingMidRoundLeavesQuorum() async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let leaver = Task {
            try await consortium.scripted("hospital-c") { session in
                _ = try await session.next(.roundInvite)
                // Leaves without answering.
            }
        }
        try await consortium.waitForConnected(3)
        let outcome = try await consortium.coordinator.runRound()
        guard case .closed(_, let contributors, _, _) = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        try await leaver.value
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    @Test func roundBelowQuorumIsAbortedWithReasonAndStaysCharged() async throws {
        // A deadline the honest participants meet even on a loaded machine; the silent one outlasts it.
        let consortium = try await Consortium(minParticipants: 3, deadlineSeconds: 8)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let silent = Task {
            try await consortium.scripted("hospital-c") { session in
                _ = try await session.next(.roundInvite)
                try await Task.sleep(for: .seconds(12))
            }
        }
        try await consortium.waitForConnected(3)
        let outcome = try await consortium.coordinator.runRound()
        #expect(
            outcome == .aborted(round: 1, reason: "only 2 of the required 3 participants contributed", charged: true))
        let entries = try consortium.ledgerEntries()
        #expect(
            entries.map(\.kind).filter { $0 != "gate.decision" } == [
                "genesis", "round.opened", "round.charged", "round.aborted",
            ])
        #expect(entries.last?.data["reason"]?.stringValue == "only 2 of the required 3 participants contributed")
        _ = try? await silent.value
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    enum Attack: String, CaseIterable, Sendable {
        case wrongDimension, nanValue, infiniteValue, sealedToAnotherKey, signedByAnotherKey, duplicate
    }

    /// Each bad update gets its stable error code; the round goes on and closes for the others.
    @Test(arguments: Attack.allCases)
    func badUpdateIsRefusedAndRoundGoesOn(attack: Attack) async throws {
        let consortium = try await Consortium(
            names: ["hospital-a", "hospital-b", "hospital-c", "hospital-d"], minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let dimension = 31
        let attackerDone = Flag()
        // hospital-d answers only after the attacker has its reply, so the round is still
        // collecting when the bad update arrives.
        let latecomer = Task {
            try await consortium.scripted("hospital-d") { session in
                let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                while await !attackerDone.isSet { try await Task.sleep(for: .milliseconds(5)) }
                try await session.outbound.send(
                    session.update(for: invite, values: [Float](repeating: 0.02, count: dimension)))
                _ = try await session.reply()
            }
        }
        let attacker = Task { () -> String in
            try await consortium.scripted("hospital-c") { session in
                let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                let good = [Float](repeating: 0.01, count: dimension)
                let update: Update
                switch attack {
                case .wrongDimension:
                    update = try session.update(for: invite, values: [Float](repeating: 0.01, count: dimension - 1))
                case .nanValue: update = try session.update(for: invite, values: [.nan] + good.dropFirst())
                case .infiniteValue: update = try session.update(for: invite, values: good.dropLast() + [.infinity])
                case .sealedToAnotherKey:
                    update = try session.update(
                        for: invite, values: good, sealTo: SealedBox.KeyPair.generate().publicKey)
                case .signedByAnotherKey:
                    update = try session.update(for: invite, values: good, signWith: Ed25519.KeyPair.generate())
                case .duplicate:
                    try await session.outbound.send(session.update(for: invite, values: good))
                    #expect(try await session.reply().type == .updateAck)
                    update = try session.update(for: invite, values: good)
                }
                try await session.outbound.send(update)
                let reply = try await session.reply()
                await attackerDone.set()
                #expect(reply.type == .error)
                return try reply.decode(WireError.self).code
            }
        }
        try await consortium.waitForConnected(4)
        let outcome = try await consortium.coordinator.runRound()
        let code = try await attacker.value
        try await latecomer.value
        let expected: [Attack: String] = [
            .wrongDimension: "update.wrong_dimension", .nanValue: "update.non_finite",
            .infiniteValue: "update.non_finite",
            .sealedToAnotherKey: "update.seal_open_failed", .signedByAnotherKey: "update.bad_signature",
            .duplicate: "update.duplicate",
        ]
        #expect(code == expected[attack])
        guard case .closed(_, let contributors, _, _) = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        let expectedContributors: Set<String> =
            attack == .duplicate
            ? ["hospital-a", "hospital-b", "hospital-c", "hospital-d"] : ["hospital-a", "hospital-b", "hospital-d"]
        #expect(Set(contributors) == expectedContributors)
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// Round 1's update sent again in round 2 is `update.wrong_round` (it names round 1); an
    /// update naming round 2 with round 1's nonce is `update.replayed`. Neither is counted. Two
    /// senders, because a refused sender leaves the round: its next update would find it closed.
    @Test func updateReplayedFromAnEarlierRoundIsRefused() async throws {
        let names = ["hospital-a", "hospital-b", "hospital-c", "hospital-d"]
        let consortium = try await Consortium(names: names, minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let replayers = [("hospital-c", false), ("hospital-d", true)].map { name, keepsRound in
            Task { () -> WireError in
                try await consortium.scripted(name) { session in
                    let first = try await session.next(.roundInvite).decode(RoundInvite.self)
                    let old = try session.update(for: first, values: [Float](repeating: 0.01, count: 31))
                    try await session.outbound.send(old)
                    #expect(try await session.reply().type == .updateAck)
                    var second = try await session.next(.roundInvite).decode(RoundInvite.self)
                    if keepsRound {
                        second.roundNonce = first.roundNonce
                        try await session.outbound.send(
                            try session.update(for: second, values: [Float](repeating: 0.01, count: 31)))
                    } else {
                        try await session.outbound.send(old)
                    }
                    return try await session.reply().decode(WireError.self)
                }
            }
        }
        try await consortium.waitForConnected(4)
        _ = try await consortium.coordinator.runRound()
        let second = try await consortium.coordinator.runRound()
        var refusals: [WireError] = []
        for task in replayers { refusals.append(try await task.value) }
        #expect(refusals.map(\.code) == ["update.wrong_round", "update.replayed"])
        #expect(refusals.first?.message.contains("the update is for round 1, but round 2 is open") == true)
        #expect(refusals.last?.message.contains("names the open round 2 but carries another round's nonce") == true)
        #expect(refusals.allSatisfy { !$0.closesConnection })
        if case .closed(_, let contributors, _, _) = second {
            #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        } else {
            Issue.record("second round did not close: \(second)")
        }
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// A silo training with the Python example trainer takes part like the others. Needs numpy
    /// and safetensors (Scripts/test.sh installs them); fails with what to install when missing.
    @Test func externalPythonTrainerContributes() async throws {
        try Python.require(["numpy", "safetensors"])
        let consortium = try await Consortium()
        let command = "python3 " + ConsortiumFiles.repositoryRoot + "/Examples/python-trainer/train.py"
        let tasks = [
            Task { try await consortium.participant("hospital-a").run() },
            Task { try await consortium.participant("hospital-b").run() },
            Task { try await consortium.participant("hospital-c", trainer: command).run() },
        ]
        try await consortium.waitForConnected(3)
        let outcome = try await consortium.coordinator.runRound()
        guard case .closed(_, let contributors, _, _) = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b", "hospital-c"])
        await consortium.shutdown()
        var summaries: [Participant.Summary] = []
        for task in tasks { summaries.append(try await task.value) }
        #expect(summaries[2].roundsContributed == [1])
    }

    /// Peers refused at the TLS layer or for oversized frames never disturb the round: it closes
    /// with the honest participants, and each intruder learns why on its first read.
    @Test func intrudersAreRefusedAndTheRoundGoesOn() async throws {
        let consortium = try await Consortium(maxUpdateBytes: 4096)
        let tasks = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(2)
        let round = Task { try await consortium.coordinator.runRound() }

        func attempt(_ tls: TLSConfiguration, _ frame: Frame? = nil) async -> String {
            do {
                let connection = try await FrameClient.connect(
                    host: "127.0.0.1", port: consortium.port, tls: tls, serverHostname: "localhost",
                    logger: consortium.capture.logger("cohort.intruder"))
                return try await connection.executeThenClose { connection in
                    // Under TLS 1.3 a refused client learns why on its first read, so only the
                    // oversized-frame case writes anything.
                    if let frame { try await connection.outbound.send(frame) }
                    var frames = connection.inbound.makeAsyncIterator()
                    while let reply = try await frames.next() {
                        if reply.type == .error { return try reply.decode(WireError.self).code }
                    }
                    return "closed"
                }
            } catch {
                return "\(error)"
            }
        }
        let directory = consortium.directory
        let otherCA = try CertificateAuthority.initCA(outDirectory: directory + "/other-ca")
        let foreign = try otherCA.issue(role: .participant, name: "hospital-c", outDirectory: directory + "/foreign")
        let stranger = try consortium.ca.issue(
            role: .participant, name: "stranger", outDirectory: directory + "/stranger")
        let expired = try consortium.ca.issue(
            role: .participant, name: "hospital-c", outDirectory: directory + "/expired",
            validity: CertificateValidity(
                notBefore: Date().addingTimeInterval(-86_400 * 10), notAfter: Date().addingTimeInterval(-86_400)))
        // The foreign identity's directory holds the other CA; trust the consortium CA to reach the server.
        var foreignTLS = try TLSConfigurationFactory(identity: foreign).makeClientConfiguration()
        foreignTLS.trustRoots = .certificates(
            try NIOSSLCertificate.fromPEMFile(consortium.coordinatorIdentity.caCertificate))
        var noCertificate = TLSConfiguration.makeClientConfiguration()
        noCertificate.minimumTLSVersion = .tlsv13
        noCertificate.trustRoots = foreignTLS.trustRoots
        var tls12 = try TLSConfigurationFactory(identity: consortium.identity("hospital-c")).makeClientConfiguration()
        tls12.minimumTLSVersion = .tlsv1
        tls12.maximumTLSVersion = .tlsv12

        let outcomes = [
            "no certificate": await attempt(noCertificate),
            "another CA": await attempt(foreignTLS),
            "not in policy": await attempt(try TLSConfigurationFactory(identity: stranger).makeClientConfiguration()),
            "expired": await attempt(try TLSConfigurationFactory(identity: expired).makeClientConfiguration()),
            "TLS 1.2 only": await attempt(tls12),
            "oversized frame": await attempt(
                try TLSConfigurationFactory(identity: consortium.identity("hospital-c")).makeClientConfiguration(),
                Frame(type: .update, payload: ByteBuffer(repeating: 0, count: 2 << 20))),
        ]
        #expect(outcomes["no certificate"]!.contains("CERTIFICATE_REQUIRED"), "\(outcomes)")
        #expect(outcomes["another CA"]!.contains("UNKNOWN_CA"), "\(outcomes)")
        #expect(outcomes["not in policy"] == "auth.not_in_policy", "\(outcomes)")
        #expect(outcomes["expired"]!.contains("CERTIFICATE_EXPIRED"), "\(outcomes)")
        #expect(outcomes["TLS 1.2 only"]!.contains("PROTOCOL_VERSION"), "\(outcomes)")
        #expect(outcomes["oversized frame"] == "wire.frame_too_large", "\(outcomes)")

        let outcome = try await round.value
        guard case .closed(_, let contributors, _, _) = outcome else {
            Issue.record("round did not close: \(outcome)")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
    }

    @Test func budgetGateRefusesAndLedgersTheProjection() async throws {
        let consortium = try await Consortium(epsilonMax: 0.5)
        let outcome = try await consortium.coordinator.runRound()
        guard case .refused(1, "budget", let reason) = outcome else {
            Issue.record("not refused by the budget gate: \(outcome)")
            await consortium.shutdown()
            return
        }
        #expect(reason.contains("projected ε"))
        let refusal = try #require(consortium.ledgerEntries().last)
        #expect(refusal.kind == "round.refused")
        #expect((refusal.data["projected_epsilon"]?.doubleValue ?? 0) > 0.5)
        await consortium.shutdown()
    }

    /// No update, key or raw record reaches the logs.
    @Test func logsCarryNoSecrets() async throws {
        let consortium = try await Consortium()
        let tasks = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        try await consortium.waitForConnected(3)
        _ = try await consortium.coordinator.runRound()
        let modelText = await consortium.coordinator.globalModel.prefix(5).map { "\($0)" }
        var secrets: [String] = []
        for identity in consortium.participants + [consortium.coordinatorIdentity] {
            for path in [identity.ed25519SecretKey, identity.privateKey] {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                secrets += text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init).filter {
                    $0.count >= 40
                }
            }
        }
        let sealing = try String(contentsOfFile: consortium.coordinatorIdentity.x25519SecretKey, encoding: .utf8)
        secrets += sealing.split(separator: " ").map(String.init).filter { $0.count >= 40 }
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
        let logs = consortium.capture.text
        #expect(!logs.isEmpty)
        #expect(!secrets.isEmpty)
        for secret in secrets { #expect(!logs.contains(secret.trimmingCharacters(in: .whitespacesAndNewlines))) }
        // Raw records: distinctive values from the first data rows never appear.
        for value in ["17.99", "10.38", "122.8", "1001", "0.2776"] { #expect(!logs.contains(value)) }
        // Model values (the release) are not logged either.
        for value in modelText where value != "0.0" { #expect(!logs.contains(value)) }
    }
}

/// A one-way signal between test tasks.
actor Flag {
    private(set) var isSet = false
    func set() { isSet = true }
}
