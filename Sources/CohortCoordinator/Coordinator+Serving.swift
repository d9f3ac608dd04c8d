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
    // MARK: - Serving

    /// Binds the participant port and serves connections until `stop()`.
    public func start(tls: TLSConfiguration) async throws -> Int {
        let policy = configuration.policy.policy
        let host = String(policy.coordinator.listen[..<policy.coordinator.listen.lastIndex(of: ":")!])
        let port =
            configuration.portOverride ?? Int(
                policy.coordinator.listen[
                    policy.coordinator.listen.index(after: policy.coordinator.listen.lastIndex(of: ":")!)...])!
        let limits = FrameLimits(maxTensorBytes: UInt32(policy.limits.maxUpdateBytes))
        let server = try await FrameServer.bind(
            configuration: FrameServerConfiguration(
                host: host, port: port,
                handshakeTimeout: .milliseconds(Int64(policy.rounds.handshakeTimeoutSeconds * 1000)),
                idleTimeout: .milliseconds(Int64(policy.rounds.idleTimeoutSeconds * 1000)),
                limits: limits,
                partialFrameBudget: Self.partialFrameBudget(limits: limits, participants: policy.participants.count)
            ),
            tls: tls,
            allowList: gateway.membership.allowList,
            logger: logger
        )
        self.server = server
        // The server task holds the actor until `stop()` closes the listener.
        Task { [self] in
            try? await server.run { connection in
                await self.serve(connection)
            }
        }
        return server.port
    }

    /// Bytes of large frames that may be arriving at once over all connections: one largest
    /// update from every participant the policy names, plus one more for a reconnect overlapping
    /// its old session. Each identity holds at most one session, so honest rounds never reach it.
    static func partialFrameBudget(limits: FrameLimits, participants: Int) -> Int {
        (participants + 1) * Int(limits[.update])
    }

    /// Stops serving (as `stop`) and closes the ledger, releasing its lock, so another
    /// coordinator may open the state directory in this process. The coordinator cannot run
    /// rounds afterwards.
    public func shutdown(reason: String = "coordinator shut down") async {
        await stop(reason: reason)
        ledger.close()
    }

    /// Closes the listener. A round in progress is aborted (and stays charged if updates arrived).
    ///
    /// A round whose driver is running is ended by that driver, at its next step (the abort is
    /// the round's own, so it can never reach a later round); this waits until it has.
    public func stop(reason: String = "training finished") async {
        if let active = round, active.machine.state != .closed {
            if driving > 0 {
                active.requestAbort(reason: reason)
                signalChange()
                _ = try? await wait(until: nil) { round !== active }
            } else {
                _ = try? await finish(active, event: .abort(reason: reason))
            }
        }
        // Say goodbye so participants end cleanly instead of seeing a dropped connection; one
        // that stopped reading is not waited for beyond the handshake timeout.
        let bye = Frame(Bye(reason: reason))
        let writers = gateway.sessions.values.map(\.writer)
        await deliver(
            gateway.sessions.keys.sorted().map { ($0, bye) },
            deadline: clock.deadline(afterSeconds: configuration.policy.policy.rounds.handshakeTimeoutSeconds))
        for writer in writers { writer.finish() }
        gateway.sessions.removeAll()
        signalChange()
        await server?.close()
        server = nil
    }

    /// Serves one participant connection. Runs in the connection's task, not on the actor: frames
    /// are received and updates hashed, verified, opened and clipped here, several connections at
    /// once, and only session changes and the addition to the round's sum go through the actor.
    nonisolated func serve(_ connection: FrameConnection) async {
        let name = connection.peer.name
        var log = logger
        log[metadataKey: "cohort.participant"] = "\(name)"
        var sessionID: UInt64?
        do {
            var frames = connection.inbound.makeAsyncIterator()
            guard let helloFrame = try await frames.next() else { return }
            let hello: Hello
            do {
                hello = try helloFrame.decode(Hello.self)
            } catch {
                log.notice("hello refused", metadata: ["cohort.code": "\(error.code)"])
                try await connection.outbound.send(
                    error: WireError(code: error.code, message: error.message, closesConnection: true))
                return
            }
            guard hello.participantName == name else {
                try await connection.outbound.send(
                    error: WireError(
                        code: WireError.Code.nameMismatch,
                        message:
                            "hello names `\(PeerText.sanitized(hello.participantName, maxLength: 64))` but the certificate names `\(name)`",
                        closesConnection: true))
                return
            }
            connection.admission.advance(to: .awaitingAttestation)
            let nonce = SecureRandom.bytes(Welcome.nonceLength)
            try await connection.outbound.send(
                Welcome(
                    coordinatorSealingKey: sealingKey.publicKey, sessionNonce: nonce,
                    model: ModelSpec(dimension: UInt32(dimension))))
            guard let attestationFrame = try await frames.next() else { return }
            let attestation: DataQualityAttestation
            switch readAttestation(attestationFrame) {
            case .success(let valid): attestation = valid
            case .failure(let error):
                log.notice("attestation refused", metadata: ["cohort.code": "\(error.code)"])
                try await connection.outbound.send(error: error)
                return
            }
            connection.admission.advance(to: .session)
            guard
                let id = await register(
                    name: name,
                    session: Session(writer: connection.outbound, sessionNonce: nonce, attestation: attestation))
            else {
                try await connection.outbound.send(
                    error: WireError(
                        code: WireError.Code.removedFromPolicy,
                        message: "the policy in force no longer names \(name); ask the consortium to add it again",
                        closesConnection: true))
                return
            }
            sessionID = id
            log.info("participant joined", metadata: ["cohort.records": "\(attestation.rows)"])
            receiving: while let frame = try await frames.next() {
                switch frame.type {
                case .update:
                    let update: ReceivedUpdate
                    do {
                        update = try profile.time(.decode) { () throws(WireError) in
                            try frame.decode(ReceivedUpdate.self)
                        }
                    } catch {
                        // Framing is intact but the payload is not an update: say so and close.
                        log.notice("update refused", metadata: ["cohort.code": "\(error.code)"])
                        metrics.updateRefused(code: error.code)
                        try await connection.outbound.send(
                            error: WireError(code: error.code, message: error.message, closesConnection: true))
                        break receiving
                    }
                    let reply = await receive(update, from: name)
                    switch reply {
                    case .success(let ack): try await connection.outbound.send(ack)
                    case .failure(let error):
                        log.notice("update refused", metadata: ["cohort.code": "\(error.code)"])
                        metrics.updateRefused(code: error.code)
                        try await connection.outbound.send(error: error)
                    }
                case .evaluationResult:
                    let result: EvaluationResult
                    do {
                        result = try frame.decode(EvaluationResult.self)
                    } catch {
                        try await connection.outbound.send(
                            error: WireError(
                                code: WireError.Code.evaluationInvalid, message: error.message, closesConnection: false)
                        )
                        continue
                    }
                    if let refusal = await acceptEvaluation(result, from: name) {
                        log.notice("evaluation refused", metadata: ["cohort.code": "\(refusal.code)"])
                        try await connection.outbound.send(error: refusal)
                    }
                case .bye:
                    if let sessionID { await unregister(name: name, id: sessionID) }
                    return
                default:
                    try await connection.outbound.send(
                        error: WireError(
                            code: WireError.Code.unexpectedFrame,
                            message: "a \(frame.type) frame is not expected from a participant here",
                            closesConnection: false))
                }
            }
        } catch {
            log.notice("participant connection ended", metadata: ["cohort.reason": "\(error)"])
        }
        if let sessionID { await unregister(name: name, id: sessionID) }
    }
}
