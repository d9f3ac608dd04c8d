import ArgumentParser
import CohortAPITypes
import CohortErrors

/// The `cohort` exit status of every error: decided here and nowhere else.
///
/// 0 success; 1 the API refused or failed the request (or a local failure); 2 a local input
/// (option, file, certificate, key, policy) is invalid; 3 the API refused the certificate's role;
/// 4 the API could not be reached (connect, TLS, timeout).
enum CLIExit {
    static let failure = ExitCode(1)
    static let inputError = ExitCode(2)
    static let forbidden = ExitCode(3)
    static let unreachable = ExitCode(4)

    /// The exit status for `error`.
    static func code(for error: any CohortError) -> ExitCode {
        // The API's answer to a request is the server's verdict, not a local input problem, so an
        // API error other than a forbidden role is "the API refused" (1) whatever its category.
        if error is APIError { return error.category == .forbidden ? forbidden : failure }
        switch error.category {
        case .invalidInput: return inputError
        case .forbidden: return forbidden
        case .unavailable: return unreachable
        case .notFound, .conflict, .internalFailure: return failure
        }
    }
}
