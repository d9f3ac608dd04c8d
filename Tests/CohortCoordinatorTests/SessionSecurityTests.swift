import CohortCoordinator
import CohortLedger
import CohortParticipant
import CohortTesting
import CohortTransport
import Foundation
import NIOCore
import Testing

/// Who may hold a session on the participant port, and what a connection can make the
/// coordinator hold before it has one: live membership, one session per identity, the
/// per-identity connection cap, the hello deadline, and frames refused from their header before
/// `hello`. Every peer is a real mutual-TLS connection on 127.0.0.1.
@Suite(.serialized) struct SessionSecurityTests {
    static let operatorPrincipal = try! PeerIdentity(role: .operator, name: "ops-alice")

    /// Connects as `name` without saying hello and runs `body` on the raw connection.
    static func rawConnection<T: Sendable>(
        _ consortium: Consortium, as name: String, _ body: @Sendable (FrameConnection) async throws -> T
    ) async throws -> T {
        let tls = try TLSConfigurationFactory(identity: consortium.identity(name))
        let connection = try await FrameClient.connect(
            host: "127.0.0.1", port: consortium.port, tls: tls.makeClientConfiguration(), serverHostname: "localhost",
            logger: consortium.capture.logger("cohort.raw"))
        return try await connection.executeThenClose { connection in try await body(connection) }
    }

    /// The first error frame on `connection` (nil if it closes without one).
    static func firstError(_ connection: FrameConnection) async throws -> WireError? {
        for try await frame in connection.inbound where frame.type == .error {
            return try frame.decode(WireError.self)
        }
        return nil
    }

    /// The policy file's text without the named participant's two lines.
    static func policy(_ consortium: Consortium, without name: String) throws -> String {
        let text = try String(contentsOfFile: consortium.policyPath, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        let index = try #require(lines.firstIndex(of: "  - name: \(name)"))
        lines.removeSubrange(index...(index + 1))
        return lines.joined(separator: "\n")
    }

    @Test func aSecondConnectionTakesOverTheSessionAndTheOldOneIsToldWhy() async throws {
        let consortium = try await Consortium()
        let replaced = Task {
            try await consortium.scripted("hospital-a") { session -> WireError? in
                while let frame = try await session.frames.next() {
                    if frame.type == .error { return try frame.decode(WireError.self) }
                }
                return nil
            }
        }
        try await consortium.waitForConnected(1)
        let honest = ["hospital-a", "hospital-b", "hospital-c"].map { name in
            Task { try await consortium.participant(name).run() }
        }
        let error = try await replaced.value
        #expect(error?.code == WireError.Code.sessionReplaced)
        #expect(error?.message.contains("a newer connection with the identity hospital-a took over") == true)
        #expect(error?.message.hasSuffix("two processes share this identity: stop one") == true)
        #expect(error?.closesConnection == true)
        // The old connection's end must not take the new session with it.
        try await consortium.waitForConnected(3)
        #expect(await consortium.coordinator.connectedParticipants == ["hospital-a", "hospital-b", "hospital-c"])
        guard case .closed(_, let contributors, _, _) = try await consortium.coordinator.runRound() else {
            Issue.record("the round did not close")
            await consortium.shutdown()
            return
        }
        #expect(contributors.contains("hospital-a"))
        #expect(consortium.capture.text.contains("a new connection replaced the participant's session"))
        await consortium.shutdown()
        for task in honest { _ = try await task.value }
    }

    @Test func aParticipantRemovedByAdoptionIsDisconnectedRefusedAndNotInvitedThenReadmittedWithoutRestart()
        async throws
    {
        let consortium = try await Consortium()
        let tasks = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        let removed = Task { try await consortium.participant("hospital-c").run() }
        try await consortium.waitForConnected(3)
        let original = try String(contentsOfFile: consortium.policyPath, encoding: .utf8)
        let started = ContinuousClock.now
        _ = try await consortium.coordinator.adoptPolicy(
            yaml: try Self.policy(consortium, without: "hospital-c"), by: Self.operatorPrincipal)
        // The removed participant's session ends at once, with the reason, and the participant stops.
        let ended = await removed.result
        // A liveness bound, not a speed target: the close is pushed by the adoption, never
        // waited for at a timeout (the idle timeout here is 300 s).
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(throws: ParticipantError.self) { _ = try ended.get() }
        if case .failure(let error as ParticipantError) = ended {
            #expect(error.code == WireError.Code.removedFromPolicy)
        }
        #expect(await consortium.coordinator.connectedParticipants == ["hospital-a", "hospital-b"])
        let statuses = await consortium.coordinator.participantStatuses()
        #expect(!statuses.contains { $0.name == "hospital-c" })
        // Reconnecting is refused right after the handshake.
        let again = try await Self.rawConnection(consortium, as: "hospital-c") { try await Self.firstError($0) }
        #expect(again?.code == WireError.Code.notInPolicy)
        // A round runs without it.
        guard case .closed(_, let contributors, _, _) = try await consortium.coordinator.runRound() else {
            Issue.record("the round without the removed participant did not close")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        // Adding it back lets it join at once, without a restart.
        _ = try await consortium.coordinator.adoptPolicy(yaml: original, by: Self.operatorPrincipal)
        let readmitted = Task { try await consortium.participant("hospital-c").run() }
        try await consortium.waitForConnected(3)
        guard case .closed(_, let all, _, _) = try await consortium.coordinator.runRound() else {
            Issue.record("the round after re-admission did not close")
            await consortium.shutdown()
            return
        }
        #expect(Set(all) == ["hospital-a", "hospital-b", "hospital-c"])
        let verified = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: consortium.stateDirectory),
            publicKey: consortium.ledgerPublicKey())
        #expect(verified.state.lastClosedRound == 2)
        await consortium.shutdown()
        for task in tasks { _ = try await task.value }
        _ = try await readmitted.value
    }

