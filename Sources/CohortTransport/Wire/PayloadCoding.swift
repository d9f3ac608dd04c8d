import NIOCore

/// Reads the fields of a payload, turning every shortfall into `wire.malformed_payload`.
///
/// Field encodings (all integers big-endian): strings are UInt16 length + UTF-8; byte strings
/// are UInt32 length + bytes; tensors are UInt32 element count + raw little-endian float32.
/// Lengths are checked against the bytes actually present before anything is allocated.
public struct PayloadReader {
    private var buffer: ByteBuffer
    private let type: FrameType

    init(buffer: ByteBuffer, type: FrameType) {
        self.buffer = buffer
        self.type = type
    }

    /// Reads a fixed-width big-endian integer.
    public mutating func readInteger<T: FixedWidthInteger>(_: T.Type = T.self, field: String) throws(WireError) -> T {
        guard let value = buffer.readInteger(endianness: .big, as: T.self) else {
            throw .malformed(type, "\(field) is cut short")
        }
        return value
    }

    /// Reads a boolean byte (0 or 1).
    public mutating func readBool(field: String) throws(WireError) -> Bool {
        switch try readInteger(UInt8.self, field: field) {
        case 0: return false
        case 1: return true
        case let other: throw .malformed(type, "\(field) must be 0 or 1, got \(other)")
        }
    }

    /// Reads a UInt16-length-prefixed UTF-8 string.
    public mutating func readString(field: String) throws(WireError) -> String {
        let length = Int(try readInteger(UInt16.self, field: field))
        guard let bytes = buffer.readBytes(length: length) else {
            throw .malformed(type, "\(field) announces \(length) bytes but fewer remain")
        }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw .malformed(type, "\(field) is not valid UTF-8")
        }
        return string
    }

    /// Reads a UInt32-length-prefixed byte string.
    public mutating func readBytes(field: String) throws(WireError) -> [UInt8] {
        let length = Int(try readInteger(UInt32.self, field: field))
        guard let bytes = buffer.readBytes(length: length) else {
            throw .malformed(type, "\(field) announces \(length) bytes but fewer remain")
        }
        return bytes
    }

    /// Reads a UInt32-length-prefixed byte string as a slice of the payload, without copying it.
    public mutating func readByteBuffer(field: String) throws(WireError) -> ByteBuffer {
        let length = Int(try readInteger(UInt32.self, field: field))
        guard let bytes = buffer.readSlice(length: length) else {
            throw .malformed(type, "\(field) announces \(length) bytes but fewer remain")
        }
        return bytes
    }

    /// Reads exactly `count` bytes (a fixed-size field such as a nonce or key).
    public mutating func readFixedBytes(count: Int, field: String) throws(WireError) -> [UInt8] {
        guard let bytes = buffer.readBytes(length: count) else {
            throw .malformed(type, "\(field) must be \(count) bytes")
        }
        return bytes
    }

    /// Reads a tensor: UInt32 element count, then that many little-endian float32 values.
    public mutating func readTensor(field: String) throws(WireError) -> [Float] {
        var tensor: [Float] = []
        try readTensor(field: field, into: &tensor)
        return tensor
    }

    /// Reads a tensor into `tensor`, overwriting its storage in place when it already has the
    /// announced count (no allocation when nothing else shares it), replacing it otherwise.
    public mutating func readTensor(field: String, into tensor: inout [Float]) throws(WireError) {
        let count = Int(try readInteger(UInt32.self, field: field))
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: 4)
        guard !overflow, byteCount <= buffer.readableBytes else {
            throw .malformed(
                type, "\(field) announces \(count) float32 values but only \(buffer.readableBytes) bytes remain")
        }
        let bytes = buffer.readableBytesView.prefix(byteCount)
        #if _endian(little)
        if tensor.count == count {
            tensor.withUnsafeMutableBytes { target in
                bytes.withUnsafeBytes { source in target.copyMemory(from: source) }
            }
        } else {
            tensor = TensorCoding.decode(bytes)
        }
        #else
        tensor = TensorCoding.decode(bytes)
        #endif
        buffer.moveReaderIndex(forwardBy: byteCount)
    }

    /// Reads a UInt16-count-prefixed list of strings.
    public mutating func readStringList(field: String) throws(WireError) -> [String] {
        let count = Int(try readInteger(UInt16.self, field: field))
        var result: [String] = []
        // Each element needs at least its 2-byte length, which bounds the reservation.
        result.reserveCapacity(min(count, buffer.readableBytes / 2))
        for index in 0..<count { result.append(try readString(field: "\(field)[\(index)]")) }
        return result
    }

    /// Fails when bytes are left over: a payload with trailing bytes is not what the sender meant.
    mutating func finish() throws(WireError) {
        guard buffer.readableBytes == 0 else {
            throw .malformed(type, "\(buffer.readableBytes) unexpected trailing bytes")
        }
    }
}

