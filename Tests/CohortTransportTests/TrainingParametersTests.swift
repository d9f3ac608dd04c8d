import CohortTransport
import Foundation
import Testing

/// The invitation's training parameters: the privacy unit is one of two known values, checked
/// where it is decoded, and the wire keeps its strings.
@Suite struct TrainingParametersTests {
    static func json(unit: String) -> [UInt8] {
        Array(
            """
            {"batch_size":16,"clipping_bound":1,"local_epochs":1,"local_learning_rate":0.1,\
            "sampling_rate":0.2,"unit":\(unit)}
            """.utf8)
    }

    @Test(arguments: TrainingParameters.Unit.allCases)
    func theUnitKeepsItsWireString(unit: TrainingParameters.Unit) throws {
        let parameters = TrainingParameters(
            unit: unit, samplingRate: 0.2, clippingBound: 1, localEpochs: 1, localLearningRate: 0.1, batchSize: 16)
        let text = String(decoding: parameters.encoded(), as: UTF8.self)
        #expect(text.contains("\"unit\":\"\(unit.rawValue)\""), "\(text)")
        #expect(try TrainingParameters.decode(parameters.encoded()).unit == unit)
        #expect(try TrainingParameters.decode(Self.json(unit: "\"\(unit.rawValue)\"")).unit == unit)
        #expect(["record", "participant"].contains(unit.rawValue))
    }

    /// Before the unit was an enum, any other string silently took the participant-unit path.
    @Test(arguments: ["\"Record\"", "\"records\"", "\"\"", "\"user\""])
    func anUnknownUnitIsRefusedNamingIt(unit: String) throws {
        let error = #expect(throws: WireError.self) { try TrainingParameters.decode(Self.json(unit: unit)) }
        #expect(error?.code == WireError.Code.malformedPayload, "\(String(describing: error))")
        #expect(
            error?.message.contains("privacy unit '\(unit.dropFirst().dropLast())'") == true,
            "\(String(describing: error))")
        #expect(error?.message.contains("'record' and 'participant'") == true, "\(String(describing: error))")
    }

    @Test(arguments: ["1", "null", "[\"record\"]"])
    func aUnitThatIsNotAStringIsRefused(unit: String) throws {
        let error = #expect(throws: WireError.self) { try TrainingParameters.decode(Self.json(unit: unit)) }
        #expect(error?.code == WireError.Code.malformedPayload, "\(String(describing: error))")
        #expect(error?.message.contains("training parameters") == true, "\(String(describing: error))")
    }
}
