import NIOCore

/// One protocol frame: a type, flags, and an opaque payload (decode it with ``Frame/decode(_:)``).
///
/// On the wire: magic `CHRT` (4 bytes), protocol version (UInt16), frame type (UInt8), flags
/// (UInt8), payload length (UInt32), all big-endian, then the payload.
public struct Frame: Sendable, Hashable {
    /// The frame's type.
    public var type: FrameType
    /// The frame's flags; empty in protocol version 1.
    public var flags: FrameFlags
    /// The protocol version in the header.
    public var version: UInt16
    /// The payload bytes.
    public var payload: ByteBuffer

    /// The 4-byte magic that starts every frame.
    public static let magic: [UInt8] = Array("CHRT".utf8)
    /// The header length in bytes.
    public static let headerLength = 12
    /// The protocol version this build speaks.
    public static let currentVersion: UInt16 = 1

    /// Creates a frame.
    public init(type: FrameType, payload: ByteBuffer, flags: FrameFlags = [], version: UInt16 = Frame.currentVersion) {
        self.type = type
        self.flags = flags
        self.version = version
        self.payload = payload
    }

    /// A frame carrying `payload`, encoded with its binary format.
    public init<Payload: FramePayload>(_ payload: Payload) {
        var buffer = ByteBuffer()
        payload.encode(into: &buffer)
        self.init(type: Payload.frameType, payload: buffer)
    }

    /// Decodes the payload as `Payload`.
    /// - Throws: `wire.unexpected_frame` when the frame is of another type, `wire.malformed_payload`
    ///   when the bytes do not parse or have trailing garbage.
    public func decode<Payload: FramePayload>(_: Payload.Type = Payload.self) throws(WireError) -> Payload {
        try read(as: Payload.frameType) { reader throws(WireError) in try Payload(from: &reader) }
    }

    /// Runs `body` over the payload of a frame that must be of `expected` type, then checks that
    /// it read every byte; the errors of ``decode(_:)``.
    func read<Value>(
        as expected: FrameType, _ body: (inout PayloadReader) throws(WireError) -> Value
    ) throws(WireError) -> Value {
        guard type == expected else {
            throw WireError(
                code: WireError.Code.unexpectedFrame,
                message: "expected a \(expected) frame, got \(type)",
                closesConnection: true
            )
        }
        var reader = PayloadReader(buffer: payload, type: type)
        let value = try body(&reader)
        try reader.finish()
        return value
    }
}

/// A header as parsed from the wire, before its payload arrived.
public struct FrameHeader: Sendable, Hashable {
    /// The protocol version.
    public var version: UInt16
    /// The frame type.
    public var type: FrameType
    /// The flags.
    public var flags: FrameFlags
    /// The announced payload length.
    public var payloadLength: UInt32

    /// Creates a header.
    public init(version: UInt16, type: FrameType, flags: FrameFlags, payloadLength: UInt32) {
        self.version = version
        self.type = type
        self.flags = flags
        self.payloadLength = payloadLength
    }
}

/// A frame payload with a binary encoding.
public protocol FramePayload: Sendable {
    /// The frame type that carries this payload.
    static var frameType: FrameType { get }
    /// Appends the binary encoding to `buffer`.
    func encode(into buffer: inout ByteBuffer)
    /// Reads the binary encoding.
    init(from reader: inout PayloadReader) throws(WireError)
}
