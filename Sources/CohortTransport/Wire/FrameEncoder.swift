import NIOCore

/// Writes frames: header then payload.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = Frame

    /// Creates the encoder.
    public init() {}

    /// Appends the encoding of `frame` to `buffer`.
    public static func encode(_ frame: Frame, into buffer: inout ByteBuffer) {
        precondition(frame.payload.readableBytes <= Int(UInt32.max), "frame payload exceeds the 4 GiB length field")
        buffer.reserveCapacity(minimumWritableBytes: Frame.headerLength + frame.payload.readableBytes)
        buffer.writeBytes(Frame.magic)
        buffer.writeInteger(frame.version, endianness: .big)
        buffer.writeInteger(frame.type.rawValue)
        buffer.writeInteger(frame.flags.rawValue)
        buffer.writeInteger(UInt32(frame.payload.readableBytes), endianness: .big)
        var payload = frame.payload
        buffer.writeBuffer(&payload)
    }

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        Self.encode(data, into: &out)
    }
}
