import CohortCoordinator
import CohortPolicy
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Delivers each alert to the targets the coordinator passes with it (those of the policy in
/// force), keeping one `AlertDispatcher` per distinct pair of targets, so an adopted policy's new
/// alert command or webhook takes effect with the next alert.
public final class AlertRouter: Sendable {
    private struct Route: Sendable {
        let command: String?
        let webhookURL: String?
        let dispatcher: AlertDispatcher
    }

    private let route = Mutex<Route?>(nil)
    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// For `CoordinatorConfiguration.alertSink`.
    public var sink: @Sendable (GovernanceAlert, Policy.Governance.Alerts) -> Void {
        { [self] alert, targets in deliver(alert, to: targets) }
    }

    public func deliver(_ alert: GovernanceAlert, to targets: Policy.Governance.Alerts) {
        guard targets.command != nil || targets.webhookURL != nil else { return }
        let dispatcher = route.withLock { current -> AlertDispatcher in
            if let current, current.command == targets.command, current.webhookURL == targets.webhookURL {
                return current.dispatcher
            }
            let made = AlertDispatcher(command: targets.command, webhookURL: targets.webhookURL, logger: logger)
            current = Route(command: targets.command, webhookURL: targets.webhookURL, dispatcher: made)
            return made
        }
        dispatcher.send(alert)
    }
}

/// Delivers governance alerts to an executable (the alert JSON on its standard input) and/or a
/// webhook (the JSON POSTed to an http:// or https:// URL, https verified against the system
/// trust roots). Each delivery has a 10 s limit; failures are logged and never reach the caller.
///
/// `send` returns at once: deliveries run in their own tasks, at most `maxInFlight` at a time
/// (more are dropped with a warning), so a slow hook never blocks the coordinator.
public final class AlertDispatcher: Sendable {
    private let command: String?
    private let webhook: Webhook?
    private let logger: Logger
    private let timeout: Duration
    private let inFlight = Mutex(0)
    private let maxInFlight = 16

    struct Webhook: Sendable {
        var target: HTTPExchange.Target
        var path: String
        var display: String
    }

    /// - Parameters:
    ///   - command: an executable (no shell, no arguments) run with the alert JSON on stdin; nil for none.
    ///   - webhookURL: `http://…` or `https://…`; nil for none.
    ///   - timeout: per delivery; default 10 s.
    ///   - logger: delivery outcomes (kind, round, gate, exit status / HTTP status).
    ///
    /// A webhook URL that is not http(s) is logged as an error and ignored; check it beforehand
    /// with ``validateWebhookURL(_:)`` to refuse it at start-up instead.
    public init(command: String?, webhookURL: String?, timeout: Duration = .seconds(10), logger: Logger) {
        self.command = command.flatMap { $0.isEmpty ? nil : $0 }
        var webhook: Webhook?
        if let webhookURL, !webhookURL.isEmpty {
            do {
                webhook = try Self.parseWebhook(webhookURL)
            } catch {
                logger.error("alert webhook ignored: \(error)")
            }
        }
        self.webhook = webhook
        self.timeout = timeout
        self.logger = logger
        #if canImport(Glibc)
        // Writing the alert to a command that exits without reading it must not kill the coordinator.
        if self.command != nil { signal(SIGPIPE, SIG_IGN) }
        #endif
    }

    /// For `CoordinatorConfiguration.alertSink`.
    public var sink: @Sendable (GovernanceAlert) -> Void {
        { [self] alert in send(alert) }
    }

    /// Starts delivering `alert`; returns immediately.
    public func send(_ alert: GovernanceAlert) {
        guard command != nil || webhook != nil else { return }
        let admitted = inFlight.withLock { count in
            guard count < maxInFlight else { return false }
            count += 1
            return true
        }
        var logger = logger
        logger[metadataKey: "cohort.alert_kind"] = "\(alert.kind)"
        logger[metadataKey: "cohort.round"] = "\(alert.round)"
        logger[metadataKey: "cohort.gate"] = "\(alert.gate)"
        guard admitted else {
            logger.warning("alert dropped: \(maxInFlight) deliveries already in flight")
            return
        }
        Task.detached { [self, logger] in
            await deliver(alert, logger: logger)
            inFlight.withLock { $0 -= 1 }
        }
    }

    /// Delivers to every configured hook and returns when each finished or timed out (tests await it).
    public func deliver(_ alert: GovernanceAlert) async {
        await deliver(alert, logger: logger)
    }

    private func deliver(_ alert: GovernanceAlert, logger: Logger) async {
        let body: [UInt8]
        do {
            body = try APIJSON.encode(alert)
        } catch {
            logger.error("alert not delivered: cannot encode it: \(error)")
            return
        }
        await withTaskGroup(of: Void.self) { group in
            if let command { group.addTask { await self.run(command, input: body, logger: logger) } }
            if let webhook { group.addTask { await self.post(to: webhook, body: body, logger: logger) } }
        }
    }

    private func run(_ command: String, input: [UInt8], logger: Logger) async {
        let process = Process()
        // The policy's `governance.alerts.command` names an executable; no shell is involved.
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = []
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { process in
            exited.continuation.yield(process.terminationStatus)
            exited.continuation.finish()
        }
        do {
            try process.run()
        } catch {
            logger.warning("alert command could not start: \(error)")
            return
        }
        do {
            try stdin.fileHandleForWriting.write(contentsOf: input)
        } catch {
            logger.info("alert command did not read the alert: \(error)")
        }
        try? stdin.fileHandleForWriting.close()
        let timeout = timeout
        let killer = Task {
            try await Task.sleep(for: timeout)
            guard process.isRunning else { return }
            logger.warning("alert command timed out after \(timeout); terminating it")
            process.terminate()
            try await Task.sleep(for: .seconds(2))
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            // A grandchild holding the shell's descriptors can delay Foundation's exit notice;
            // stop waiting for it: the delivery is over.
            exited.continuation.yield(-SIGKILL)
            exited.continuation.finish()
        }
        var status: Int32 = -1
        for await code in exited.stream {
            status = code
            break
        }
        killer.cancel()
        if status == 0 {
            logger.info("alert delivered to the command", metadata: ["cohort.exit_status": "0"])
        } else {
            logger.warning("alert command failed", metadata: ["cohort.exit_status": "\(status)"])
        }
    }

    private func post(to webhook: Webhook, body: [UInt8], logger: Logger) async {
        do {
            let result = try await HTTPExchange.perform(
                webhook.target, method: .POST, path: webhook.path, headers: [("content-type", "application/json")], body: body,
                timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000),
                maxResponseBytes: 1 << 20)
            if (200..<300).contains(result.status) {
                logger.info("alert delivered to the webhook", metadata: ["cohort.webhook": "\(webhook.display)", "cohort.http_status": "\(result.status)"])
            } else {
                logger.warning("alert webhook refused the alert", metadata: ["cohort.webhook": "\(webhook.display)", "cohort.http_status": "\(result.status)"])
            }
        } catch {
            logger.warning("alert webhook unreachable: \(error)", metadata: ["cohort.webhook": "\(webhook.display)"])
        }
    }

    /// Throws an ``AlertConfigurationError`` unless `url` is a usable http:// or https:// URL.
    public static func validateWebhookURL(_ url: String) throws(AlertConfigurationError) {
        _ = try parseWebhook(url)
    }

    static func parseWebhook(_ url: String) throws(AlertConfigurationError) -> Webhook {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw AlertConfigurationError(message: "the alert webhook must be an http:// or https:// URL, got \(url.prefix(200))")
        }
        let secure = scheme == "https"
        var tls: TLSConfiguration?
        if secure {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            tls = configuration  // the system trust roots, full verification
        }
        let path = (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        // Show scheme, host and port only: a path or query may carry a token.
        let display = "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
        return Webhook(
            target: .init(host: bareHost, port: components.port ?? (secure ? 443 : 80), tls: tls), path: path, display: display)
    }
}

/// The alert hook's settings are unusable.
public struct AlertConfigurationError: Error, Sendable, CustomStringConvertible {
    public var code: String { "alerts.bad_webhook" }
    public var message: String
    public var description: String { "\(message) [\(code)]" }
}
