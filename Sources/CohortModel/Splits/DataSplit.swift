import CohortCrypto

/// Row indices of a train/test split.
public struct TrainTestSplit: Sendable, Equatable {
    /// Training rows, ascending.
    public let train: [Int]
    /// Held-out test rows, ascending. Never used for training.
    public let test: [Int]
}

/// Deterministic, seeded splits of a table's rows. They operate on row indices so the demo can
/// write each part as a CSV file with the original (unencoded, possibly missing) cells.
public enum DataSplit {
    /// A stratified train/test split: within each class, a seeded shuffle puts
    /// round(testFraction × class size) rows in the test set, so both sets keep the class balance.
    /// - Parameters:
    ///   - labels: `true` for the positive class, one per row.
    ///   - testFraction: in (0, 1).
    ///   - seed: the same seed gives the same split, on every platform and Swift version.
    public static func stratifiedTrainTest(
        labels: [Bool], testFraction: Double, seed: UInt64
    ) throws(ModelError) -> TrainTestSplit {
        guard testFraction.isFinite, testFraction > 0, testFraction < 1 else {
            throw ModelError(
                code: "data.invalid_split", message: "the test fraction must lie in (0, 1), got \(testFraction)")
        }
        var generator = SeededGenerator(seed: seed)
        var train: [Int] = []
        var test: [Int] = []
        for positive in [false, true] {
            var rows = labels.indices.filter { labels[$0] == positive }
            DeterministicShuffle.shuffle(&rows, using: &generator)
            let testCount = Int((Double(rows.count) * testFraction).rounded())
            test += rows[..<testCount]
            train += rows[testCount...]
        }
        return TrainTestSplit(train: train.sorted(), test: test.sorted())
    }

    /// Holdout membership decided per record: record i is held out when PRF(record i's cells) < f,
    /// an independent Bernoulli(f) draw for each record under a key only its silo holds.
    ///
    /// Unlike a shuffle of the whole file, adding or removing one record changes the membership
    /// of that record only, so the training set of neighbouring files differs by at most the one
    /// record the privacy guarantee is about (docs/PRIVACY.md, "Holdout"). Identical records share
    /// their fate, which a record-level guarantee does not mind. The class balance of the two sets
    /// is only as even as chance makes it.
    /// - Parameters:
    ///   - records: the raw cells of each record (nil = missing), as read from the file.
    ///   - prf: the silo's keyed PRF.
    ///   - testFraction: f, in (0, 1).
    public static func keyedHoldout(
        records: [[String?]], prf: KeyedPRF, testFraction: Double
    ) throws(ModelError) -> TrainTestSplit {
        try checkTestFraction(testFraction)
        var train: [Int] = []
        var test: [Int] = []
        for (index, record) in records.enumerated() {
            if isHeldOut(record, prf: prf, testFraction: testFraction) {
                test.append(index)
            } else {
                train.append(index)
            }
        }
        return TrainTestSplit(train: train, test: test)
    }

    /// Whether the record with these raw cells is held out: PRF(canonical bytes of the cells) < f.
    /// The decision of ``keyedHoldout(records:prf:testFraction:)`` for one record, for callers
    /// that stream records (`FeatureSchema.prepare(csvPath:keyedHoldout:testFraction:)`).
    /// `testFraction` is not checked here; callers check it once.
    public static func isHeldOut(_ record: [String?], prf: KeyedPRF, testFraction: Double) -> Bool {
        prf.unitInterval(canonicalBytes(of: record)) < testFraction
    }

    /// Throws `data.invalid_split` unless `testFraction` lies in (0, 1).
    static func checkTestFraction(_ testFraction: Double) throws(ModelError) {
        guard testFraction.isFinite, testFraction > 0, testFraction < 1 else {
            throw ModelError(
                code: "data.invalid_split", message: "the test fraction must lie in (0, 1), got \(testFraction)")
        }
    }

