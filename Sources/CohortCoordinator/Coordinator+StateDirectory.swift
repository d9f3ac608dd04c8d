import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import Foundation
import CoreMetrics
import Logging
import NIOSSL

extension Coordinator {
    /// The policy the ledger says is in force: the file's when their digests agree; else, when the
    /// file is an earlier policy of this ledger (e.g. the one it was created with), the one an
    /// operator adopted since through the control API (kept in `policies/<sha256>.yaml`). Any
    /// other file is refused: a policy changes only through a signed `policy.adopted` entry.
    static func policyInForce(
        ledger: LedgerWriter, file: PolicyLoader.Loaded, stateDirectory: String, logger: Logger
    ) throws -> PolicyLoader.Loaded {
        let inForce = ledger.state.policySHA256
        guard inForce != file.sha256 else { return file }
        let stored = adoptedPolicyPath(stateDirectory: stateDirectory, sha256: inForce)
        guard ledger.state.recordedPolicies.contains(file.sha256), DurableFile.exists(stored) else {
            throw CoordinatorError(
                code: "coordinator.policy_mismatch",
                message: "the policy file's SHA-256 \(file.sha256) is not the policy in force in the ledger (\(inForce)); "
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
            policy: try PolicyLoader.parse(PolicyLoader.text(of: bytes, file: stored)), sha256: inForce, baseDirectory: file.baseDirectory)
        try PolicyLoader.checkFilesExist(adopted)
        logger.notice("using the adopted policy in force", metadata: ["cohort.policy": "\(stored)", "cohort.policy_file_ignored": "\(file.sha256)"])
        return adopted
    }

    /// Records the abort of a round the ledger still shows open (neither closed nor aborted): one
    /// a crash interrupted, or one whose abort could not be written when a storage failure ended
    /// it. `charged` is what the ledger says: a charge that became durable stays charged.
    static func abortUnfinishedRound(in writer: LedgerWriter, reason: String, logger: Logger) throws {
        guard let unfinished = writer.state.unfinishedRound else { return }
        _ = try writer.append(RoundAbortedPayload(round: unfinished, reason: reason, charged: writer.state.unfinishedRoundCharged))
        logger.notice("unfinished round aborted", metadata: ["cohort.round": "\(unfinished)", "cohort.reason": "\(reason)"])
    }

    static func checkpointPath(stateDirectory: String, round: Int) -> String {
        stateDirectory + "/checkpoints/" + checkpointName(round: round)
    }

    static func checkpointName(round: Int) -> String {
        let digits = String(round)
        return "round-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".safetensors"
    }
}
