import CohortAPITypes

/// The operator API's routes, matched from a method and a path without touching a channel.
public enum APIRoute: Sendable, Equatable {
    case status
    case budget
    case participants
    case suspend(participant: String)
    case resumeParticipant(participant: String)
    case startRounds
    case abortRound
    case pause
    case resume
    case ledger
    case adoptPolicy
    case metrics
    /// `GET /v1/models/approved` or `GET /v1/models/{round}`: a released model as a Cohort model export.
    case model(ModelSelector)

    /// Which released model `GET /v1/models/...` asks for.
    public enum ModelSelector: Sendable, Equatable {
        case approved
        case round(Int)
    }

    /// The route for `method` and `path` (a query string is ignored), or the error to answer:
    /// `api.not_found` for an unknown path, `api.method_not_allowed` for a known path with another method.
    public static func match(method: String, path rawPath: String) -> Result<APIRoute, APIError> {
        let path =
            rawPath.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            ?? rawPath
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        let candidates: [(String, APIRoute)]
        switch segments {
        case ["v1", "status"]: candidates = [("GET", .status)]
        case ["v1", "budget"]: candidates = [("GET", .budget)]
        case ["v1", "participants"]: candidates = [("GET", .participants)]
        case ["v1", "rounds"]: candidates = [("POST", .startRounds)]
        case ["v1", "rounds", "abort"]: candidates = [("POST", .abortRound)]
        case ["v1", "rounds", "pause"]: candidates = [("POST", .pause)]
        case ["v1", "rounds", "resume"]: candidates = [("POST", .resume)]
        case ["v1", "ledger"]: candidates = [("GET", .ledger)]
        case ["v1", "policy"]: candidates = [("POST", .adoptPolicy)]
        case ["metrics"]: candidates = [("GET", .metrics)]
        default:
            if segments.count == 4, segments[0] == "v1", segments[1] == "participants", !segments[2].isEmpty,
                let name = segments[2].percentDecoded
            {
                switch segments[3] {
                case "suspend": candidates = [("POST", .suspend(participant: name))]
                case "resume": candidates = [("POST", .resumeParticipant(participant: name))]
                default: return .failure(.notFound(path))
                }
            } else if segments.count == 3, segments[0] == "v1", segments[1] == "models" {
                if segments[2] == "approved" {
                    candidates = [("GET", .model(.approved))]
                } else if let round = Int(segments[2]), round >= 1,
                    segments[2].utf8.allSatisfy({ (0x30...0x39).contains($0) })
                {
                    candidates = [("GET", .model(.round(round)))]
                } else {
                    return .failure(.notFound(path))
                }
            } else {
                return .failure(.notFound(path))
            }
        }
        // HEAD is not offered: every route is either a read with a body or an action.
        if let route = candidates.first(where: { $0.0 == method })?.1 { return .success(route) }
        return .failure(.methodNotAllowed(method, path, allowed: candidates.map(\.0)))
    }

    /// The methods allowed on the route's path, for the `Allow` header of a 405.
    static func allowed(path: String) -> [String] {
        ["GET", "POST"].filter { if case .success = match(method: $0, path: path) { true } else { false } }
    }
}

extension String {
    /// Decodes `%XX` escapes; nil when an escape is malformed or the result is not UTF-8.
    var percentDecoded: String? {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