    /// An unambiguous encoding of a record's cells: per cell, 0xFFFFFFFF for a missing one, else
    /// its UTF-8 length (32 bits, little-endian) and bytes.
    static func canonicalBytes(of record: [String?]) -> [UInt8] {
        var bytes: [UInt8] = []
        for cell in record {
            let utf8 = cell.map { Array($0.utf8) }
            let length = UInt32(clamping: utf8?.count ?? Int(UInt32.max))
            for shift in stride(from: 0, to: 32, by: 8) {
                bytes.append(UInt8(truncatingIfNeeded: length >> UInt32(shift)))
            }
            if let utf8 { bytes += utf8 }
        }
        return bytes
    }

    /// A non-IID split of `rows` into `silos` parts with Dirichlet label skew (the scheme of
    /// Hsu, Qi & Brown 2019, "Measuring the Effects of Non-Identical Data Distribution for
    /// Federated Visual Classification"): for each class, silo proportions are drawn from
    /// Dirichlet(α, …, α) and the class's shuffled rows are dealt out in those proportions.
    /// Small α gives strong skew; large α approaches an IID split.
    ///
    /// Draws are repeated (deterministically) until every silo holds at least
    /// `minimumPerClass` rows of each class, so no hospital or bank is left without one class.
    /// - Returns: one ascending list of row indices per silo; together they partition `rows`.
    public static func dirichletLabelSkew(
        labels: [Bool],
        rows: [Int],
        silos: Int,
        concentration: Double,
        minimumPerClass: Int = 1,
        seed: UInt64
    ) throws(ModelError) -> [[Int]] {
        guard silos >= 1, concentration.isFinite, concentration > 0, minimumPerClass >= 0 else {
            throw ModelError(
                code: "data.invalid_split",
                message: "a Dirichlet split needs silos ≥ 1, a finite concentration > 0 and minimum_per_class ≥ 0; "
                    + "got \(silos), \(concentration), \(minimumPerClass)"
            )
        }
        var generator = SeededGenerator(seed: seed)
        let classes = [false, true].map { positive in rows.filter { labels[$0] == positive } }
        for _ in 0..<1000 {
            var parts = [[Int]](repeating: [], count: silos)
            var feasible = true
            for var members in classes {
                DeterministicShuffle.shuffle(&members, using: &generator)
                let weights = (0..<silos).map { _ in DeterministicShuffle.gamma(shape: concentration, using: &generator)
                }
                let counts = apportion(total: members.count, weights: weights)
                if counts.contains(where: { $0 < minimumPerClass }) { feasible = false }
                var start = 0
                for (silo, count) in counts.enumerated() {
                    parts[silo] += members[start..<start + count]
                    start += count
                }
            }
            if feasible { return parts.map { $0.sorted() } }
        }
        throw ModelError(
            code: "data.split_infeasible",
            message: "1,000 Dirichlet draws left some silo with fewer than \(minimumPerClass) records of a class; "
                + "raise the concentration, lower minimum_per_class or use fewer silos"
        )
    }

    /// Splits `total` into integer counts proportional to `weights` (largest remainder method).
    static func apportion(total: Int, weights: [Double]) -> [Int] {
        let sum = weights.reduce(0, +)
        let shares = weights.map { sum > 0 ? Double(total) * $0 / sum : Double(total) / Double(weights.count) }
        var counts = shares.map { Int($0.rounded(.down)) }
        var remaining = total - counts.reduce(0, +)
        let remainders = shares.map { $0 - $0.rounded(.down) }
        // Ties broken by silo index so the result never depends on the sort algorithm.
        let byRemainder = shares.indices.sorted {
            remainders[$0] > remainders[$1] || (remainders[$0] == remainders[$1] && $0 < $1)
        }
        var position = 0
        while remaining > 0 {
            counts[byRemainder[position % byRemainder.count]] += 1
            remaining -= 1
            position += 1
        }
        return counts
    }
}
