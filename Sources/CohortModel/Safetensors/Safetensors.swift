import CohortStorage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One float32 tensor: a shape and its values in row-major order.
public struct Tensor: Sendable, Equatable {
    /// Dimensions; the empty shape is a scalar.
    public let shape: [Int]
    /// Row-major values; `values.count` is the product of `shape`.
    public let values: [Float]

    /// A tensor; `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: [Float]) throws(ModelError) {
        guard shape.allSatisfy({ $0 >= 0 }), let count = Safetensors.elementCount(shape), count == values.count else {
            throw ModelError(
                code: "safetensors.shape_mismatch",
                message:
                    "shape \(shape) does not hold \(values.count) values; give a shape whose product is the value count"
            )
        }
        self.shape = shape
        self.values = values
    }

    /// A one-dimensional tensor.
    public init(vector: [Float]) {
        shape = [vector.count]
        values = vector
    }
}

/// The safetensors format (huggingface/safetensors): an 8-byte little-endian unsigned header
/// length N, N bytes of UTF-8 JSON, then the raw data buffer.
///
/// The header maps each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`, offsets
/// relative to the start of the data buffer; the optional `__metadata__` key maps strings to
/// strings. Cohort reads and writes dtype `F32` only (little-endian IEEE 754 binary32), which is
/// what its wire format and checkpoints carry. The reader checks what the reference implementation
/// checks — header size and JSON, dtype, shape × element size = byte range, ranges that tile the
/// buffer exactly with no gap or overlap — and reports each failure with a stable code.
///
/// The writer pads the header with spaces to a multiple of 8 bytes (as the reference writer does,
/// so the data is aligned) and lays tensors out in the order given.
public struct SafetensorsFile: Sendable, Equatable {
    /// Tensors in file order.
    public var tensors: [(name: String, tensor: Tensor)]
    /// The `__metadata__` strings.
    public var metadata: [String: String]

