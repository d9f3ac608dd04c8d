import CohortCoordinator
import CohortCrypto
import CohortLedger
import CohortModel
@_spi(CohortTesting) import CohortParticipant
import CohortPolicy
import CohortTransport
import Foundation
import Logging

/// A consortium on disk: CA, coordinator identity, participants each holding a disjoint slice of
/// the WDBC records, and a policy file. Nothing runs: `Consortium` adds an in-process coordinator,
/// and the crash and storage tests start coordinators of their own over these files.
public struct ConsortiumFiles: Sendable {
    public let directory: String
    public let ca: CertificateAuthority
    public let coordinatorIdentity: IdentityFiles
    public let participants: [IdentityFiles]
    public let schemaPath: String
    public let policyPath: String

    public static var repositoryRoot: String { Repository.root }

    /// - Parameters:
    ///   - names: participants in the policy.
    ///   - minParticipants: quorum.
    ///   - deadlineSeconds: round deadline.
    ///   - epsilonMax: budget cap.
    ///   - unit: `record` or `participant`.
    ///   - roundsCount: the policy's `rounds.count`.
    ///   - extraYAML: further top-level sections (e.g. `governance:`), appended verbatim.
    ///   - apiYAML: the `api` section (default: `defaultAPI`); nil for none.
    ///   - evaluationTimeoutSeconds: `rounds.evaluation_timeout_seconds` (nil: the policy default).
    ///   - collectUntilDeadline: `rounds.collect_until_deadline`.
    public init(
        names: [String] = ["hospital-a", "hospital-b", "hospital-c"], minParticipants: Int = 2,
        deadlineSeconds: Double = 20,
        epsilonMax: Double = 10, unit: String = "record", samplingRate: Double = 0.2, noiseMultiplier: Double = 2.0,
        roundsCount: Int = 3, maxUpdateBytes: Int = 64 << 20, handshakeTimeoutSeconds: Double = 10,
        extraYAML: String = "",
        apiYAML: String? = Self.defaultAPI, modelYAML: String = "", evaluationTimeoutSeconds: Double? = nil,
        collectUntilDeadline: Bool = false
    ) throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("cohort-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        ca = try CertificateAuthority.initCA(outDirectory: directory + "/ca")
        coordinatorIdentity = try ca.issue(
            role: .coordinator, name: "coordinator", outDirectory: directory + "/coordinator",
            hosts: ["localhost", "127.0.0.1"])
        var identities: [IdentityFiles] = []
        for name in names {
            identities.append(try ca.issue(role: .participant, name: name, outDirectory: directory + "/" + name))
        }
        participants = identities
        schemaPath = Self.repositoryRoot + "/Data/schemas/wdbc.json"
        // Each participant holds a disjoint slice of the WDBC records.
        let table = try CSVTable.read(path: Self.repositoryRoot + "/Data/breast_cancer_wdbc.csv")
        for (index, identity) in identities.enumerated() {
            let rows = Array(stride(from: index, to: table.rows.count, by: identities.count))
            try table.selecting(rows: rows).write(path: identity.directory + "/data.csv")
        }
        var yaml = """
            version: 1
            name: e2e
            coordinator:
              listen: 127.0.0.1:0
              ca_certificate: \(coordinatorIdentity.caCertificate)
              certificate: \(coordinatorIdentity.certificate)
              private_key: \(coordinatorIdentity.privateKey)
              sealing_key: \(coordinatorIdentity.x25519SecretKey)
              ledger_key: \(coordinatorIdentity.ed25519SecretKey)
            participants:

            """
        for identity in identities {
            yaml += "  - name: \(identity.name)\n    signing_key: \(identity.ed25519PublicKey)\n"
        }
        yaml += """
            privacy:
              unit: \(unit)
              sampling_rate: \(samplingRate)
              noise_multiplier: \(noiseMultiplier)
              clipping_bound: 1.0
              delta: 1e-5
              epsilon_max: \(epsilonMax)
            rounds:
              count: \(roundsCount)
              min_participants: \(minParticipants)
              deadline_seconds: \(deadlineSeconds)
              handshake_timeout_seconds: \(handshakeTimeoutSeconds)
            \(evaluationTimeoutSeconds.map { "  evaluation_timeout_seconds: \($0)\n" } ?? "")\
            \(collectUntilDeadline ? "  collect_until_deadline: true\n" : "")model:
              version: lr-v1
              schema: \(schemaPath)
              server_learning_rate: 0.5
            \(modelYAML.split(separator: "\n").map { "  " + $0 + "\n" }.joined())limits:
              max_update_bytes: \(maxUpdateBytes)

            """
        yaml += (apiYAML ?? "") + extraYAML
        policyPath = directory + "/policy.yaml"
        try yaml.write(toFile: policyPath, atomically: true, encoding: .utf8)
    }

    /// The operators and auditors the tests act as: without an `api` section no one may use the
    /// control actions.
    public static let defaultAPI = """
        api:
          listen: 127.0.0.1:0
          operators: [ops-alice, alice]
          auditors: [audit-bob, audrey]

        """

    public var stateDirectory: String { directory + "/state" }

    public func identity(_ name: String) -> IdentityFiles { participants.first { $0.name == name }! }