extension ByteBuffer {
    /// Writes a UInt16-length-prefixed UTF-8 string (truncated by the caller's validation, never here).
    public mutating func writeCohortString(_ string: String) {
        let bytes = Array(string.utf8)
        precondition(bytes.count <= Int(UInt16.max), "string field longer than 65535 bytes")
        writeInteger(UInt16(bytes.count), endianness: .big)
        writeBytes(bytes)
    }

    /// Writes a UInt32-length-prefixed byte string.
    public mutating func writeCohortBytes(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count), endianness: .big)
        writeBytes(bytes)
    }

    /// Writes a UInt16-count-prefixed list of strings.
    public mutating func writeCohortStringList(_ strings: [String]) {
        precondition(strings.count <= Int(UInt16.max), "list longer than 65535 elements")
        writeInteger(UInt16(strings.count), endianness: .big)
        for string in strings { writeCohortString(string) }
    }

    /// Writes a tensor: UInt32 element count, then raw little-endian float32 values.
    public mutating func writeCohortTensor(_ tensor: [Float]) {
        precondition(tensor.count <= Int(UInt32.max), "tensor longer than 2^32-1 elements")
        writeInteger(UInt32(tensor.count), endianness: .big)
        TensorCoding.encode(tensor, into: &self)
    }

    /// Writes a boolean as one byte.
    public mutating func writeCohortBool(_ value: Bool) {
        writeInteger(value ? UInt8(1) : UInt8(0))
    }
}

/// Raw little-endian float32 encoding of tensors (never JSON numbers: exact, compact, fast).
public enum TensorCoding {
    /// Appends `tensor` as `4 × count` little-endian bytes.
    public static func encode(_ tensor: [Float], into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: tensor.count * 4)
        #if _endian(little)
        // Float's in-memory layout already is IEEE 754 little-endian here: copy in one go.
        _ = tensor.withUnsafeBytes { buffer.writeBytes($0) }
        #else
        for value in tensor { buffer.writeInteger(value.bitPattern, endianness: .little) }
        #endif
    }

    /// The raw little-endian float32 bytes of `tensor`.
    public static func encode(_ tensor: [Float]) -> [UInt8] {
        var buffer = ByteBuffer()
        encode(tensor, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// Decodes raw little-endian float32 bytes; `bytes.count` must be a multiple of 4.
    public static func decode(_ bytes: some Collection<UInt8>) -> [Float] {
        precondition(bytes.count % 4 == 0, "tensor bytes must be a multiple of 4")
        let count = bytes.count / 4
        func load(_ raw: UnsafeRawBufferPointer) -> [Float] {
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                #if _endian(little)
                // The wire layout is the in-memory layout here: one copy.
                if count > 0 {
                    UnsafeMutableRawBufferPointer(out).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: raw[0..<(count * 4)]))
                }
                #else
                for index in 0..<count {
                    let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
                    out[index] = Float(bitPattern: bits)
                }
                #endif
                initialized = count
            }
        }
        // Avoid a copy when the bytes are already contiguous (ByteBuffer views are).
        if let tensor = bytes.withContiguousStorageIfAvailable({ load(UnsafeRawBufferPointer($0)) }) {
            return tensor
        }
        return Array(bytes).withUnsafeBytes(load)
    }
}
