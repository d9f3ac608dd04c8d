import ArgumentParser
import CohortFuzz

/// `cohort-bench fuzz`: random and mutated frames of every frame type through the frame decoder,
/// every payload decoder and the peer-input validators (`CohortFuzz.WireFuzzer`); prints one JSON
/// line with the frames, refusals per code, seconds and frames per second. A trap would end the
/// process, so a printed line means none occurred.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Fuzz the wire decoders and peer-input validators; prints one JSON line."
    )

    @Option(help: "Number of inputs to feed.")
    var frames = 1_000_000

    @Option(help: "Seed of the deterministic generator.")
    var seed: UInt64 = 1

    func validate() throws {
        guard frames >= 1 else { throw ValidationError("--frames must be ≥ 1, got \(frames)") }
    }

    func run() throws {
        let report = WireFuzzer.run(frames: frames, seed: seed)
        print(report.jsonLine(seed: seed))
    }
}
