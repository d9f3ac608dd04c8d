import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import CoreMetrics
import Foundation
import Logging
import NIOSSL

/// The coordinator's state directory and everything in it besides the ledger's own format:
///
/// - `ledger.jsonl`, the signed hash-chained ledger (``LedgerWriter``);
/// - `checkpoints/round-NNNNNN.safetensors`, each released model;
/// - `policies/<sha256>.yaml`, every policy an operator adopted (the ledger names the one in force);
/// - `suspended.json`, suspended participants and why;
/// - `queue.json`, the rounds operators queued that have not started yet, and an operator's pause.
///
/// Every file is written to a temporary name, fsynced and renamed (``DurableFile``), so a crash
/// leaves the old or the new version, never a torn one. The coordinator actor calls these on
/// its own executor (``CoordinatorExecutor``), so the blocking fsyncs never hold a thread of
/// Swift's cooperative pool.
struct StateDirectory: Sendable {
    /// The directory.
    let path: String

    init(_ path: String) {
        self.path = path
    }

    var ledgerPath: String { LedgerWriter.ledgerPath(stateDirectory: path) }

    var checkpointsPath: String { path + "/checkpoints" }

    func checkpointPath(round: Int) -> String {
        checkpointsPath + "/" + Self.checkpointName(round: round)
    }

    static func checkpointName(round: Int) -> String {
        ModelExporter.checkpointName(round: round)
    }

    var policiesPath: String { path + "/policies" }

    func adoptedPolicyPath(sha256: String) -> String {
        policiesPath + "/" + sha256 + ".yaml"
    }

    var suspensionsPath: String { path + "/suspended.json" }

    var queuePath: String { path + "/queue.json" }

    /// Creates the directory and `checkpoints/` (mode 0700) if they do not exist.
    func create() throws(StorageError) {
        try DurableFile.createDirectory(path, mode: 0o700)
        try DurableFile.createDirectory(checkpointsPath, mode: 0o700)
    }

    // MARK: Suspensions

    func loadSuspensions() throws -> [String: String] {
        guard DurableFile.exists(suspensionsPath) else { return [:] }
        let bytes = try DurableFile.read(suspensionsPath)
        do {
            return try JSONDecoder().decode([String: String].self, from: Data(bytes))
        } catch {
            throw CoordinatorError(
                code: "coordinator.suspensions_unreadable",
                message: "\(suspensionsPath) is not a JSON object of participant name to reason; "
                    + "fix or delete it (suspensions are then lifted)")
        }
    }

    func writeSuspensions(_ suspended: [String: String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try DurableFile.writeAtomically(Array(encoder.encode(suspended)), to: suspensionsPath, mode: 0o600)
    }

    // MARK: Queued rounds

    /// What `queue.json` holds: the rounds operators queued that have not started, and whether an
    /// operator paused the coordinator. Versioned, as every persisted format of Cohort: version 1
    /// (before pauses were recorded) reads as not paused.
    struct QueueFile: Codable, Equatable {
        static let currentVersion = 2
        static let readableVersions = 1...2
        /// The most rounds operators may have queued at once (`requestRounds` refuses more).
        static let maximumRounds = 1_000_000
        var version: Int
        var queuedRounds: Int
        var paused: Bool
        /// The number of the round last taken from the queue while its first ledger entry
        /// (`round.opened` or `round.refused`) may not be durable yet; absent otherwise. A start
        /// whose ledger has no such round queues it again: a stop between taking a round and
        /// opening it (the quorum wait lies there) loses nothing, and runs nothing twice.
        var takenRound: Int?

        init(queuedRounds: Int, paused: Bool, takenRound: Int? = nil) {
            self.version = Self.currentVersion
            self.queuedRounds = queuedRounds
            self.paused = paused
            self.takenRound = takenRound
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            version = try container.decode(Int.self, forKey: .version)
            queuedRounds = try container.decode(Int.self, forKey: .queuedRounds)
            // Version 1 had no pause field; a version 2 file must carry it.
            paused = version >= 2 ? try container.decode(Bool.self, forKey: .paused) : false
            takenRound = try container.decodeIfPresent(Int.self, forKey: .takenRound)
        }

        enum CodingKeys: String, CodingKey {
            case version
            case queuedRounds = "queued_rounds"
            case paused
            case takenRound = "taken_round"
        }
    }

    /// The operator queue as a coordinator left it: the rounds queued that had not started and
    /// whether an operator had paused.
    struct OperatorQueue: Equatable, Sendable {
        var queuedRounds: Int
        var paused: Bool
        /// See ``QueueFile/takenRound``.
        var takenRound: Int? = nil
    }

    /// The operator queue before the coordinator stopped (nothing queued, not paused, without a
    /// queue file).
    func loadOperatorQueue() throws -> OperatorQueue {
        guard DurableFile.exists(queuePath) else { return OperatorQueue(queuedRounds: 0, paused: false) }
        let bytes = try DurableFile.read(queuePath)
        let file: QueueFile
        do {
            file = try JSONDecoder().decode(QueueFile.self, from: Data(bytes))
        } catch {
            throw CoordinatorError(
                code: "coordinator.queue_unreadable",
                message: "\(queuePath) is not a round queue ({\"version\": 2, \"queued_rounds\": N, \"paused\": "
                    + "true|false}); fix it, or delete it to drop the queued rounds and the pause")
        }
        guard QueueFile.readableVersions.contains(file.version) else {
            throw CoordinatorError(
                code: "coordinator.queue_unreadable",
                message: "\(queuePath) has version \(file.version); this coordinator reads versions "
                    + "\(QueueFile.readableVersions.lowerBound)…\(QueueFile.readableVersions.upperBound): "
                    + "run the coordinator that wrote it, or delete the file to drop the queued rounds and the pause")
        }
        guard (0...QueueFile.maximumRounds).contains(file.queuedRounds) else {
            throw CoordinatorError(
                code: "coordinator.queue_unreadable",
                message: "\(queuePath) queues \(file.queuedRounds) rounds; it must be 0…\(QueueFile.maximumRounds): "
                    + "fix it, or delete it to drop the queued rounds")
        }
        if let taken = file.takenRound, taken < 1 {
            throw CoordinatorError(
                code: "coordinator.queue_unreadable",
                message: "\(queuePath) names round \(taken) as taken; round numbers start at 1: fix it, or remove "
                    + "\"taken_round\" to drop that round if the ledger does not show it")
        }
        return OperatorQueue(queuedRounds: file.queuedRounds, paused: file.paused, takenRound: file.takenRound)
    }

    /// Records (fsynced) the operator queue: the rounds not started and whether it is paused.
    func writeOperatorQueue(_ queue: OperatorQueue) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = try Array(
            encoder.encode(
                QueueFile(queuedRounds: queue.queuedRounds, paused: queue.paused, takenRound: queue.takenRound)))
        try DurableFile.writeAtomically(bytes, to: queuePath, mode: 0o600)
    }

