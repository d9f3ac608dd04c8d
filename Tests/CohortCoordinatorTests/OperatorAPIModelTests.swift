import CohortAPIClient
import CohortCoordinator
import CohortCrypto
import CohortLedger
import CohortModel
import CohortOperatorAPI
import CohortTesting
import Foundation
import Testing

/// `GET /v1/models/{round|approved}` over real mutual TLS against a coordinator that ran a round.
@Suite(.serialized) struct OperatorAPIModelTests {
    private func errorCode(_ result: HTTPClientResult) -> String? {
        struct Body: Decodable {
            struct Detail: Decodable {
                let code: String
                let message: String
            }
            let error: Detail
        }
        return try? JSONDecoder().decode(Body.self, from: Data(result.body)).error.code
    }

    @Test func routesForModels() throws {
        #expect(try APIRoute.match(method: "GET", path: "/v1/models/approved").get() == .model(.approved))
        #expect(try APIRoute.match(method: "GET", path: "/v1/models/12").get() == .model(.round(12)))
        for path in ["/v1/models/0", "/v1/models/-1", "/v1/models/+3", "/v1/models/latest", "/v1/models/"] {
            if case .failure(let error) = APIRoute.match(method: "GET", path: path) {
                #expect(error.code == "api.not_found", "\(path)")
            } else {
                Issue.record("\(path) matched a route")
            }
        }
        if case .failure(let error) = APIRoute.match(method: "POST", path: "/v1/models/approved") {
            #expect(error.code == "api.method_not_allowed")
        } else {
            Issue.record("POST /v1/models/approved matched")
        }
    }

    @Test func operatorDownloadsTheReleasedModelAsAnExport() async throws {
        let consortium = try await APIConsortium()
        try await consortium.startParticipants()
        let op = try consortium.operatorClient
        // Before any round: nothing to download.
        let early = try await op.send(method: "GET", path: "/v1/models/1")
        #expect(early.status == 404)
        #expect(errorCode(early) == "export.unknown_round")

        _ = try await op.startRounds(1)
        let status = try await consortium.waitForStatus { $0.lastRound?.round == 1 && $0.state == .idle }
        #expect(status.lastRound?.outcome == "closed")

        let bytes = try await op.model(round: 1)
        let export = try ModelExport(safetensors: SafetensorsFile.decode(bytes, source: "api"))
        #expect(export.round == 1)
        #expect(export.tensors.map(\.name) == ["weight", "bias"])
        let ledger = try LedgerReader.read(file: consortium.stateDirectory + "/ledger.jsonl")
        let closed = ledger.entries.compactMap { entry -> RoundClosedPayload? in
            if case .roundClosed(let p)? = try? entry.record() { return p } else { return nil }
        }
        #expect(export.checkpointSHA256 == closed.first?.modelSHA256)
        let checkpoint = try DurableFileBytes.read(consortium.stateDirectory + "/checkpoints/round-000001.safetensors")
        #expect(SHA256.hexDigest(checkpoint) == export.checkpointSHA256)

        // The approved model: the one the evaluation gate promoted, or a 404 that says none is.
        let approvedRound = await consortium.coordinator.ledgerState.latestApprovedRound
        let approved = try await op.send(method: "GET", path: "/v1/models/approved")
        if let approvedRound {
            #expect(approved.status == 200)
            let file = try ModelExport(safetensors: SafetensorsFile.decode(approved.body))
            #expect(file.round == approvedRound && file.approved)
        } else {
            #expect(approved.status == 404)
            #expect(errorCode(approved) == "export.no_approved_model")
        }
        #expect(export.approved == (approvedRound == 1))

        let later = try await op.send(method: "GET", path: "/v1/models/2")
        #expect(later.status == 404)
        #expect(errorCode(later) == "export.unknown_round")
        // Auditors read the ledger, not models.
        let audited = try await consortium.auditorClient.send(method: "GET", path: "/v1/models/1")
        #expect(audited.status == 403)
        #expect(errorCode(audited) == "control.forbidden")
        await consortium.shutdown()
    }
}

/// Reads a file's bytes (tests only).
enum DurableFileBytes {
    static func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
}
