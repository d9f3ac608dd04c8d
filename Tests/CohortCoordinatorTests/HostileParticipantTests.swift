import CohortCoordinator
import CohortCrypto
import CohortLedger
import CohortModel
import CohortParticipant
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// Authenticated participants sending well-formed but hostile messages over mutual TLS to an
/// in-process coordinator: each is refused with its stable code, the coordinator stays up, the
/// round closes for the honest participants (it is never aborted by one peer's input), and the
/// ledger verifies.
@Suite(.serialized) struct HostileParticipantTests {
    static let dimension = 31

    /// Attestations no coordinator may accept, each with the code its sender gets.
    enum BadAttestation: String, CaseIterable, Sendable, CustomStringConvertible {
        case rowsNearIntMax, rowsTenBillion, negativeRows, labelCountsOverflow, negativeLabel, labelsAboveRows,
            missingRateNaN, missingRateAboveOne, hugeSchemaName, controlCharacterInName, notJSON, wrongType,
            noTrainingRows
        var description: String { rawValue }

        /// The JSON sent instead of the honest attestation.
        func json(from honest: [String: Any]) throws -> [UInt8] {
            var object = honest
            switch self {
            case .rowsNearIntMax: object["rows"] = 9_200_000_000_000_000_000 as Int
            case .rowsTenBillion: object["rows"] = 10_000_000_000 as Int
            case .negativeRows: object["rows"] = -1
            case .labelCountsOverflow: object["label_counts"] = ["positive": 1 << 62, "negative": 1 << 62]
            case .negativeLabel: object["label_counts"] = ["positive": -5, "negative": 10]
            case .labelsAboveRows: object["label_counts"] = ["positive": object["rows"]!, "negative": 1]
            case .missingRateNaN:
                // JSON has no NaN; 1e400 parses to infinity, which is not a rate either.
                return Array(
                    String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
                        .replacingOccurrences(of: "\"overall_missing_rate\":0", with: "\"overall_missing_rate\":1e400")
                        .utf8)
            case .missingRateAboveOne: object["overall_missing_rate"] = 1.5
            // 200 KiB: inside the 256 KiB attestation frame limit, so the attestation's own bound refuses it.
            case .hugeSchemaName: object["schema_name"] = String(repeating: "x", count: 200 << 10)
            case .controlCharacterInName: object["schema_name"] = "wdbc\u{1B}[2J"
            case .notJSON: return Array("{not json".utf8)
            case .wrongType: object["rows"] = "many"
            // A participant older than the keyed per-record holdout.
            case .noTrainingRows: object["training_rows"] = nil
            }
            return Array(try JSONSerialization.data(withJSONObject: object))
        }

        var code: String {
            switch self {
            // 1e400 is not a JSON number a decoder can represent: the document is malformed.
            case .notJSON, .wrongType, .missingRateNaN: "wire.malformed_payload"
            case .noTrainingRows: "attestation.no_training_rows"
            default: "attestation.invalid"
            }
        }
    }

    @Test(arguments: BadAttestation.allCases)
    func badAttestationIsRefusedAndTheRoundCloses(bad: BadAttestation) async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(2)
        let json = try bad.json(from: consortium.attestationObject("hospital-c"))
        let code = try await consortium.scripted("hospital-c", attestation: json) { session in
            try await session.next(.error).decode(WireError.self).code
        }
        #expect(code == bad.code)
        #expect(await !consortium.coordinator.connectedParticipants.contains("hospital-c"))
        try await expectRoundClosesAndLedgerVerifies(consortium, contributors: ["hospital-a", "hospital-b"])
        #expect(!consortium.capture.text.contains(String(repeating: "x", count: 1_000)))
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// Attested rows within the bound (10^9) but more than the round's noise can cover (σ = 60:
    /// σ·(C + γ√d + 2^-23·N·C)/γ > 2^25 grid steps): that participant sits the round out, and
    /// the round opens (no `DiscreteGaussian` out of range) and closes for the others.
    @Test func rowsBeyondTheNoiseRangeSitTheRoundOutInsteadOfStoppingIt() async throws {
        let consortium = try await Consortium(minParticipants: 2, noiseMultiplier: 60)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        var object = try consortium.attestationObject("hospital-c")
        object["rows"] = DataQualityAttestation.maximumRows
        object["training_rows"] = DataQualityAttestation.maximumRows
        let json = Array(try JSONSerialization.data(withJSONObject: object))
        let large = Task {
            try await consortium.scripted("hospital-c", attestation: json) { session in
                // Never invited: wait for the coordinator's goodbye.
                _ = try? await session.next(.bye)
            }
        }
        try await consortium.waitForConnected(3)
        try await expectRoundClosesAndLedgerVerifies(consortium, contributors: ["hospital-a", "hospital-b"])
        #expect(consortium.capture.text.contains("attested records exceed what the round's noise can cover"))
        await consortium.shutdown()
        _ = try? await large.value
        for task in honest { _ = try await task.value }
    }

