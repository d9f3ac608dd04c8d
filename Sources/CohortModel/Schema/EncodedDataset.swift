/// Encoded records ready for the model: a row-major float32 feature matrix and 0/1 labels.
public struct EncodedDataset: Sendable, Equatable {
    /// Names of the encoded features (`FeatureSchema.encodedFeatureNames`).
    public let featureNames: [String]
    /// `count × dimension` values, row-major.
    public let features: [Float]
    /// 1 for the schema's positive class, 0 for the negative class.
    public let labels: [Float]

    /// A dataset from a row-major matrix and labels.
    public init(featureNames: [String], features: [Float], labels: [Float]) {
        precondition(
            featureNames.isEmpty ? features.isEmpty : features.count == labels.count * featureNames.count,
            "the feature matrix must have one row of featureNames.count values per label")
        precondition(labels.allSatisfy { $0 == 0 || $0 == 1 }, "labels must be 0 or 1")
        self.featureNames = featureNames
        self.features = features
        self.labels = labels
    }

    /// The number of records.
    public var count: Int { labels.count }
    /// The number of features per record.
    public var dimension: Int { featureNames.count }

    /// The features of record `index`.
    public func row(_ index: Int) -> ArraySlice<Float> {
        features[index * dimension..<(index + 1) * dimension]
    }

    /// Whether record `index` belongs to the positive class.
    public func isPositive(_ index: Int) -> Bool { labels[index] == 1 }

    /// The records at `indices`, in that order.
    public func subset(_ indices: [Int]) -> EncodedDataset {
        var matrix: [Float] = []
        matrix.reserveCapacity(indices.count * dimension)
        for index in indices { matrix += row(index) }
        return EncodedDataset(featureNames: featureNames, features: matrix, labels: indices.map { labels[$0] })
    }
}
