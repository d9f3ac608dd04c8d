import CohortTesting
import CohortTransport
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// Real sockets on 127.0.0.1. Under TLS 1.3 the client considers the handshake done before the
/// server has checked the client certificate, so every refusal test sends a frame and reads:
/// the refusal shows up as a failed read (TLS alert) or an error frame, never as a reply.
@Suite("Mutual TLS over real sockets", .serialized)
struct MutualTLSTests {
    @Test func frameExchangeBothWays() async throws {
        let pki = try TestPKI()
        let seen = Mutex<[PeerIdentity]>([])
        let handler: @Sendable (FrameConnection) async throws -> Void = { connection in
            seen.withLock { $0.append(connection.peer) }
            try await welcomeHandler(connection)
        }
        let outcome = try await withServer(pki: pki, handler: handler) { server in
            let connection = try await FrameClient.connect(
                host: "127.0.0.1",
                port: server.port,
                tls: try pki.factory(pki.alpha).makeClientConfiguration(),
                logger: Logger(label: "client")
            )
            let coordinator = try PeerIdentity(role: .coordinator, name: "coordinator")
            #expect(connection.peer == coordinator)
            return try await connection.executeThenClose { connection in
                try await connection.outbound.send(Hello(participantName: "alpha"))
                var frames: [Frame] = []
                for try await frame in connection.inbound { frames.append(frame) }
                return frames
            }
        }
        let alpha = try PeerIdentity(role: .participant, name: "alpha")
        #expect(seen.withLock { $0 } == [alpha])
        #expect(outcome.map(\.type) == [.welcome, .bye])
        let welcome = try outcome[0].decode(Welcome.self)
        #expect(welcome.model.dimension == 3)
        #expect(try outcome[1].decode(Bye.self).reason == "hello alpha, you are participant alpha")
    }

    @Test func hostnameIsVerifiedByTheClient() async throws {
        let pki = try TestPKI()
        // NIOSSL accepts a server certificate whose SAN matches either the expected name or the
        // connected IP. 127.0.0.2 (also loopback on Linux) is not in the certificate, so only the
        // name can make the connection acceptable.
        let configuration = FrameServerConfiguration(host: "127.0.0.2")
        try await withServer(pki: pki, configuration: configuration, handler: welcomeHandler) { server in
            func connect(serverHostname: String?) async throws {
                let connection = try await FrameClient.connect(
                    host: "127.0.0.2",
                    port: server.port,
                    tls: try pki.factory(pki.alpha).makeClientConfiguration(),
                    serverHostname: serverHostname,
                    logger: Logger(label: "client")
                )
                try await connection.executeThenClose { _ in }
            }
            try await connect(serverHostname: "localhost")
            await #expect(throws: (any Error).self) { try await connect(serverHostname: "coordinator.evil.example") }
            await #expect(throws: (any Error).self) { try await connect(serverHostname: nil) }
        }
    }

    /// Asserts that a client with `tls` gets no reply and that the server handler never runs.
    private func expectRefused(
        pki: TestPKI,
        tls: TLSConfiguration,
        serverLogs: CapturedLogs = CapturedLogs()
    ) async throws -> ClientOutcome {
        let reached = Mutex(false)
        let handler: @Sendable (FrameConnection) async throws -> Void = { connection in
            reached.withLock { $0 = true }
            try await welcomeHandler(connection)
        }
        let outcome = try await withServer(pki: pki, logger: serverLogs.logger(), handler: handler) { server in
            try await exchange(port: server.port, tls: tls)
        }
        #expect(reached.withLock { $0 } == false)
        #expect(!outcome.frames.contains { $0.type == .welcome })
        return outcome
    }

    @Test func clientWithoutCertificateIsRefused() async throws {
        let pki = try TestPKI()
        var tls = try pki.clientTLS(pki.alpha)
        tls.certificateChain = []
        tls.privateKey = nil
        let logs = CapturedLogs()
        let outcome = try await expectRefused(pki: pki, tls: tls, serverLogs: logs)
        #expect(outcome.error != nil)
        let described = outcome.error.map { "\($0)" } ?? ""
        #expect(described.contains("CERTIFICATE_REQUIRED"))
        #expect(logs.all.contains { $0.message.contains("TLS handshake failed") })
    }

