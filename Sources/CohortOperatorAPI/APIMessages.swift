import CohortAPITypes
import NIOHTTP1

/// A complete request as the server hands it to the router.
struct APIRequest: Sendable {
    var method: String
    var path: String
    var headers: HTTPHeaders
    var body: [UInt8]
    var keepAlive: Bool
}

/// A response before it is written: status, content type and body.
struct APIResponse: Sendable {
    var status: Int
    var contentType: String
    var body: [UInt8]

    static func json(_ value: some Encodable, status: Int = 200) -> APIResponse {
        do {
            return APIResponse(status: status, contentType: "application/json", body: try APIJSON.encode(value))
        } catch {
            return .error(.internalFailure)
        }
    }

    static func error(_ error: APIError) -> APIResponse {
        // An error body always encodes; `try!` would be safe, but fail soft anyway.
        let body =
            (try? APIJSON.encode(APIErrorBody(error))) ?? Array(#"{"error":{"code":"api.internal","message":""}}"#.utf8)
        return APIResponse(status: error.status, contentType: "application/json", body: body)
    }
}

/// What the request aggregator passes to the connection's task.
enum APIRequestEvent: Sendable {
    /// A complete request within the limits.
    case request(APIRequest)
    /// A request refused before it was complete (too large, too slow, malformed HTTP); the
    /// connection closes after the error response.
    case rejected(APIError)
}
