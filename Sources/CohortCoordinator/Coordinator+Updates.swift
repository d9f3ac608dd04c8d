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

extension Coordinator {
    /// Per-update checks, then streaming aggregation; records the result for the round's
    /// `update_checks` decision. Returns the ack or the error to send.
    ///
    /// Runs in the connection's task. The checks that need the round (sender, round, nonce,
    /// sampling) run on the actor first; the SHA-256, the signature, opening the sealed box, the
    /// plaintext checks and clipping then run here, in a plaintext buffer from the pool (zeroed
    /// before it goes back); the actor finally adds the prepared values to the sum of the round
    /// that admitted them, if it still collects. Checks, their order and their codes are those of
    /// a single pass on the actor.
    nonisolated func receive(_ update: ReceivedUpdate, from name: String) async -> Result<UpdateAck, WireError> {
        let admission: Admission
        switch await admit(update, from: name) {
        case .failure(let error): return .failure(error)
        case .success(let admitted): admission = admitted
        }
        // Hashed once: the signature check and the ledger's update digest both need it.
        let (sealedDigest, signatureValid) = profile.time(.verify) {
            let digest = update.sealedDigest
            return (digest, update.hasValidSignature(publicKey: admission.signingKey, sealedDigest: digest))
        }
        guard signatureValid else {
            return await refuseUpdate(
                name,
                WireError(
                    code: WireError.Code.badSignature,
                    message: "the update's signature does not verify under \(name)'s registered signing key",
                    closesConnection: false))
        }
        if let duplicate = admission.duplicate {
            return await refuseUpdate(
                name, WireError(code: duplicate.code, message: duplicate.message, closesConnection: false))
        }
        let buffer = await plaintextPool.acquire()
        let result: Result<UpdateAck, WireError>
        do {
            let prepared = try update.withSealedBytes { sealed throws(UpdateRejection) in
                try admission.preparer.prepare(
                    sealed: sealed, round: update.round, sealingKey: sealingKey, into: buffer.bytes, profile: profile)
            }
            result = await commit(prepared, update: update, sealedDigest: sealedDigest, from: name)
        } catch {
            result = await refuseUpdate(
                name, WireError(code: error.code, message: error.message, closesConnection: false))
        }
        buffer.zero()
        await plaintextPool.release(buffer)
        return result
    }

    /// What the actor's first pass over an update hands to the connection's task.
    struct Admission: Sendable {
        let signingKey: [UInt8]
        let preparer: UpdatePreparer
        /// Set when the sender already contributed: refused after the signature check, as before.
        let duplicate: UpdateRejection?
    }

    /// The checks of an update that need the round: sender, an open round, its number and nonce,
    /// sampling, a registered key. Records a refusal.
    func admit(_ update: ReceivedUpdate, from name: String) -> Result<Admission, WireError> {
        guard update.participantName == name else {
            return recordRefusal(
                name,
                WireError(
                    code: WireError.Code.badSignature,
                    message:
                        "update names `\(PeerText.sanitized(update.participantName, maxLength: 64))` but was sent by `\(name)`",
                    closesConnection: false))
        }
        guard let active = round, active.machine.state == .collecting else {
            return recordRefusal(name, notCollecting(update))
        }
        if let mismatch = roundMismatch(update, active: active) { return recordRefusal(name, mismatch) }
        guard active.invited.contains(name) else {
            return recordRefusal(
                name,
                WireError(
                    code: WireError.Code.roundNotOpen, message: "\(name) was not sampled for round \(active.number)",
                    closesConnection: false))
        }
        guard let key = signingKeys[name] else {
            return recordRefusal(
                name,
                WireError(
                    code: WireError.Code.badSignature,
                    message: "the update's signature does not verify under \(name)'s registered signing key",
                    closesConnection: false))
        }
        var duplicate: UpdateRejection?
        do { try active.aggregator.checkNotDuplicate(name, round: UInt64(active.number)) } catch { duplicate = error }
        return .success(Admission(signingKey: key, preparer: active.aggregator.preparer, duplicate: duplicate))
    }

