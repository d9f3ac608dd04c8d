import CohortPrivacy

/// The hyper-parameters of a record-level DP-FedSGD run, and the noise they need.
///
/// Each round: every record of every participant is sampled with probability q, clipped to C;
/// the coordinator adds N(0, σ²C²) (discrete, on the fixed-point grid) to the sum, divides by
/// q·N and takes a server step. σ is the smallest noise multiplier whose RDP accounting over
/// `rounds` rounds stays within `targetEpsilon` at `delta` (Mironov, Talwar & Zhang 2019 for the
/// subsampled Gaussian; conversion to (ε, δ) by Canonne, Kamath & Steinke 2020, Prop. 12 — see
/// CohortPrivacy's `RDPAccountant`).
public struct DPFedSGDPlan: Sendable, Codable, Equatable {
    /// Poisson sampling rate q per record per round.
    public var samplingRate: Double
    /// Per-record L2 clipping bound C.
    public var clippingBound: Double
    /// Number of rounds T.
    public var rounds: Int
    /// Server learning rate applied to the noised mean gradient.
    public var serverLearningRate: Double
    /// Server momentum μ.
    public var serverMomentum: Double
    /// The ε the whole run may spend.
    public var targetEpsilon: Double
    /// The δ at which ε is stated.
    public var delta: Double

    public init(
        samplingRate: Double, clippingBound: Double, rounds: Int, serverLearningRate: Double,
        serverMomentum: Double = 0, targetEpsilon: Double, delta: Double
    ) {
        self.samplingRate = samplingRate
        self.clippingBound = clippingBound
        self.rounds = rounds
        self.serverLearningRate = serverLearningRate
        self.serverMomentum = serverMomentum
        self.targetEpsilon = targetEpsilon
        self.delta = delta
    }

    enum CodingKeys: String, CodingKey {
        case rounds, delta
        case samplingRate = "sampling_rate"
        case clippingBound = "clipping_bound"
        case serverLearningRate = "server_learning_rate"
        case serverMomentum = "server_momentum"
        case targetEpsilon = "target_epsilon"
    }

    /// The smallest noise multiplier σ whose *charged* ε (the discrete-Gaussian charge the
    /// coordinator ledgers, `DiscreteGaussianCharge`) meets the target, with the ε it reaches.
    public func noisePlan() throws(PrivacyError) -> NoisePlan {
        try PrivacyCalculator.chargedNoiseMultiplier(
            targetEpsilon: targetEpsilon, delta: delta, samplingRate: samplingRate, rounds: rounds
        )
    }

    /// The plan measured for the WDBC demo (3 hospitals, ≈ 455 training records): see
    /// `DPFedSGDTests` for the accuracy it reaches on the held-out split.
    public static let wdbcDemo = DPFedSGDPlan(
        samplingRate: 0.2, clippingBound: 1, rounds: 50, serverLearningRate: 0.5, serverMomentum: 0.5,
        targetEpsilon: 3, delta: 1e-5
    )

    /// The plan measured for the credit demo (4 banks, ≈ 3,563 training records): see
    /// `DPFedSGDTests` for the ROC AUC it reaches on the held-out split.
    public static let creditDemo = DPFedSGDPlan(
        samplingRate: 0.1, clippingBound: 2, rounds: 50, serverLearningRate: 1, serverMomentum: 0.5,
        targetEpsilon: 3, delta: 1e-5
    )

    /// The hidden widths of the MLP demos: one layer of 16 units (513 parameters on WDBC's 30
    /// features). Wider layers add parameters — and noise, whose norm grows with √d at a fixed
    /// σ·C — faster than they add accuracy on a few hundred records.
    public static let mlpDemoHidden = [16]

    /// The MLP plan for the WDBC demo: the logistic plan's q, C, rounds and momentum (σ depends
    /// only on q, rounds and the target, so the privacy side is unchanged) with tanh units.
    /// Measured in docs/MODEL.md ("MLP"); the server learning rate stays 0.5: with 16 hidden
    /// units a step of 1 overshoots under this noise.
    public static let wdbcMLPDemo = DPFedSGDPlan(
        samplingRate: 0.2, clippingBound: 1, rounds: 50, serverLearningRate: 0.5, serverMomentum: 0.5,
        targetEpsilon: 3, delta: 1e-5
    )

    /// The MLP plan for the credit demo: the logistic plan's q, C, rounds, learning rate and
    /// momentum. Measured in docs/MODEL.md ("MLP").
    public static let creditMLPDemo = DPFedSGDPlan(
        samplingRate: 0.1, clippingBound: 2, rounds: 50, serverLearningRate: 1, serverMomentum: 0.5,
        targetEpsilon: 3, delta: 1e-5
    )
}
