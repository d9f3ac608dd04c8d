/// L2-norm clipping of a flat float32 vector, in place.
public enum L2Clipping {
    /// The L2 norm of `vector`, accumulated in double precision.
    ///
    /// Sums of squares run in float32 SIMD lanes over blocks of 4,096 values and are flushed into a
    /// double accumulator per block, which keeps the result accurate for vectors of millions of
    /// values while running at memory speed (see ``measure(_:against:)``, which computes it).
    public static func norm(_ vector: UnsafeBufferPointer<Float>) -> Double {
        measure(vector).norm
    }

    /// What one pass over an update measures: see ``measure(_:against:)``.
    public struct Measurement: Sendable, Equatable {
        /// The L2 norm (``norm(_:)``).
        public var norm: Double
        /// The dot product with the reference, when one was given (float32 lanes per block of
        /// 4,096 values, accumulated in double precision).
        public var dot: Double?
        /// Whether every value is finite. When false, `norm` and `dot` are meaningless.
        public var allFinite: Bool
    }

    /// The norm of `vector`, its dot product with `reference` (same length) and whether all its
    /// values are finite, in one pass over memory instead of three.
    public static func measure(
        _ vector: UnsafeBufferPointer<Float>, against reference: UnsafeBufferPointer<Float>? = nil
    ) -> Measurement {
        precondition(reference == nil || reference!.count == vector.count, "reference of another length")
        let lanes = 16
        let blockLength = 4096
        let count = vector.count
        guard let base = vector.baseAddress else {
            return Measurement(norm: 0, dot: reference.map { _ in 0 }, allFinite: true)
        }
        let raw = UnsafeRawPointer(base)
        let other = reference.flatMap { $0.baseAddress.map(UnsafeRawPointer.init) }
        var total = 0.0
        var dotTotal = 0.0
        // x − x is 0 for every finite x and NaN for ±∞ and NaN: one NaN poisons the whole sum.
        var finiteProbe = SIMD16<Float>(repeating: 0)
        var start = 0
        while start < count {
            let end = min(start + blockLength, count)
            var accumulator0 = SIMD16<Float>(repeating: 0)
            var accumulator1 = SIMD16<Float>(repeating: 0)
            var dot0 = SIMD16<Float>(repeating: 0)
            var dot1 = SIMD16<Float>(repeating: 0)
            var index = start
            while index + 2 * lanes <= end {
                let a = raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
                let b = raw.loadUnaligned(fromByteOffset: (index + lanes) * 4, as: SIMD16<Float>.self)
                accumulator0 += a * a
                accumulator1 += b * b
                finiteProbe += (a - a) + (b - b)
                if let other {
                    dot0 += a * other.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
                    dot1 += b * other.loadUnaligned(fromByteOffset: (index + lanes) * 4, as: SIMD16<Float>.self)
                }
                index += 2 * lanes
            }
            var blockSum = Double((accumulator0 + accumulator1).sum())
            var blockDot = Double((dot0 + dot1).sum())
            var tailProbe: Float = 0
            while index < end {
                let value = base[index]
                blockSum += Double(value) * Double(value)
                tailProbe += value - value
                if let reference { blockDot += Double(value) * Double(reference[index]) }
                index += 1
            }
            finiteProbe[0] += tailProbe
            total += blockSum
            dotTotal += blockDot
            start = end
        }
        return Measurement(
            norm: total.squareRoot(), dot: reference == nil ? nil : dotTotal, allFinite: finiteProbe.sum() == 0)
    }

    /// Scales `vector` so its L2 norm is at most `maxNorm`, given its norm `preClipNorm` (from
    /// ``measure(_:against:)``), and returns that norm. See ``clip(_:maxNorm:)``.
    @discardableResult
    public static func clip(_ vector: UnsafeMutableBufferPointer<Float>, maxNorm: Double, preClipNorm: Double) -> Double
    {
        precondition(maxNorm > 0 && maxNorm.isFinite, "clipping bound must be finite and > 0")
        // The measured norm may lie below the true one by its rounding error, so the clip aims
        // at maxNorm / (1 + normErrorMargin) and treats every vector measured above that as over.
        let target = maxNorm / (1 + normErrorMargin)
        guard preClipNorm > target else { return preClipNorm }
        // Rounding the float32 factor down keeps the clipped norm at or below the target.
        var factor = Float(target / preClipNorm)
        if Double(factor) * preClipNorm > target { factor = factor.nextDown }
        scale(vector, by: factor)
        return preClipNorm
    }

    /// A bound on the relative error of ``norm(_:)``, with room for the float32 rounding of the
    /// scaled values. Per block of 4,096 values each float32 lane accumulates 128 products (each
    /// rounded once) with 128 additions, two lane vectors are added and 16 lanes reduced: at most
    /// ~150 roundings of u = 2⁻²⁴ on a sum of non-negative terms, a relative error below
    /// 150·u ≈ 9.0e-6 on the sum of squares and 4.5e-6 on its square root (the per-block flushes into
    /// a double add ~10⁻¹⁶ each). Scaling rounds each value once more (u ≈ 6e-8). Clipping to
    /// C / (1 + 8e-6) therefore keeps the true L2 norm of the clipped float32 vector at or below C,
    /// which the sensitivity of the sum relies on, at the cost of a 8·10⁻⁶ shrink of clipped updates.
    public static let normErrorMargin = 8e-6

    /// Scales `vector` so its L2 norm is at most `maxNorm`, and returns the norm before clipping.
    ///
    /// A vector whose norm is already within the bound is left untouched. The caller must have
    /// rejected non-finite values first: a NaN norm would make the result meaningless.
    /// - Parameters:
    ///   - vector: the values, modified in place.
    ///   - maxNorm: the clipping bound C > 0.
    @discardableResult
    public static func clip(_ vector: UnsafeMutableBufferPointer<Float>, maxNorm: Double) -> Double {
        clip(vector, maxNorm: maxNorm, preClipNorm: norm(UnsafeBufferPointer(vector)))
    }

    /// Clips an array in place; see `clip(_:maxNorm:)`.
    @discardableResult
    public static func clip(_ vector: inout [Float], maxNorm: Double) -> Double {
        vector.withUnsafeMutableBufferPointer { clip($0, maxNorm: maxNorm) }
    }

    static func scale(_ vector: UnsafeMutableBufferPointer<Float>, by factor: Float) {
        guard let base = vector.baseAddress else { return }
        let raw = UnsafeMutableRawPointer(base)
        let lanes = 16
        let splat = SIMD16<Float>(repeating: factor)
        var index = 0
        while index + lanes <= vector.count {
            let value = raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD16<Float>.self)
            raw.storeBytes(of: value * splat, toByteOffset: index * 4, as: SIMD16<Float>.self)
            index += lanes
        }
        while index < vector.count {
            base[index] *= factor
            index += 1
        }
    }
}
