import Testing
@testable import CohortModel
