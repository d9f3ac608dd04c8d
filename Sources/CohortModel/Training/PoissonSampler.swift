import CohortCrypto

/// Poisson subsampling: each record joins the round's batch independently with probability q.
///
/// This is the sampling the accountant's amplification bound assumes (Mironov, Talwar & Zhang
/// 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", Def. 3 — the Sampled
/// Gaussian Mechanism), so the realised batch size varies from round to round and is never
/// revealed: the coordinator divides by the expected size q·N.
///
/// Randomness: a `ChaCha20KeyStream` keyed from libsodium's CSPRNG. A record is taken when a
/// uniform 53-bit integer falls below ⌊q·2^53⌋, so the effective rate is q rounded down to a
/// multiple of 2^-53: never above q, and the amplification bound is monotone in q, so accounting
/// at q stays an upper bound. A seeded sampler exists only behind the `CohortTesting` SPI.
public struct PoissonSampler {
    private let stream: ChaCha20KeyStream

    /// A sampler keyed from the CSPRNG. The only constructor product code can use.
    public init() {
        stream = ChaCha20KeyStream()
    }

    /// A sampler over a caller-provided stream; tests pass a seeded one for reproducibility.
    @_spi(CohortTesting)
    public init(stream: ChaCha20KeyStream) {
        self.stream = stream
    }

    /// The indices in `0..<count` selected, each independently with probability `rate`.
    public mutating func sample(count: Int, rate: Double) throws(ModelError) -> [Int] {
        guard rate.isFinite, rate > 0, rate <= 1 else {
            throw ModelError(
                code: "model.invalid_sampling_rate", message: "the sampling rate q must lie in (0, 1], got \(rate)")
        }
        let threshold = UInt64((rate * 0x1p53).rounded(.down))
        var selected: [Int] = []
        selected.reserveCapacity(Int(Double(count) * rate * 1.2) + 8)
        for index in 0..<count where stream.next() >> 11 < threshold {
            selected.append(index)
        }
        return selected
    }
}
