import CohortCrypto
import CohortStorage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension FeatureSchema {
    /// Checks the schema itself: version, unique non-empty names, finite constants, positive
    /// standard deviations, imputation values inside the range or category list.
    ///
    /// Errors have code `schema.invalid` (or `schema.unsupported_version`) and name the field path,
    /// e.g. `numeric[3].scaling.standard_deviation`.
    public func validate() throws(ModelError) {
        func invalid(_ path: String, _ problem: String) -> ModelError {
            ModelError(code: "schema.invalid", message: "schema '\(name)': \(path) \(problem)")
        }
        guard version == Self.currentVersion else {
            throw ModelError(
                code: "schema.unsupported_version",
                message: "schema '\(name)' has version \(version); this build reads version \(Self.currentVersion) — "
                    + "convert the schema or upgrade Cohort"
            )
        }
        guard !name.isEmpty else { throw invalid("name", "must not be empty") }
        guard !label.column.isEmpty else { throw invalid("label.column", "must not be empty") }
        guard !label.positiveClass.isEmpty, !label.negativeClass.isEmpty else {
            throw invalid("label", "needs non-empty positive_class and negative_class")
        }
        guard label.positiveClass != label.negativeClass else {
            throw invalid("label", "positive_class and negative_class must differ")
        }
        guard !numeric.isEmpty || !categorical.isEmpty else {
            throw invalid("numeric/categorical", "must list at least one feature")
        }
        var names: Set<String> = [label.column]
        for (index, feature) in numeric.enumerated() {
            let path = "numeric[\(index)]"
            guard !feature.name.isEmpty else { throw invalid("\(path).name", "must not be empty") }
            guard names.insert(feature.name).inserted else {
                throw invalid("\(path).name", "'\(feature.name)' is used by another column of the schema")
            }
            if let range = feature.range {
                if let min = range.min, !min.isFinite { throw invalid("\(path).range.min", "must be finite") }
                if let max = range.max, !max.isFinite { throw invalid("\(path).range.max", "must be finite") }
                if let min = range.min, let max = range.max, min > max {
                    throw invalid("\(path).range", "has min \(min) above max \(max)")
                }
            }
            guard feature.imputation.value.isFinite else { throw invalid("\(path).imputation.value", "must be finite") }
            if let range = feature.range, !range.contains(feature.imputation.value) {
                throw invalid(
                    "\(path).imputation.value", "\(feature.imputation.value) lies outside the feature's range")
            }
            if let scaling = feature.scaling {
                guard scaling.mean.isFinite else { throw invalid("\(path).scaling.mean", "must be finite") }
                guard scaling.standardDeviation.isFinite, scaling.standardDeviation > 0 else {
                    throw invalid(
                        "\(path).scaling.standard_deviation", "must be finite and > 0, got \(scaling.standardDeviation)"
                    )
                }
            }
        }
        for (index, feature) in categorical.enumerated() {
            let path = "categorical[\(index)]"
            guard !feature.name.isEmpty else { throw invalid("\(path).name", "must not be empty") }
            guard names.insert(feature.name).inserted else {
                throw invalid("\(path).name", "'\(feature.name)' is used by another column of the schema")
            }
            guard !feature.categories.isEmpty else { throw invalid("\(path).categories", "must not be empty") }
            guard Set(feature.categories).count == feature.categories.count else {
                throw invalid("\(path).categories", "must not repeat a category")
            }
            guard feature.categories.allSatisfy({ !$0.isEmpty }) else {
                throw invalid(
                    "\(path).categories", "must not contain an empty category (an empty cell is a missing value)")
            }
            switch feature.imputation.strategy {
            case .missingCategory:
                guard feature.imputation.value == nil else {
                    throw invalid("\(path).imputation.value", "must be absent for strategy missing_category")
                }
            case .mostFrequent, .constant:
                guard let value = feature.imputation.value, feature.categories.contains(value) else {
                    throw invalid("\(path).imputation.value", "must be one of the feature's categories")
                }
            }
        }
    }

    /// The SHA-256 (lowercase hex) of the schema's JSON encoding with sorted keys — the identity
    /// that attestations and the policy compare.
    public func digest() throws(ModelError) -> String {
        SHA256.hexDigest(try canonicalJSON())
    }

    /// The schema as JSON with sorted keys, no insignificant whitespace.
    public func canonicalJSON() throws(ModelError) -> [UInt8] {
        try encodeJSON(formatting: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The schema as human-readable JSON (sorted keys, indented), as shipped in `Data/schemas/`.
    public func prettyJSON() throws(ModelError) -> [UInt8] {
        try encodeJSON(formatting: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]) + [0x0A]
    }

    private func encodeJSON(formatting: JSONEncoder.OutputFormatting) throws(ModelError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = formatting
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw ModelError(
                code: "schema.invalid",
                message: "schema '\(name)' cannot be encoded as JSON: \(error); "
                    + "every constant must be a finite number")
        }
    }

    /// Decodes and validates a schema from JSON bytes; `source` names them in errors.
    public static func decode(json bytes: [UInt8], source: String = "schema") throws(ModelError) -> FeatureSchema {
        let schema: FeatureSchema
        do {
            schema = try JSONDecoder().decode(FeatureSchema.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw ModelError(code: "schema.invalid_json", message: "\(source): \(Self.describe(error))")
        } catch {
            throw ModelError(code: "schema.invalid_json", message: "\(source): \(error)")
        }
        try schema.validate()
        return schema
    }

    /// Reads, decodes and validates the JSON schema file at `path`.
    public static func load(path: String) throws(ModelError) -> FeatureSchema {
        let bytes: [UInt8]
        do {
            bytes = try DurableFile.read(path)
        } catch {
            throw ModelError(code: "schema.unreadable_file", message: "cannot read the schema file: \(error.message)")
        }
        return try decode(json: bytes, source: path)
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let components = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }
            let joined = components.joined()
            return joined.isEmpty ? "(top level)" : String(joined.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing field '\(key.stringValue)' in \(parent); add it (see Data/schemas/*.json for examples)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
