/// Placeholder replaced by the transport implementation.
enum CohortTransportModule {}
