#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small deterministic generator (xoshiro256**, seeded through SplitMix64) for reproducible
/// data splits and local shuffles. Not cryptographic: never use it for sampling or noise that a
/// privacy guarantee depends on (that is `PoissonSampler` and CohortPrivacy's sampler).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose whole output is determined by `seed`.
    public init(seed: UInt64) {
        var splitMix = seed
        func next() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (next(), next(), next(), next())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// Randomised helpers whose results depend only on the generator's output, not on the standard
/// library's algorithms (which may change between Swift releases): splits made with a seed today
/// are the same splits tomorrow.
enum DeterministicShuffle {
    /// A uniform integer in 0..<bound by rejection (no modulo bias).
    static func uniform(below bound: Int, using generator: inout some RandomNumberGenerator) -> Int {
        precondition(bound > 0)
        let range = UInt64(bound)
        let limit = UInt64.max - UInt64.max % range
        while true {
            let value = generator.next()
            if value < limit { return Int(value % range) }
        }
    }

    /// A uniform double in [0, 1) with 53 random bits.
    static func unit(using generator: inout some RandomNumberGenerator) -> Double {
        Double(generator.next() >> 11) * 0x1p-53
    }

    /// Fisher–Yates shuffle.
    static func shuffle<T>(_ values: inout [T], using generator: inout some RandomNumberGenerator) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            let j = uniform(below: i + 1, using: &generator)
            if i != j { values.swapAt(i, j) }
        }
    }

    /// A standard normal variate (Box–Muller).
    static func normal(using generator: inout some RandomNumberGenerator) -> Double {
        var u = unit(using: &generator)
        while u == 0 { u = unit(using: &generator) }
        let v = unit(using: &generator)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// A Gamma(shape, 1) variate (Marsaglia & Tsang 2000; shape < 1 via Gamma(shape + 1)·U^{1/shape}).
    static func gamma(shape: Double, using generator: inout some RandomNumberGenerator) -> Double {
        precondition(shape > 0)
        if shape < 1 {
            var u = unit(using: &generator)
            while u == 0 { u = unit(using: &generator) }
            return gamma(shape: shape + 1, using: &generator) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal(using: &generator)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = unit(using: &generator)
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if u > 0, log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return d * v }
        }
    }
}
