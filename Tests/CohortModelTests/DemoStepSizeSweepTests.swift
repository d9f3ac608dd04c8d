@_spi(CohortTesting) import CohortCrypto
@_spi(CohortTesting) import CohortPrivacy
import CohortTesting
import Foundation
import Testing

@_spi(CohortTesting) @testable import CohortModel

/// The demo's learning problem in process, as `cohort demo` sets it up: the demo's split
/// (stratified 20 % test, seed 2026; Dirichlet label skew α = 1, seed 7), each silo's keyed
/// holdout (20 %, a fresh key per seed) and N = the silos' training rows in the divisor q·N.
/// Opt-in (COHORT_TUNE=1): prints mean and minimum over seeds for several server learning
/// rates, so a demo hyper-parameter is chosen on every seed, never on the best one.
@Suite struct DemoStepSizeSweepTests {
    static func demoSilos(
        _ table: CSVTable, _ schema: FeatureSchema, count: Int, keySeed: UInt64, directory: TemporaryDirectory
    )
        throws -> (silos: [EncodedDataset], test: EncodedDataset, rows: Int)
    {
        let prepared = try schema.prepare(table)
        let labels = (0..<prepared.dataset.count).map { prepared.dataset.isPositive($0) }
        let split = try DataSplit.stratifiedTrainTest(labels: labels, testFraction: 0.2, seed: 2026)
        let parts = try DataSplit.dirichletLabelSkew(
            labels: labels, rows: split.train, silos: count, concentration: 1.0, minimumPerClass: 5, seed: 7)
        var silos: [EncodedDataset] = []
        for (index, rows) in parts.enumerated() {
            let path = directory.path + "/silo-\(keySeed)-\(index).csv"
            try table.selecting(rows: rows).write(path: path)
            var generator = SeededGenerator(seed: keySeed &* 31 &+ UInt64(index))
            let key = SecureBytes(count: KeyedPRF.keyLength) { buffer in
                for i in 0..<buffer.count { buffer[i] = UInt8.random(in: 0...255, using: &generator) }
            }
            let (data, holdout) = try schema.prepare(
                csvPath: path, keyedHoldout: try KeyedPRF(key: key), testFraction: 0.2)
            silos.append(data.dataset.subset(holdout.train))
        }
        return (silos, prepared.dataset.subset(split.test), split.train.count)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["COHORT_TUNE"] == "1"))
    func serverLearningRate() throws {
        let directory = try TemporaryDirectory()
        let cases: [(String, CSVTable, FeatureSchema, Int, DPFedSGDPlan)] = [
            ("WDBC", Datasets.wdbcTable, Datasets.wdbcSchema, 3, .wdbcDemo),
            ("credit", Datasets.creditTable, Datasets.creditSchema, 4, .creditDemo),
        ]
        let seeds: [UInt64] = [1, 2, 3, 4, 5]
        for (name, table, schema, count, base) in cases {
            let data = try seeds.map {
                try Self.demoSilos(table, schema, count: count, keySeed: $0, directory: directory)
            }
            let training = data.map { $0.silos.reduce(0) { $0 + $1.count } }
            print("SWEEP \(name): rows \(data[0].rows), training rows per seed \(training)")
            for epsilon in [1.0, 3.0] {
                for factor in [0.6, 0.8, 1.0] {
                    var plan = base
                    plan.targetEpsilon = epsilon
                    plan.serverLearningRate = base.serverLearningRate * factor
                    var values: [Double] = []
                    for (index, seed) in seeds.enumerated() {
                        let outcome = try DPFedSGDTests.simulate(
                            plan, silos: data[index].silos, test: data[index].test, seed: 5000 + seed)
                        values.append(name == "WDBC" ? outcome.metrics.accuracy : (outcome.metrics.rocAUC ?? .nan))
                    }
                    let mean = values.reduce(0, +) / Double(values.count)
                    print(
                        "SWEEP \(name) ε=\(epsilon) lr=\(plan.serverLearningRate) mean=\(mean) min=\(values.min()!) "
                            + "values=\(values.map { ($0 * 1000).rounded() / 1000 })")
                }
            }
        }
    }

    /// A wider opt-in grid for WDBC at ε = 3 (COHORT_TUNE=2): clipping bound, rounds, sampling
    /// rate and momentum, each cell over the same five seeds.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["COHORT_TUNE"] == "2"))
    func wdbcGrid() throws {
        let directory = try TemporaryDirectory()
        let seeds: [UInt64] = [1, 2, 3, 4, 5]
        let data = try seeds.map {
            try Self.demoSilos(Datasets.wdbcTable, Datasets.wdbcSchema, count: 3, keySeed: $0, directory: directory)
        }
        for (clip, rounds, q, momentum, lr) in [
            (1.0, 50, 0.2, 0.5, 0.5), (0.5, 50, 0.2, 0.5, 1.0), (2.0, 50, 0.2, 0.5, 0.25), (1.0, 100, 0.2, 0.5, 0.5),
            (1.0, 100, 0.1, 0.5, 0.5), (1.0, 50, 0.4, 0.5, 0.5), (1.0, 50, 0.2, 0.9, 0.1), (1.0, 200, 0.1, 0.5, 0.25),
        ] {
            let plan = DPFedSGDPlan(
                samplingRate: q, clippingBound: clip, rounds: rounds, serverLearningRate: lr,
                serverMomentum: momentum, targetEpsilon: 3, delta: 1e-5)
            var values: [Double] = []
            for (index, seed) in seeds.enumerated() {
                values.append(
                    try DPFedSGDTests.simulate(
                        plan, silos: data[index].silos, test: data[index].test, seed: 5000 + seed
                    ).metrics.accuracy)
            }
            print(
                "GRID C=\(clip) T=\(rounds) q=\(q) μ=\(momentum) lr=\(lr) "
                    + "mean=\(values.reduce(0, +) / 5) min=\(values.min()!) "
                    + "values=\(values.map { ($0 * 1000).rounded() / 1000 })")
        }
    }

    /// Opt-in (COHORT_TUNE=3): where the gap to the in-process figures comes from (the demo's split
    /// against `Experiments`' split, with and without the participants' holdouts), and the
    /// sampling rate over ten seeds at ε = 1 and 3.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["COHORT_TUNE"] == "3"))
    func wdbcSplitAndSamplingRate() throws {
        let directory = try TemporaryDirectory()
        let seeds: [UInt64] = Array(1...10)
        let demo = try seeds.map {
            try Self.demoSilos(Datasets.wdbcTable, Datasets.wdbcSchema, count: 3, keySeed: $0, directory: directory)
        }
        let (fullSilos, fullTest) = try Experiments.silos(
            Datasets.wdbcTable, Datasets.wdbcSchema, count: 3, directory: directory)
        func run(_ plan: DPFedSGDPlan, _ silos: (Int) -> ([EncodedDataset], EncodedDataset)) throws -> String {
            var values: [Double] = []
            for (index, seed) in seeds.enumerated() {
                let (s, t) = silos(index)
                values.append(try DPFedSGDTests.simulate(plan, silos: s, test: t, seed: 5000 + seed).metrics.accuracy)
            }
            return
                "mean=\(values.reduce(0, +) / Double(values.count)) min=\(values.min()!) "
                + "values=\(values.map { ($0 * 1000).rounded() / 1000 })"
        }
        var plan = DPFedSGDPlan.wdbcDemo
        print("SPLIT demo split, keyed holdouts (the demo): " + (try run(plan) { (demo[$0].silos, demo[$0].test) }))
        print("SPLIT Experiments split, no holdouts (DPFedSGDTests): " + (try run(plan) { _ in (fullSilos, fullTest) }))
        let prepared = try Datasets.wdbcSchema.prepare(Datasets.wdbcTable)
        let labels = (0..<prepared.dataset.count).map { prepared.dataset.isPositive($0) }
        let split = try DataSplit.stratifiedTrainTest(labels: labels, testFraction: 0.2, seed: 2026)
        let parts = try DataSplit.dirichletLabelSkew(
            labels: labels, rows: split.train, silos: 3, concentration: 1.0, minimumPerClass: 5, seed: 7)
        let whole = parts.map { prepared.dataset.subset($0) }
        print("SPLIT demo split, no holdouts: " + (try run(plan) { _ in (whole, prepared.dataset.subset(split.test)) }))
        for epsilon in [1.0, 3.0] {
            for q in [0.2, 0.3, 0.4] {
                plan.targetEpsilon = epsilon
                plan.samplingRate = q
                print(
                    "QSWEEP ε=\(epsilon) q=\(q) σ=\(try plan.noisePlan().noiseMultiplier) "
                        + (try run(plan) { (demo[$0].silos, demo[$0].test) }))
            }
        }
    }
}
