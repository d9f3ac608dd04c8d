import CohortPrivacy
import CohortTransport

/// How a round turns accepted updates into the one noised model change it releases.
///
/// An aggregation keeps O(model dimension) state whatever the number of participants: each
/// update is prepared (opened, checked, clipped) off the coordinator's actor by ``preparer``,
/// then folded into the running state by ``accumulate(_:participant:round:maximumNorm:)``. The
/// noise is added once, to the aggregate, by ``noisedMean(grid:noise:denominator:)``. The
/// anomaly screen reads the per-participant observations. Room for FedProx or robust
/// aggregators: conform another type and choose it in ``AggregationRule``.
protocol RoundAggregation: AnyObject {
    /// Opens, checks and clips one update; `Sendable`, for use off the coordinator's actor.
    var preparer: UpdatePreparer { get }
    /// The number of accepted updates.
    var count: Int { get }
    /// Pre-clip L2 norms of accepted updates, by participant.
    var preClipNorms: [String: Double] { get }
    /// Participants whose contribution was clipped.
    var clipped: Set<String> { get }
    /// Cosine between each accepted update and the previous global update, by participant.
    var cosines: [String: Double] { get }
    /// Refuses a second update from `participant` in `round`.
    func checkNotDuplicate(_ participant: String, round: UInt64) throws(UpdateRejection)
    /// Adds a prepared update; returns its pre-clip norm.
    @discardableResult
    func accumulate(
        _ prepared: PreparedUpdate, participant: String, round: UInt64, maximumNorm: Double?
    ) throws(UpdateRejection) -> Double
    /// The noised aggregate divided by `denominator` (the expected cohort size).
    func noisedMean(grid: FixedPointGrid, noise: [Int64], denominator: Double) throws(PrivacyError) -> [Float]
    /// Hands back the running sum's storage once the noised mean is taken, for the next round's
    /// aggregation (``AggregationRule/makeAggregation(dimension:reference:recycledSum:)``); the
    /// aggregation accepts nothing more afterwards.
    func recycleSum() -> [Double]
}

extension StreamingAggregator: RoundAggregation {}

/// The aggregation rules Cohort runs, one per privacy unit (docs/PRIVACY.md).
enum AggregationRule: Equatable {
    /// DP-FedAvg (McMahan et al. 2018): participants send model deltas, which the coordinator
    /// clips to C before summing (participant unit).
    case dpFedAvg(clippingBound: Double)
    /// DP-FedSGD: participants send the sum of their sampled records' gradients, each clipped
    /// to C by the participant; the coordinator sums them as sent, norm-bounded (record unit).
    case dpFedSGD

    /// The rule a round's frozen plan calls for.
    init(plan: RoundPlan) {
        switch plan.unit {
        case .participant: self = .dpFedAvg(clippingBound: plan.clippingBound)
        case .record: self = .dpFedSGD
        }
    }

    /// A fresh aggregation for one round of `dimension` values; `reference` is the previous
    /// released update, for the direction screen.
    /// `recycledSum`, the previous round's sum storage, is zeroed and reused when it has the
    /// dimension.
    func makeAggregation(
        dimension: Int, reference: [Float]?, recycledSum: consuming [Double]? = nil
    ) -> any RoundAggregation {
        switch self {
        case .dpFedAvg(let clippingBound):
            StreamingAggregator(
                dimension: dimension, clippingBound: clippingBound, reference: reference,
                recycledSum: consume recycledSum)
        case .dpFedSGD:
            StreamingAggregator(
                dimension: dimension, clippingBound: nil, reference: reference, recycledSum: consume recycledSum)
        }
    }
}
