import CohortCoordinator
import CohortLedger
import CohortOperatorAPI
import CohortPolicy
import CohortTesting
import CohortTransport
import Foundation
import Testing

/// What an operator (or a policy file) can make the coordinator host do, and what a policy that
/// cannot run leaves behind: alert hooks are host configuration run as an argv, policy text is
/// checked, an absent `api` section lists no one live and after a restart, and every start-up
/// check runs before a ledger exists.
@Suite(.serialized) struct PolicySecurityTests {
    /// The alert tests run hook commands in this process: as `cohort-coordinator` does at start,
    /// a hook that exits without reading must not kill it (AlertDispatcher's documented requirement).
    init() { ProcessSetup.ignoreBrokenPipes() }

    static let operatorPrincipal = try! PeerIdentity(role: .operator, name: "ops-alice")
    static let auditorPrincipal = try! PeerIdentity(role: .auditor, name: "audit-bob")

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-security-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func ledgerPath(_ files: ConsortiumFiles) -> String {
        LedgerWriter.ledgerPath(stateDirectory: files.stateDirectory)
    }

    // MARK: - Alerts are host configuration

    @Test func adoptingAPolicyThatNamesAlertTargetsOrUnsafeTextIsRefusedAndWritesNothing() async throws {
        let consortium = try await Consortium()
        let text = try String(contentsOfFile: consortium.policyPath, encoding: .utf8)
        let ledger = LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory)
        let before = try Data(contentsOf: URL(fileURLWithPath: ledger))
        let attempts: [(yaml: String, code: String, field: String)] = [
            (
                text + "governance:\n  alerts:\n    command: /bin/sh\n", "policy.host_setting",
                "governance.alerts.command"
            ),
            (
                text + "governance:\n  alerts:\n    webhook_url: http://169.254.169.254/latest/meta-data\n",
                "policy.host_setting",
                "governance.alerts.webhook_url"
            ),
            (
                text.replacingOccurrences(of: "name: e2e", with: "name: '$(touch pwned)'"), "policy.invalid_field",
                "`name`"
            ),
            (
                text.replacingOccurrences(of: "name: e2e", with: "name: \"e2e\\nINFO forged\""), "policy.invalid_field",
                "`name`"
            ),
        ]
        for attempt in attempts {
            #expect(attempt.yaml != text)
            do {
                _ = try await consortium.coordinator.adoptPolicy(yaml: attempt.yaml, by: Self.operatorPrincipal)
                Issue.record("adopted: \(attempt.field)")
            } catch {
                #expect(error.code == attempt.code && error.category == .invalidInput, "\(error)")
                #expect(error.message.contains(attempt.field), "\(error)")
                if attempt.code == "policy.host_setting" { #expect(error.message.contains("--alert-command")) }
                #expect(!error.message.contains("\n"))
            }
        }
        // Nothing was recorded or stored.
        #expect(try Data(contentsOf: URL(fileURLWithPath: ledger)) == before)
        let stored =
            (try? FileManager.default.contentsOfDirectory(atPath: consortium.stateDirectory + "/policies")) ?? []
        #expect(stored.isEmpty)
        #expect(await consortium.coordinator.policyInForce.name == "e2e")
        await consortium.shutdown()
    }

