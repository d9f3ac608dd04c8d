@_spi(CohortTesting) import CohortCrypto
@_spi(CohortTesting) import CohortPrivacy
import CohortTransport
import Testing

@testable import CohortCoordinator

@Suite struct StreamingAggregatorTests {
    let key = SealedBox.KeyPair.generate()

    func sealed(round: UInt64, values: [Float], to publicKey: [UInt8]? = nil) throws -> [UInt8] {
        try SealedBox.seal(
            UpdatePlaintext.encode(round: round, records: 10, values: values), to: publicKey ?? key.publicKey)
    }

    @Test func clipsAndSumsParticipantUpdates() throws {
        let aggregator = StreamingAggregator(dimension: 3, clippingBound: 1)
        let normA = try aggregator.add(
            sealed: sealed(round: 4, values: [3, 4, 0]), participant: "a", round: 4, sealingKey: key)
        let normB = try aggregator.add(
            sealed: sealed(round: 4, values: [0.1, 0.2, 0.2]), participant: "b", round: 4, sealingKey: key)
        #expect(abs(normA - 5) < 1e-9)
        #expect(abs(normB - 0.3) < 1e-6)
        #expect(aggregator.clipped == ["a"])
        let sum = aggregator.rawSum()
        // a is scaled to C / (1 + margin): its measured norm's rounding can never push it past C.
        let shrink = 1 / (1 + L2Clipping.normErrorMargin)
        #expect(abs(sum[0] - (0.6 * shrink + 0.1)) < 1e-6)
        #expect(abs(sum[1] - (0.8 * shrink + 0.2)) < 1e-6)
        #expect(abs(sum[2] - 0.2) < 1e-6)
        #expect(aggregator.count == 2)
    }

    /// The next round's aggregator takes over the spent sum's memory (no fresh model-sized
    /// allocation per round) and starts from zero: the same sum as a fresh aggregator.
    @Test func aRecycledSumIsReusedAndStartsFromZero() throws {
        let first = StreamingAggregator(dimension: 3, clippingBound: nil)
        try first.add(sealed: sealed(round: 1, values: [5, -7, 9]), participant: "a", round: 1, sealingKey: key)
        // Held only here and handed over, as the coordinator's `spareSum` is: no copy is made.
        var recycled: [Double]? = first.recycleSum()
        #expect(recycled == [5, -7, 9])
        let storage = recycled?.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let next = StreamingAggregator(dimension: 3, clippingBound: nil, reference: nil, recycledSum: recycled.take())
        let fresh = StreamingAggregator(dimension: 3, clippingBound: nil)
        for aggregator in [next, fresh] {
            try aggregator.add(
                sealed: sealed(round: 2, values: [0.5, 0.25, -1]), participant: "b", round: 2, sealingKey: key)
        }
        #expect(next.rawSum() == fresh.rawSum())
        #expect(next.rawSum() == [0.5, 0.25, -1])
        #expect(next.rawSum().withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == storage)
        // Storage of another dimension is not used.
        let other = StreamingAggregator(
            dimension: 2, clippingBound: nil, reference: nil, recycledSum: next.recycleSum())
        #expect(other.rawSum() == [0, 0])
    }

    @Test func recordUnitTakesSumsAsSent() throws {
        let aggregator = StreamingAggregator(dimension: 2, clippingBound: nil)
        try aggregator.add(sealed: sealed(round: 1, values: [30, -40]), participant: "a", round: 1, sealingKey: key)
        #expect(aggregator.rawSum() == [30, -40])
        #expect(aggregator.clipped.isEmpty)
    }

