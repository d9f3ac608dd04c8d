import NIOCore

/// The frame decoder as a pure state machine over a `ByteBuffer`: feed it bytes, take frames out.
///
/// The header is validated as soon as its 12 bytes are present: bad magic, an unsupported version,
/// an unknown type, unknown flags and a payload over ``FrameLimits`` are all rejected from the
/// header alone, so an oversized frame never causes its payload to be buffered. After an error
/// the decoder stays failed: the stream is no longer aligned on frame boundaries.
public struct FrameDecoder: Sendable {
    /// Where the decoder is.
    public enum State: Sendable, Hashable {
        /// Waiting for the 12 header bytes.
        case awaitingHeader
        /// The header was valid; waiting for its payload.
        case awaitingPayload(FrameHeader)
        /// An error was reported; no further frames are decoded.
        case failed(WireError)
    }

    /// The current state.
    public private(set) var state: State = .awaitingHeader
    /// Per-type payload limits.
    public let limits: FrameLimits
    /// Protocol versions accepted in headers.
    public let supportedVersions: ClosedRange<UInt16>
    /// The bytes received so far of a large payload (see ``gatherThreshold``).
    private var partialPayload: ByteBuffer?
    /// Server side: which frames the connection's admission phase lets in (nil: all, within `limits`).
    public let admission: ConnectionAdmission?
    /// Server side: the budget large partial payloads are reserved from (nil: unbounded).
    public let budget: PartialFrameBudget?
    /// Bytes of `budget` this decoder holds for the payload it is gathering.
    private var reservedBytes = 0

    /// Payloads at least this long are gathered into one buffer allocated for their size (NIO
    /// rounds it up to a power of two) as their bytes arrive, instead of staying in the caller's buffer until complete. In a pipeline
    /// that buffer is `ByteToMessageHandler`'s cumulation buffer, which would otherwise grow by
    /// doubling (copying at each step) to the size of the largest frame and keep that capacity
    /// for the connection's lifetime: 4 MB per connection for 10⁶-parameter updates.
    public static let gatherThreshold = 64 * 1024

    /// Creates a decoder.
    /// - Parameters:
    ///   - limits: per-type payload limits.
    ///   - supportedVersions: protocol versions accepted in headers.
    ///   - admission: on a server connection, the phase that decides which frames may arrive yet;
    ///     bytes arriving before authentication or after a refusal are discarded unread.
    ///   - budget: on a server, the byte budget shared by every connection's partial payloads.
    public init(
        limits: FrameLimits = FrameLimits(), supportedVersions: ClosedRange<UInt16> = 1...Frame.currentVersion,
        admission: ConnectionAdmission? = nil, budget: PartialFrameBudget? = nil
    ) {
        self.limits = limits
        self.supportedVersions = supportedVersions
        self.admission = admission
        self.budget = budget
    }

    /// Returns what this decoder holds of the shared budget (a connection that ends, or a frame
    /// that completes or fails).
    public mutating func releaseBudget() {
        if reservedBytes > 0 { budget?.release(reservedBytes) }
        reservedBytes = 0
    }

