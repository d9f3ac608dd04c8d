import Testing

@testable import CohortPrivacy

@Suite struct ClippingAndGridTests {
    /// The norm against a plain double-precision loop over the same values.
    @Test(arguments: [0, 1, 15, 33, 4097, 1_000_003])
    func normMatchesDoubleLoop(count: Int) {
        var generator = SystemRandomNumberGenerator()
        let vector = (0..<count).map { _ in Float.random(in: -3...3, using: &generator) }
        let reference = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let norm = vector.withUnsafeBufferPointer { L2Clipping.norm($0) }
        #expect(abs(norm - reference) <= 1e-6 * max(reference, 1))
    }

    /// The one-pass measurement: the norm and the dot product against plain double-precision loops, and every non-finite value found wherever it sits (SIMD body or tail).
    @Test(arguments: [0, 1, 15, 33, 4097, 1_000_003])
    func measureMatchesSeparatePasses(count: Int) {
        var generator = SystemRandomNumberGenerator()
        var vector = (0..<count).map { _ in Float.random(in: -3...3, using: &generator) }
        let reference = (0..<count).map { _ in Float.random(in: -3...3, using: &generator) }
        let dot = zip(vector, reference).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        // Float32 lanes round each product and partial sum: the error scales with Σ|xᵢyᵢ|, not with
        // the (possibly cancelling) dot product itself.
        let magnitude = zip(vector, reference).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        let measured = vector.withUnsafeBufferPointer { values in
            reference.withUnsafeBufferPointer { L2Clipping.measure(values, against: $0) }
        }
        let norm = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(measured.norm - norm) <= 1e-6 * max(norm, 1))
        #expect(abs(measured.dot! - dot) <= 1e-6 * max(magnitude, 1))
        #expect(measured.allFinite)
        #expect(vector.withUnsafeBufferPointer { L2Clipping.measure($0) }.dot == nil)
        guard count > 0 else { return }
        for index in Set([0, count / 2, count - 1]) {
            for bad in [Float.nan, .infinity, -.infinity] {
                let saved = vector[index]
                vector[index] = bad
                #expect(
                    !vector.withUnsafeBufferPointer { L2Clipping.measure($0) }.allFinite,
                    "\(bad) at \(index) of \(count)")
                vector[index] = saved
            }
        }
        // Finite values whose squares overflow float32 are still finite values.
        vector[0] = .greatestFiniteMagnitude
        #expect(vector.withUnsafeBufferPointer { L2Clipping.measure($0) }.allFinite)
    }

    @Test func clipWithMeasuredNormMatchesClip() {
        var generator = SystemRandomNumberGenerator()
        var first = (0..<10_000).map { _ in Float.random(in: -1...1, using: &generator) }
        var second = first
        let norm = first.withUnsafeBufferPointer { L2Clipping.measure($0).norm }
        let reported = first.withUnsafeMutableBufferPointer { L2Clipping.clip($0, maxNorm: 2, preClipNorm: norm) }
        #expect(reported == L2Clipping.clip(&second, maxNorm: 2))
        #expect(first == second)
        // The true norm of the clipped values, in double precision, never exceeds the bound.
        #expect(first.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() <= 2)
    }

    /// A vector whose float32-lane norm is measurably below its true norm, with the bound between
    /// the two: a clip that trusted the measured norm would leave it alone, above the bound.
    @Test func clipBringsTheTrueNormUnderTheBoundWhenTheMeasuredNormIsLow() {
        // 1.0002384 (found by search): every lane's float32 sum of its squares rounds down.
        let value = Float(bitPattern: 1_065_355_216)
        var vector = [Float](repeating: value, count: 4 * 4096)
        let exact = (Double(value) * Double(value) * Double(vector.count)).squareRoot()
        let measured = vector.withUnsafeBufferPointer { L2Clipping.norm($0) }
        #expect(measured < exact * (1 - 5e-7), "the case no longer rounds down; pick another value")
        let bound = (measured + exact) / 2
        L2Clipping.clip(&vector, maxNorm: bound)
        let after = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(after <= bound)
    }

    /// The bound holds for the true norm although the measured one is accumulated in float32
    /// lanes: long vectors of random magnitudes (the worst case for that rounding), and vectors
    /// measured just below the bound, which clipping must still bring under it.
    @Test(arguments: [4096, 100_000, 1_000_003])
    func clippedTrueNormNeverExceedsBound(count: Int) {
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<5 {
            var vector = (0..<count).map { _ in
                Float.random(in: -1...1, using: &generator) * Float.random(in: 0...1000, using: &generator)
            }
            let exact = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            // Bounds just above, at and just below the exact norm.
            let bound = exact * [1 + 2e-6, 1, 1 - 2e-6, 0.5, 1e-3][trial]
            let measured = vector.withUnsafeBufferPointer { L2Clipping.norm($0) }
            #expect(abs(measured - exact) <= 4.5e-6 * exact, "the norm's rounding exceeds its documented bound")
            L2Clipping.clip(&vector, maxNorm: bound)
            let after = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(after <= bound, "clipped norm \(after) > bound \(bound) (count \(count), trial \(trial))")
        }
    }

    @Test func clipsLongVectorToBoundAndReportsPreClipNorm() {
        var vector = (0..<10_000).map { Float($0 % 7) - 3 }
        let before = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let direction = vector
        let reported = L2Clipping.clip(&vector, maxNorm: 5)
        #expect(abs(reported - before) <= 1e-9 * before)
        let after = vector.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(after <= 5)
        #expect(after > 5 * (1 - 1e-5))
        // Direction is preserved: every coordinate is scaled by the same factor.
        let factor = Double(vector[1]) / Double(direction[1])
        for index in vector.indices where direction[index] != 0 {
            #expect(abs(Double(vector[index]) / Double(direction[index]) - factor) < 1e-6)
        }
    }

    @Test func leavesShortVectorUntouched() {
        var vector: [Float] = [0.3, -0.4]
        let norm = L2Clipping.clip(&vector, maxNorm: 1)
        #expect(abs(norm - 0.5) < 1e-7)
        #expect(vector == [0.3, -0.4])
    }

    @Test func gridSensitivityAndRoundTrip() throws {
        let grid = try FixedPointGrid(clippingBound: 2, dimension: 10_000, inflation: 1e-3)
        #expect(abs(grid.step - 2e-5) < 1e-18)
        #expect(abs(grid.sensitivity(clippingBound: 2, dimension: 10_000) - 2.002) < 1e-12)
        for value in [-1.23456, 0.0, 3.999999, 1e-7] {
            #expect(abs(grid.dequantize(try grid.quantize(value)) - value) <= grid.step / 2 + 1e-15)
        }
        let noise = try grid.noise(noiseMultiplier: 1.1, clippingBound: 2, dimension: 10_000)
        #expect(abs(noise.sigma - 1.1 * 2.002 / 2e-5) / noise.sigma < 1e-6)
        #expect(throws: PrivacyError.self) { try FixedPointGrid(step: 0) }
        #expect(throws: PrivacyError.self) { try FixedPointGrid(clippingBound: 1, dimension: 0) }
    }
}