    public init(tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor called `name`, if present.
    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }?.tensor
    }

    public static func == (lhs: SafetensorsFile, rhs: SafetensorsFile) -> Bool {
        lhs.metadata == rhs.metadata && lhs.tensors.count == rhs.tensors.count
            && zip(lhs.tensors, rhs.tensors).allSatisfy { $0.name == $1.name && $0.tensor == $1.tensor }
    }

    /// The file's bytes.
    public func encoded() throws(ModelError) -> [UInt8] {
        var seen: Set<String> = []
        for (name, _) in tensors {
            guard !name.isEmpty, name != Safetensors.metadataKey else {
                throw ModelError(
                    code: "safetensors.invalid_name",
                    message: "a tensor name must be non-empty and not '\(Safetensors.metadataKey)'")
            }
            guard seen.insert(name).inserted else {
                throw ModelError(
                    code: "safetensors.duplicate_name",
                    message: "tensor name '\(name)' is used twice; names must be unique")
            }
        }
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += Safetensors.jsonString(Safetensors.metadataKey) + ":{"
            header += metadata.keys.sorted().map {
                Safetensors.jsonString($0) + ":" + Safetensors.jsonString(metadata[$0]!)
            }
            .joined(separator: ",")
            header += "}"
            first = false
        }
        var offset = 0
        for (name, tensor) in tensors {
            let end = offset + tensor.values.count * 4
            if !first { header += "," }
            first = false
            header += Safetensors.jsonString(name)
            header += ":{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],"
            header += "\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out += $0 }
        out += headerBytes
        for (_, tensor) in tensors {
            #if _endian(little)
            // float32 already is IEEE 754 little-endian in memory here: one bulk copy per tensor.
            // Appending 4 bytes per value cost ~20 ms per 10⁶-parameter checkpoint, every round.
            tensor.values.withUnsafeBytes { out.append(contentsOf: $0) }
            #else
            for value in tensor.values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 }
            }
            #endif
        }
        return out
    }

    /// Parses and validates safetensors bytes; `source` names them in errors.
    public static func decode(_ bytes: [UInt8], source: String = "safetensors") throws(ModelError) -> SafetensorsFile {
        func fail(_ code: String, _ message: String) -> ModelError {
            ModelError(code: "safetensors.\(code)", message: "\(source): \(message)")
        }
        guard bytes.count >= 8 else {
            throw fail(
                "truncated",
                "the file has \(bytes.count) bytes, fewer than the 8-byte header length; it is not a safetensors file")
        }
        let declared = bytes[0..<8].enumerated().reduce(UInt64(0)) {
            $0 | UInt64($1.element) << (8 * UInt64($1.offset))
        }
        guard declared <= UInt64(Safetensors.maximumHeaderSize) else {
            throw fail(
                "header_too_large",
                "the header length \(declared) exceeds the limit of \(Safetensors.maximumHeaderSize) bytes")
        }
        let headerLength = Int(declared)
        guard 8 + headerLength <= bytes.count else {
            throw fail(
                "truncated", "the header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let headerBytes = bytes[8..<8 + headerLength]
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw fail("invalid_header", "the JSON header must start with '{'")
        }
        let header: Safetensors.Header
        do {
            header = try JSONDecoder().decode(Safetensors.Header.self, from: Data(headerBytes))
        } catch let error as DecodingError {
            throw fail("invalid_header", "the JSON header is malformed: \(FeatureSchema.describe(error))")
        } catch {
            throw fail("invalid_header", "the JSON header is malformed: \(error)")
        }
        let dataStart = 8 + headerLength
        let bufferLength = bytes.count - dataStart
        // Ranges must tile the buffer: sorted by start, each begins where the previous ended.
        let ordered = header.entries.sorted {
            ($0.value.dataOffsets.first ?? 0, $0.key) < ($1.value.dataOffsets.first ?? 0, $1.key)
        }
        var expectedBegin = 0
        var tensors: [(name: String, tensor: Tensor)] = []
        for (name, entry) in ordered {
            guard entry.dtype == "F32" else {
                throw fail(
                    "unsupported_dtype",
                    "tensor '\(name)' has dtype \(entry.dtype); Cohort exchanges F32 only — "
                        + "convert it to float32 before saving (e.g. array.astype(numpy.float32))")
            }
            guard entry.dataOffsets.count == 2 else {
                throw fail(
                    "invalid_offsets",
                    "tensor '\(name)' needs data_offsets [begin, end], got \(entry.dataOffsets.count) numbers")
            }
            let begin = entry.dataOffsets[0]
            let end = entry.dataOffsets[1]
            guard begin >= 0, end >= begin else {
                throw fail(
                    "invalid_offsets",
                    "tensor '\(name)' has data_offsets [\(begin), \(end)]; begin must be ≥ 0 and ≤ end")
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }), let count = Safetensors.elementCount(entry.shape),
                count.multipliedReportingOverflow(by: 4).partialValue == end - begin, count <= Int.max / 4
            else {
                throw fail(
                    "invalid_offsets",
                    "tensor '\(name)' has shape \(entry.shape) but \(end - begin) bytes; "
                        + "an F32 tensor takes 4 bytes per element")
            }
            guard begin == expectedBegin else {
                throw fail(
                    "invalid_offsets",
                    begin < expectedBegin
                        ? "tensor '\(name)' overlaps the previous tensor (starts at \(begin), previous ends at \(expectedBegin))"
                        : "the data buffer has a gap before tensor '\(name)' (bytes \(expectedBegin)..<\(begin) belong to no tensor)"
                )
            }
            guard end <= bufferLength else {
                throw fail(
                    "truncated",
                    "tensor '\(name)' ends at byte \(end) of the data buffer, which has only \(bufferLength) bytes")
            }
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                for index in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: dataStart + begin + 4 * index, as: UInt32.self)
                    values[index] = Float(bitPattern: UInt32(littleEndian: bits))
                }
            }
            tensors.append((name, try Tensor(shape: entry.shape, values: values)))
            expectedBegin = end
        }
        guard expectedBegin == bufferLength else {
            throw fail(
                "invalid_offsets",
                "the data buffer has \(bufferLength - expectedBegin) trailing bytes that belong to no tensor")
        }
        return SafetensorsFile(tensors: tensors, metadata: header.metadata)
    }

    /// Reads and validates the safetensors file at `path`.
    public static func read(path: String) throws(ModelError) -> SafetensorsFile {
        let bytes: [UInt8]
        do {
            bytes = try DurableFile.read(path)
        } catch {
            throw ModelError(code: "safetensors.unreadable_file", message: "cannot read \(path): \(error.message)")
        }
        return try decode(bytes, source: path)
    }

    /// Writes the file to `path` atomically: temporary name, fsync, rename, directory fsync.
    public func write(path: String) throws(ModelError) {
        let bytes = try encoded()
        do {
            try DurableFile.writeAtomically(bytes, to: path)
        } catch {
            throw ModelError(code: "safetensors.unwritable_file", message: "cannot write \(path): \(error.message)")
        }
    }
}

/// Constants and helpers of the safetensors format.
public enum Safetensors {
    /// The reserved header key of the string-to-string metadata.
    public static let metadataKey = "__metadata__"
    /// The largest header accepted (the reference implementation's limit, 100 MB).
    public static let maximumHeaderSize = 100_000_000

    /// The product of `shape`, or nil on overflow.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    struct Header: Decodable {
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]

        struct Key: CodingKey {
            let stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            for key in container.allKeys {
                if key.stringValue == Safetensors.metadataKey {
                    metadata = try container.decode([String: String].self, forKey: key)
                } else {
                    entries[key.stringValue] = try container.decode(Entry.self, forKey: key)
                }
            }
        }
    }
}