    /// Decodes the next complete frame from `buffer`, consuming its bytes; nil when more bytes are
    /// needed.
    public mutating func next(from buffer: inout ByteBuffer) throws(WireError) -> Frame? {
        if let admission, admission.phase == .closed || admission.phase == .unauthenticated {
            // Nothing from a peer that is not (or no longer) admitted is kept.
            buffer.moveReaderIndex(to: buffer.writerIndex)
            partialPayload = nil
            releaseBudget()
            return nil
        }
        switch state {
        case .failed(let error):
            throw error
        case .awaitingHeader:
            guard buffer.readableBytes >= Frame.headerLength else {
                // Reject a wrong magic as soon as it is visible, so a peer speaking another
                // protocol gets an answer without having to send 12 bytes.
                let visible = min(buffer.readableBytes, Frame.magic.count)
                if let prefix = buffer.getBytes(at: buffer.readerIndex, length: visible),
                    prefix != Array(Frame.magic.prefix(visible))
                {
                    return try fail(.badMagic(prefix))
                }
                return nil
            }
            let header = try parseHeader(buffer)
            buffer.moveReaderIndex(forwardBy: Frame.headerLength)
            state = .awaitingPayload(header)
            return try next(from: &buffer)
        case .awaitingPayload(let header):
            let length = Int(header.payloadLength)
            guard var gathered = partialPayload else {
                if let payload = buffer.readSlice(length: length) {
                    state = .awaitingHeader
                    return Frame(type: header.type, payload: payload, flags: header.flags, version: header.version)
                }
                guard length >= Self.gatherThreshold else { return nil }
                if let budget {
                    guard budget.reserve(length) else {
                        return try fail(.busy(header.type, length: header.payloadLength, budget: budget.capacity))
                    }
                    reservedBytes = length
                }
                partialPayload = ByteBufferAllocator().buffer(capacity: length)
                return try next(from: &buffer)
            }
            // Moved out of the property while it grows, so the write never copies it.
            partialPayload = nil
            var piece = buffer.readSlice(length: min(buffer.readableBytes, length - gathered.readableBytes))!
            gathered.writeBuffer(&piece)
            guard gathered.readableBytes == length else {
                partialPayload = gathered
                return nil
            }
            state = .awaitingHeader
            releaseBudget()
            return Frame(type: header.type, payload: gathered, flags: header.flags, version: header.version)
        }
    }

    /// Called at end of stream: decodes what is complete and reports a truncated frame when bytes
    /// of an unfinished frame remain.
    public mutating func finish(from buffer: inout ByteBuffer) throws(WireError) -> Frame? {
        if let frame = try next(from: &buffer) { return frame }
        switch state {
        case .failed(let error):
            throw error
        case .awaitingHeader:
            guard buffer.readableBytes == 0 else {
                return try fail(.truncatedFrame(have: buffer.readableBytes, expected: nil))
            }
            return nil
        case .awaitingPayload(let header):
            return try fail(
                .truncatedFrame(
                    have: Frame.headerLength + (partialPayload?.readableBytes ?? 0) + buffer.readableBytes,
                    expected: Frame.headerLength + Int(header.payloadLength)
                )
            )
        }
    }

    private mutating func parseHeader(_ buffer: ByteBuffer) throws(WireError) -> FrameHeader {
        let start = buffer.readerIndex
        let magic = buffer.getBytes(at: start, length: 4)!
        guard magic == Frame.magic else { return try fail(.badMagic(magic)) }
        let version = buffer.getInteger(at: start + 4, endianness: .big, as: UInt16.self)!
        guard supportedVersions.contains(version) else {
            return try fail(.unsupportedVersion(version, supported: supportedVersions))
        }
        let rawType = buffer.getInteger(at: start + 6, as: UInt8.self)!
        guard let type = FrameType(rawValue: rawType) else { return try fail(.unknownFrameType(rawType)) }
        let flags = FrameFlags(rawValue: buffer.getInteger(at: start + 7, as: UInt8.self)!)
        guard FrameFlags.known.isSuperset(of: flags) else { return try fail(.unsupportedFlags(flags.rawValue)) }
        let length = buffer.getInteger(at: start + 8, endianness: .big, as: UInt32.self)!
        guard length <= limits[type] else {
            return try fail(.frameTooLarge(type, length: length, limit: limits[type]))
        }
        if let admission, admission.accepts(type) == false {
            return try fail(.notYetAdmitted(type, phase: admission.phase))
        }
        return FrameHeader(version: version, type: type, flags: flags, payloadLength: length)
    }

    private mutating func fail<T>(_ error: WireError) throws(WireError) -> T {
        state = .failed(error)
        partialPayload = nil
        releaseBudget()
        throw error
    }
}

/// Drives ``FrameDecoder`` from a channel pipeline.
public struct FrameByteDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame

    private var machine: FrameDecoder

    /// Creates the pipeline decoder.
    public init(
        limits: FrameLimits = FrameLimits(), admission: ConnectionAdmission? = nil, budget: PartialFrameBudget? = nil
    ) {
        machine = FrameDecoder(limits: limits, admission: admission, budget: budget)
    }

    public mutating func decoderRemoved(context: ChannelHandlerContext) {
        machine.releaseBudget()
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try machine.next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        guard let frame = try machine.finish(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }
}
