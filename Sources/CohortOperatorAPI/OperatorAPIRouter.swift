import CohortAPITypes
import CohortCoordinator
import CohortTransport
import Foundation
import Logging
import Prometheus

/// Answers one request: matches the route, decodes the body, asks the coordinator (which decides
/// and logs authorisation) and encodes the answer. Never throws: every failure is an ``APIError``.
struct OperatorAPIRouter: Sendable {
    let coordinator: Coordinator
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    func respond(to request: APIRequest, principal: ControlPrincipal) async -> APIResponse {
        let route: APIRoute
        switch APIRoute.match(method: request.method, path: request.path) {
        case .success(let matched): route = matched
        case .failure(let error): return .error(error)
        }
        do {
            return try await perform(route, request: request, principal: principal)
        } catch let error as APIError {
            return .error(error)
        } catch let error as ControlError {
            return .error(APIError(error))
        } catch {
            logger.error("request failed", metadata: ["cohort.principal": "\(principal)", "cohort.error": "\(error)"])
            return .error(.internalFailure)
        }
    }

    private func perform(
        _ route: APIRoute, request: APIRequest, principal: ControlPrincipal
    ) async throws -> APIResponse {
        switch route {
        case .status:
            try await coordinator.authorize(principal, .readStatus)
            return .json(await coordinator.status(for: principal.role))
        case .budget:
            try await coordinator.authorize(principal, .readBudget)
            return .json(await coordinator.budgetStatus())
        case .participants:
            try await coordinator.authorize(principal, .readParticipants)
            return .json(ParticipantList(participants: await coordinator.participantStatuses()))
        case .suspend(let name):
            try await coordinator.authorize(principal, .suspendParticipant)
            let body = try decode(ReasonRequest.self, from: request.body, optional: true) ?? ReasonRequest()
            return .json(try await coordinator.suspend(participant: name, reason: body.reason ?? "", by: principal))
        case .resumeParticipant(let name):
            return .json(try await coordinator.reinstate(participant: name, by: principal))
        case .startRounds:
            // Authorise before looking at the body, so a refused caller learns nothing from validation.
            try await coordinator.authorize(principal, .startRounds)
            guard let body = try decode(RoundsRequest.self, from: request.body, optional: false) else {
                throw APIError.badRequest("the body must be a JSON object with an integer field `count`")
            }
            return .json(try await coordinator.requestRounds(body.count, by: principal), status: 202)
        case .abortRound:
            try await coordinator.authorize(principal, .abortRound)
            let body = try decode(ReasonRequest.self, from: request.body, optional: true) ?? ReasonRequest()
            return .json(try await coordinator.abortRound(reason: body.reason ?? "", by: principal))
        case .pause:
            return .json(try await coordinator.pause(by: principal))
        case .resume:
            return .json(try await coordinator.resume(by: principal))
        case .ledger:
            let bytes = try await coordinator.ledgerBytes(by: principal)
            return APIResponse(status: 200, contentType: "application/x-ndjson", body: bytes)
        case .adoptPolicy:
            try await coordinator.authorize(principal, .adoptPolicy)
            guard let yaml = String(validating: request.body, as: UTF8.self), !yaml.isEmpty else {
                throw APIError.badRequest("the body must be the policy as UTF-8 YAML (Content-Type: application/yaml)")
            }
            return .json(try await coordinator.adoptPolicy(yaml: yaml, by: principal))
        case .model(let selector):
            let round: Int?
            switch selector {
            case .approved: round = nil
            case .round(let number): round = number
            }
            let bytes = try await coordinator.exportModel(round: round, by: principal)
            return APIResponse(status: 200, contentType: "application/octet-stream", body: bytes)
        case .metrics:
            try await coordinator.authorize(principal, .readMetrics)
            var body = registry.emitToBuffer()
            if principal.role != .operator { body = Self.withoutOperatorOnlyMetrics(body) }
            return APIResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: body)
        }
    }

    /// Metric families only operators may read: the record unit's per-silo update norms are exact
    /// functions of silo records (docs/PRIVACY.md, channel table).
    static let operatorOnlyMetrics = ["cohort_update_norm"]

    /// `exposition` (Prometheus text) without the samples, HELP and TYPE lines of the
    /// operator-only families.
    static func withoutOperatorOnlyMetrics(_ exposition: [UInt8]) -> [UInt8] {
        let lines = exposition.split(separator: 0x0A, omittingEmptySubsequences: false)
        let kept = lines.filter { line in
            let text = String(decoding: line, as: UTF8.self)
            let name = text.hasPrefix("# ") ? String(text.split(separator: " ").dropFirst(2).first ?? "") : text
            return !operatorOnlyMetrics.contains { family in
                name == family || name.hasPrefix(family + "_") || name.hasPrefix(family + "{")
                    || name.hasPrefix(family + " ")
            }
        }
        return Array(kept.joined(separator: [0x0A]))
    }

    /// Decodes a JSON body; an empty body is nil when `optional`. Errors name the field.
    func decode<T: Decodable>(_ type: T.Type, from body: [UInt8], optional: Bool) throws(APIError) -> T? {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            if optional { return nil }
            throw APIError.badRequest("the request needs a JSON body")
        }
        do {
            return try APIJSON.decoder().decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            throw APIError.badRequest(Self.describe(error))
        } catch {
            throw APIError.badRequest("the body is not valid JSON")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey], _ key: (any CodingKey)? = nil) -> String {
            let names = (path + (key.map { [$0] } ?? [])).map { key in
                key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue)
            }
            return names.isEmpty ? "the body" : "field `\(names.joined(separator: "."))`"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(field(context.codingPath)) must be \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(field(context.codingPath)) must be \(typeName(type)), not null"
        case .keyNotFound(let key, let context):
            return "missing \(field(context.codingPath, key))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "the body is not valid JSON" : "\(field(context.codingPath)) is malformed"
        @unknown default:
            return "the body does not match the expected JSON"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is String.Type: "a string"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "a JSON object"
        }
    }

    private static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }
}
