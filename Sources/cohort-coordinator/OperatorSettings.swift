import CohortPolicy

/// Where the operator API listens and where governance alerts go: the one place that decides them.
///
/// The API follows the policy in force (the one the ledger names, which may be an adopted one);
/// the alert hook is host configuration only (command-line flags), never the policy: the policy
/// can be replaced through the operator API, and must not choose what this host executes or
/// where it connects.
struct OperatorSettings: Equatable {
    /// `HOST:PORT` for the operator API; nil leaves the API off.
    var apiListen: String?

    /// `--api-listen` overrides `api.listen` of the policy in force. The API is served when either
    /// is given; who may use it is always the policy in force's `api` lists (none without an
    /// `api` section), checked by `Coordinator.authorize` for live adoptions and restarts alike.
    static func resolve(apiListenOption: String?, policyInForce policy: Policy) -> OperatorSettings {
        OperatorSettings(apiListen: apiListenOption ?? policy.api?.listen)
    }

    /// Splits `HOST:PORT` (`[::1]:7444` for IPv6); nil when malformed.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }
}
