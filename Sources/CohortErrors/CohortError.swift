/// An error Cohort reports to a person or a peer: a stable code and a message.
///
/// Every error that can leave a process — in a wire error frame, an HTTP response, a CLI's
/// standard error and exit status, a log line — conforms. Each destination maps it in one place:
/// `WireError.init(_:closesConnection:)` (CohortTransport) for error frames,
/// `APIError.init(_:)` (CohortOperatorAPI) for HTTP statuses, `CLIExit.code(for:)` (CohortCLI)
/// for the `cohort` exit status. docs/ERRORS.md lists every code with its meaning and remedy;
/// a test fails when a code in Sources/ is missing from it.
public protocol CohortError: Error, Sendable, CustomStringConvertible {
    /// The stable code, `area.reason` (e.g. `wire.frame_too_large`): peers, scripts and
    /// dashboards match on it, so it never changes meaning.
    var errorCode: String { get }
    /// What was wrong, where, and what to do. Never key material, update values or raw records.
    var errorMessage: String { get }
    /// What kind of failure it is: decides the HTTP status and the CLI exit status.
    var category: CohortErrorCategory { get }
}

/// What kind of failure an error is, independent of where it is reported.
public enum CohortErrorCategory: String, Sendable, Codable, CaseIterable {
    /// The input (a file, an option, a policy, a request, a peer's frame) is invalid: fix it and retry.
    case invalidInput = "invalid_input"
    /// The caller's identity is not allowed to do this.
    case forbidden
    /// The named thing does not exist.
    case notFound = "not_found"
    /// The request conflicts with the current state (no round to abort, a field that cannot change).
    case conflict
    /// A peer or service could not be reached, or did not answer in time: retry later.
    case unavailable
    /// A local failure (storage, an internal invariant): see the log; not the caller's fault.
    case internalFailure = "internal"
}