    /// A record-unit update whose norm exceeds C × attested records (a coordinate of 1e17, or
    /// just above the bound) is refused before it reaches the sum; the round closes, charged once.
    @Test(arguments: [Float(1e17), Float(3e38)])
    func updateAboveTheNormBoundIsRefusedBeforeTheSum(coordinate: Float) async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let attacker = Task { () -> String in
            try await consortium.scripted("hospital-c") { session in
                let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                var values = [Float](repeating: 0, count: Self.dimension)
                values[3] = coordinate
                try await session.outbound.send(session.update(for: invite, values: values))
                return try await session.reply().decode(WireError.self).code
            }
        }
        try await consortium.waitForConnected(3)
        try await expectRoundClosesAndLedgerVerifies(consortium, contributors: ["hospital-a", "hospital-b"])
        #expect(try await attacker.value == "update.norm_out_of_range")
        let checks = try consortium.ledgerEntries().first {
            $0.kind == "gate.decision" && $0.data["gate"]?.stringValue == "update_checks"
        }
        #expect(checks?.data["passed"] == .bool(false))
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// The exact bound: a norm of C × training records passes, C × records × (1 + 1e-5) does not.
    @Test func normBoundIsCTimesAttestedRecords() async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        // The bound counts the training split the participant attests (its holdout is not sampled).
        let attestation = try consortium.files.honestAttestation("hospital-c")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(attestation)) as? [String: Any])
        let records = try #require(object["training_rows"] as? Int)
        let attacker = Task { () -> [String] in
            try await consortium.scripted("hospital-c", attestation: attestation) { session in
                var codes: [String] = []
                for scale in [1.0, 1.00001] {
                    let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                    var values = [Float](repeating: 0, count: Self.dimension)
                    values[0] = Float(Double(records) * scale)
                    try await session.outbound.send(session.update(for: invite, values: values))
                    let reply = try await session.reply()
                    codes.append(reply.type == .updateAck ? "ack" : try reply.decode(WireError.self).code)
                }
                return codes
            }
        }
        try await consortium.waitForConnected(3)
        _ = try await consortium.coordinator.runRound()
        try await expectRoundClosesAndLedgerVerifies(consortium, contributors: ["hospital-a", "hospital-b"])
        #expect(try await attacker.value == ["ack", "update.norm_out_of_range"])
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// Evaluation results no coordinator may merge.
    enum BadEvaluation: String, CaseIterable, Sendable, CustomStringConvertible {
        case confusionTwoToThe62, negativeConfusion, otherLayout, countsDisagreeWithHistograms, moreThanAttested,
            notJSON
        var description: String { rawValue }

        func json() throws -> [UInt8] {
            let honest = MetricsAccumulator()
            var object = try #require(
                try JSONSerialization.jsonObject(with: JSONEncoder().encode(honest)) as? [String: Any])
            var positive = [Int](repeating: 0, count: honest.layout.binCount)
            switch self {
            case .confusionTwoToThe62:
                positive[0] = 1 << 62
                object["positive_histogram"] = positive
                object["confusion"] = [
                    "true_positives": 1 << 62, "false_positives": 0, "true_negatives": 0, "false_negatives": 0,
                ]
            case .negativeConfusion:
                positive[0] = -3
                object["positive_histogram"] = positive
                object["confusion"] = [
                    "true_positives": -3, "false_positives": 0, "true_negatives": 0, "false_negatives": 0,
                ]
            case .otherLayout:
                let other = MetricsAccumulator(layout: .init(logitBound: 8, binsPerUnit: 4))
                return Array(try JSONEncoder().encode(other))
            case .countsDisagreeWithHistograms:
                object["confusion"] = [
                    "true_positives": 5, "false_positives": 0, "true_negatives": 0, "false_negatives": 0,
                ]
            case .moreThanAttested:
                positive[0] = 1_000_000
                object["positive_histogram"] = positive
                object["confusion"] = [
                    "true_positives": 1_000_000, "false_positives": 0, "true_negatives": 0, "false_negatives": 0,
                ]
            case .notJSON:
                return Array("[]".utf8)
            }
            return Array(try JSONSerialization.data(withJSONObject: object))
        }
    }

    /// The bad evaluation is refused (`evaluation.invalid`) and left out; the round still
    /// closes, its evaluation made of the honest participants' results only.
    @Test(arguments: BadEvaluation.allCases)
    func badEvaluationIsLeftOutAndTheRoundCloses(bad: BadEvaluation) async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let json = try bad.json()
        let evaluator = Task { () -> String in
            try await consortium.scripted("hospital-c") { session in
                let invite = try await session.next(.roundInvite).decode(RoundInvite.self)
                try await session.outbound.send(
                    session.update(for: invite, values: [Float](repeating: 0.01, count: Self.dimension)))
                _ = try await session.reply()
                let request = try await session.next(.evaluateRequest).decode(EvaluateRequest.self)
                try await session.outbound.send(EvaluationResult(round: request.round, json: json))
                return try await session.next(.error).decode(WireError.self).code
            }
        }
        try await consortium.waitForConnected(3)
        try await expectRoundClosesAndLedgerVerifies(
            consortium, contributors: ["hospital-a", "hospital-b", "hospital-c"])
        #expect(try await evaluator.value == "evaluation.invalid")
        let recorded = try #require(try consortium.ledgerEntries().first { $0.kind == "evaluation.recorded" })
        // Two evaluations merged; the honest participants' metrics are in the evaluation store.
        #expect(recorded.data["participants_evaluated"]?.intValue == 2)
        let storePath = EvaluationStore.path(stateDirectory: consortium.stateDirectory)
        let stored = try #require(try EvaluationStore.read(path: storePath).last)
        #expect(stored.record.participants == 2 && recorded.data["evaluation_sha256"]?.stringValue == stored.sha256)
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// A participant with a 0-row CSV is refused locally, naming the file.
    @Test func zeroRowCSVIsRefusedLocally() async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let identity = consortium.identity("hospital-c")
        let path = identity.directory + "/empty.csv"
        let header = try #require(
            try String(contentsOfFile: identity.directory + "/data.csv", encoding: .utf8).split(separator: "\n").first)
        try (header + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let configuration = ParticipantConfiguration(
            host: "127.0.0.1", port: consortium.port, identity: identity, dataPath: path,
            schemaPath: consortium.schemaPath)
        let error = await #expect(throws: ParticipantError.self) {
            _ = try await Participant(configuration: configuration, logger: consortium.capture.logger("p")).run()
        }
        #expect(error?.code == "participant.no_records")
        #expect(error?.message.contains(path) == true)
        await consortium.shutdown()
    }

    /// A participant whose data was checked against another schema (same dimension, another
    /// digest) is told `participant.ineligible` with the gate's reason and stops, instead of
    /// waiting forever; the round closes for the others.
    @Test func schemaMismatchEndsTheParticipantWithTheGateReason() async throws {
        let consortium = try await Consortium(minParticipants: 2)
        let honest = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let identity = consortium.identity("hospital-c")
        var schema = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: consortium.schemaPath)))
                as? [String: Any])
        schema["name"] = "wdbc-local-variant"
        let otherSchema = identity.directory + "/other-schema.json"
        try JSONSerialization.data(withJSONObject: schema).write(to: URL(fileURLWithPath: otherSchema))
        let configuration = ParticipantConfiguration(
            host: "127.0.0.1", port: consortium.port, identity: identity, dataPath: identity.directory + "/data.csv",
            schemaPath: otherSchema)
        let mismatched = Task {
            try await Participant(configuration: configuration, logger: consortium.capture.logger("p")).run()
        }
        try await consortium.waitForConnected(3)
        try await expectRoundClosesAndLedgerVerifies(consortium, contributors: ["hospital-a", "hospital-b"])
        let result = await mismatched.result
        guard case .failure(let failure) = result, let error = failure as? ParticipantError else {
            Issue.record("the mismatched participant did not fail: \(result)")
            await consortium.shutdown()
            return
        }
        #expect(error.code == "participant.ineligible")
        #expect(error.message.contains("schema mismatch"))
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    /// Runs one round, which must close with exactly `contributors`, then verifies the ledger
    /// and that no round was aborted or charged twice.
    func expectRoundClosesAndLedgerVerifies(_ consortium: Consortium, contributors: Set<String>) async throws {
        try expectClosedAndLedgerVerifies(
            try await consortium.coordinator.runRound(), consortium, contributors: contributors)
    }
}

/// `outcome` closed its round with exactly `contributors`, charged once, nothing aborted, and the
/// ledger verifies.
func expectClosedAndLedgerVerifies(_ outcome: RoundOutcome, _ consortium: Consortium, contributors: Set<String>) throws
{
    guard case .closed(let round, let who, _, _) = outcome else {
        Issue.record("round did not close: \(outcome)")
        return
    }
    #expect(Set(who) == contributors)
    let entries = try consortium.ledgerEntries()
    #expect(!entries.contains { $0.kind == "round.aborted" })
    #expect(entries.filter { $0.kind == "round.charged" && $0.data["round"] == .integer(round) }.count == 1)
    _ = try LedgerVerifier.verify(
        file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
        publicKey: consortium.ledgerPublicKey())
}