    @Test(arguments: [
        ("duplicate", "update.duplicate"), ("replay", "update.replayed"), ("dimension", "update.wrong_dimension"),
        ("nan", "update.non_finite"), ("infinity", "update.non_finite"), ("foreign key", "update.seal_open_failed"),
        ("flipped byte", "update.seal_open_failed"),
    ])
    func rejectsBadUpdatesAndKeepsTheSum(kind: String, code: String) throws {
        let aggregator = StreamingAggregator(dimension: 3, clippingBound: 1)
        try aggregator.add(
            sealed: sealed(round: 2, values: [0.1, 0.1, 0.1]), participant: "a", round: 2, sealingKey: key)
        let before = aggregator.rawSum()
        let payload: [UInt8]
        var sender = "b"
        switch kind {
        case "duplicate":
            payload = try sealed(round: 2, values: [0.2, 0.2, 0.2])
            sender = "a"
        case "replay": payload = try sealed(round: 1, values: [0.2, 0.2, 0.2])
        case "dimension": payload = try sealed(round: 2, values: [0.2, 0.2])
        case "nan": payload = try sealed(round: 2, values: [0.2, .nan, 0.2])
        case "infinity": payload = try sealed(round: 2, values: [-.infinity, 0.2, 0.2])
        case "foreign key":
            payload = try sealed(round: 2, values: [0.2, 0.2, 0.2], to: SealedBox.KeyPair.generate().publicKey)
        default:
            var bytes = try sealed(round: 2, values: [0.2, 0.2, 0.2])
            bytes[40] ^= 1
            payload = bytes
        }
        do {
            try aggregator.add(sealed: payload, participant: sender, round: 2, sealingKey: key)
            Issue.record("\(kind) accepted")
        } catch {
            #expect(error.code == code)
            #expect(!error.message.isEmpty)
        }
        #expect(aggregator.rawSum() == before)
        #expect(aggregator.count == 1)
    }

    @Test func noisedMeanUsesGridAndFixedDenominator() throws {
        let aggregator = StreamingAggregator(dimension: 2, clippingBound: 10)
        try aggregator.add(sealed: sealed(round: 1, values: [1, 2]), participant: "a", round: 1, sealingKey: key)
        try aggregator.add(sealed: sealed(round: 1, values: [3, 4]), participant: "b", round: 1, sealingKey: key)
        let grid = try FixedPointGrid(step: 0.5)
        // Zero noise: the mean over the *expected* cohort (4), not the realised count (2).
        #expect(try aggregator.noisedMean(grid: grid, noise: [0, 0], denominator: 4) == [1, 1.5])
        // One grid step of noise on each coordinate.
        #expect(try aggregator.noisedMean(grid: grid, noise: [2, -2], denominator: 4) == [1.25, 1.25])
    }

    /// The noised mean's loop is FixedPointGrid's quantise, add, dequantise and divide, bit for
    /// bit, on values that round both ways and ties; out of the grid's range it throws as before.
    @Test func noisedMeanIsTheGridsArithmeticBitForBit() throws {
        let values: [Float] = (0..<257).map { index in Float(index - 128) * 0.013_7 + (index % 3 == 0 ? 0.25 : 0) }
        let aggregator = StreamingAggregator(dimension: values.count, clippingBound: nil)
        try aggregator.add(sealed: sealed(round: 1, values: values), participant: "a", round: 1, sealingKey: key)
        let grid = try FixedPointGrid(step: 0.125 / 3)
        let noise: [Int64] = (0..<values.count).map { Int64($0 % 7) * 1_000_003 - 3_000_000 }
        let expected = try zip(aggregator.rawSum(), noise).map { total, draw in
            Float(grid.dequantize(try grid.quantize(total) + draw) / 3)
        }
        let mean = try aggregator.noisedMean(grid: grid, noise: noise, denominator: 3)
        #expect(mean.map(\.bitPattern) == expected.map(\.bitPattern))

        // A coordinate whose noised count leaves Int64: refused with its index, nothing released.
        var overflowing = noise
        overflowing[200] = .max
        do {
            _ = try aggregator.noisedMean(grid: grid, noise: overflowing, denominator: 3)
            Issue.record("an overflowing coordinate was released")
        } catch {
            #expect(error.code == "privacy.grid_out_of_range")
            #expect(error.message.contains("coordinate 200"))
        }
        // A sum beyond 2^62 steps: refused by the grid's own check.
        let tiny = try FixedPointGrid(step: 1e-30)
        #expect(throws: PrivacyError.self) { try aggregator.noisedMean(grid: tiny, noise: noise, denominator: 3) }
    }
}
