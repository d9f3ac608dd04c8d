import ArgumentParser
import CohortAPIClient

extension BudgetCommand {
    /// `cohort budget status`: the running coordinator's budget, over the API.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The running coordinator's budget: ε spent, cap, what is left and the next round's projection (operator API)."
        )
        @OptionGroup var options: APIOptions

        func run() async throws {
            try await options.run { client in
                let budget = try await client.budget()
                if options.json { try options.printJSON(budget) } else { print(StatusRendering.budgetLine(budget)) }
            }
        }
    }
}
