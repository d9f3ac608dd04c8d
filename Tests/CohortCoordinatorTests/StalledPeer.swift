import CohortCrypto
import CohortModel
import CohortTesting
import CohortTransport
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A participant on a real mutual-TLS socket that joins honestly (hello, attestation) and then
/// stops reading its socket altogether (`autoRead` off): what the coordinator sends piles up in
/// the kernel's buffers, then in the channel, and a sender that waits for it waits forever.
final class StalledPeer: Sendable {
    private let channel: any Channel
    /// Completed when the welcome arrived and the attestation was sent.
    let joined: EventLoopFuture<Void>

    private init(channel: any Channel, joined: EventLoopFuture<Void>) {
        self.channel = channel
        self.joined = joined
    }

    static func connect(files: ConsortiumFiles, name: String, port: Int) async throws -> StalledPeer {
        let identity = files.identity(name)
        let context = try NIOSSLContext(
            configuration: TLSConfigurationFactory(identity: identity).makeClientConfiguration())
        let attestation = try files.honestAttestation(name)
        var hello = ByteBuffer()
        FrameEncoder.encode(Frame(Hello(participantName: name)), into: &hello)
        var attest = ByteBuffer()
        FrameEncoder.encode(Frame(Attestation(json: attestation)), into: &attest)
        let group = MultiThreadedEventLoopGroup.singleton
        let joined = group.next().makePromise(of: Void.self)
        let (hi, at) = (hello, attest)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    try channel.pipeline.syncOperations.addHandler(
                        JoinThenStopReading(hello: hi, attestation: at, joined: joined))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await joined.futureResult.get()
        return StalledPeer(channel: channel, joined: joined.futureResult)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Sends the hello when the channel is active (TLS holds it until the handshake is done), the
/// attestation once the welcome begins to arrive, then turns reading off for good.
private final class JoinThenStopReading: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked Sendable: used only on its channel's event loop (NIO's handler contract).
    typealias InboundIn = ByteBuffer
    private let hello: ByteBuffer
    private let attestation: ByteBuffer
    private let joined: EventLoopPromise<Void>
    private var attested = false
    private var settled = false

    init(hello: ByteBuffer, attestation: ByteBuffer, joined: EventLoopPromise<Void>) {
        self.hello = hello
        self.attestation = attestation
        self.joined = joined
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(hello), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !attested else { return }
        attested = true
        context.writeAndFlush(NIOAny(attestation), promise: nil)
        _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
        settle(nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        settle(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(HarnessError(message: "the stalled peer's connection closed before it joined"))
        context.fireChannelInactive()
    }

    private func settle(_ error: (any Error)?) {
        guard !settled else { return }
        settled = true
        if let error { joined.fail(error) } else { joined.succeed(()) }
    }
}
