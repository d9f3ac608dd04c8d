import CohortCrypto
import Foundation
import Testing

@testable import CohortModel

/// `training_rows`: the size of the participant's training split, optional for older peers,
/// validated where decoded, and filled by the keyed-holdout `prepare`.
@Suite struct TrainingRowsAttestationTests {
    static func json(trainingRows: String?) -> [UInt8] {
        var attestation = PeerInputValidationTests.attestation()
        attestation.trainingRows = nil
        var text = String(decoding: try! JSONEncoder().encode(attestation), as: UTF8.self)
        #expect(!text.contains("training_rows"))
        if let trainingRows { text = String(text.dropLast()) + #","training_rows":\#(trainingRows)}"# }
        return Array(text.utf8)
    }

    @Test func absentMeansAnOlderParticipantAndDecodesAsNil() throws {
        #expect(try DataQualityAttestation.decodeValidated(json: Self.json(trainingRows: nil)).trainingRows == nil)
    }

    @Test(arguments: [0, 1, 80, 100])
    func withinZeroAndRowsDecodes(value: Int) throws {
        #expect(
            try DataQualityAttestation.decodeValidated(json: Self.json(trainingRows: String(value))).trainingRows
                == value)
        var attestation = PeerInputValidationTests.attestation()
        attestation.trainingRows = value
        #expect(try PeerInputValidationTests.roundTrip(attestation) == attestation)
    }

    @Test(arguments: ["101", "-1", "4611686018427387904", "9223372036854775807"])
    func outsideZeroAndRowsIsRefused(value: String) {
        let error = expectModelError("attestation.invalid") {
            _ = try DataQualityAttestation.decodeValidated(json: Self.json(trainingRows: value))
        }
        #expect(error?.message.contains("`training_rows`") == true)
        #expect(error?.message.contains("0...100") == true)
    }

    @Test func wrongTypeIsMalformed() {
        let error = expectModelError("attestation.malformed") {
            _ = try DataQualityAttestation.decodeValidated(json: Self.json(trainingRows: #""80""#))
        }
        #expect(error?.message.contains("training_rows") == true)
    }

    /// The streaming keyed-holdout `prepare` gives the same split as `DataSplit.keyedHoldout` over
    /// the file's raw cells, the same encoding as `prepare(csvPath:)`, and attests the training rows.
    @Test func keyedPrepareMatchesTheTableSplitAndAttestsTrainingRows() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let csv = root + "/Data/credit_scoring.csv"
        let schema = try FeatureSchema.load(path: root + "/Data/schemas/credit.json")
        let prf = try KeyedPRF(key: KeyedPRF.generateKey())
        let (prepared, split) = try schema.prepare(csvPath: csv, keyedHoldout: prf, testFraction: 0.2)
        let table = try CSVTable.read(path: csv)
        #expect(split == (try DataSplit.keyedHoldout(records: table.rows, prf: prf, testFraction: 0.2)))
        let plain = try schema.prepare(csvPath: csv)
        #expect(prepared.dataset == plain.dataset)
        #expect(prepared.attestation.rows == table.rows.count)
        #expect(prepared.attestation.trainingRows == split.train.count)
        #expect(split.train.count + split.test.count == table.rows.count)
        var withoutTrainingRows = prepared.attestation
        withoutTrainingRows.trainingRows = nil
        #expect(withoutTrainingRows == plain.attestation)
        for fraction in [0, 1, Double.nan] {
            _ = expectModelError("data.invalid_split") {
                _ = try schema.prepare(csvPath: csv, keyedHoldout: prf, testFraction: fraction)
            }
        }
    }
}