/// The grid refuses what it cannot represent instead of trapping.
@Suite struct GridRangeTests {
    @Test func quantizeRefusesNonFiniteAndOutOfRangeValues() throws {
        let grid = try FixedPointGrid(step: 0.5)
        #expect(try grid.quantize(0) == 0)
        #expect(try grid.quantize(1) == 2)
        // The largest accepted magnitude, 2^62 steps, and just beyond it.
        #expect(try grid.quantize(0x1p61) == 1 << 62)
        #expect(try grid.quantize(-0x1p61) == -(1 << 62))
        for value in [Double.nan, .infinity, -.infinity, 0x1p61.nextUp, 1e19, -1e19, 0x1p62, .greatestFiniteMagnitude] {
            let error = #expect(throws: PrivacyError.self) { _ = try grid.quantize(value) }
            #expect(error?.code == "privacy.grid_out_of_range")
        }
    }
}

/// A grid that cannot be built is refused with its own code and the offending value.
@Suite struct GridParameterTests {
    @Test(arguments: [0.0, -1e-3, .nan, .infinity])
    func gridStepThatIsNotFiniteAndPositiveIsRefused(step: Double) {
        do {
            _ = try FixedPointGrid(step: step)
            Issue.record("a grid step of \(step) was accepted")
        } catch {
            #expect(error.code == "privacy.invalid_grid_step")
            #expect(error.message == "grid step must be finite and > 0, got \(step)")
        }
    }

    /// Inflation or clipping bound that make the step 0 or not finite reach the same refusal.
    @Test func derivedStepOutOfRangeIsRefused() {
        for (clip, inflation) in [(1.0, 0.0), (0.0, 1e-3), (Double.infinity, 1e-3), (1.0, -1e-3)] {
            #expect(throws: PrivacyError.self) {
                try FixedPointGrid(clippingBound: clip, dimension: 31, inflation: inflation)
            }
        }
    }

    @Test(arguments: [0, -1, Int.min])
    func dimensionBelowOneIsRefused(dimension: Int) {
        do {
            _ = try FixedPointGrid(clippingBound: 1, dimension: dimension)
            Issue.record("a dimension of \(dimension) was accepted")
        } catch {
            #expect(error.code == "privacy.invalid_dimension")
            #expect(error.message == "model dimension must be ≥ 1, got \(dimension)")
        }
    }
}
