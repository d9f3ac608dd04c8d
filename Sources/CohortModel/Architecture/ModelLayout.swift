#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One named float32 tensor of a model: its name and its shape.
public struct TensorSpec: Sendable, Equatable, Hashable, Codable {
    /// The tensor's name, as in a safetensors file (e.g. `layers.0.weight`).
    public var name: String
    /// Its dimensions, row-major; every dimension ≥ 1.
    public var shape: [Int]

    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    /// The number of values (the product of the shape; 1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
}

/// The tensor layout of a model: which named tensors it has, their shapes, and where each one's
/// values sit in the model's flat parameter vector.
///
/// Everything the mechanism does — clipping, quantisation, noise, the sensitivity and the ledger's
/// `d` — works on the flat vector, the concatenation of all tensors in layout order, each
/// row-major. The layout turns that vector back into named tensors for checkpoints, exports and
/// external trainers, so all of them use the policy's names and shapes.
///
/// Built-in layouts: ``logisticRegression(featureCount:)`` is `weight` [1, F] then `bias` [1];
/// ``mlp(featureCount:hidden:)`` is `layers.i.weight` [out, in] then `layers.i.bias` [out] for
/// each layer i (PyTorch's `nn.Linear` convention, so a `state_dict` loads it directly).
public struct ModelLayout: Sendable, Equatable, Hashable, Codable {
    /// The most parameters a model may have (2^28 float32 values, 1 GiB): the largest update
    /// frame the policy can allow.
    public static let maximumParameterCount = 1 << 28

    /// The tensors, in flat-vector order.
    public let tensors: [TensorSpec]
    /// Where each tensor's values start in the flat vector (same order as ``tensors``).
    public let offsets: [Int]
    /// The total number of parameters d: the length of the flat vector.
    public let parameterCount: Int

