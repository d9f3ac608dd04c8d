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

/// The pipeline's frame writer: the same bytes as ``FrameEncoder``, without copying payloads,
/// and handing large payloads to the TLS handler a slice at a time as the socket drains.
///
/// The header goes out as its own 12-byte buffer and the payload buffer is passed on as it is
/// (slices of it share its storage). `MessageToByteHandler(FrameEncoder())` copied every payload
/// (4 MB per update or invitation at 10⁶ parameters) into one buffer per connection that then
/// kept that size for the connection's lifetime; a frame sent to many connections (the round
/// invitation) now shares one payload.
///
/// NIOSSL encrypts everything flushed to it into one ciphertext buffer before writing it to the
/// socket, so a 4 MB frame used to cost another 4 MB of ciphertext per connection until the peer
/// had read it all: 32 MB on a coordinator inviting 8 participants. Payloads longer than
/// ``chunkSize`` are therefore passed on in slices of that size, each flushed on its own, and
/// only while the channel is writable; the rest waits for `channelWritabilityChanged`. Frame
/// order, flush semantics and write promises (a frame's promise completes with its last slice)
/// are preserved; an output close waits until queued frames are out, a full close first passes
/// them all on.
public final class FrameWriteHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = Frame
    public typealias InboundOut = Frame
    public typealias OutboundIn = Frame
    public typealias OutboundOut = ByteBuffer

    /// Payload bytes passed on at a time.
    public static let chunkSize = 256 * 1024

    private struct Pending {
        var bytes: ByteBuffer
        let promise: EventLoopPromise<Void>?
        var flushed: Bool
    }

    /// Buffers not yet passed on, in order; empty unless a large payload is being paced.
    private var queue = CircularBuffer<Pending>()
    /// An output close requested while frames were still queued.
    private var pendingOutputClose: (promise: EventLoopPromise<Void>?, requested: Bool) = (nil, false)
    private var pumping = false

    /// Creates the handler.
    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = Self.unwrapOutboundIn(data)
        var header = context.channel.allocator.buffer(capacity: Frame.headerLength)
        FrameEncoder.encodeHeader(of: frame, into: &header)
        if queue.isEmpty && frame.payload.readableBytes <= Self.chunkSize {
            guard frame.payload.readableBytes > 0 else {
                context.write(Self.wrapOutboundOut(header), promise: promise)
                return
            }
            // A failed header write fails the channel, so the payload's promise reports it.
            context.write(Self.wrapOutboundOut(header), promise: nil)
            context.write(Self.wrapOutboundOut(frame.payload), promise: promise)
            return
        }
        if frame.payload.readableBytes == 0 {
            queue.append(Pending(bytes: header, promise: promise, flushed: false))
        } else {
            queue.append(Pending(bytes: header, promise: nil, flushed: false))
            queue.append(Pending(bytes: frame.payload, promise: promise, flushed: false))
        }
    }

    public func flush(context: ChannelHandlerContext) {
        guard !queue.isEmpty else {
            context.flush()
            return
        }
        for index in queue.indices { queue[index].flushed = true }
        pump(context: context)
        // Writes passed on directly before the queue began still need this flush.
        context.flush()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .output && !queue.isEmpty {
            // After the queued frames, as a socket's output close comes after its pending writes.
            if !pendingOutputClose.requested || pendingOutputClose.promise == nil {
                pendingOutputClose = (promise, true)
            } else if let promise {
                pendingOutputClose.promise!.futureResult.cascade(to: promise)
            }
            return
        }
        if mode == .all && !queue.isEmpty {
            // A full close does not wait for the socket to drain; what was queued goes to the
            // TLS handler now, as it would have without pacing, so it is not lost to the close.
            let remaining = queue
            queue.removeAll()
            for entry in remaining { context.write(Self.wrapOutboundOut(entry.bytes), promise: entry.promise) }
            context.flush()
            if pendingOutputClose.requested {
                pendingOutputClose.promise?.succeed(())
                pendingOutputClose = (nil, false)
            }
        }
        context.close(mode: mode, promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        failQueued(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failQueued(ChannelError.ioOnClosedChannel)
    }

    /// Passes on flushed buffers, a slice at a time, while the channel accepts them.
    private func pump(context: ChannelHandlerContext) {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        while context.channel.isWritable, let first = queue.first, first.flushed {
            if first.bytes.readableBytes <= Self.chunkSize {
                let entry = queue.removeFirst()
                context.write(Self.wrapOutboundOut(entry.bytes), promise: entry.promise)
            } else {
                let slice = queue[queue.startIndex].bytes.readSlice(length: Self.chunkSize)!
                context.write(Self.wrapOutboundOut(slice), promise: nil)
            }
            // NIOSSL encrypts on flush; the socket's writability then reflects what is left.
            context.flush()
        }
        if queue.isEmpty && pendingOutputClose.requested {
            let promise = pendingOutputClose.promise
            pendingOutputClose = (nil, false)
            context.close(mode: .output, promise: promise)
        }
    }

    private func failQueued(_ error: any Error) {
        let failed = queue
        queue.removeAll()
        for entry in failed { entry.promise?.fail(error) }
        if pendingOutputClose.requested {
            let promise = pendingOutputClose.promise
            pendingOutputClose = (nil, false)
            promise?.fail(error)
        }
    }
}
