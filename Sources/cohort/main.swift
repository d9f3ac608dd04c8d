import CohortCLI

CohortCommand.main()
