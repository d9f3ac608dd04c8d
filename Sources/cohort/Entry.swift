import CohortCLI

/// The `cohort` executable: a thin shell over `CohortCommand`.
@main
enum Entry {
    static func main() async {
        await CohortCommand.main()
    }
}
