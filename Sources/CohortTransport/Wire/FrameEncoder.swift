import NIOCore

/// Writes frames: header then payload.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = Frame

    /// Creates the encoder.
    public init() {}

    /// Appends the encoding of `frame` to `buffer`.
    public static func encode(_ frame: Frame, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: Frame.headerLength + frame.payload.readableBytes)
        encodeHeader(of: frame, into: &buffer)
        var payload = frame.payload
        buffer.writeBuffer(&payload)
    }

    /// Appends the 12-byte header of `frame` to `buffer`.
    static func encodeHeader(of frame: Frame, into buffer: inout ByteBuffer) {
        precondition(frame.payload.readableBytes <= Int(UInt32.max), "frame payload exceeds the 4 GiB length field")
        buffer.writeBytes(Frame.magic)
        buffer.writeInteger(frame.version, endianness: .big)
        buffer.writeInteger(frame.type.rawValue)
        buffer.writeInteger(frame.flags.rawValue)
        buffer.writeInteger(UInt32(frame.payload.readableBytes), endianness: .big)
    }

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        Self.encode(data, into: &out)
    }
}

/// The pipeline's frame writer: the same bytes as ``FrameEncoder``, without copying payloads.
///
/// The header goes out as its own 12-byte buffer and the payload buffer is passed on as it is.
/// `MessageToByteHandler(FrameEncoder())` copied every payload (4 MB per update or invitation
/// at 10⁶ parameters) into one buffer per connection that then kept that size for the
/// connection's lifetime; a frame sent to many connections (the round invitation) now shares
/// one payload.
public final class FrameWriteHandler: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = Frame
    public typealias OutboundOut = ByteBuffer

    /// Creates the handler.
    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = Self.unwrapOutboundIn(data)
        var header = context.channel.allocator.buffer(capacity: Frame.headerLength)
        FrameEncoder.encodeHeader(of: frame, into: &header)
        guard frame.payload.readableBytes > 0 else {
            context.write(Self.wrapOutboundOut(header), promise: promise)
            return
        }
        // A failed header write fails the channel, so the payload's promise reports it.
        context.write(Self.wrapOutboundOut(header), promise: nil)
        context.write(Self.wrapOutboundOut(frame.payload), promise: promise)
    }
}
