import NIOCore
import Testing

@testable import CohortTransport

/// What the server-side decoder keeps from a peer in each admission phase, and the byte budget
/// all connections' partial large frames share.
@Suite("Connection admission and the partial-frame budget")
struct AdmissionTests {
    private func encoded(_ frame: Frame) -> ByteBuffer {
        var buffer = ByteBuffer()
        FrameEncoder.encode(frame, into: &buffer)
        return buffer
    }

    /// A header announcing `length` bytes of `type`, followed by `sent` payload bytes.
    private func partial(_ type: FrameType, length: Int, sent: Int) -> ByteBuffer {
        var buffer = ByteBuffer()
        FrameEncoder.encodeHeader(
            of: Frame(type: type, payload: ByteBuffer(repeating: 0, count: length)), into: &buffer)
        buffer.writeRepeatingByte(1, count: sent)
        return buffer
    }

    @Test func bytesBeforeAuthenticationAndAfterARefusalAreDroppedUnread() throws {
        let admission = ConnectionAdmission(.unauthenticated)
        var decoder = FrameDecoder(admission: admission)
        var input = encoded(Frame(Hello(participantName: "alpha")))
        #expect(try decoder.next(from: &input) == nil)
        #expect(input.readableBytes == 0)
        admission.advance(to: .awaitingHello)
        admission.close()
        // A refusal is final: nothing advances a closed connection again.
        admission.advance(to: .session)
        #expect(admission.phase == .closed)
        var more = partial(.update, length: 1 << 20, sent: 100_000)
        #expect(try decoder.next(from: &more) == nil)
        #expect(more.readableBytes == 0)
    }

    @Test func eachPhaseAcceptsOnlyItsFrames() throws {
        let phases: [(ConnectionAdmission.Phase, accepted: Set<FrameType>)] = [
            (.awaitingHello, [.hello, .bye, .ping]),
            (.awaitingAttestation, [.attestation, .bye, .ping]),
            (.session, Set(FrameType.allCases)),
        ]
        for (phase, accepted) in phases {
            for type in FrameType.allCases {
                var decoder = FrameDecoder(admission: ConnectionAdmission(phase))
                var input = partial(type, length: 16, sent: 16)
                let code = wireCode { try decoder.next(from: &input) }
                if accepted.contains(type) {
                    #expect(code == nil, "\(type) in \(phase)")
                } else {
                    #expect(code == WireError.Code.unexpectedFrame, "\(type) in \(phase)")
                    // Refused from the header: not even the header is consumed, let alone the payload kept.
                    #expect(input.readableBytes == Frame.headerLength + 16)
                }
            }
        }
    }

    @Test func largePartialFramesShareOneBudgetAndReleaseIt() throws {
        let length = 200_000
        let budget = PartialFrameBudget(capacity: length + length / 2)
        var first = FrameDecoder(admission: ConnectionAdmission(.session), budget: budget)
        var second = FrameDecoder(admission: ConnectionAdmission(.session), budget: budget)
        var firstInput = partial(.update, length: length, sent: length / 2)
        #expect(try first.next(from: &firstInput) == nil)
        #expect(budget.reserved == length)
        var secondInput = partial(.update, length: length, sent: 10)
        #expect(wireCode { try second.next(from: &secondInput) } == WireError.Code.busy)
        #expect(budget.reserved == length)
        // The first frame completes: its reservation returns, and a new decoder can reserve.
        var rest = ByteBuffer(repeating: 1, count: length / 2)
        let frame = try #require(try first.next(from: &rest))
        #expect(frame.payload.readableBytes == length)
        #expect(budget.reserved == 0)
        var third = FrameDecoder(admission: ConnectionAdmission(.session), budget: budget)
        var thirdInput = partial(.update, length: length, sent: 10)
        #expect(try third.next(from: &thirdInput) == nil)
        #expect(budget.reserved == length)
        // A connection that ends gives its reservation back.
        third.releaseBudget()
        #expect(budget.reserved == 0)
        // So does one that fails or is refused mid-frame.
        var fourth = FrameDecoder(admission: ConnectionAdmission(.session), budget: budget)
        var fourthInput = partial(.update, length: length, sent: 10)
        _ = try fourth.next(from: &fourthInput)
        #expect(budget.reserved == length)
        var cut = ByteBuffer()
        #expect(wireCode { try fourth.finish(from: &cut) } == WireError.Code.truncatedFrame)
        #expect(budget.reserved == 0)
    }

    @Test func smallFramesNeedNoBudget() throws {
        let budget = PartialFrameBudget(capacity: 0)
        var decoder = FrameDecoder(admission: ConnectionAdmission(.session), budget: budget)
        var input = encoded(Frame(Hello(participantName: "alpha")))
        #expect(try decoder.next(from: &input) != nil)
    }
}
