/// Request and response bodies of the operator API that are not coordinator state.

/// `POST /v1/rounds` body.
public struct RoundsRequest: Codable, Sendable, Equatable {
    public var count: Int
    public init(count: Int) { self.count = count }
}

/// Body of `POST /v1/rounds/abort` and `POST /v1/participants/{name}/suspend` (optional).
public struct ReasonRequest: Codable, Sendable, Equatable {
    public var reason: String?
    public init(reason: String? = nil) { self.reason = reason }
}

/// `GET /v1/participants` response.
public struct ParticipantList: Codable, Sendable, Equatable {
    public var participants: [ParticipantStatus]
    public init(participants: [ParticipantStatus]) { self.participants = participants }
}
