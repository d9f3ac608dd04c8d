public enum CohortCLIPlaceholder {}
