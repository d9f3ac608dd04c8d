import CohortCrypto
import NIOCore
import Testing

@testable import CohortTransport

/// Invitations that name the model the participant already holds instead of carrying it.
@Suite("Model by reference")
struct HeldModelTests {
    private let candidate: [Float] = [0.25, -1.5, 3, .leastNonzeroMagnitude, -0.0]
    private let other: [Float] = [1, 2, 3, 4, 5]

    private func invite(round: UInt64 = 2, digest: [UInt8], model: [Float] = []) -> RoundInvite {
        RoundInvite(
            round: round, roundNonce: [UInt8](repeating: 7, count: 32), deadlineMillis: 1_700_000_000_000,
            modelDigest: digest,
            globalModel: model, trainingParameters: Array("{}".utf8))
    }

    /// A round number a participant could not count (0, or past Int.max, which would trap where
    /// it records its rounds) is refused where the invitation is decoded.
    @Test func invitationRoundOutsideOneThroughIntMaxIsMalformed() throws {
        for round in [UInt64(0), UInt64(Int.max) + 1, .max] {
            let frame = Frame(invite(round: round, digest: ModelDigest.of(candidate)))
            #expect(throws: WireError.self) { try frame.decode(RoundInvite.self) }
        }
        let largest = try Frame(invite(round: UInt64(Int.max), digest: ModelDigest.of(candidate))).decode(
            RoundInvite.self)
        #expect(largest.round == UInt64(Int.max))
    }

    @Test func digestIsSHA256OfTheWireBytes() {
        // libsodium's SHA-256 over the tensor's wire encoding: an implementation independent of BulkSHA256.
        #expect(ModelDigest.of(candidate) == SHA256.digest(TensorCoding.encode(candidate)))
        #expect(ModelDigest.of(candidate) != ModelDigest.of(other))
        #expect(ModelDigest.of(candidate).count == ModelDigest.length)
    }

    @Test func referenceResolvesToTheEvaluatedCandidate() throws {
        var held = HeldModel()
        let request = EvaluateRequest(round: 1, model: candidate)
        #expect(request.modelDigest == ModelDigest.of(candidate))
        held.hold(request)
        #expect(try held.model(for: invite(digest: request.modelDigest)) == candidate)
        // Still held: a round aborted before evaluation leaves the model unchanged, and the next
        // invitation names it again.
        #expect(try held.model(for: invite(round: 3, digest: request.modelDigest)) == candidate)
    }

    @Test func fullInvitationIsUsedAndHeld() throws {
        var held = HeldModel()
        held.hold(EvaluateRequest(round: 1, model: candidate))
        let full = RoundInvite(round: 2, roundNonce: [1], deadlineMillis: 0, globalModel: other, trainingParameters: [])
        #expect(!full.refersToHeldModel)
        #expect(try held.model(for: full) == other)
        #expect(try held.model(for: invite(round: 3, digest: ModelDigest.of(other))) == other)
    }

    @Test func referenceToAnotherModelIsRefused() {
        var held = HeldModel()
        held.hold(EvaluateRequest(round: 1, model: candidate))
        #expect(wireCode { try held.model(for: invite(digest: ModelDigest.of(other))) } == WireError.Code.unknownModel)
        held.release()
        #expect(
            wireCode { try held.model(for: invite(digest: ModelDigest.of(candidate))) } == WireError.Code.unknownModel)
        var empty = HeldModel()
        do {
            _ = try empty.model(for: invite(round: 9, digest: ModelDigest.of(candidate)))
            Issue.record("a reference with nothing held was accepted")
        } catch {
            #expect(error.code == WireError.Code.unknownModel)
            #expect(error.closesConnection)
            #expect(error.message.contains("round 9"))
        }
    }

    @Test func evaluationRequestIsDecodedIntoTheHeldStorage() throws {
        var held = HeldModel()
        // The returned request is dropped at once, so only the held model refers to the storage.
        let firstAddress = try held.hold(evaluateRequestIn: Frame(EvaluateRequest(round: 1, model: candidate)))
            .model.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let secondAddress = try held.hold(evaluateRequestIn: Frame(EvaluateRequest(round: 2, model: other)))
            .model.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        #expect(firstAddress == secondAddress, "a same-size candidate was not written over the held one")
        #expect(try held.model(for: invite(round: 3, digest: ModelDigest.of(other))) == other)
        // A model still in use elsewhere is never overwritten.
        let inUse = try held.model(for: invite(round: 3, digest: ModelDigest.of(other)))
        _ = try held.hold(evaluateRequestIn: Frame(EvaluateRequest(round: 3, model: candidate)))
        #expect(inUse == other)
        #expect(try held.model(for: invite(round: 4, digest: ModelDigest.of(candidate))) == candidate)
        // Another size replaces the storage.
        let longer: [Float] = [1, 2, 3, 4, 5, 6, 7]
        _ = try held.hold(evaluateRequestIn: Frame(EvaluateRequest(round: 4, model: longer)))
        #expect(try held.model(for: invite(round: 5, digest: ModelDigest.of(longer))) == longer)
    }

    @Test func malformedEvaluationRequestLeavesNothingHeld() throws {
        var held = HeldModel()
        _ = try held.hold(evaluateRequestIn: Frame(EvaluateRequest(round: 1, model: candidate)))
        var payload = Frame(EvaluateRequest(round: 2, model: other)).payload
        payload.writeInteger(UInt8(0))  // a trailing byte
        #expect(
            wireCode { try held.hold(evaluateRequestIn: Frame(type: .evaluateRequest, payload: payload)) }
                == WireError.Code.malformedPayload)
        #expect(
            wireCode { try held.model(for: invite(digest: ModelDigest.of(candidate))) } == WireError.Code.unknownModel)
        #expect(
            wireCode { try held.hold(evaluateRequestIn: Frame(invite(digest: ModelDigest.of(candidate)))) }
                == WireError.Code.unexpectedFrame)
    }

    @Test func referenceInvitationIsSmallAndRoundTrips() throws {
        let digest = ModelDigest.of([Float](repeating: 0.5, count: 100_000))
        let reference = invite(digest: digest)
        let frame = Frame(reference)
        #expect(frame.payload.readableBytes < 200)
        let decoded = try frame.decode(RoundInvite.self)
        #expect(decoded == reference)
        #expect(decoded.refersToHeldModel)
    }

    @Test func digestOfTheWrongLengthIsMalformed() {
        let shortInvite = invite(digest: [1, 2, 3])
        #expect(wireCode { try Frame(shortInvite).decode(RoundInvite.self) } == WireError.Code.malformedPayload)
        let shortRequest = EvaluateRequest(round: 1, modelDigest: [9], model: candidate)
        #expect(wireCode { try Frame(shortRequest).decode(EvaluateRequest.self) } == WireError.Code.malformedPayload)
    }
}