    /// A layout of `tensors`, checked: at least one tensor; names 1–128 characters from
    /// A–Z a–z 0–9 `.` `_` `-` and unique; every dimension ≥ 1; at most
    /// ``maximumParameterCount`` parameters in all.
    /// - Throws: `model.invalid_layout`, naming the tensor.
    public init(tensors: [TensorSpec]) throws(ModelError) {
        func invalid(_ message: String) -> ModelError { ModelError(code: "model.invalid_layout", message: message) }
        guard !tensors.isEmpty else { throw invalid("a model needs at least one tensor") }
        var seen: Set<String> = []
        var offsets: [Int] = []
        var total = 0
        for (index, spec) in tensors.enumerated() {
            guard Self.isValidName(spec.name) else {
                throw invalid("tensor \(index)'s name must be 1–128 characters from A–Z, a–z, 0–9, '.', '_' and '-'")
            }
            guard seen.insert(spec.name).inserted else { throw invalid("tensor `\(spec.name)` is listed twice") }
            guard spec.shape.count <= 8, spec.shape.allSatisfy({ $0 >= 1 && $0 <= Self.maximumParameterCount }) else {
                throw invalid("tensor `\(spec.name)` has shape \(spec.shape); give 0–8 dimensions, each ≥ 1")
            }
            var count = 1
            for dimension in spec.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow, product <= Self.maximumParameterCount else {
                    throw invalid("tensor `\(spec.name)` has more than \(Self.maximumParameterCount) values")
                }
                count = product
            }
            offsets.append(total)
            total += count
            guard total <= Self.maximumParameterCount else {
                throw invalid("the tensors hold more than \(Self.maximumParameterCount) parameters in all")
            }
        }
        self.tensors = tensors
        self.offsets = offsets
        self.parameterCount = total
    }

    enum CodingKeys: String, CodingKey { case tensors }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        do {
            try self.init(tensors: try container.decode([TensorSpec].self, forKey: .tensors))
        } catch let error as ModelError {
            throw DecodingError.dataCorruptedError(forKey: .tensors, in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(tensors, forKey: .tensors)
    }

    /// The range of the flat vector that holds tensor `index`.
    public func range(ofTensorAt index: Int) -> Range<Int> {
        offsets[index]..<(offsets[index] + tensors[index].count)
    }

    /// The range of the flat vector that holds the tensor called `name`, if there is one.
    public func range(of name: String) -> Range<Int>? {
        tensors.firstIndex { $0.name == name }.map(range(ofTensorAt:))
    }

    /// Logistic regression on F encoded features: `weight` [1, F], `bias` [1] (d = F + 1).
    public static func logisticRegression(featureCount: Int) throws(ModelError) -> ModelLayout {
        try ModelLayout(tensors: [
            TensorSpec(name: "weight", shape: [1, featureCount]), TensorSpec(name: "bias", shape: [1]),
        ])
    }

    /// A multilayer perceptron F → hidden[0] → … → 1: for layer i, `layers.i.weight`
    /// [out, in] and `layers.i.bias` [out].
    public static func mlp(featureCount: Int, hidden: [Int]) throws(ModelError) -> ModelLayout {
        var specs: [TensorSpec] = []
        let widths = [featureCount] + hidden + [1]
        for layer in 0..<(widths.count - 1) {
            specs.append(TensorSpec(name: "layers.\(layer).weight", shape: [widths[layer + 1], widths[layer]]))
            specs.append(TensorSpec(name: "layers.\(layer).bias", shape: [widths[layer + 1]]))
        }
        return try ModelLayout(tensors: specs)
    }

    /// The flat vector as named tensors (float32, the layout's names and shapes).
    /// - Throws: `model.dimension_mismatch` when `flat` is not ``parameterCount`` long.
    public func safetensors(_ flat: [Float], metadata: [String: String] = [:]) throws(ModelError) -> SafetensorsFile {
        guard flat.count == parameterCount else {
            throw ModelError(
                code: "model.dimension_mismatch",
                message: "the parameter vector has \(flat.count) values; the layout has \(parameterCount)")
        }
        var named: [(name: String, tensor: Tensor)] = []
        for (index, spec) in tensors.enumerated() {
            named.append((spec.name, try Tensor(shape: spec.shape, values: Array(flat[range(ofTensorAt: index)]))))
        }
        return SafetensorsFile(tensors: named, metadata: metadata)
    }

    /// The flat vector of a file holding exactly this layout's tensors (any order; other tensors
    /// are refused so a misnamed one cannot go unnoticed), each with its shape and finite values.
    /// - Parameters:
    ///   - file: the safetensors file.
    ///   - source: what the file is, for error messages (e.g. its path).
    ///   - ignoring: names of extra tensors that may be present and are skipped (e.g. `velocity`).
    /// - Throws: `model.tensor_missing`, `model.tensor_unexpected`, `model.tensor_shape` or
    ///   `model.non_finite_parameters`, each naming the tensor and the expected shape.
    public func flatten(
        _ file: SafetensorsFile, source: String, ignoring: Set<String> = []
    ) throws(ModelError)
        -> [Float]
    {
        let expected = Set(tensors.map(\.name))
        if let extra = file.tensors.first(where: { !expected.contains($0.name) && !ignoring.contains($0.name) }) {
            throw ModelError(
                code: "model.tensor_unexpected",
                message: "\(source) holds a tensor `\(PeerText.sanitized(extra.name))` the model does not have; "
                    + "the model's tensors are \(tensors.map { "`\($0.name)` \($0.shape)" }.joined(separator: ", "))")
        }
        var flat = [Float](repeating: 0, count: parameterCount)
        for (index, spec) in tensors.enumerated() {
            guard let tensor = file.tensor(named: spec.name) else {
                throw ModelError(
                    code: "model.tensor_missing",
                    message:
                        "\(source) has no tensor `\(spec.name)`; the model needs `\(spec.name)` of shape \(spec.shape)")
            }
            guard tensor.shape == spec.shape else {
                throw ModelError(
                    code: "model.tensor_shape",
                    message: "\(source): tensor `\(spec.name)` has shape \(tensor.shape); the model needs \(spec.shape)"
                )
            }
            guard tensor.values.allSatisfy(\.isFinite) else {
                throw ModelError(
                    code: "model.non_finite_parameters",
                    message: "\(source): tensor `\(spec.name)` contains NaN or infinity")
            }
            flat.replaceSubrange(range(ofTensorAt: index), with: tensor.values)
        }
        return flat
    }

    /// The layout as compact JSON, `{"tensors":[{"name":…,"shape":[…]},…]}` (sorted keys).
    public func json() throws(ModelError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else {
            throw ModelError(code: "model.invalid_layout", message: "the layout could not be encoded as JSON")
        }
        return text
    }

    /// A layout from its ``json()`` form.
    /// - Throws: `model.invalid_layout` for JSON that is not a valid layout.
    public init(json: String) throws(ModelError) {
        do {
            self = try JSONDecoder().decode(ModelLayout.self, from: Data(json.utf8))
        } catch {
            throw ModelError(
                code: "model.invalid_layout",
                message: "the model layout is not valid JSON of the form {\"tensors\": [{\"name\", \"shape\"}, …]}")
        }
    }

    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
                    || c == 0x5F || c == 0x2D
            }
    }
}
