import ArgumentParser
import CohortAPIClient
import CohortAPITypes
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `cohort round start|status|abort|pause|resume`: drive the coordinator's rounds over the API.
struct RoundCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round",
        abstract: "Start, watch, pause, resume or abort rounds on a running coordinator (operator API).",
        discussion:
            "Exit codes: 0 ok, 1 refused by the API, 2 unreadable local file, 3 forbidden (role), 4 API unreachable.",
        subcommands: [Start.self, Status.self, Abort.self, Pause.self, Resume.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue N rounds (operators).")

        @Option(name: .long, help: "Rounds to queue, 1…10000.")
        var count: Int
        @Flag(help: "Show live progress until no round is running or queued.")
        var watch = false
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let status = try await client.startRounds(count)
                if watch {
                    try await RoundCommand.watch(client, options: options, first: status)
                } else if options.json {
                    try options.printJSON(status)
                } else {
                    print("queued \(count) round\(count == 1 ? "" : "s"); \(StatusRendering.progressLine(status))")
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the coordinator's state, round, budget and participants.")

        @Flag(help: "Show live progress until no round is running or queued.")
        var watch = false
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let status = try await client.status()
                if watch {
                    try await RoundCommand.watch(client, options: options, first: status)
                } else if options.json {
                    try options.printJSON(status)
                } else {
                    print(StatusRendering.describe(status))
                }
            }
        }
    }

    struct Abort: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Abort the round in progress and drop queued rounds (operators).")

        @Option(name: .long, help: "Why; recorded in the ledger's abort entry.")
        var reason: String?
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let status = try await client.abortRound(reason: reason)
                if options.json {
                    try options.printJSON(status)
                } else {
                    print("abort requested; \(StatusRendering.progressLine(status))")
                }
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start no new round until resumed; the current one finishes (operators).")
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let status = try await client.pause()
                if options.json {
                    try options.printJSON(status)
                } else {
                    print("paused; \(StatusRendering.progressLine(status))")
                }
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let queued rounds start again (operators).")
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let status = try await client.resume()
                if options.json {
                    try options.printJSON(status)
                } else {
                    print("resumed; \(StatusRendering.progressLine(status))")
                }
            }
        }
    }

    /// Whether a watch is over: nothing running and nothing that will start by itself.
    static func finished(_ status: CoordinatorStatus) -> Bool {
        switch status.state {
        case .idle: true
        case .paused: status.currentRound == nil
        case .running: false
        }
    }

    /// Polls the status and shows it with the round's duration and an ETA (``RoundPace``):
    /// redrawn in place on a terminal (the timing updates every poll), one line (or JSON object)
    /// per change of the round's progress otherwise.
    static func watch(_ client: ControlClient, options: APIOptions, first: CoordinatorStatus) async throws {
        let terminal = !options.json && isatty(STDOUT_FILENO) == 1
        var status = first
        var shown: String?
        var pace = RoundPace()
        while true {
            pace.observe(currentRound: status.currentRound?.round, openedAtMillis: status.currentRound?.openedAtMillis)
            let line = StatusRendering.progressLine(status)
            let timing = pace.describe(
                currentRound: status.currentRound?.round, currentOpenedAtMillis: status.currentRound?.openedAtMillis,
                queued: status.roundsQueued, nowMillis: nowMillis())
            let full = timing.isEmpty ? line : line + " · " + timing
            if options.json {
                if line != shown {
                    let timing = pace.timing(
                        currentRound: status.currentRound?.round,
                        currentOpenedAtMillis: status.currentRound?.openedAtMillis, queued: status.roundsQueued,
                        nowMillis: nowMillis())
                    CLIOutput.writeOut(try watchJSON(status: status, timing: timing) + "\n")
                }
            } else if terminal {
                CLIOutput.writeOut("\r\u{1B}[2K" + full)
            } else if line != shown {
                CLIOutput.writeOut(full + "\n")
            }
            shown = line
            if finished(status) { break }
            try await Task.sleep(for: .milliseconds(500))
            status = try await client.status()
        }
        if terminal { CLIOutput.writeOut("\n") }
    }

    /// One `--watch --json` line: the status's members as `cohort round status --json` prints
    /// them, plus `watch`, the round duration and ETA (``RoundPace/Timing``).
    struct WatchLine<Status: Encodable>: Encodable {
        let status: Status
        let watch: RoundPace.Timing

        enum CodingKeys: String, CodingKey { case watch }

        func encode(to encoder: any Encoder) throws {
            // The status encodes into this same object, so readers of the plain status keep working.
            try status.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(watch, forKey: .watch)
        }
    }

    /// The `--watch --json` line for `status` and `timing`.
    static func watchJSON(status: some Encodable, timing: RoundPace.Timing) throws -> String {
        String(decoding: try APIJSON.encoder().encode(WatchLine(status: status, watch: timing)), as: UTF8.self)
    }

    /// This machine's wall clock in milliseconds since 1970 (the unit of `opened_at_millis`).
    static func nowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