    @Test func aSuspendedParticipantReceivesNoModelAndNoEvaluationRequest() async throws {
        let consortium = try await Consortium()
        _ = try await consortium.coordinator.suspend(
            participant: "hospital-c", reason: "review", by: Self.operatorPrincipal)
        let watcher = Task {
            try await consortium.scripted("hospital-c") { session -> [FrameType] in
                var seen: [FrameType] = []
                while let frame = try await session.frames.next() {
                    seen.append(frame.type)
                    if frame.type == .bye { break }
                }
                return seen
            }
        }
        let tasks = ["hospital-a", "hospital-b"].map { name in Task { try await consortium.participant(name).run() } }
        try await consortium.waitForConnected(3)
        guard case .closed(_, let contributors, _, _) = try await consortium.coordinator.runRound() else {
            Issue.record("the round did not close")
            await consortium.shutdown()
            return
        }
        #expect(Set(contributors) == ["hospital-a", "hospital-b"])
        await consortium.shutdown()
        let seen = try await watcher.value
        #expect(seen.contains(.bye))
        #expect(!seen.contains(.roundInvite))
        #expect(!seen.contains(.evaluateRequest))
        for task in tasks { _ = try await task.value }
    }

    @Test func framesOtherThanHelloAreRefusedFromTheirHeaderBeforeASession() async throws {
        let consortium = try await Consortium()
        for type in [FrameType.update, .attestation, .evaluationResult, .roundInvite] {
            let error = try await Self.rawConnection(consortium, as: "hospital-a") { connection -> WireError? in
                // Far smaller than what is announced: the refusal comes from the header alone.
                var payload = ByteBuffer()
                payload.writeBytes([UInt8](repeating: 7, count: 128))
                try await connection.outbound.send(Frame(type: type, payload: payload))
                return try await Self.firstError(connection)
            }
            #expect(error?.code == WireError.Code.unexpectedFrame, "a \(type) frame before hello")
        }
        #expect(await consortium.coordinator.connectedParticipants.isEmpty)
        await consortium.shutdown()
    }