    public func ledgerPublicKey() throws -> [UInt8] {
        try KeyFile.readPublic(kind: .ed25519Public, from: coordinatorIdentity.ed25519PublicKey)
    }

    /// A coordinator over these files, in this process, on any free port.
    public func makeCoordinator(
        stateDirectory: String? = nil, quorumWaitSeconds: Double = 10, logger: Logger,
        alertSink: (@Sendable (GovernanceAlert) -> Void)? = nil, clock: CoordinatorClock? = nil
    ) throws -> Coordinator {
        var configuration = CoordinatorConfiguration(
            policy: try PolicyLoader.load(path: policyPath), stateDirectory: stateDirectory ?? self.stateDirectory,
            portOverride: 0,
            quorumWaitSeconds: quorumWaitSeconds)
        configuration.alertSink = alertSink
        if let clock { configuration.clock = clock }
        return try Coordinator(configuration: configuration, logger: logger)
    }
}

/// A consortium on this machine: the files of `ConsortiumFiles` and an in-process coordinator on
/// a real mutual-TLS socket (127.0.0.1, any free port).
public final class Consortium: @unchecked Sendable {
    // @unchecked Sendable: every stored property is immutable after init.
    public let files: ConsortiumFiles
    public let capture = LogCapture()
    public let coordinator: Coordinator
    public let port: Int

    public var directory: String { files.directory }
    public var ca: CertificateAuthority { files.ca }
    public var coordinatorIdentity: IdentityFiles { files.coordinatorIdentity }
    public var participants: [IdentityFiles] { files.participants }
    public var schemaPath: String { files.schemaPath }
    public var policyPath: String { files.policyPath }

    /// Parameters as for `ConsortiumFiles`.
    public init(
        names: [String] = ["hospital-a", "hospital-b", "hospital-c"], minParticipants: Int = 2,
        deadlineSeconds: Double = 20,
        epsilonMax: Double = 10, unit: String = "record", samplingRate: Double = 0.2, noiseMultiplier: Double = 2.0,
        maxUpdateBytes: Int = 64 << 20, handshakeTimeoutSeconds: Double = 10, extraYAML: String = "",
        apiYAML: String? = ConsortiumFiles.defaultAPI, alertSink: (@Sendable (GovernanceAlert) -> Void)? = nil,
        clock: CoordinatorClock? = nil, modelYAML: String = "", evaluationTimeoutSeconds: Double? = nil,
        collectUntilDeadline: Bool = false
    ) async throws {
        files = try ConsortiumFiles(
            names: names, minParticipants: minParticipants, deadlineSeconds: deadlineSeconds, epsilonMax: epsilonMax,
            unit: unit,
            samplingRate: samplingRate, noiseMultiplier: noiseMultiplier, maxUpdateBytes: maxUpdateBytes,
            handshakeTimeoutSeconds: handshakeTimeoutSeconds, extraYAML: extraYAML, apiYAML: apiYAML,
            modelYAML: modelYAML, evaluationTimeoutSeconds: evaluationTimeoutSeconds,
            collectUntilDeadline: collectUntilDeadline)
        coordinator = try files.makeCoordinator(
            logger: capture.logger("cohort.coordinator"), alertSink: alertSink, clock: clock)
        let tls = try TLSConfigurationFactory(identity: files.coordinatorIdentity)
        port = try await coordinator.start(tls: tls.makeServerConfiguration())
    }

    public var stateDirectory: String { files.stateDirectory }

    public func identity(_ name: String) -> IdentityFiles { files.identity(name) }

    /// A participant process-in-a-task: honest unless `transform` rewrites its updates (a poisoned silo).
    public func participant(
        _ name: String, trainer: String? = nil, trainerEvaluates: Bool = false,
        transform: (@Sendable (UInt64, [Float]) -> [Float])? = nil
    ) -> Participant {
        let identity = identity(name)
        var configuration = ParticipantConfiguration(
            host: "127.0.0.1", port: port, identity: identity, dataPath: identity.directory + "/data.csv",
            schemaPath: schemaPath,
            trainerCommand: trainer)
        configuration.updateTransform = transform
        configuration.trainerEvaluates = trainerEvaluates
        return Participant(configuration: configuration, logger: capture.logger("cohort.participant"))
    }

    /// Waits until `count` participants are connected and attested.
    public func waitForConnected(_ count: Int) async throws {
        // A liveness bound (30 s), generous for a loaded shared machine.
        for _ in 0..<1500 {
            if await coordinator.connectedParticipants.count >= count { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        let notices = capture.text.split(separator: "\n").filter { !$0.hasPrefix("trace") && !$0.hasPrefix("debug") }
            .suffix(12)
        throw HarnessError(
            message:
                "only \(await coordinator.connectedParticipants.count) of \(count) participants connected; last log lines:\n"
                + notices.joined(separator: "\n"))
    }

    public func ledgerEntries() throws -> [LedgerEntry] {
        try LedgerReader.read(file: LedgerWriter.ledgerPath(stateDirectory: stateDirectory)).entries
    }

    public func ledgerPublicKey() throws -> [UInt8] { try files.ledgerPublicKey() }

    public func shutdown() async {
        await coordinator.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}
