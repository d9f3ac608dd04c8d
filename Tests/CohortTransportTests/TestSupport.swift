import CohortTesting
import CohortTransport
import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// Collects log records so tests can prove what is (and is not) logged.
final class CapturedLogs: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    var all: [Record] { records.withLock { $0 } }

    func append(_ record: Record) { records.withLock { $0.append(record) } }

    func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append(Record(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }
}

/// Runs a server with `handler` for the duration of `body`.
func withServer<Result: Sendable>(
    pki: TestPKI,
    allowList: PeerAllowList = .names(["alpha", "beta", "stale"], role: .participant),
    configuration: FrameServerConfiguration = FrameServerConfiguration(),
    logger: Logger = Logger(label: "test-server"),
    handler: @escaping @Sendable (FrameConnection) async throws -> Void,
    _ body: (FrameServer) async throws -> Result
) async throws -> Result {
    // These tests exercise TLS and framing, not the Cohort session protocol (tested with the coordinator).
    var configuration = configuration
    configuration.requiresSessionAdmission = false
    let server = try await FrameServer.bind(
        configuration: configuration,
        tls: try pki.factory(pki.coordinator).makeServerConfiguration(),
        allowList: allowList,
        logger: logger
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run(handler) }
        do {
            let result = try await body(server)
            await server.close()
            group.cancelAll()
            return result
        } catch {
            await server.close()
            group.cancelAll()
            throw error
        }
    }
}

/// What a client observed after sending one frame and reading until the stream ended.
enum ClientOutcome: Sendable {
    /// The stream ended cleanly after these frames.
    case frames([Frame])
    /// A read failed after these frames.
    case failed(any Error, after: [Frame])
    /// `FrameClient.connect` itself failed.
    case connectFailed(any Error)

    var frames: [Frame] {
        switch self {
        case .frames(let frames), .failed(_, let frames): frames
        case .connectFailed: []
        }
    }

    var error: (any Error)? {
        switch self {
        case .frames: nil
        case .failed(let error, _), .connectFailed(let error): error
        }
    }
}

/// Connects, sends `frame`, and reads everything the server sends until the connection ends.
func exchange(
    port: Int,
    tls: TLSConfiguration,
    send frame: Frame = Frame(Hello(participantName: "alpha")),
    configuration: FrameClientConfiguration = FrameClientConfiguration(),
    logger: Logger = Logger(label: "test-client")
) async throws -> ClientOutcome {
    let connection: FrameClientConnection
    do {
        connection = try await FrameClient.connect(
            host: "127.0.0.1",
            port: port,
            tls: tls,
            configuration: configuration,
            logger: logger
        )
    } catch {
        return .connectFailed(error)
    }
    return try await connection.executeThenClose { connection in
        var received: [Frame] = []
        // The write can fail when the server's alert has already closed the connection; the
        // alert itself (the interesting reason) is then waiting in the inbound stream.
        var writeError: (any Error)?
        do {
            try await connection.outbound.send(frame)
        } catch {
            writeError = error
        }
        do {
            for try await frame in connection.inbound { received.append(frame) }
        } catch {
            return .failed(error, after: received)
        }
        if let writeError { return .failed(writeError, after: received) }
        return .frames(received)
    }
}

/// A server handler that answers a hello with a welcome and then echoes the peer's name in a bye.
@Sendable func welcomeHandler(_ connection: FrameConnection) async throws {
    for try await frame in connection.inbound {
        let hello = try frame.decode(Hello.self)
        try await connection.outbound.send(
            Welcome(
                coordinatorSealingKey: [UInt8](repeating: 7, count: 32),
                sessionNonce: [UInt8](repeating: 9, count: 32),
                model: ModelSpec(dimension: 3)
            )
        )
        try await connection.outbound.send(Bye(reason: "hello \(hello.participantName), you are \(connection.peer)"))
        return
    }
}