    /// Adds an opened, checked, clipped update to the sum of the round it was admitted to.
    func commit(
        _ prepared: PreparedUpdate, update: ReceivedUpdate, sealedDigest: [UInt8], from name: String
    ) -> Result<UpdateAck, WireError> {
        // The round may have ended while the update was being opened.
        guard let active = round, active.machine.state == .collecting else {
            return recordRefusal(name, notCollecting(update))
        }
        if let mismatch = roundMismatch(update, active: active) { return recordRefusal(name, mismatch) }
        do {
            let bound = updateNormBound(for: name, in: active)
            let norm = try profile.time(.sum) { () throws(UpdateRejection) in
                try active.aggregator.accumulate(
                    prepared, participant: name, round: UInt64(active.number), maximumNorm: bound)
            }
            // Participant unit: one participant's norm is not published, not even to /metrics.
            if active.plan.unit == .record { metrics.updateNorm(norm) }
        } catch {
            return recordRefusal(name, WireError(code: error.code, message: error.message, closesConnection: false))
        }
        // The machine counts the contributor (collecting was checked above, with no suspension
        // since, so it cannot refuse); its verdict for an accepted update is to carry on.
        guard (try? active.machine.handle(.updateAccepted(participant: name))) == RoundStateMachine.Action.none else {
            return recordRefusal(
                name,
                WireError(
                    code: WireError.Code.roundNotOpen, message: "no round is collecting updates",
                    closesConnection: false))
        }
        let digest = SHA256.hexDigest(update.signature + sealedDigest)
        active.digests[name] = digest
        active.answered.insert(name)
        active.checks.accept(name)
        signalChange()
        return .success(UpdateAck(round: update.round, updateDigest: Hex.decode(digest) ?? []))
    }

    /// The refusal of an update that arrives when no round collects: `round.deadline_passed` when
    /// it is for the round whose deadline ended collection (the sender is too slow for the
    /// deadline, which its operator can act on), `round.not_open` otherwise.
    func notCollecting(_ update: ReceivedUpdate) -> WireError {
        let deadline = configuration.policy.policy.rounds.deadlineSeconds
        if let late = deadlinePassedRound, update.round == UInt64(late) {
            return WireError(
                code: WireError.Code.deadlinePassed,
                message:
                    "the update for round \(late) arrived after the round's deadline (\(deadline) s) ended its "
                    + "collection; it was not counted. If this recurs, the participant trains too slowly for "
                    + "rounds.deadline_seconds: speed it up, or ask the operators to raise the deadline",
                closesConnection: false)
        }
        return WireError(
            code: WireError.Code.roundNotOpen,
            message: "no round is collecting updates (the update names round \(update.round)); "
                + "wait for the next invitation",
            closesConnection: false)
    }

    /// The refusal of an update that does not belong to the collecting round `active`, or nil:
    /// `update.wrong_round` when it names another round (most often one that already ended: a
    /// late or a replayed update), `update.replayed` when it names this round with another
    /// round's nonce (a replayed or forged update: no honest participant sends one).
    func roundMismatch(_ update: ReceivedUpdate, active: ActiveRound) -> WireError? {
        guard update.round == UInt64(active.number) else {
            return WireError(
                code: WireError.Code.wrongRound,
                message:
                    "the update is for round \(update.round), but round \(active.number) is open; an update for "
                    + "another round is never counted. Answer round \(active.number)'s invitation instead",
                closesConnection: false)
        }
        guard update.roundNonce == active.nonce else {
            return WireError(
                code: WireError.Code.replayed,
                message:
                    "the update names the open round \(active.number) but carries another round's nonce: a replayed "
                    + "or altered update, refused",
                closesConnection: false)
        }
        return nil
    }

    /// Records a refusal found off the actor.
    func refuseUpdate(_ name: String, _ error: WireError) -> Result<UpdateAck, WireError> {
        recordRefusal(name, error)
    }

    /// Records a refused update for the round's `update_checks` decision, when the sender was
    /// sampled for the collecting round.
    func recordRefusal<Success>(_ name: String, _ error: WireError) -> Result<Success, WireError> {
        if let active = round, active.machine.state == .collecting, active.invited.contains(name) {
            active.checks.refuse(name, code: error.code)
            // The sender is dropped from the round: collection no longer waits for it.
            active.answered.insert(name)
            signalChange()
        }
        return .failure(error)
    }

    func receiveEvaluation(_ accumulator: MetricsAccumulator, round number: Int, from name: String) {
        guard let active = round, active.number == number, active.machine.state == .aggregated,
            active.evaluationsAsked.contains(name)
        else { return }
        active.evaluations[name] = accumulator
        signalChange()
    }
}
