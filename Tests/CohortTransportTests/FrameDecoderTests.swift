import CohortCrypto
import NIOCore
import Testing

@testable import CohortTransport

/// The code of the WireError `body` throws, or nil.
func wireCode<T>(_ body: () throws -> T) -> String? {
    do {
        _ = try body()
        return nil
    } catch let error as WireError {
        return error.code
    } catch {
        return "unexpected: \(error)"
    }
}

@Suite("Frame codec")
struct FrameDecoderTests {
    /// The hello's protocol version is range-checked where it is decoded.
    @Test func helloDecodingNegotiatesTheProtocolVersion() throws {
        let current = try Frame(Hello(participantName: "hospital-a")).decode(Hello.self)
        #expect(current.protocolVersion == Frame.currentVersion)
        for version in [UInt16(0), Frame.currentVersion + 1] {
            let frame = Frame(Hello(participantName: "a", protocolVersion: version))
            #expect(throws: WireError.self) { try frame.decode(Hello.self) }
            do {
                _ = try Frame(Hello(participantName: "a", protocolVersion: version)).decode(Hello.self)
            } catch {
                #expect(error.code == "protocol.version_unsupported" && error.closesConnection)
                #expect(error.message.contains("version \(version)"))
                #expect(error.message.contains("version \(Frame.currentVersion)"))
            }
        }
    }

