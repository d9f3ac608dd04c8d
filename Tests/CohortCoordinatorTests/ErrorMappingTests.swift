import CohortAPITypes
import CohortCrypto
import CohortErrors
import CohortOperatorAPI
import CohortTransport
import Testing

/// The one mapping of each destination: errors to wire error frames (CohortTransport) and to HTTP
/// statuses (CohortOperatorAPI). The `cohort` exit statuses are proved on the built binary
/// (OperatorAPITests.cliRoundStatusJSONAndForbiddenExitCode: forbidden → 3).
struct ErrorMappingTests {
    @Test(arguments: [
        (CohortErrorCategory.invalidInput, 400), (.forbidden, 403), (.notFound, 404), (.conflict, 409),
        (.unavailable, 503), (.internalFailure, 500),
    ])
    func aControlRefusalGetsTheStatusOfItsCategory(category: CohortErrorCategory, status: Int) {
        let refusal = ControlError(code: "control.no_round", message: "nothing to abort", category: category)
        let answer = APIError(refusal)
        #expect(answer.status == status)
        #expect(answer.code == "control.no_round" && answer.message == "nothing to abort")
        // The client reads the category back from the status it received.
        #expect(answer.category == category)
    }

    @Test func anAPIErrorKeepsItsOwnStatus() {
        let error = APIError(code: "api.body_too_large", message: "too large", status: 413)
        #expect(APIError(error).status == 413)
    }

    @Test func anyCohortErrorBecomesAnErrorFrameWithItsCodeAndMessage() throws {
        let error = CryptoError(code: "crypto.seal_open_failed", message: "the sealed update does not open")
        let frame = WireError(error, closesConnection: false)
        #expect(frame.code == "crypto.seal_open_failed")
        #expect(frame.message == "the sealed update does not open")
        #expect(!frame.closesConnection)
        // And it survives the wire encoding.
        let decoded = try Frame(frame).decode(WireError.self)
        #expect(decoded == frame)
    }
}
