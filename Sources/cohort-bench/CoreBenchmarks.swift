import ArgumentParser
import CohortBenchSupport
import CohortPrivacy
import Foundation

/// Noise sampling, accounting and clipping: the privacy core's hot paths.
struct CoreBenchmarks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "Discrete-Gaussian samples/s (vs numpy in the same run), ε at T = 10,000, clipping GB/s."
    )

    @Option(help: "Noise samples per measurement.")
    var samples = 20_000_000

    @Flag(help: "Skip the numpy reference even when python3 with numpy is available.")
    var noReference = false

    enum Part: String, ExpressibleByArgument, CaseIterable {
        case noise, accountant, clipping
    }

    @Option(help: "Run only these parts (noise, accountant, clipping); all by default.")
    var only: [Part] = Part.allCases

    func run() throws {
        #if DEBUG
        Measure.emit(["warning": "debug build: run `swift run -c release cohort-bench` for meaningful figures"])
        #endif
        if only.contains(.noise) {
            let numpy = noReference ? nil : NumpyReference.rates(samples: samples)
            if let numpy {
                Measure.emit([
                    "benchmark": "numpy_standard_normal", "samples_per_second": numpy.standardNormal.wall,
                    "samples_per_second_per_core": numpy.standardNormal.perCore, "threads": 1,
                    "note": "numpy default_rng().standard_normal(out=...), not cryptographically secure",
                ])
                Measure.emit([
                    "benchmark": "numpy_normal", "samples_per_second": numpy.normal.wall,
                    "samples_per_second_per_core": numpy.normal.perCore, "threads": 1,
                    "note": "numpy.random.default_rng().normal(0, 1, size=n), not cryptographically secure",
                ])
            }
            try noise(numpy: numpy)
        }
        if only.contains(.accountant) { try accountant() }
        if only.contains(.clipping) { clipping() }
    }

    private func noise(numpy: NumpyReference.Rates?) throws {
        // σ in grid units: small, moderate, and the magnitude a 10⁶-parameter model gets on the
        // default grid (σ·(C + γ√d)/γ with γ = 10⁻³·C/√d, i.e. about 10⁶·σ).
        for sigma in [4.0, 1_000.0, 1_001_000.0] {
            var sampler = DiscreteGaussianSampler(try DiscreteGaussian(sigma: sigma))
            let buffer = UnsafeMutableBufferPointer<Int64>.allocate(capacity: samples)
            defer { buffer.deallocate() }
            buffer.initialize(repeating: 0)  // fault the pages in first: the sampler is measured, not the kernel
            sampler.fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<min(samples, 100_000)]))  // warm-up
            let cpuBefore = Self.threadCPUSeconds()
            let elapsed = Measure.seconds { sampler.fill(buffer) }
            let cpu = Self.threadCPUSeconds() - cpuBefore
            let rate = Double(samples) / elapsed
            // Per core: samples per second of this thread's own CPU time, so that other processes
            // sharing the cores do not count against the sampler (the wall-clock rate is beside it).
            let perCore = Double(samples) / cpu
            var fields: [String: Any] = [
                "benchmark": "discrete_gaussian_exact", "sigma_grid_units": sigma, "samples": samples,
                "samples_per_second": rate, "samples_per_second_per_core": perCore, "thread_cpu_seconds": cpu,
                "threads": 1, "target_samples_per_second_per_core": 30e6,
                "randomness": "ChaCha20 keyed from libsodium CSPRNG",
            ]
            if let numpy {
                fields["ratio_to_numpy"] = rate / numpy.standardNormal.wall
                fields["per_core_ratio_to_numpy_standard_normal"] = perCore / numpy.standardNormal.perCore
                fields["per_core_ratio_to_numpy_normal"] = perCore / numpy.normal.perCore
            }
            Measure.emit(fields)
        }
    }

    /// CPU time consumed by the calling thread.
    private static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }

    private func accountant() throws {
        let mechanism = try SubsampledGaussian(samplingRate: 0.01, noiseMultiplier: 1.1)
        var result = EpsilonResult(epsilon: 0, order: 0)
        let median = Measure.median(repetitions: 21) {
            result = try! PrivacyCalculator.epsilon(mechanism: mechanism, rounds: 10_000, delta: 1e-5)
        }
        Measure.emit([
            "benchmark": "accountant_epsilon", "rounds": 10_000, "sampling_rate": 0.01, "noise_multiplier": 1.1,
            "delta": 1e-5, "epsilon": result.epsilon, "median_seconds": median, "median_ms": median * 1e3,
        ])
        // Heterogeneous history: every round composed separately, as the ledger replays it.
        var accountant = RDPAccountant()
        let heterogeneous = Measure.seconds {
            for round in 0..<10_000 {
                let m = try! SubsampledGaussian(samplingRate: 0.01, noiseMultiplier: round % 2 == 0 ? 1.1 : 1.2)
                accountant.compose(m)
            }
            Measure.consume(accountant.epsilon(delta: 1e-5))
        }
        Measure.emit(["benchmark": "accountant_replay_distinct_rounds", "rounds": 10_000, "seconds": heterogeneous])
        let plan = Measure.median(repetitions: 3) {
            Measure.consume(
                try! PrivacyCalculator.noiseMultiplier(targetEpsilon: 3, delta: 1e-5, samplingRate: 0.1, rounds: 1000))
        }
        Measure.emit(["benchmark": "planner", "rounds": 1000, "median_seconds": plan])
    }

    private func clipping() {
        let dimension = 1_000_000
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: dimension)
        defer { buffer.deallocate() }
        for index in buffer.indices { buffer[index] = Float((index % 201) - 100) * 0.01 }
        // Each call clips to half the current norm, so the scaling pass always runs and the
        // factor (0.5) is exact: 41 halvings stay far from float32 subnormals.
        var norm = L2Clipping.norm(UnsafeBufferPointer(buffer))
        let clip = Measure.median(repetitions: 41) {
            norm = L2Clipping.clip(buffer, maxNorm: norm / 2) / 2
        }
        let normOnly = Measure.median(repetitions: 41) {
            Measure.consume(L2Clipping.norm(UnsafeBufferPointer(buffer)))
        }
        Measure.emit([
            "benchmark": "l2_clip", "parameters": dimension, "bytes": dimension * 4,
            "median_seconds": clip, "gigabytes_per_second": Double(dimension * 4) / clip / 1e9,
            "norm_only_gigabytes_per_second": Double(dimension * 4) / normOnly / 1e9,
        ])
    }
}

