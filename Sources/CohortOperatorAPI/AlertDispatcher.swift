import CohortAPIClient
import CohortAPITypes
import CohortErrors
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

/// The host's alert command: an absolute path to an executable and its arguments, run directly
/// (no shell) with the alert JSON on its standard input. Set with `cohort-coordinator
/// --alert-command PATH --alert-argument ARG …`; never read from the policy, which the operator
/// API can replace.
public struct AlertCommand: Sendable, Equatable {
    /// Absolute path of a regular, executable file.
    public let executable: String
    /// The argv after the executable's name, passed as they are (no word splitting, no expansion).
    public let arguments: [String]

    /// Program names that would run the alert JSON on their standard input as a program when
    /// started without a script (or could be told to run a string): the alert carries text that
    /// others wrote (the consortium name, gate reasons), so they may not be the alert command.
    /// Version suffixes are ignored (`python3.12` is `python`).
    public static let interpreters: Set<String> = [
        "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "pdksh", "csh", "tcsh", "fish", "busybox", "toybox", "env",
        "python", "perl", "ruby", "node", "nodejs", "php", "lua", "luajit", "tclsh", "wish", "awk", "gawk", "mawk",
        "nawk",
        "xargs", "sudo", "su", "doas", "nohup", "timeout", "nice", "setsid", "stdbuf", "eval", "exec", "expect",
        "guile", "R", "Rscript",
        "osascript", "pwsh", "powershell",
    ]

    /// Validates the command: `executable` must be absolute, a regular file this process may
    /// execute, and not a command interpreter (write a script with a `#!` line instead, and name
    /// the script).
    public init(executable: String, arguments: [String] = []) throws(AlertConfigurationError) {
        func refuse(_ message: String) -> AlertConfigurationError {
            AlertConfigurationError(
                code: "alerts.bad_command", message: "--alert-command \(executable.prefix(200)): \(message)")
        }
        guard executable.hasPrefix("/") else { throw refuse("must be an absolute path, e.g. /usr/local/bin/notify") }
        guard !executable.utf8.contains(0), !arguments.contains(where: { $0.utf8.contains(0) }) else {
            throw refuse("the path and the arguments may not contain NUL bytes")
        }
        var info = stat()
        guard stat(executable, &info) == 0 else {
            throw refuse("does not exist or cannot be inspected (\(String(cString: strerror(errno))))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw refuse("is not a regular file") }
        guard access(executable, X_OK) == 0 else { throw refuse("is not executable by this user; chmod u+x it") }
        let resolved = URL(fileURLWithPath: executable).resolvingSymlinksInPath().path
        for path in [executable, resolved] {
            let name = Self.programName(path)
            guard !Self.interpreters.contains(name) else {
                throw refuse(
                    "is the command interpreter `\(name)`, which would run the alert text as a program; write a script "
                        + "(with a #! line) that reads the alert JSON from its standard input, and name the script")
            }
        }
        self.executable = executable
        self.arguments = arguments
    }

    /// The file name without a version suffix: `/usr/bin/python3.12` → `python`.
    static func programName(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let trimmed = base.reversed().drop { $0.isNumber || $0 == "." || $0 == "-" }
        return trimmed.isEmpty ? base : String(trimmed.reversed())
    }
}

/// Delivers governance alerts to an executable (the alert JSON on its standard input) and/or a
/// webhook (the JSON POSTed to an http:// or https:// URL, https verified against the system
/// trust roots). Each delivery has a 10 s limit; failures are logged and never reach the caller.
///
/// `send` returns at once: deliveries run in their own tasks, at most `maxInFlight` at a time
/// (more are dropped with a warning), so a slow hook never blocks the coordinator.
///
/// The host process must ignore `SIGPIPE` (``ProcessSetup/ignoreBrokenPipes()``, which
/// `cohort-coordinator` calls at start): an alert command that exits without reading its input
/// would otherwise kill the process when the alert is written to it.
public final class AlertDispatcher: Sendable {
    private let command: AlertCommand?
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
    ///   - command: the host's executable and arguments (no shell) run with the alert JSON on stdin; nil for none.
    ///   - webhookURL: the host's `http://…` or `https://…` URL; nil for none.
    ///   - timeout: per delivery; default 10 s.
    ///   - logger: delivery outcomes (kind, round, gate, exit status / HTTP status).
    ///
    /// A webhook URL that is not http(s) is logged as an error and ignored; check it beforehand
    /// with ``validateWebhookURL(_:)`` to refuse it at start-up instead.
    public init(command: AlertCommand?, webhookURL: String?, timeout: Duration = .seconds(10), logger: Logger) {
        self.command = command
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

    private func run(_ command: AlertCommand, input: [UInt8], logger: Logger) async {
        let process = Process()
        // The host's argv, run directly: no shell, and the alert (text others wrote) only on stdin.
        process.executableURL = URL(fileURLWithPath: command.executable)
        process.arguments = command.arguments
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
                webhook.target, method: .POST, path: webhook.path, headers: [("content-type", "application/json")],
                body: body,
                timeout: .nanoseconds(
                    Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000),
                maxResponseBytes: 1 << 20)
            if (200..<300).contains(result.status) {
                logger.info(
                    "alert delivered to the webhook",
                    metadata: ["cohort.webhook": "\(webhook.display)", "cohort.http_status": "\(result.status)"])
            } else {
                logger.warning(
                    "alert webhook refused the alert",
                    metadata: ["cohort.webhook": "\(webhook.display)", "cohort.http_status": "\(result.status)"])
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
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw AlertConfigurationError(
                code: "alerts.bad_webhook",
                // The value is not echoed: a webhook URL often carries a token.
                message:
                    "--alert-webhook must be an http:// or https:// URL with a host, e.g. https://alerts.example/hook")
        }
        let secure = scheme == "https"
        var tls: TLSConfiguration?
        if secure {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            tls = configuration  // the system trust roots, full verification
        }
        let path =
            (components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath)
            + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
        let bareHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        // Show scheme, host and port only: a path or query may carry a token.
        let display = "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
        return Webhook(
            target: .init(host: bareHost, port: components.port ?? (secure ? 443 : 80), tls: tls), path: path,
            display: display)
    }
}

/// The alert hook's settings are unusable.
public struct AlertConfigurationError: Error, Sendable, CustomStringConvertible {
    /// `alerts.bad_command` or `alerts.bad_webhook`.
    public var code: String
    /// What was wrong and what to do.
    public var message: String
    public var description: String { "\(message) [\(code)]" }

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

extension AlertConfigurationError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