    @Test func theHostAlertCommandRunsAsAnArgvWithTheAlertIntactOnStdin() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The host's own program, written by the test: it stores its stdin and its second argument.
        let hook = directory + "/hook.sh"
        try "#!/bin/sh\ncat > \"$1\"\nprintf '%s' \"$2\" > \"$1.arg\"\n".write(
            toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: hook)
        let out = directory + "/alert.json"
        let literal = "$(touch pwned) `touch pwned` ; touch pwned"
        let command = try AlertCommand(executable: hook, arguments: [out, literal])
        let capture = LogCapture()
        let dispatcher = AlertDispatcher(command: command, webhookURL: nil, logger: capture.logger("cohort.alerts"))
        // Text others wrote, shaped like shell syntax, in every member of the alert.
        let alert = GovernanceAlert(
            kind: "gate_failed", round: 1, gate: "evaluation", reason: "accuracy $(touch pwned) < 0.9; `touch pwned`\n",
            participants: ["$(touch pwned)"], timeMillis: 7, consortium: "$(touch pwned)")
        let cwd = FileManager.default.currentDirectoryPath
        let pwnedBefore = FileManager.default.fileExists(atPath: cwd + "/pwned")
        await dispatcher.deliver(alert)
        let received = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(try APIJSON.decoder().decode(GovernanceAlert.self, from: received) == alert)
        #expect(try String(contentsOfFile: out + ".arg", encoding: .utf8) == literal)
        for place in [directory, cwd, NSTemporaryDirectory()] where !(place == cwd && pwnedBefore) {
            #expect(!FileManager.default.fileExists(atPath: place + "/pwned"), "\(place)/pwned")
        }
        #expect(capture.text.contains("alert delivered to the command"))
    }

    @Test func alertCommandsThatAreNotAPlainExecutableAreRefused() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let notExecutable = directory + "/hook.sh"
        try "#!/bin/sh\nexit 0\n".write(toFile: notExecutable, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: notExecutable)
        let linkToShell = directory + "/notify"
        try FileManager.default.createSymbolicLink(atPath: linkToShell, withDestinationPath: "/bin/sh")
        var refused = [
            "/bin/sh", "/bin/bash", "/usr/bin/env", "hook.sh", "./hook.sh", directory, notExecutable, linkToShell,
            directory + "/missing",
        ]
        for python in ["/usr/bin/python3", "/usr/bin/perl"] where FileManager.default.isExecutableFile(atPath: python) {
            refused.append(python)
        }
        for path in refused {
            do {
                _ = try AlertCommand(executable: path, arguments: ["-c", "touch pwned"])
                Issue.record("accepted \(path) as the alert command")
            } catch {
                #expect(error.code == "alerts.bad_command", "\(path): \(error)")
                #expect(error.description.contains("--alert-command"))
            }
        }
    }

    @Test func gateAlertsReachTheHostCommand() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hook = directory + "/hook.sh"
        try "#!/bin/sh\ncat > \"$1\"\n".write(toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: hook)
        let out = directory + "/alert.json"
        let capture = LogCapture()
        let dispatcher = AlertDispatcher(
            command: try AlertCommand(executable: hook, arguments: [out]), webhookURL: nil,
            logger: capture.logger("cohort.alerts"))
        // The budget gate refuses the first round (ε_max 0.5) and alerts.
        let consortium = try await Consortium(epsilonMax: 0.5, alertSink: dispatcher.sink)
        _ = try await consortium.coordinator.runRound()
        for _ in 0..<250 where !FileManager.default.fileExists(atPath: out) {
            try await Task.sleep(for: .milliseconds(20))
        }
        for _ in 0..<50
        where (try? APIJSON.decoder().decode(GovernanceAlert.self, from: Data(contentsOf: URL(fileURLWithPath: out))))
            == nil
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        let alert = try APIJSON.decoder().decode(
            GovernanceAlert.self, from: Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(alert.gate == "budget" && alert.kind == "gate_failed" && alert.consortium == "e2e")
        await consortium.shutdown()
    }

    // MARK: - Operator reasons

    @Test func operatorReasonsCannotForgeLogLines() async throws {
        let consortium = try await Consortium()
        let coordinator = consortium.coordinator
        for reason in [
            "fine\nINFO cohort.coordinator forged", "ansi \u{1B}[2K", "bidi \u{202E}", "sep \u{2028}",
            String(repeating: "r", count: 201),
        ] {
            do {
                _ = try await coordinator.suspend(participant: "hospital-b", reason: reason, by: Self.operatorPrincipal)
                Issue.record("suspended with a reason that must be refused")
            } catch {
                #expect(error.code == "control.invalid_reason" && error.category == .invalidInput, "\(error)")
                #expect(!error.message.unicodeScalars.contains { PrintableText.isForbidden($0) })
            }
            await #expect(throws: ControlError.self) {
                _ = try await coordinator.abortRound(reason: reason, by: Self.operatorPrincipal)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: consortium.stateDirectory + "/suspended.json"))
        #expect(!consortium.capture.text.contains("forged"))
        #expect(await coordinator.participantStatuses().allSatisfy { !$0.suspended })
        // Printable text of any script, up to 200 characters, is kept whole.
        let kept = "Wartung für Ärzte ✓ — " + String(repeating: "x", count: 178)
        #expect(kept.count == 200)
        let status = try await coordinator.suspend(participant: "hospital-b", reason: kept, by: Self.operatorPrincipal)
        #expect(status.suspensionReason == "suspended by ops-alice: " + kept)
        await consortium.shutdown()
    }

    // MARK: - An absent api section lists no one

    @Test func anAbsentAPISectionListsNoOneLiveAndAfterARestart() async throws {
        let files = try ConsortiumFiles()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let original = try String(contentsOfFile: files.policyPath, encoding: .utf8)
        let withoutAPI = original.replacingOccurrences(of: ConsortiumFiles.defaultAPI, with: "")
        #expect(withoutAPI != original && !withoutAPI.contains("api:"))
        func expectNoOneListed(_ coordinator: Coordinator) async {
            for (principal, action) in [
                (Self.operatorPrincipal, Coordinator.ControlAction.pause), (Self.auditorPrincipal, .readStatus),
            ] {
                do {
                    try await coordinator.authorize(principal, action)
                    Issue.record("\(principal) allowed to \(action.rawValue) without an api section")
                } catch {
                    #expect(error.code == "control.not_listed" && error.category == .forbidden)
                    #expect(error.message.contains("no `api` section"))
                }
            }
        }
        do {
            let first = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
            try await first.authorize(Self.auditorPrincipal, .readStatus)
            let adoption = try await first.adoptPolicy(yaml: withoutAPI, by: Self.operatorPrincipal)
            #expect(adoption.changedFields.contains { $0.hasPrefix("api.") })
            // Live: the adopted policy lists no one, so nothing more can be done through the API.
            await expectNoOneListed(first)
            await #expect(throws: ControlError.self) {
                _ = try await first.adoptPolicy(yaml: original, by: Self.operatorPrincipal)
            }
            await first.shutdown()
        }
        // Restarted with the original file (which has an api section), the adopted policy is in
        // force and the same rule holds.
        let second = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        #expect(await second.policyInForce.api == nil)
        await expectNoOneListed(second)
        await second.shutdown()
        // cohort-coordinator decides whether to serve the API from the policy in force too: the
        // file's api section no longer counts, so --api-port-file has no API to report.
        let binary = try #require(BuiltProduct.url("cohort-coordinator"))
        let apiPortFile = files.directory + "/api.port"
        let run = try await BuiltProduct.run(
            binary,
            [
                "--policy", files.policyPath, "--state", files.stateDirectory, "--port", "0", "--api-port-file",
                apiPortFile, "--rounds", "1",
            ])
        #expect(run.status == 2, "\(run.stderr)")
        #expect(run.stderr.contains("--api-port-file needs the operator API"))
        #expect(!FileManager.default.fileExists(atPath: apiPortFile))
    }

    @Test func theAdoptionRecordsEveryChangedFieldAndTheLedgerVerifies() async throws {
        let files = try ConsortiumFiles()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let coordinator = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        let original = try String(contentsOfFile: files.policyPath, encoding: .utf8)
        let changed =
            original
            .replacingOccurrences(of: "epsilon_max: 10.0", with: "epsilon_max: 9.5")
            .replacingOccurrences(of: "count: 3", with: "count: 7")
            .replacingOccurrences(of: "auditors: [audit-bob, audrey]", with: "auditors: [audit-bob]")
        _ = try await coordinator.adoptPolicy(yaml: changed, by: Self.operatorPrincipal)
        await coordinator.shutdown()
        let result = try LedgerVerifier.verify(
            file: Self.ledgerPath(files), publicKey: files.ledgerPublicKey(), keepEntries: true)
        #expect(result.state.epsilonMax == 9.5)
        guard case .policyAdopted(let adopted) = try result.entries.last!.record() else {
            Issue.record("the last entry is not policy.adopted")
            return
        }
        let changes = try #require(adopted.changes)
        #expect(
            changes == [
                PolicyAdoptedPayload.FieldChange(field: "api.auditors[1]", old: "audrey", new: nil),
                PolicyAdoptedPayload.FieldChange(field: "privacy.epsilon_max", old: "10.0", new: "9.5"),
                PolicyAdoptedPayload.FieldChange(field: "rounds.count", old: "3", new: "7"),
            ])
        #expect(LedgerRendering.table(result.entries).contains("rounds.count 3 → 7"))
    }

    // MARK: - Start-up checks before the ledger

    @Test func aPolicyThatCannotStartLeavesNoLedgerAndTheCorrectedOneStarts() async throws {
        let files = try ConsortiumFiles(noiseMultiplier: 1e300)
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let original = try String(contentsOfFile: files.policyPath, encoding: .utf8)
        #expect(original.contains("noise_multiplier: 1e+300"))
        do {
            _ = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
            Issue.record("σ 1e300 started")
        } catch let error as CoordinatorError {
            #expect(error.message.hasPrefix("privacy.noise_multiplier: "), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: Self.ledgerPath(files)))

        // A schema path that is a directory: refused by the loader and by the coordinator itself.
        let schemaDirectory = files.directory + "/schema-dir"
        try FileManager.default.createDirectory(atPath: schemaDirectory, withIntermediateDirectories: true)
        let directorySchema =
            original
            .replacingOccurrences(of: "noise_multiplier: 1e+300", with: "noise_multiplier: 2.0")
            .replacingOccurrences(of: "schema: \(files.schemaPath)", with: "schema: \(schemaDirectory)")
        try directorySchema.write(toFile: files.policyPath, atomically: true, encoding: .utf8)
        #expect(throws: PolicyError.self) { _ = try PolicyLoader.load(path: files.policyPath) }
        let unchecked = PolicyLoader.Loaded(
            policy: try PolicyLoader.parse(directorySchema), sha256: String(repeating: "0", count: 64),
            baseDirectory: files.directory)
        do {
            _ = try Coordinator(
                configuration: CoordinatorConfiguration(policy: unchecked, stateDirectory: files.stateDirectory),
                logger: capture.logger("c"))
            Issue.record("a schema directory was accepted")
        } catch let error as CoordinatorError {
            #expect(error.message.hasPrefix("model.schema: "), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: Self.ledgerPath(files)))

        // A sealing key others may read.
        let corrected = original.replacingOccurrences(of: "noise_multiplier: 1e+300", with: "noise_multiplier: 2.0")
        try corrected.write(toFile: files.policyPath, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o644], ofItemAtPath: files.coordinatorIdentity.x25519SecretKey)
        do {
            _ = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
            Issue.record("a sealing key with mode 0644 was accepted")
        } catch let error as CoordinatorError {
            #expect(
                error.code == "crypto.key_permissions" && error.message.hasPrefix("coordinator.sealing_key: "),
                "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: Self.ledgerPath(files)))
        try FileManager.default.setAttributes(
            [.posixPermissions: 0o600], ofItemAtPath: files.coordinatorIdentity.x25519SecretKey)

        // Corrected: it starts, and its genesis names the corrected file.
        let coordinator = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        await coordinator.shutdown()
        let state = try LedgerVerifier.verify(file: Self.ledgerPath(files), publicKey: files.ledgerPublicKey()).state
        #expect(state.policySHA256 == (try PolicyLoader.load(path: files.policyPath)).sha256)
    }

    @Test func aTLSKeyOthersCanReadIsRefusedBeforeTheLedgerExists() async throws {
        let files = try ConsortiumFiles()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let capture = LogCapture()
        let key = files.coordinatorIdentity.privateKey
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        do {
            _ = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
            Issue.record("a TLS key with mode 0644 was accepted")
        } catch let error as CoordinatorError {
            #expect(error.code == "certs.key_permissions", "\(error)")
            #expect(error.message.contains(key) && error.message.contains("chmod 600") && error.message.contains("644"))
        }
        #expect(!FileManager.default.fileExists(atPath: Self.ledgerPath(files)))
        // The executable refuses it the same way, before creating a ledger.
        let binary = try #require(BuiltProduct.url("cohort-coordinator"))
        let run = try await BuiltProduct.run(
            binary, ["--policy", files.policyPath, "--state", files.stateDirectory, "--port", "0", "--rounds", "1"])
        #expect(run.status == 3 && run.stderr.contains("certs.key_permissions"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: Self.ledgerPath(files)))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
        let coordinator = try files.makeCoordinator(logger: capture.logger("cohort.coordinator"))
        await coordinator.shutdown()
    }

    @Test func theExecutableRefusesPolicyAlertTargetsAndUnsafeAlertFlags() async throws {
        let files = try ConsortiumFiles()
        defer { try? FileManager.default.removeItem(atPath: files.directory) }
        let binary = try #require(BuiltProduct.url("cohort-coordinator"))
        let original = try String(contentsOfFile: files.policyPath, encoding: .utf8)
        try (original + "governance:\n  alerts:\n    command: /bin/sh\n").write(
            toFile: files.policyPath, atomically: true, encoding: .utf8)
        let withAlerts = try await BuiltProduct.run(
            binary, ["--policy", files.policyPath, "--state", files.stateDirectory, "--rounds", "1"])
        #expect(withAlerts.status == 2, "\(withAlerts.stderr)")
        #expect(
            withAlerts.stderr.contains("governance.alerts.command") && withAlerts.stderr.contains("--alert-command"))
        #expect(!FileManager.default.fileExists(atPath: Self.ledgerPath(files)))
        try original.write(toFile: files.policyPath, atomically: true, encoding: .utf8)
        for flags in [
            ["--alert-command", "/bin/sh", "--alert-argument=-c", "--alert-argument", "touch pwned"],
            ["--alert-command", "notify"], ["--alert-webhook", "ftp://alerts.example/hook?token=s3cret"],
        ] {
            let run = try await BuiltProduct.run(
                binary, ["--policy", files.policyPath, "--state", files.stateDirectory, "--rounds", "1"] + flags)
            #expect(run.status == 2, "\(flags): \(run.stderr)")
            #expect(run.stderr.contains("alerts.bad_"), "\(run.stderr)")
            #expect(!run.stderr.contains("s3cret"))
            #expect(!FileManager.default.fileExists(atPath: Self.ledgerPath(files)))
        }
    }
}
