/// Placeholder replaced by the ledger implementation.
enum CohortLedgerModule {}