    private func header(
        magic: [UInt8] = Frame.magic, version: UInt16 = 1, type: UInt8, flags: UInt8 = 0, length: UInt32
    ) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeBytes(magic)
        buffer.writeInteger(version, endianness: .big)
        buffer.writeInteger(type)
        buffer.writeInteger(flags)
        buffer.writeInteger(length, endianness: .big)
        return buffer
    }

    private func encoded(_ frame: Frame) -> ByteBuffer {
        var buffer = ByteBuffer()
        FrameEncoder.encode(frame, into: &buffer)
        return buffer
    }

    @Test func headerLayoutIsBigEndian() {
        let bytes = Array(encoded(Frame(Bye(reason: "ok"))).readableBytesView)
        #expect(bytes == Array("CHRT".utf8) + [0, 1, 10, 0, 0, 0, 0, 4, 0, 2] + Array("ok".utf8))
    }

    @Test func decodesByteByByteAndSeveralFramesAtOnce() throws {
        let frames = [
            Frame(Hello(participantName: "alpha", capabilities: ["record-level-dp"])),
            Frame(Ping()),
            Frame(EvaluateRequest(round: 3, model: [1, -2.5, .pi])),
        ]
        var all = ByteBuffer()
        for frame in frames {
            var one = encoded(frame)
            all.writeBuffer(&one)
        }

        var decoder = FrameDecoder()
        var input = ByteBuffer()
        var output: [Frame] = []
        for byte in all.readableBytesView {
            input.writeInteger(byte)
            while let frame = try decoder.next(from: &input) { output.append(frame) }
        }
        #expect(output == frames)

        var decoder2 = FrameDecoder()
        var whole = all
        var output2: [Frame] = []
        while let frame = try decoder2.next(from: &whole) { output2.append(frame) }
        #expect(output2 == frames)
        #expect(try decoder2.finish(from: &whole) == nil)
    }

    @Test func oversizedFrameIsRejectedFromTheHeaderAlone() throws {
        var limits = FrameLimits()
        limits[.hello] = 100
        var decoder = FrameDecoder(limits: limits)
        var buffer = header(type: FrameType.hello.rawValue, length: 101)  // no payload bytes at all
        var thrown: WireError?
        do { _ = try decoder.next(from: &buffer) } catch { thrown = error }
        #expect(thrown?.code == "wire.frame_too_large")
        #expect(thrown?.closesConnection == true)
        // The decoder stays failed.
        var more = encoded(Frame(Ping()))
        let again = wireCode { try decoder.next(from: &more) }
        #expect(again == "wire.frame_too_large")
        // Exactly at the limit is fine.
        var ok = FrameDecoder(limits: limits)
        var atLimit = header(type: FrameType.hello.rawValue, length: 100)
        #expect(try ok.next(from: &atLimit) == nil)
        #expect(ok.state == .awaitingPayload(FrameHeader(version: 1, type: .hello, flags: [], payloadLength: 100)))
    }

    @Test func defaultLimitsAreDocumentedValues() {
        let limits = FrameLimits()
        #expect(limits[.hello] == 4096)
        #expect(limits[.error] == 16 * 1024)
        #expect(limits[.attestation] == 256 * 1024)
        #expect(limits[.update] == 65 * 1024 * 1024)
        #expect(FrameLimits(maxTensorBytes: .max)[.update] == .max)
    }

    @Test func truncatedFrameAtEOF() throws {
        var decoder = FrameDecoder()
        var buffer = encoded(Frame(Bye(reason: "goodbye")))
        buffer.moveWriterIndex(to: buffer.writerIndex - 3)
        #expect(try decoder.next(from: &buffer) == nil)
        let truncated = wireCode { try decoder.finish(from: &buffer) }
        #expect(truncated == "wire.truncated_frame")

        var headerOnly = FrameDecoder()
        var partialHeader = ByteBuffer(bytes: Array("CHRT".utf8) + [0, 1])
        #expect(try headerOnly.next(from: &partialHeader) == nil)
        let code1 = wireCode { try headerOnly.finish(from: &partialHeader) }
        #expect(code1 == "wire.truncated_frame")

        var clean = FrameDecoder()
        var empty = ByteBuffer()
        #expect(try clean.finish(from: &empty) == nil)
    }

    @Test func unknownFrameType() throws {
        var decoder = FrameDecoder()
        var buffer = header(type: 200, length: 0)
        let code2 = wireCode { try decoder.next(from: &buffer) }
        #expect(code2 == "wire.unknown_frame_type")
    }

    @Test func badMagicIsSeenFromTheFirstByte() {
        var decoder = FrameDecoder()
        var buffer = ByteBuffer(string: "G")  // e.g. an HTTP client: "GET / …"
        let code3 = wireCode { try decoder.next(from: &buffer) }
        #expect(code3 == "wire.bad_magic")
        var full = FrameDecoder()
        var wrong = header(magic: Array("CHRX".utf8), type: 1, length: 0)
        let code4 = wireCode { try full.next(from: &wrong) }
        #expect(code4 == "wire.bad_magic")
    }

    @Test func unsupportedVersionAndFlags() {
        var decoder = FrameDecoder()
        var buffer = header(version: 2, type: 1, length: 0)
        let code5 = wireCode { try decoder.next(from: &buffer) }
        #expect(code5 == "wire.unsupported_version")
        var zero = FrameDecoder()
        var v0 = header(version: 0, type: 1, length: 0)
        let code6 = wireCode { try zero.next(from: &v0) }
        #expect(code6 == "wire.unsupported_version")
        var flagged = FrameDecoder()
        var flags = header(type: 1, flags: 0x80, length: 0)
        let code7 = wireCode { try flagged.next(from: &flags) }
        #expect(code7 == "wire.unsupported_flags")
    }

    @Test func everyPayloadRoundTrips() throws {
        let nonce = [UInt8](repeating: 0xAB, count: 32)
        let payloads: [any FramePayload] = [
            Hello(participantName: "alpha", capabilities: ["a", "b"]),
            Welcome(
                coordinatorSealingKey: [UInt8](repeating: 1, count: 32), sessionNonce: nonce,
                model: ModelSpec(dimension: 31)),
            Attestation(json: Array(#"{"rows":569}"#.utf8)),
            RoundInvite(
                round: 7, roundNonce: nonce, deadlineMillis: 1_700_000_000_000,
                globalModel: [0, 1, -1, .greatestFiniteMagnitude], trainingParameters: Array("{}".utf8)),
            Update(
                round: 7, roundNonce: nonce, participantName: "alpha", sealed: [1, 2, 3],
                signature: [UInt8](repeating: 5, count: 64)),
            UpdateAck(round: 7, updateDigest: [UInt8](repeating: 3, count: 32)),
            EvaluateRequest(round: 7, model: [0.5]),
            EvaluationResult(round: 7, json: Array(#"{"auc":0.9}"#.utf8)),
            RoundResult(round: 7, json: Array(#"{"released":true}"#.utf8)),
            Bye(reason: "done"),
            WireError(code: "update.non_finite", message: "coordinate 3 is NaN", closesConnection: false),
            Ping(),
        ]
        #expect(Set(payloads.map { type(of: $0).frameType }) == Set(FrameType.allCases))
        for payload in payloads {
            try roundTrip(payload)
        }
    }

    private func roundTripTyped<P: FramePayload & Equatable>(_ payload: P) throws {
        var buffer = encoded(Frame(payload))
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.next(from: &buffer))
        #expect(try frame.decode(P.self) == payload)
    }

    private func roundTrip(_ payload: any FramePayload) throws {
        switch payload {
        case let p as Hello: try roundTripTyped(p)
        case let p as Welcome: try roundTripTyped(p)
        case let p as Attestation: try roundTripTyped(p)
        case let p as RoundInvite: try roundTripTyped(p)
        case let p as Update: try roundTripTyped(p)
        case let p as UpdateAck: try roundTripTyped(p)
        case let p as EvaluateRequest: try roundTripTyped(p)
        case let p as EvaluationResult: try roundTripTyped(p)
        case let p as RoundResult: try roundTripTyped(p)
        case let p as Bye: try roundTripTyped(p)
        case let p as WireError: try roundTripTyped(p)
        case let p as Ping: try roundTripTyped(p)
        default: Issue.record("no round trip for \(type(of: payload))")
        }
    }

    @Test func malformedPayloadsAreRejected() throws {
        // Wrong type.
        let code8 = wireCode { try Frame(Ping()).decode(Hello.self) }
        #expect(code8 == "wire.unexpected_frame")
        // A tensor count larger than the bytes present must not allocate or crash.
        var liar = ByteBuffer()
        liar.writeInteger(UInt64(1), endianness: .big)
        liar.writeInteger(UInt32.max, endianness: .big)
        let frame = Frame(type: .evaluateRequest, payload: liar)
        let code9 = wireCode { try frame.decode(EvaluateRequest.self) }
        #expect(code9 == "wire.malformed_payload")
        // Trailing bytes.
        var trailing = ByteBuffer()
        Bye(reason: "x").encode(into: &trailing)
        trailing.writeInteger(UInt8(0))
        #expect(throws: WireError.self) { try Frame(type: .bye, payload: trailing).decode(Bye.self) }
        // Invalid UTF-8.
        var utf8 = ByteBuffer()
        utf8.writeInteger(UInt16(1), endianness: .big)
        utf8.writeInteger(UInt8(0xFF))
        #expect(throws: WireError.self) { try Frame(type: .bye, payload: utf8).decode(Bye.self) }
    }

    @Test func tensorsAreRawLittleEndianFloat32() {
        #expect(TensorCoding.encode([1.0, -2.0]) == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0])
        let values: [Float] = [0, -0.0, 1e-38, .infinity, -.infinity, 3.25]
        #expect(TensorCoding.decode(TensorCoding.encode(values)) == values)
        #expect(TensorCoding.decode(TensorCoding.encode([.nan]))[0].isNaN)
        let large = (0..<100_000).map { Float($0) * 0.5 }
        #expect(TensorCoding.decode(TensorCoding.encode(large)) == large)
    }

    @Test func updateSignatureBindsRoundNonceNameAndPayload() throws {
        let key = Ed25519.KeyPair.generate()
        let nonce = [UInt8](repeating: 1, count: 32)
        let update = Update.signed(
            round: 4, roundNonce: nonce, participantName: "alpha", sealed: [9, 9, 9], signingKey: key)
        #expect(update.hasValidSignature(publicKey: key.publicKey))
        var replayed = update
        replayed.round = 5
        #expect(!replayed.hasValidSignature(publicKey: key.publicKey))
        var renamed = update
        renamed.participantName = "beta"
        #expect(!renamed.hasValidSignature(publicKey: key.publicKey))
        var altered = update
        altered.sealed = [9, 9, 8]
        #expect(!altered.hasValidSignature(publicKey: key.publicKey))
        var otherNonce = update
        otherNonce.roundNonce = [UInt8](repeating: 2, count: 32)
        #expect(!otherNonce.hasValidSignature(publicKey: key.publicKey))
        #expect(!update.hasValidSignature(publicKey: Ed25519.KeyPair.generate().publicKey))
        #expect(update.sealedDigest == CohortCrypto.SHA256.digest([9, 9, 9]))
        #expect(update.hasValidSignature(publicKey: key.publicKey, sealedDigest: update.sealedDigest))
        #expect(
            !update.hasValidSignature(publicKey: key.publicKey, sealedDigest: CohortCrypto.SHA256.digest([9, 9, 8])))
    }

    /// The BoringSSL-backed digest used for sealed updates and checkpoints is the libsodium one,
    /// across block boundaries and for a multi-megabyte buffer.
    @Test func bulkSHA256EqualsLibsodiumSHA256() {
        for count in [0, 1, 55, 56, 63, 64, 65, 1000, 4 << 20] {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            #expect(BulkSHA256.digest(bytes) == CohortCrypto.SHA256.digest(bytes), "length \(count)")
        }
        #expect(
            BulkSHA256.hexDigest(Array("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite("Large frames")
struct LargeFrameTests {
    @Test func largePayloadArrivingInPiecesIsGatheredIntoOneBuffer() throws {
        let model = (0..<100_000).map { Float($0) * 0.5 }
        let frame = Frame(EvaluateRequest(round: 9, model: model))
        var wire = ByteBuffer()
        FrameEncoder.encode(frame, into: &wire)
        var decoder = FrameDecoder(limits: FrameLimits(maxTensorBytes: 1 << 24))
        var decoded: [Frame] = []
        var input = ByteBuffer()
        while wire.readableBytes > 0 {
            var piece = wire.readSlice(length: min(16_000, wire.readableBytes))!
            input.writeBuffer(&piece)
            while let next = try decoder.next(from: &input) { decoded.append(next) }
            // The caller's buffer never holds more than one piece of a gathered payload.
            #expect(input.readableBytes <= 16_000)
        }
        #expect(decoded == [frame])
        // One allocation for the payload (NIO rounds capacities up to a power of two).
        #expect((decoded.first?.payload.capacity ?? 0) < 2 * frame.payload.readableBytes)
        #expect(try decoded.first?.decode(EvaluateRequest.self).model == model)
        #expect(decoder.state == .awaitingHeader)
    }

    @Test func truncatedGatheredPayloadIsReportedAtEOF() throws {
        var wire = ByteBuffer()
        FrameEncoder.encode(Frame(EvaluateRequest(round: 1, model: [Float](repeating: 1, count: 50_000))), into: &wire)
        var decoder = FrameDecoder(limits: FrameLimits(maxTensorBytes: 1 << 24))
        var input = wire.readSlice(length: wire.readableBytes - 10)!
        #expect(try decoder.next(from: &input) == nil)
        var thrown: WireError?
        do { _ = try decoder.finish(from: &input) } catch { thrown = error }
        #expect(thrown?.code == "wire.truncated_frame")
        #expect(thrown?.message.contains("\(wire.readableBytes - 10)") == true)
    }

    @Test func sealedFrameIsAValidSignedUpdateAndReceivedUpdateReadsItInPlace() throws {
        let recipient = SealedBox.KeyPair.generate()
        let signer = Ed25519.KeyPair.generate()
        let plaintext = [UInt8](repeating: 7, count: 300_000)
        let nonce = [UInt8](repeating: 0xAB, count: 32)
        let frame = try plaintext.withUnsafeBytes {
            try Update.sealedFrame(
                round: 4, roundNonce: nonce, participantName: "alpha", plaintext: $0, to: recipient.publicKey,
                signingKey: signer)
        }
        let update = try frame.decode(Update.self)
        #expect(update.round == 4 && update.roundNonce == nonce && update.participantName == "alpha")
        #expect(update.hasValidSignature(publicKey: signer.publicKey))
        #expect(try recipient.open(update.sealed) == plaintext)
        let received = try frame.decode(ReceivedUpdate.self)
        #expect(received.sealedDigest == update.sealedDigest)
        #expect(received.hasValidSignature(publicKey: signer.publicKey, sealedDigest: received.sealedDigest))
        #expect(Frame(received) == frame)
        #expect(received.withSealedBytes { Array($0) } == update.sealed)
    }
}
