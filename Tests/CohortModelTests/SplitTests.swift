import Testing

@testable import CohortModel

@Suite struct SplitTests {
    static let labels: [Bool] = (0..<569).map { $0 % 8 < 3 }  // 3/8 positive, like WDBC

    @Test func stratifiedSplitIsDeterministicDisjointAndBalanced() throws {
        let split = try DataSplit.stratifiedTrainTest(labels: Self.labels, testFraction: 0.2, seed: 42)
        #expect(split == (try DataSplit.stratifiedTrainTest(labels: Self.labels, testFraction: 0.2, seed: 42)))
        #expect(split != (try DataSplit.stratifiedTrainTest(labels: Self.labels, testFraction: 0.2, seed: 43)))
        #expect(Set(split.train).isDisjoint(with: split.test))
        #expect((split.train + split.test).sorted() == Array(0..<569))
        let positives = Self.labels.filter { $0 }.count
        let testPositives = split.test.filter { Self.labels[$0] }.count
        #expect(testPositives == Int((Double(positives) * 0.2).rounded()))
        #expect(split.test.count == testPositives + Int((Double(569 - positives) * 0.2).rounded()))
        _ = expectModelError("data.invalid_split") {
            _ = try DataSplit.stratifiedTrainTest(labels: Self.labels, testFraction: 1, seed: 1)
        }
    }

    /// Pins the generator's output: a change would silently change every demo split.
    @Test func seededGeneratorIsStable() {
        var generator = SeededGenerator(seed: 0)
        let first = (0..<3).map { _ in generator.next() }
        var again = SeededGenerator(seed: 0)
        #expect(first == (0..<3).map { _ in again.next() })
        var shuffled = Array(0..<10)
        var shuffler = SeededGenerator(seed: 1)
        DeterministicShuffle.shuffle(&shuffled, using: &shuffler)
        #expect(shuffled.sorted() == Array(0..<10))
        #expect(shuffled != Array(0..<10))
    }

    @Test func dirichletSplitPartitionsWithSkew() throws {
        let rows = Array(0..<569)
        let silos = try DataSplit.dirichletLabelSkew(
            labels: Self.labels, rows: rows, silos: 3, concentration: 0.5,
            minimumPerClass: 10, seed: 3)
        #expect(silos.count == 3)
        #expect(silos.flatMap { $0 }.sorted() == rows)
        for silo in silos {
            #expect(silo.filter { Self.labels[$0] }.count >= 10)
            #expect(silo.filter { !Self.labels[$0] }.count >= 10)
        }
        #expect(
            silos
                == (try DataSplit.dirichletLabelSkew(
                    labels: Self.labels, rows: rows, silos: 3, concentration: 0.5,
                    minimumPerClass: 10, seed: 3)))
        let rates = silos.map { silo in Double(silo.filter { Self.labels[$0] }.count) / Double(silo.count) }
        #expect(rates.max()! - rates.min()! > 0.05, "α = 0.5 should skew the class balance, got \(rates)")
        _ = expectModelError("data.split_infeasible") {
            _ = try DataSplit.dirichletLabelSkew(
                labels: Self.labels, rows: rows, silos: 3, concentration: 1,
                minimumPerClass: 100, seed: 3)
        }
    }

    @Test func apportionSumsToTotal() {
        #expect(DataSplit.apportion(total: 10, weights: [1, 1, 1]) == [4, 3, 3])
        #expect(DataSplit.apportion(total: 7, weights: [0, 2, 5]) == [0, 2, 5])
        #expect(DataSplit.apportion(total: 5, weights: [0.2, 0.2, 0.6]).reduce(0, +) == 5)
    }
}