    @Test func aMalformedOrMisnamedHelloGetsAnErrorFrame() async throws {
        let consortium = try await Consortium()
        let malformed = try await Self.rawConnection(consortium, as: "hospital-a") { connection -> WireError? in
            var payload = ByteBuffer()
            payload.writeBytes([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3])
            try await connection.outbound.send(Frame(type: .hello, payload: payload))
            return try await Self.firstError(connection)
        }
        #expect(malformed?.code == WireError.Code.malformedPayload)
        let misnamed = try await Self.rawConnection(consortium, as: "hospital-a") { connection -> WireError? in
            try await connection.outbound.send(Hello(participantName: "hospital-b\u{1B}[2J\nforged line"))
            return try await Self.firstError(connection)
        }
        #expect(misnamed?.code == WireError.Code.nameMismatch)
        // The peer's text is escaped before it is echoed: no control character comes back.
        #expect(
            misnamed.map { $0.message.unicodeScalars.contains { $0.properties.generalCategory == .control } } == false)
        await consortium.shutdown()
    }

    /// The protocol version is negotiated in hello: a peer asking for a version this coordinator
    /// does not speak gets `protocol.version_unsupported` naming both versions, over real mutual
    /// TLS, and the connection closes; a peer with the current version joins on the same server.
    @Test(arguments: [UInt16(0), Frame.currentVersion + 1, UInt16.max])
    func aHelloWithAnUnsupportedProtocolVersionGetsAnErrorFrameNamingBoth(version: UInt16) async throws {
        let consortium = try await Consortium()
        let refused = try await Self.rawConnection(consortium, as: "hospital-a") { connection -> (WireError?, Bool) in
            try await connection.outbound.send(Hello(participantName: "hospital-a", protocolVersion: version))
            var frames = connection.inbound.makeAsyncIterator()
            var error: WireError?
            while error == nil, let frame = try await frames.next() {
                if frame.type == .error { error = try frame.decode(WireError.self) }
            }
            // After the error frame the coordinator closes: the stream ends with no other frame.
            let closed = (try? await frames.next()) == nil
            return (error, closed)
        }
        let error = try #require(refused.0, "no error frame for protocol version \(version)")
        #expect(error.code == WireError.Code.protocolVersionUnsupported)
        #expect(error.closesConnection)
        #expect(error.message.contains("version \(version)"), "names the peer's version: \(error.message)")
        #expect(
            error.message.contains("version \(Frame.currentVersion)"),
            "names the coordinator's version: \(error.message)")
        #expect(refused.1, "the connection closes after the error frame")
        #expect(await !consortium.coordinator.connectedParticipants.contains("hospital-a"))
        // The same identity with the supported version is admitted.
        let honest = Task { try await consortium.participant("hospital-a").run() }
        try await consortium.waitForConnected(1)
        await consortium.shutdown()
        _ = try await honest.value
    }

    @Test func anIdentityMayHoldThreeConnectionsAndTheFourthIsRefused() async throws {
        let consortium = try await Consortium(handshakeTimeoutSeconds: 30)
        let release = AsyncStream<Void>.makeStream()
        let connected = AsyncStream<Void>.makeStream()
        var connections = connected.stream.makeAsyncIterator()
        var holders: [Task<Void, any Error>] = []
        for _ in 0..<3 {
            holders.append(
                Task {
                    try await Self.rawConnection(consortium, as: "hospital-a") { _ in
                        connected.continuation.yield()
                        for await _ in release.stream {}
                    }
                })
            // Each must be counted by the server before the next is opened: wait until its TLS
            // handshake is done here (under CI load that alone can take longer than any fixed
            // pause), then give the server's end of the same handshake time to count it.
            _ = await connections.next()
            try await Task.sleep(for: .milliseconds(300))
        }
        let fourth = try await Self.rawConnection(consortium, as: "hospital-a") { try await Self.firstError($0) }
        #expect(fourth?.code == WireError.Code.tooManyConnections)
        // Another identity is not affected.
        let other = Task { try await consortium.participant("hospital-b").run() }
        try await consortium.waitForConnected(1)
        release.continuation.finish()
        for holder in holders { try await holder.value }
        await consortium.shutdown()
        _ = try await other.value
    }

    @Test func aConnectionThatNeverSaysHelloIsClosedAtTheHandshakeTimeout() async throws {
        let consortium = try await Consortium(handshakeTimeoutSeconds: 0.5)
        let started = ContinuousClock.now
        let error = try await Self.rawConnection(consortium, as: "hospital-a") { try await Self.firstError($0) }
        #expect(error?.code == WireError.Code.helloTimeout)
        #expect(ContinuousClock.now - started < .seconds(30))  // liveness, not speed
        await consortium.shutdown()
    }
}
