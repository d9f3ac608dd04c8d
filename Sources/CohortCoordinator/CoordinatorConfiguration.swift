import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import CoreMetrics
import Foundation
import Logging
import NIOSSL

/// Settings of a coordinator run that are not policy: where state lives and test overrides.
public struct CoordinatorConfiguration: Sendable {
    /// The loaded, validated policy.
    public var policy: PolicyLoader.Loaded
    /// State directory: `ledger.jsonl`, `checkpoints/`.
    public var stateDirectory: String
    /// Overrides the policy's listen port (0 = any free port); nil keeps the policy's.
    public var portOverride: Int?
    /// Seconds to wait for a quorum of connected participants before a round is refused. Default 60.
    public var quorumWaitSeconds: Double
    /// Model dimension for benchmarks with synthetic updates; nil derives it from the schema
    /// (encoded features + bias), which is what every real run does.
    public var modelDimension: Int?
    /// BENCHMARK ONLY: when true, no noise is drawn and the aggregate is released as if every
    /// noise sample were 0, so `cohort-bench round --no-noise` can time a round without the
    /// discrete-Gaussian draw. Such a release is NOT differentially private and the ledger's
    /// charges no longer describe it. It is SPI (`@_spi(CohortBenchmark) import`), not an init
    /// parameter, has no policy key and no `cohort-coordinator` option, so no real deployment
    /// can reach it by configuration.
    @_spi(CohortBenchmark) public var benchmarkSkipsNoise = false
    /// BENCHMARK ONLY: where the coordinator adds the time of each step of its rounds (decode,
    /// verify, open, clip, sum, noise, seal, send, fsync, checkpoint); nil, the default, times nothing.
    @_spi(CohortBenchmark) public var phaseProfile: RoundPhaseProfile?
    /// Where metrics go (e.g. a `PrometheusMetricsFactory`); nil uses the process-wide
    /// `MetricsSystem.factory`, which is a no-op unless the process bootstrapped one.
    public var metricsFactory: (any MetricsFactory)?
    /// Receives every alert (gate failure, anomaly). Where alerts go is configuration of the
    /// host (`cohort-coordinator --alert-command` / `--alert-webhook`), never of the policy, which
    /// the operator API can replace. Called off the actor; must not block.
    public var alertSink: (@Sendable (GovernanceAlert) -> Void)?
    /// The clock of every deadline and wait (quorum wait, round deadline, evaluation timeout,
    /// delivery to each participant). `ContinuousClock` by default; tests inject a manual clock.
    public var clock: CoordinatorClock = .continuous
    /// At most this many seconds for a frame to be taken by a participant's connection (a
    /// participant that stops reading is cut off then, with `session.send_timeout`); nil (the
    /// default) bounds each send by the deadline of its phase only (the round deadline for an
    /// invitation, the evaluation timeout for an evaluation request).
    public var peerSendTimeoutSeconds: Double?

    public init(
        policy: PolicyLoader.Loaded, stateDirectory: String, portOverride: Int? = nil, quorumWaitSeconds: Double = 60,
        modelDimension: Int? = nil
    ) {
        self.policy = policy
        self.stateDirectory = stateDirectory
        self.portOverride = portOverride
        self.quorumWaitSeconds = quorumWaitSeconds
        self.modelDimension = modelDimension
    }
}

/// How a round ended.
public enum RoundOutcome: Sendable, Equatable {
    case closed(round: Int, contributors: [String], roundEpsilon: Double, cumulativeEpsilon: Double)
    case refused(round: Int, gate: String, reason: String)
    case aborted(round: Int, reason: String, charged: Bool)
}

/// An error that stops the coordinator, with a stable code and what to do.
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(message) [\(code)]" }
}
