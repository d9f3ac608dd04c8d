import CohortErrors

// The coordinator's own errors under the one error protocol (kept apart from the types' files,
// which are being restructured).

extension CoordinatorError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    /// A coordinator that cannot start or stops on an error: a local failure, see its log.
    public var category: CohortErrorCategory { .internalFailure }
}

extension RoundStateMachine.InvalidTransition: CohortError {
    public var errorCode: String { "coordinator.invalid_transition" }
    public var errorMessage: String {
        description + "; this is a bug in the coordinator, please report it with the log"
    }
    public var category: CohortErrorCategory { .internalFailure }
}
