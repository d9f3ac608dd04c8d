import CohortCrypto
import Foundation
import Testing

@testable import CohortModel

/// Holdout membership from a keyed PRF of each record: neighbouring files differ in one record's
/// membership only.
@Suite struct KeyedHoldoutTests {
    static let wdbc: CSVTable = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try! CSVTable.read(path: root.path + "/Data/breast_cancer_wdbc.csv")
    }()

    @Test func removingOneRecordMovesNoOtherRecord() throws {
        let prf = try KeyedPRF(key: KeyedPRF.generateKey())
        let records = Self.wdbc.rows
        let full = try DataSplit.keyedHoldout(records: records, prf: prf, testFraction: 0.2)
        for removed in [0, 17, 300, records.count - 1] {
            var neighbour = records
            neighbour.remove(at: removed)
            let split = try DataSplit.keyedHoldout(records: neighbour, prf: prf, testFraction: 0.2)
            // Map the neighbour's indices back to the full file's.
            let back = { (index: Int) in index < removed ? index : index + 1 }
            #expect(Set(split.test.map(back)) == Set(full.test).subtracting([removed]))
            #expect(Set(split.train.map(back)) == Set(full.train).subtracting([removed]))
        }
    }

    @Test func membershipIsBernoulliOfTheFractionAndDependsOnTheKey() throws {
        // 20,000 distinct synthetic records: the held-out share is within 4 standard deviations of f.
        let records: [[String?]] = (0..<20_000).map { [String($0), $0 % 3 == 0 ? nil : "x\($0)"] }
        let prf = try KeyedPRF(key: KeyedPRF.generateKey())
        for fraction in [0.1, 0.2, 0.5] {
            let split = try DataSplit.keyedHoldout(records: records, prf: prf, testFraction: fraction)
            let share = Double(split.test.count) / Double(records.count)
            let sd = (fraction * (1 - fraction) / Double(records.count)).squareRoot()
            #expect(abs(share - fraction) < 4 * sd, "f = \(fraction): share \(share)")
            #expect(Set(split.train).isDisjoint(with: split.test))
            #expect((split.train + split.test).sorted() == Array(0..<records.count))
        }
        let first = try DataSplit.keyedHoldout(records: records, prf: prf, testFraction: 0.2)
        let again = try DataSplit.keyedHoldout(records: records, prf: prf, testFraction: 0.2)
        let otherKey = try DataSplit.keyedHoldout(
            records: records, prf: try KeyedPRF(key: KeyedPRF.generateKey()), testFraction: 0.2)
        #expect(first == again)
        #expect(first != otherKey)
    }

    @Test func cellBoundariesAndMissingCellsAreUnambiguous() {
        #expect(DataSplit.canonicalBytes(of: ["ab", "c"]) != DataSplit.canonicalBytes(of: ["a", "bc"]))
        #expect(DataSplit.canonicalBytes(of: [nil, "x"]) != DataSplit.canonicalBytes(of: ["", "x"]))
    }

    @Test func badFractionsAndKeysAreRefused() throws {
        let prf = try KeyedPRF(key: KeyedPRF.generateKey())
        for fraction in [0, 1, -0.1, .nan, .infinity] {
            _ = expectModelError("data.invalid_split") {
                _ = try DataSplit.keyedHoldout(records: [["a"]], prf: prf, testFraction: fraction)
            }
        }
        #expect(throws: CryptoError.self) {
            _ = try KeyedPRF(key: SecureBytes(copying: [UInt8](repeating: 1, count: 16)))
        }
    }
}
