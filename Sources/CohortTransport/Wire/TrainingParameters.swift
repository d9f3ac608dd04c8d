import CohortModel
import Foundation

/// What a participant needs to train one round, sent as JSON in the round invitation.
public struct TrainingParameters: Codable, Sendable, Equatable {
    /// `record` (DP-FedSGD: Poisson-sample records, clip each gradient, send the sum) or
    /// `participant` (DP-FedAvg: local epochs, send the model delta).
    public var unit: String
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

    enum CodingKeys: String, CodingKey {
        case unit
        case samplingRate = "sampling_rate"
        case clippingBound = "clipping_bound"
        case localEpochs = "local_epochs"
        case localLearningRate = "local_learning_rate"
        case batchSize = "batch_size"
        case model
    }

    public init(
        unit: String, samplingRate: Double, clippingBound: Double, localEpochs: Int, localLearningRate: Double,
        batchSize: Int,
        model: ModelArchitecture? = nil
    ) {
        self.model = model
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

    public static func decode(_ bytes: [UInt8]) throws -> TrainingParameters {
        try JSONDecoder().decode(TrainingParameters.self, from: Data(bytes))
    }
}
