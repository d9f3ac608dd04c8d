import CohortOperatorAPI
import CohortTesting
import CohortTransport
import Foundation
import Prometheus
import Testing

/// An operator API address another listener holds cannot be bound: `api.bind_failed` names the
/// address and what to do, and the API already listening there keeps serving.
@Suite(.serialized) struct OperatorAPIBindTests {
    @Test(.timeLimit(.minutes(2)))
    func addressInUseIsRefusedWithTheAddress() async throws {
        let consortium = try await APIConsortium()
        let tls = try TLSConfigurationFactory(identity: consortium.files.coordinatorIdentity)
        do {
            let second = try await OperatorAPIServer.bind(
                host: "127.0.0.1", port: consortium.api.port, tls: tls.makeServerConfiguration(),
                coordinator: consortium.coordinator, registry: PrometheusCollectorRegistry(),
                logger: consortium.capture.logger("cohort.api"))
            Issue.record("a second operator API bound 127.0.0.1:\(second.port)")
        } catch let error as TransportError {
            #expect(error.code == "api.bind_failed")
            #expect(error.message.hasPrefix("cannot listen on 127.0.0.1:\(consortium.api.port) for the operator API"))
            #expect(error.message.hasSuffix("set api.listen to a free address, or stop the process holding it"))
        }
        // The first API is untouched.
        let status = try await consortium.client(consortium.operatorIdentity).status()
        #expect(status.state == .idle)
        await consortium.shutdown()
    }
}
