import CoreMetrics

/// The coordinator's metrics through the swift-metrics facade; the process chooses the backend
/// (Prometheus in `cohort-coordinator`) by passing its factory in the configuration.
///
/// Names follow Prometheus conventions; labels carry outcomes and gate names, never participant
/// data.
struct CoordinatorMetrics: Sendable {
    let factory: any MetricsFactory

    func roundEnded(outcome: String) {
        Counter(label: "cohort_rounds_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    func roundDuration(seconds: Double) {
        Timer(label: "cohort_round_duration_seconds", dimensions: [], factory: factory).recordNanoseconds(
            Int64(seconds * 1e9))
    }

    func budget(spent: Double, remaining: Double) {
        Gauge(label: "cohort_epsilon_spent", dimensions: [], factory: factory).record(spent)
        Gauge(label: "cohort_epsilon_remaining", dimensions: [], factory: factory).record(remaining)
    }

    func participantsConnected(_ count: Int) {
        Gauge(label: "cohort_participants_connected", dimensions: [], factory: factory).record(count)
    }

    func updateNorm(_ norm: Double) {
        Recorder(label: "cohort_update_norm", dimensions: [], aggregate: true, factory: factory).record(norm)
    }

    func gateFailed(_ gate: String) {
        Counter(label: "cohort_gate_failures_total", dimensions: [("gate", gate)], factory: factory).increment()
    }

    func updateRefused(code: String) {
        Counter(label: "cohort_updates_refused_total", dimensions: [("code", code)], factory: factory).increment()
    }
}