/// numpy's `standard_normal` and `normal` rates in a python3 subprocess, single-threaded, as the
/// figures the exact sampler is compared against: best of three, by wall clock and by the
/// thread's CPU time (per core). Nil when python3 or numpy is missing.
enum NumpyReference {
    struct Rate {
        let wall: Double
        let perCore: Double
    }

    struct Rates {
        let standardNormal: Rate
        let normal: Rate
    }

    static func rates(samples: Int) -> Rates? {
        let script = """
            import time, numpy as np
            n = \(samples)
            rng = np.random.default_rng()
            out = np.empty(n)
            rng.standard_normal(out=out)
            def best(draw):
                wall = cpu = float('inf')
                for _ in range(3):
                    w, c = time.perf_counter(), time.thread_time()
                    draw()
                    cpu, wall = min(cpu, time.thread_time() - c), min(wall, time.perf_counter() - w)
                return n / wall, n / cpu
            a = best(lambda: rng.standard_normal(out=out))
            b = best(lambda: rng.normal(0.0, 1.0, size=n))
            print(a[0], a[1], b[0], b[1])
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = "1"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let values = text.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
        guard values.count == 4 else { return nil }
        return Rates(
            standardNormal: Rate(wall: values[0], perCore: values[1]),
            normal: Rate(wall: values[2], perCore: values[3]))
    }
}
