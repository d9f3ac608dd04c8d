import CohortBenchSupport
import Foundation

/// A Flower 1.42 round over gRPC with TLS (the script's default transport) on this machine,
/// measured in the same run as ours by
/// `Scripts/reference/flower_round.py` (same workload: separate client connections on 127.0.0.1,
/// synthetic updates of the same size, FedAvg, server-side DP with fixed clipping for the noised
/// mode). Ratios against it are robust to the machine's load in a way fixed figures are not.
struct FlowerReference {
    let medianRoundSeconds: Double
    let roundSeconds: [Double]
    let serverPeakMB: Double
    let clientPeakMB: Double
    /// The server process's CPU seconds (all threads) in each timed round.
    let serverRoundCPUSeconds: [Double]

    /// The outcome of trying to measure: the figures, or why there are none.
    enum Outcome {
        case measured(FlowerReference)
        case unavailable(String)
    }

    /// Runs the script for one mode (`dp` or not); `unavailable` when python3, flwr or the
    /// script is missing, or the run fails.
    /// - Parameter evaluate: Flower also evaluates each round's aggregate on every client and the
    ///   round ends when those evaluations are aggregated (the script's `--evaluate`).
    /// - Parameter clientsPerProcess: Flower clients hosted by each client process, one thread and
    ///   one TLS connection each (the script's `--clients-per-process`); 1 runs every client in a
    ///   process of its own and passes nothing, so an older script still runs.
    static func measure(
        script: String, participants: Int, parameters: Int, rounds: Int, dp: Bool, evaluate: Bool = false,
        clientsPerProcess: Int = 1
    ) -> Outcome {
        guard FileManager.default.fileExists(atPath: script) else {
            return .unavailable("\(script) not found (run from the repository root, or pass --flower-script)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", script, "--participants", String(participants), "--parameters", String(parameters),
                "--rounds", String(rounds), "--mode", dp ? "dp" : "no-dp",
            ] + (evaluate ? ["--evaluate"] : [])
            + (clientsPerProcess == 1 ? [] : ["--clients-per-process", String(clientsPerProcess)])
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return .unavailable("python3 could not be started: \(error)") }
        // The script prints one line; read before waiting so a full pipe cannot block it.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            return .unavailable("the Flower reference printed no result (exit status \(process.terminationStatus))")
        }
        if let error = object["error"] as? String {
            return .unavailable("Flower reference: \(error) (pip install -r Scripts/reference/requirements-flower.txt)")
        }
        guard process.terminationStatus == 0,
            let mode = object[dp ? "dp" : "no_dp"] as? [String: Any],
            let median = mode["median_round_seconds"] as? Double,
            let server = mode["server_peak_rss_mb"] as? Double,
            let client = mode["client_peak_rss_mb"] as? Double
        else {
            return .unavailable(
                "the Flower reference failed (exit status \(process.terminationStatus)): \(line.prefix(300))")
        }
        guard let cpu = mode["server_round_cpu_seconds"] as? [Double], !cpu.isEmpty else {
            return .unavailable(
                "the Flower reference reported no server CPU time (an older Scripts/reference/flower_round.py?)")
        }
        return .measured(
            FlowerReference(
                medianRoundSeconds: median, roundSeconds: mode["round_seconds"] as? [Double] ?? [],
                serverPeakMB: server,
                clientPeakMB: client, serverRoundCPUSeconds: cpu))
    }
}