    // MARK: Ledger and policy at start-up

    /// The policy the ledger says is in force: the file's when their digests agree; else, when the
    /// file is an earlier policy of this ledger (e.g. the one it was created with), the one an
    /// operator adopted since through the control API (kept in `policies/<sha256>.yaml`). Any
    /// other file is refused: a policy changes only through a signed `policy.adopted` entry.
    static func policyInForce(
        ledger: LedgerWriter, file: PolicyLoader.Loaded, stateDirectory: String, logger: Logger
    ) throws -> PolicyLoader.Loaded {
        let inForce = ledger.state.policySHA256
        guard inForce != file.sha256 else { return file }
        let stored = StateDirectory(stateDirectory).adoptedPolicyPath(sha256: inForce)
        guard ledger.state.recordedPolicies.contains(file.sha256), DurableFile.exists(stored) else {
            throw CoordinatorError(
                code: "coordinator.policy_mismatch",
                message:
                    "the policy file's SHA-256 \(file.sha256) is not the policy in force in the ledger (\(inForce)); "
                    + "start with the policy this state directory was run with, and change it through the operator API "
                    + "(`cohort policy adopt FILE`) so the change is a signed ledger entry")
        }
        let bytes = try DurableFile.read(stored)
        guard SHA256.hexDigest(bytes) == inForce else {
            throw CoordinatorError(
                code: "coordinator.policy_mismatch",
                message: "\(stored) does not hash to the policy in force (\(inForce)); restore it from backup")
        }
        let adopted = PolicyLoader.Loaded(
            policy: try PolicyLoader.parse(PolicyLoader.text(of: bytes, file: stored)), sha256: inForce,
            baseDirectory: file.baseDirectory)
        try PolicyLoader.checkFilesExist(adopted)
        logger.notice(
            "using the adopted policy in force",
            metadata: ["cohort.policy": "\(stored)", "cohort.policy_file_ignored": "\(file.sha256)"])
        return adopted
    }

    /// Records the abort of a round the ledger still shows open (neither closed nor aborted): one
    /// a crash interrupted, or one whose abort could not be written when a storage failure ended
    /// it. `charged` is what the ledger says: a charge that became durable stays charged.
    /// Cuts the unterminated last line an interrupted append left in the operator-only stores
    /// (participant samples, evaluations), logging how much was cut.
    func cutTornStoreLines(logger: Logger) throws {
        for store in [ParticipantSampleStore.path(stateDirectory: path), EvaluationStore.path(stateDirectory: path)] {
            let cut = try DurableFile.cutUnterminatedLastLine(store)
            if cut > 0 {
                logger.warning(
                    "an interrupted append was cut from a store",
                    metadata: [
                        "cohort.path": "\(store)", "cohort.bytes": "\(cut)",
                    ])
            }
        }
    }

    static func abortUnfinishedRound(
        in writer: LedgerWriter, reason: String, stateDirectory: String, logger: Logger
    ) throws {
        guard let payload = Coordinator.unfinishedAbortPayload(writer.state, reason: reason) else { return }
        _ = try writer.append(payload)
        logger.notice(
            "unfinished round aborted",
            metadata: [
                "cohort.round": "\(payload.round)", "cohort.reason": "\(reason)",
            ])
    }
}
