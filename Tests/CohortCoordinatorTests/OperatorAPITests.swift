import CohortAPIClient
import CohortCoordinator
import CohortOperatorAPI
import CohortTesting
import CohortTransport
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

/// The operator and auditor API over real mutual-TLS sockets on 127.0.0.1, against a real
/// coordinator and real certificates of the consortium CA.
@Suite(.serialized) struct OperatorAPITests {
    private func errorCode(_ result: HTTPClientResult) -> String? {
        struct Body: Decodable {
            struct Detail: Decodable {
                let code: String
                let message: String
            }
            let error: Detail
        }
        return try? JSONDecoder().decode(Body.self, from: Data(result.body)).error.code
    }

    private func text(_ result: HTTPClientResult) -> String { String(decoding: result.body, as: UTF8.self) }

    @Test func participantCertificateIsForbiddenToStartRounds() async throws {
        let consortium = try await APIConsortium()
        let participant = try consortium.client(consortium.files.identity("hospital-a"))
        let result = try await participant.send(
            method: "POST", path: "/v1/rounds", body: Array(#"{"count":1}"#.utf8), contentType: "application/json")
        #expect(result.status == 403)
        #expect(errorCode(result) == "control.forbidden")
        #expect(result.headers.first(name: "content-type") == "application/json")
        #expect(await consortium.coordinator.status().roundsQueued == 0)
        // The refusal is logged with who and why.
        #expect(consortium.capture.text.contains("control action refused"))
        #expect(consortium.capture.text.contains("participant hospital-a"))
        await consortium.shutdown()
    }

    @Test func auditorReadsButCannotAct() async throws {
        let consortium = try await APIConsortium()
        let auditor = try consortium.auditorClient
        let status = try await auditor.status()
        #expect(status.state == .idle)
        #expect(status.participants.map(\.name) == ["hospital-a", "hospital-b", "hospital-c"])
        let budget = try await auditor.budget()
        #expect(budget.epsilonSpent == 0 && budget.epsilonMax == 10)
        let ledger = try await auditor.send(method: "GET", path: "/v1/ledger")
        #expect(ledger.status == 200)
        #expect(ledger.headers.first(name: "content-type") == "application/x-ndjson")
        #expect(text(ledger).hasPrefix("{") && text(ledger).contains("genesis"))
        let participants = try await auditor.participants()
        #expect(participants.count == 3)
        for (method, path, body) in [
            ("POST", "/v1/rounds/abort", "{}"), ("POST", "/v1/participants/hospital-a/suspend", #"{"reason":"x"}"#),
            ("POST", "/v1/policy", "version: 1"), ("POST", "/v1/rounds", #"{"count":1}"#),
            ("POST", "/v1/rounds/pause", ""),
        ] {
            let result = try await auditor.send(method: method, path: path, body: Array(body.utf8))
            #expect(result.status == 403, "\(method) \(path)")
            #expect(errorCode(result) == "control.forbidden", "\(method) \(path)")
        }
        // Raw JSON uses snake_case keys.
        let raw = try await auditor.send(method: "GET", path: "/v1/status")
        #expect(text(raw).contains(#""policy_sha256""#) && text(raw).contains(#""rounds_queued":0"#))
        await consortium.shutdown()
    }

    @Test func badRequestsGetStableCodes() async throws {
        let consortium = try await APIConsortium()
        let client = try consortium.operatorClient
        func check(
            _ method: String, _ path: String, _ body: String? = nil, status: Int, code: String, mentions: String? = nil
        ) async throws {
            let result = try await client.send(
                method: method, path: path, body: body.map { Array($0.utf8) }, contentType: "application/json")
            #expect(result.status == status, "\(method) \(path): \(text(result))")
            #expect(errorCode(result) == code, "\(method) \(path): \(text(result))")
            if let mentions { #expect(text(result).contains(mentions), "\(text(result))") }
        }
        try await check(
            "POST", "/v1/participants/nobody/suspend", "{}", status: 404, code: "control.unknown_participant")
        try await check("POST", "/v1/participants/nobody/resume", status: 404, code: "control.unknown_participant")
        try await check(
            "POST", "/v1/rounds", "{count: 1", status: 400, code: "api.bad_request", mentions: "not valid JSON")
        try await check(
            "POST", "/v1/rounds", #"{"count":"three"}"#, status: 400, code: "api.bad_request", mentions: "`count`")
        try await check(
            "POST", "/v1/rounds", #"{"rounds":3}"#, status: 400, code: "api.bad_request", mentions: "`count`")
        try await check("POST", "/v1/rounds", nil, status: 400, code: "api.bad_request")
        try await check("POST", "/v1/rounds", #"{"count":0}"#, status: 400, code: "control.invalid_count")
        try await check(
            "POST", "/v1/rounds/abort", #"{"reason":7}"#, status: 400, code: "api.bad_request", mentions: "`reason`")
        try await check("POST", "/v1/rounds/abort", nil, status: 409, code: "control.no_round")
        try await check("GET", "/v1/nothing", status: 404, code: "api.not_found")
        try await check("GET", "/", status: 404, code: "api.not_found")
        try await check("DELETE", "/v1/status", status: 405, code: "api.method_not_allowed")
        try await check("GET", "/v1/rounds", status: 405, code: "api.method_not_allowed")
        let wrongMethod = try await client.send(method: "POST", path: "/v1/status")
        #expect(wrongMethod.headers.first(name: "allow") == "GET")
        // One byte over 1 MiB.
        let oversize = try await client.send(
            method: "POST", path: "/v1/policy", body: [UInt8](repeating: UInt8(ascii: "#"), count: (1 << 20) + 1),
            contentType: "application/yaml")
        #expect(oversize.status == 413)
        #expect(errorCode(oversize) == "api.body_too_large")
        // The connection-level errors did not stop the server.
        #expect(try await client.status().state == .idle)
        await consortium.shutdown()
    }

    @Test func certificateOfAnotherCACannotConnect() async throws {
        let consortium = try await APIConsortium()
        let otherDirectory = consortium.directory + "/other"
        let other = try CertificateAuthority.initCA(outDirectory: otherDirectory + "/ca")
        let intruder = try other.issue(role: .operator, name: "alice", outDirectory: otherDirectory + "/alice")
        // It trusts our CA for the server, but presents a certificate our CA never issued.
        let factory = try TLSConfigurationFactory(
            caCertificatePath: consortium.files.coordinatorIdentity.caCertificate,
            certificatePath: intruder.certificate,
            privateKeyPath: intruder.privateKey)
        let client = try ControlClient(baseURL: consortium.baseURL, tls: factory)
        await #expect(throws: HTTPClientError.self) { _ = try await client.status() }
        #expect(consortium.capture.text.contains("refusing connection"))
        // The server still serves others.
        #expect(try await consortium.auditorClient.status().state == .idle)
        await consortium.shutdown()
    }

    @Test func silentClientIsDisconnected() async throws {
        let consortium = try await APIConsortium(
            apiConfiguration: OperatorAPIConfiguration(idleTimeout: .milliseconds(300)))
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
            host: "127.0.0.1", port: consortium.api.port
        ).get()
        let started = Date()
        try await channel.closeFuture.get()
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(consortium.capture.text.contains("closing idle connection"))
        await consortium.shutdown()
    }

    /// The operator's whole day: pause, queue, resume, rounds run with real participants, metrics,
    /// suspend/resume, abort, and a policy adoption that would lower the cap below what is spent.
    @Test func operatorDrivesRounds() async throws {
        let consortium = try await APIConsortium()
        try await consortium.startParticipants()
        let op = try consortium.operatorClient

        let paused = try await op.pause()
        #expect(paused.state == .paused)
        let queued = try await op.send(
            method: "POST", path: "/v1/rounds", body: Array(#"{"count":1}"#.utf8), contentType: "application/json")
        #expect(queued.status == 202)
        let queuedStatus = try APIJSON.decoder().decode(CoordinatorStatus.self, from: Data(queued.body))
        #expect(queuedStatus.roundsQueued == 1 && queuedStatus.state == .paused)
        try await Task.sleep(for: .milliseconds(300))
        #expect(await consortium.coordinator.status().lastRound == nil)  // paused: nothing ran
        #expect(try await op.resume().state == .running)
        let afterRound = try await consortium.waitForStatus { $0.lastRound?.round == 1 && $0.state == .idle }
        #expect(afterRound.lastRound?.outcome == "closed")
        #expect((afterRound.lastRound?.metrics?["accuracy"] ?? 0) > 0.5)
        #expect(afterRound.budget.epsilonSpent > 0)

        // Metrics after a round.
        let metrics = try await op.metrics()
        #expect(metrics.contains("cohort_rounds_total"))
        #expect(metrics.contains(#"outcome="closed""#))
        #expect(try await consortium.auditorClient.metrics().contains("cohort_epsilon_spent"))
        // Exact holdout metrics and per-silo update norms are for operators only.
        #expect(metrics.contains("cohort_update_norm"))
        let auditorMetrics = try await consortium.auditorClient.metrics()
        #expect(!auditorMetrics.contains("cohort_update_norm"), "\(auditorMetrics)")
        let auditorStatus = try await consortium.auditorClient.status()
        #expect(auditorStatus.lastRound?.round == 1 && auditorStatus.lastRound?.metrics == nil)
        #expect(try await op.status().lastRound?.metrics?["accuracy"] != nil)

        // Suspend and resume a participant.
        let suspended = try await op.suspend("hospital-c", reason: "odd updates")
        #expect(suspended.suspended && suspended.suspensionReason?.contains("odd updates") == true)
        #expect(try await op.participants().first { $0.name == "hospital-c" }?.suspended == true)
        let reinstated = try await op.reinstate("hospital-c")
        #expect(!reinstated.suspended)

        // A policy that lowers epsilon_max below the ε spent is refused and writes nothing.
        let kindsBefore = try consortium.ledgerKinds()
        let yaml = try String(contentsOfFile: consortium.files.policyPath, encoding: .utf8)
            .replacingOccurrences(of: "epsilon_max: 10.0", with: "epsilon_max: 0.0001")
        #expect(yaml.contains("epsilon_max: 0.0001"))
        let refused = try await op.send(
            method: "POST", path: "/v1/policy", body: Array(yaml.utf8), contentType: "application/yaml")
        #expect(refused.status == 409)
        #expect(errorCode(refused) == "policy.epsilon_below_spent")
        #expect(try consortium.ledgerKinds() == kindsBefore)
        #expect(try await op.budget().epsilonMax == 10)
        // A lower cap (at least the spent ε) is adopted and recorded.
        let lowered = try await op.adoptPolicy(
            yaml: yaml.replacingOccurrences(of: "epsilon_max: 0.0001", with: "epsilon_max: 9"))
        #expect(lowered.oldEpsilonMax == 10 && lowered.newEpsilonMax == 9)
        #expect(try consortium.ledgerKinds().last == "policy.adopted")

        // Abort: queue rounds and abort while they run; the queue is dropped.
        _ = try await op.startRounds(5)
        _ = try await consortium.waitForStatus { $0.currentRound != nil }
        let aborting = try await op.abortRound(reason: "operator test")
        #expect(aborting.roundsQueued == 0)
        let ended = try await consortium.waitForStatus { $0.state == .idle }
        // Rounds take a fraction of a second here: the abort hits the round open at that moment
        // (aborted, or closed if it was already past collecting) and drops the rest of the queue.
        let last = try #require(ended.lastRound)
        #expect(last.outcome == "aborted" || last.outcome == "closed")
        #expect((2...5).contains(last.round))
        if last.outcome == "aborted" {
            #expect(last.reason?.contains("operator test") == true)
            #expect(try consortium.ledgerKinds().contains("round.aborted"))
        }
        await consortium.shutdown()
    }

    @Test func curlReadsStatusWithTheOperatorCertificate() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
            Issue.record("curl is not installed (Scripts/bootstrap.sh installs it); this test needs /usr/bin/curl")
            return
        }
        let consortium = try await APIConsortium()
        let identity = consortium.operatorIdentity
        let result = try await BuiltProduct.run(
            URL(fileURLWithPath: "/usr/bin/curl"),
            [
                "-sS", "--max-time", "20", "--cacert", identity.caCertificate, "--cert", identity.certificate, "--key",
                identity.privateKey,
                "\(consortium.baseURL)/v1/status",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        let status = try APIJSON.decoder().decode(CoordinatorStatus.self, from: Data(result.stdout.utf8))
        #expect(status.state == .idle && status.participants.count == 3)
        await consortium.shutdown()
    }

    @Test func cliRoundStatusJSONAndForbiddenExitCode() async throws {
        let cohort = try #require(
            BuiltProduct.url("cohort"),
            "the cohort binary is not built next to the tests; run `swift build --build-tests`")
        let consortium = try await APIConsortium()
        func arguments(_ identity: IdentityFiles, _ command: [String]) -> [String] {
            command + [
                "--api", consortium.baseURL, "--ca", identity.caCertificate, "--cert", identity.certificate, "--key",
                identity.privateKey,
            ]
        }
        let status = try await BuiltProduct.run(
            cohort, arguments(consortium.auditorIdentity, ["round", "status", "--json"]))
        #expect(status.status == 0, "\(status.stderr)")
        let decoded = try APIJSON.decoder().decode(CoordinatorStatus.self, from: Data(status.stdout.utf8))
        #expect(decoded.state == .idle && decoded.budget.epsilonMax == 10)
        #expect(status.stdout.contains(#""epsilon_spent":0"#))
        // The environment supplies what the options do not.
        let environment = ProcessInfo.processInfo.environment.merging([
            "COHORT_API": consortium.baseURL, "COHORT_CA": consortium.auditorIdentity.caCertificate,
            "COHORT_CERT": consortium.auditorIdentity.certificate, "COHORT_KEY": consortium.auditorIdentity.privateKey,
        ]) { $1 }
        let budget = try await BuiltProduct.run(cohort, ["budget", "status"], environment: environment)
        #expect(budget.status == 0 && budget.stdout.contains("spent of 10"), "\(budget.stderr)")
        // An auditor may not pause: distinct exit code 3 and `error: <message> [<code>]`.
        let forbidden = try await BuiltProduct.run(cohort, arguments(consortium.auditorIdentity, ["round", "pause"]))
        #expect(forbidden.status == 3)
        #expect(forbidden.stderr.contains("[control.forbidden]") && forbidden.stderr.hasPrefix("error: "))
        // Unknown participant: exit 1 with the code; JSON on stdout with --json.
        let unknown = try await BuiltProduct.run(
            cohort, arguments(consortium.operatorIdentity, ["participants", "suspend", "nobody", "--json"]))
        #expect(unknown.status == 1)
        #expect(unknown.stdout.contains(#""error":"control.unknown_participant""#))
        // Nothing listening: exit 4.
        let unreachable = try await BuiltProduct.run(
            cohort,
            [
                "round", "status", "--api", "https://127.0.0.1:1", "--ca", consortium.operatorIdentity.caCertificate,
                "--cert", consortium.operatorIdentity.certificate, "--key", consortium.operatorIdentity.privateKey,
            ])
        #expect(unreachable.status == 4)
        // Ledger download writes the file.
        let out = consortium.directory + "/downloaded.jsonl"
        let download = try await BuiltProduct.run(
            cohort, arguments(consortium.auditorIdentity, ["ledger", "download", "--out", out]))
        #expect(download.status == 0, "\(download.stderr)")
        #expect(try String(contentsOfFile: out, encoding: .utf8).contains("genesis"))
        await consortium.shutdown()
    }
}

/// Pure parts: route matching and JSON conventions.
struct OperatorAPIRoutingTests {
    @Test func routesMatchMethodsAndPaths() throws {
        #expect(try APIRoute.match(method: "GET", path: "/v1/status").get() == .status)
        #expect(try APIRoute.match(method: "GET", path: "/v1/status?x=1").get() == .status)
        #expect(
            try APIRoute.match(method: "POST", path: "/v1/participants/hospital-a/suspend").get()
                == .suspend(participant: "hospital-a"))
        #expect(
            try APIRoute.match(method: "POST", path: "/v1/participants/h%2Da/resume").get()
                == .resumeParticipant(participant: "h-a"))
        #expect(try APIRoute.match(method: "GET", path: "/metrics").get() == .metrics)
        func code(_ method: String, _ path: String) -> String? {
            if case .failure(let error) = APIRoute.match(method: method, path: path) { return error.code }
            return nil
        }
        #expect(code("GET", "/v1/participants/a/delete") == "api.not_found")
        #expect(code("GET", "/v1/participants//suspend") == "api.not_found")
        #expect(code("PUT", "/v1/policy") == "api.method_not_allowed")
        #expect(code("GET", "/v1/status/") == "api.not_found")
    }

    @Test func jsonKeysAreSnakeCaseAndRoundTrip() throws {
        let status = CoordinatorStatus(
            state: .running,
            currentRound: RoundProgress(round: 2, phase: "collecting", invited: 3, contributed: 1, openedAtMillis: 5),
            roundsQueued: 1,
            lastRound: RoundSummary(
                round: 1, outcome: "closed", roundEpsilon: 0.5, cumulativeEpsilon: 0.5, metrics: ["accuracy": 0.9]),
            participants: [
                ParticipantStatus(
                    name: "a", connected: true, suspended: false, suspensionReason: nil, records: 10, flaggedRounds: [])
            ],
            budget: BudgetStatus(
                epsilonSpent: 0.5, epsilonMax: 3, delta: 1e-5, roundsCharged: 1, projectedNextEpsilon: 0.8),
            policySHA256: "ab", modelVersion: "v", latestApprovedRound: 1)
        let text = String(decoding: try APIJSON.encode(status), as: UTF8.self)
        for key in [
            "policy_sha256", "opened_at_millis", "rounds_queued", "epsilon_spent", "projected_next_epsilon",
            "latest_approved_round", "flagged_rounds",
        ] {
            #expect(text.contains("\"\(key)\""), "\(key)")
        }
        #expect(try APIJSON.decoder().decode(CoordinatorStatus.self, from: Data(text.utf8)) == status)
        let adoption = PolicyAdoption(
            policySHA256: "cd", oldEpsilonMax: 1, newEpsilonMax: 2, changedFields: ["privacy"], ledgerSeq: 4)
        #expect(try APIJSON.decoder().decode(PolicyAdoption.self, from: Data(APIJSON.encode(adoption))) == adoption)
    }
}

/// The alert hook: a command receiving the JSON on stdin, timeouts, unreachable webhooks.
struct AlertDispatcherTests {
    /// As `cohort-coordinator` does at start (AlertDispatcher's documented requirement).
    init() { ProcessSetup.ignoreBrokenPipes() }

    let alert = GovernanceAlert(
        kind: "gate_failed", round: 3, gate: "quality", reason: "accuracy fell", participants: ["hospital-b"],
        timeMillis: 1, consortium: "e2e")

    /// An executable script (the command runs without a shell).
    private func script(_ body: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-alert-hook-\(UUID().uuidString).sh"
        ).path
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    @Test func commandReceivesTheAlertJSON() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-alert-\(UUID().uuidString).json"
        ).path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let capture = LogCapture()
        let hook = try script("cat > '\(file)'")
        defer { try? FileManager.default.removeItem(atPath: hook) }
        let dispatcher = AlertDispatcher(
            command: try AlertCommand(executable: hook), webhookURL: nil, logger: capture.logger("cohort.alerts"))
        await dispatcher.deliver(alert)
        let written = try String(contentsOfFile: file, encoding: .utf8)
        let decoded = try APIJSON.decoder().decode(GovernanceAlert.self, from: Data(written.utf8))
        #expect(decoded == alert)
        #expect(written.contains(#""time_millis":1"#))
        #expect(capture.text.contains("alert delivered to the command"))
        // The sink returns at once and delivers in the background.
        try FileManager.default.removeItem(atPath: file)
        dispatcher.sink(alert)
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: file) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(FileManager.default.fileExists(atPath: file))
    }

    @Test func slowOrFailingHooksAreLoggedNotFatal() async throws {
        let capture = LogCapture()
        let sleeper = try script("exec sleep 30")
        let exit3 = try script("exit 3")
        defer { for path in [sleeper, exit3] { try? FileManager.default.removeItem(atPath: path) } }
        let slow = AlertDispatcher(
            command: try AlertCommand(executable: sleeper), webhookURL: "http://127.0.0.1:1/hook?token=secret",
            timeout: .milliseconds(300), logger: capture.logger("cohort.alerts"))
        await slow.deliver(alert)
        // The 300 ms limit ended the 30 s command (asserted through the log, not a clock: the
        // suite shares two cores with other tests' processes).
        #expect(capture.text.contains("timed out"))
        #expect(capture.text.contains("alert webhook unreachable"))
        #expect(!capture.text.contains("secret"))  // the URL's query is never logged
        let failing = AlertDispatcher(
            command: try AlertCommand(executable: exit3), webhookURL: nil, logger: capture.logger("cohort.alerts"))
        await failing.deliver(alert)
        #expect(capture.text.contains("cohort.exit_status=3"))
        #expect(throws: AlertConfigurationError.self) { try AlertDispatcher.validateWebhookURL("ftp://example.org/") }
        // A command removed after start-up is logged, not fatal.
        let removed = try script("exit 0")
        let gone = try AlertCommand(executable: removed)
        try FileManager.default.removeItem(atPath: removed)
        await AlertDispatcher(command: gone, webhookURL: nil, logger: capture.logger("cohort.alerts")).deliver(alert)
        #expect(capture.text.contains("alert command could not start"))
    }
}