    @Test func certificateFromAnotherCAIsRefused() async throws {
        let pki = try TestPKI()
        let logs = CapturedLogs()
        let outcome = try await expectRefused(pki: pki, tls: try pki.clientTLS(pki.foreignAlpha), serverLogs: logs)
        #expect(outcome.error != nil)
        let described = outcome.error.map { "\($0)" } ?? ""
        #expect(described.contains("UNKNOWN_CA"))
        #expect(logs.all.contains { $0.message.contains("TLS handshake failed") })
    }

    @Test func expiredCertificateIsRefused() async throws {
        let pki = try TestPKI()
        // "stale" is in the allow-list: only expiry keeps it out.
        let logs = CapturedLogs()
        let outcome = try await expectRefused(pki: pki, tls: try pki.clientTLS(pki.expired), serverLogs: logs)
        #expect(outcome.error != nil)
        let described = outcome.error.map { "\($0)" } ?? ""
        #expect(described.contains("CERTIFICATE_EXPIRED"))
        #expect(
            logs.all.contains {
                "\($0.message)".contains("CERTIFICATE_VERIFY_FAILED") || $0.message.contains("expired")
            })
    }

    @Test func validCertificateNotInPolicyIsRefusedWithAnErrorFrame() async throws {
        let pki = try TestPKI()
        let logs = CapturedLogs()
        let outcome = try await expectRefused(pki: pki, tls: try pki.clientTLS(pki.gamma), serverLogs: logs)
        let errors = try outcome.frames.map { try $0.decode(WireError.self) }
        #expect(errors.map(\.code) == ["auth.not_in_policy"])
        #expect(errors.first?.closesConnection == true)
        let refusal = logs.all.first { $0.metadata["cohort.error_code"] == "auth.not_in_policy" }
        #expect(refusal?.message.contains("gamma is not named in the policy's allow-list") == true)
        #expect(refusal?.level == .warning)
    }

    @Test func tls12OnlyClientIsRefused() async throws {
        let pki = try TestPKI()
        var tls = try pki.clientTLS(pki.alpha)
        tls.minimumTLSVersion = .tlsv12
        tls.maximumTLSVersion = .tlsv12
        let logs = CapturedLogs()
        let outcome = try await expectRefused(pki: pki, tls: tls, serverLogs: logs)
        // The server rejects the ClientHello, so the handshake itself fails.
        guard case .connectFailed(let error) = outcome else {
            Issue.record("expected the handshake to fail, got \(outcome)")
            return
        }
        let described = "\(error)"
        #expect(described.contains("PROTOCOL_VERSION"))
        #expect(logs.all.contains { $0.message.contains("TLS handshake failed") })
    }

    @Test func opensslTLS12ClientIsRefused() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"),
            "this test needs /usr/bin/openssl as an independent TLS client; Scripts/bootstrap.sh installs it")
        let pki = try TestPKI()
        try await withServer(pki: pki, handler: welcomeHandler) { server in
            let tls12 = try await runOpenSSL(pki: pki, port: server.port, version: "-tls1_2")
            #expect(tls12.status != 0)
            #expect(tls12.output.contains("alert protocol version"))
            // Control: the same command with TLS 1.3 negotiates.
            let tls13 = try await runOpenSSL(pki: pki, port: server.port, version: "-tls1_3")
            #expect(tls13.output.contains("TLSv1.3"))
        }
    }

    private func runOpenSSL(pki: TestPKI, port: Int, version: String) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "s_client", "-connect", "127.0.0.1:\(port)", version,
            "-cert", pki.alpha.certificate, "-key", pki.alpha.privateKey, "-CAfile", pki.alpha.caCertificate,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read on a background thread: s_client exits once stdin hits EOF.
        let data = await Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }.value
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func oversizedFrameOverASocketYieldsAnErrorFrame() async throws {
        let pki = try TestPKI()
        var limits = FrameLimits()
        limits[.attestation] = 64
        let reached = Mutex<[String]>([])
        let handler: @Sendable (FrameConnection) async throws -> Void = { connection in
            do {
                for try await frame in connection.inbound { reached.withLock { $0.append("\(frame.type)") } }
            } catch {
                reached.withLock { $0.append("error: \((error as? WireError)?.code ?? "\(error)")") }
            }
        }
        let outcome = try await withServer(
            pki: pki, configuration: FrameServerConfiguration(limits: limits), handler: handler
        ) { server in
            try await exchange(
                port: server.port,
                tls: try pki.factory(pki.alpha).makeClientConfiguration(),
                send: Frame(Attestation(json: [UInt8](repeating: 0x20, count: 65)))
            )
        }
        let errors = try outcome.frames.map { try $0.decode(WireError.self) }
        #expect(errors.map(\.code) == ["wire.frame_too_large"])
        #expect(reached.withLock { $0 } == ["error: wire.frame_too_large"])
    }

    @Test func idleConnectionIsClosedWithAnErrorFrame() async throws {
        let pki = try TestPKI()
        let configuration = FrameServerConfiguration(idleTimeout: .milliseconds(300))
        let handler: @Sendable (FrameConnection) async throws -> Void = { connection in
            for try await _ in connection.inbound {}
        }
        let outcome = try await withServer(pki: pki, configuration: configuration, handler: handler) { server in
            try await exchange(
                port: server.port,
                tls: try pki.factory(pki.alpha).makeClientConfiguration(),
                send: Frame(Attestation(json: [])),
                configuration: FrameClientConfiguration(heartbeatInterval: nil)
            )
        }
        #expect(try outcome.frames.map { try $0.decode(WireError.self).code } == ["wire.idle_timeout"])
    }

    @Test func silentTCPClientIsDroppedAfterTheHandshakeTimeout() async throws {
        let pki = try TestPKI()
        let logs = CapturedLogs()
        let configuration = FrameServerConfiguration(handshakeTimeout: .milliseconds(200))
        try await withServer(pki: pki, configuration: configuration, logger: logs.logger(), handler: welcomeHandler) {
            server in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: server.port).get()
            // The server closes the socket; closeFuture completes without us doing anything.
            try await channel.closeFuture.get()
        }
        #expect(logs.all.contains { $0.metadata["cohort.error_code"] == "tls.handshake_timeout" })
    }

    @Test func payloadsAndKeysNeverReachTheLogs() async throws {
        let pki = try TestPKI()
        let serverLogs = CapturedLogs()
        let clientLogs = CapturedLogs()
        let marker = "SECRET-RECORD-7f3a"
        let handler: @Sendable (FrameConnection) async throws -> Void = { connection in
            for try await frame in connection.inbound {
                _ = try frame.decode(Attestation.self)
                try await connection.outbound.send(Bye(reason: "ok"))
                return
            }
        }
        _ = try await withServer(pki: pki, logger: serverLogs.logger(), handler: handler) { server in
            try await exchange(
                port: server.port,
                tls: try pki.factory(pki.alpha).makeClientConfiguration(),
                send: Frame(Attestation(json: Array(marker.utf8))),
                logger: clientLogs.logger()
            )
        }
        let keyText = try String(contentsOfFile: pki.alpha.privateKey, encoding: .utf8)
        let keyBody = keyText.split(separator: "\n").dropFirst().first.map(String.init) ?? "unreachable"
        let everything = (serverLogs.all + clientLogs.all).flatMap { [$0.message] + $0.metadata.values }
        #expect(!everything.isEmpty)
        #expect(!everything.contains { $0.contains(marker) || $0.contains(keyBody) })
        // Metadata keys are namespaced.
        let keys = Set((serverLogs.all + clientLogs.all).flatMap { $0.metadata.keys })
        #expect(keys.allSatisfy { $0.hasPrefix("cohort.") })
        #expect(
            serverLogs.all.contains { $0.metadata["cohort.peer_name"] == "alpha" && $0.message == "peer authenticated" }
        )
    }
}
