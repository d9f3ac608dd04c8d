/// Placeholder replaced by the model implementation.
enum CohortModelModule {}
