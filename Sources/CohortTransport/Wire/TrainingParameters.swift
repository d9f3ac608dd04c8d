import CohortModel
import Foundation

/// What a participant needs to train one round, sent as JSON in the round invitation.
public struct TrainingParameters: Codable, Sendable, Equatable {
    /// The privacy unit, which decides what a participant trains and sends.
    public enum Unit: String, Codable, Sendable, CaseIterable {
        /// DP-FedSGD: Poisson-sample records, clip each record's gradient, send the sum.
        case record
        /// DP-FedAvg: local epochs, send the model delta (the coordinator clips it).
        case participant

        /// Decodes `record` or `participant`; anything else is refused naming the value, never
        /// read as one of them (a participant must not guess which training the round asks for).
        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let unit = Unit(rawValue: text) else {
                throw TrainingParameters.malformed(
                    "name the privacy unit '\(text.prefix(40))'; the units are "
                        + Unit.allCases.map { "'\($0.rawValue)'" }.joined(separator: " and "))
            }
            self = unit
        }
    }

    /// The privacy unit (`unit` on the wire: `record` or `participant`).
    public var unit: Unit
    /// Record sampling rate q (record unit).
    public var samplingRate: Double
    /// Per-record clipping bound C (record unit).
    public var clippingBound: Double
    /// Local training (participant unit).
    public var localEpochs: Int
    public var localLearningRate: Double
    public var batchSize: Int
    /// The model the round trains (`ModelArchitecture`'s JSON); absent in rounds of coordinators
    /// that predate it, which means logistic regression.
    public var model: ModelArchitecture?
    /// How long the coordinator waits for evaluation results after it asks (the policy's
    /// `rounds.evaluation_timeout_seconds`), so a participant can stop an evaluate hook that
    /// outlives it; absent from coordinators that predate it. In (0, 86400] when present.
    public var evaluationTimeoutSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case unit
        case samplingRate = "sampling_rate"
        case clippingBound = "clipping_bound"
        case localEpochs = "local_epochs"
        case localLearningRate = "local_learning_rate"
        case batchSize = "batch_size"
        case model
        case evaluationTimeoutSeconds = "evaluation_timeout_seconds"
    }

    public init(
        unit: Unit, samplingRate: Double, clippingBound: Double, localEpochs: Int, localLearningRate: Double,
        batchSize: Int,
        model: ModelArchitecture? = nil, evaluationTimeoutSeconds: Double? = nil
    ) {
        self.model = model
        self.evaluationTimeoutSeconds = evaluationTimeoutSeconds
        self.unit = unit
        self.samplingRate = samplingRate
        self.clippingBound = clippingBound
        self.localEpochs = localEpochs
        self.localLearningRate = localLearningRate
        self.batchSize = batchSize
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// The largest `evaluation_timeout_seconds` accepted (the policy's bound).
    public static let maximumEvaluationTimeoutSeconds = 86_400.0

    /// Decodes an invitation's parameters, range-checking what is read.
    /// - Throws: `wire.malformed_payload` naming the field for JSON that is not training
    ///   parameters or a value out of range.
    public static func decode(_ bytes: [UInt8]) throws(WireError) -> TrainingParameters {
        let parameters: TrainingParameters
        do {
            parameters = try JSONDecoder().decode(TrainingParameters.self, from: Data(bytes))
        } catch let error as DecodingError {
            // An unknown unit's own error, with its message; any other is named by its field.
            if case .dataCorrupted(let context) = error, let wire = context.underlyingError as? WireError {
                throw wire
            }
            throw malformed("are not valid training parameters (\(error))")
        } catch let error as WireError {
            throw error
        } catch {
            throw malformed("are not valid training parameters (\(error))")
        }
        if let seconds = parameters.evaluationTimeoutSeconds,
            !(seconds > 0 && seconds <= maximumEvaluationTimeoutSeconds)
        {
            throw malformed(
                "give evaluation_timeout_seconds \(seconds), outside (0, \(Int(maximumEvaluationTimeoutSeconds))]")
        }
        return parameters
    }

    static func malformed(_ problem: String) -> WireError {
        WireError(
            code: WireError.Code.malformedPayload,
            message: "the round invitation's training parameters \(problem); run a participant and a coordinator "
                + "of the same version",
            closesConnection: false)
    }
}
