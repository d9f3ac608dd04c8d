import CohortPolicy

/// Where the operator API listens and where governance alerts go: the one place that decides them.
///
/// Today they come from the command line only. When the policy gains `api.listen` and
/// `governance.alerts`, resolve them here (command-line options override the policy).
struct OperatorSettings: Equatable {
    /// `HOST:PORT` for the operator API; nil leaves the API off.
    var apiListen: String?
    /// Shell command receiving each alert's JSON on stdin; nil for none.
    var alertCommand: String?
    /// http(s) URL each alert's JSON is POSTed to; nil for none.
    var alertWebhook: String?

    /// `--api-listen` overrides the policy's `api.listen`; the alert targets are the policy's
    /// (the coordinator passes those of the policy in force with each alert).
    static func resolve(apiListenOption: String?, policy: Policy) -> OperatorSettings {
        OperatorSettings(
            apiListen: apiListenOption ?? policy.api?.listen,
            alertCommand: policy.governance.alerts.command, alertWebhook: policy.governance.alerts.webhookURL)
    }

    /// Splits `HOST:PORT` (`[::1]:7444` for IPv6); nil when malformed.
    static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
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
