import CohortLedger
import CohortPolicy

/// What the coordinator observed of one participant's update before clipping and aggregation.
/// Statistics only: never the update's values.
public struct UpdateObservation: Sendable, Equatable {
    /// The participant's name.
    public var participant: String
    /// L2 norm of the update before clipping.
    public var preClipNorm: Double
    /// How many contributions the update sums: q·rows for the record unit (the expected Poisson
    /// sample size), 1 for the participant unit. Norms are divided by it so silos of different
    /// sizes compare.
    public var expectedContributions: Double
    /// Cosine between this update and the previous round's released global update; nil in the
    /// first round (there is none) or when either vector is zero.
    public var cosineToPreviousUpdate: Double?
    /// Whether clipping changed the update (pre-clip norm above the bound); used by the risk score.
    public var clipped: Bool

    /// - Parameters:
    ///   - participant: the participant's name.
    ///   - preClipNorm: L2 norm before clipping.
    ///   - expectedContributions: q·rows (record unit) or 1 (participant unit).
    ///   - cosineToPreviousUpdate: cosine with the previous global update, or nil.
    ///   - clipped: whether clipping changed the update.
    public init(
        participant: String, preClipNorm: Double, expectedContributions: Double,
        cosineToPreviousUpdate: Double?, clipped: Bool
    ) {
        self.participant = participant
        self.preClipNorm = preClipNorm
        self.expectedContributions = expectedContributions
        self.cosineToPreviousUpdate = cosineToPreviousUpdate
        self.clipped = clipped
    }
}

/// Post-aggregate: flags updates whose normalised pre-clip norm is a robust outlier on the high
/// side, or whose direction opposes the previous global update.
///
/// With xᵢ = preClipNormᵢ / max(expectedContributionsᵢ, 1e-12), m = median(x),
/// MAD = median |xᵢ − m|, s = max(1.4826·MAD, mad_floor·m, 1e-12) and zᵢ = (xᵢ − m)/s, an update
/// is flagged when zᵢ > norm_z_threshold (Iglewicz & Hoaglin 1993 use the modified z-score with
/// threshold 3.5; 1.4826 makes the MAD a consistent estimator of a normal standard deviation) or
/// when its cosine with the previous global update is below min_cosine. The norm test needs at
/// least 3 observations; the direction test needs a previous update.
public enum AnomalyScreen {
    /// Why an update was flagged.
    public enum Flag: String, Sendable, Equatable, CaseIterable {
        /// Its normalised norm's robust z-score exceeds the threshold.
        case norm
        /// Its cosine with the previous global update is below the minimum.
        case direction
        /// Its norm or contribution count is not a finite number.
        case nonFinite = "non_finite"
    }

    /// The fewest observations the norm test needs.
    public static let minimumObservationsForNormTest = 3
    /// The factor that makes the MAD estimate a normal distribution's standard deviation.
    public static let madConsistency = 1.4826

    /// The screen's result.
    public struct Result: Sendable, Equatable {
        /// Passed iff no update was flagged.
        public var outcome: GateOutcome
        /// Reasons by flagged participant.
        public var flagged: [String: [String]]
        /// Flag kinds by flagged participant.
        public var flags: [String: [Flag]]
        /// Whether the norm test ran (at least 3 finite observations).
        public var normTestApplied: Bool
        /// Median m of the normalised norms (nil when the norm test was skipped).
        public var median: Double?
        /// Median absolute deviation (nil when the norm test was skipped).
        public var mad: Double?
        /// The robust scale s (nil when the norm test was skipped).
        public var scale: Double?
        /// Robust z-score by participant (unrounded; empty when the norm test was skipped).
        public var zScores: [String: Double]
        /// Participants flagged or clipped (a participant both flagged and clipped counts once):
        /// the numerator of the risk score's R3.
        public var flaggedOrClipped: Int
    }

    /// Screens one round's updates.
    ///
    /// - Parameters:
    ///   - observations: one per update that entered the aggregate.
    ///   - policy: `governance.anomaly`.
    public static func evaluate(observations: [UpdateObservation], policy: Policy.Governance.Anomaly) -> Result {
        var flags: [String: [Flag]] = [:]
        var reasons: [String: [String]] = [:]
        func flag(_ name: String, _ kind: Flag, _ reason: String) {
            flags[name, default: []].append(kind)
            reasons[name, default: []].append(reason)
        }

        // Normalised norms of the finite observations.
        var normalised: [(name: String, x: Double)] = []
        for observation in observations {
            let x = observation.preClipNorm / Swift.max(observation.expectedContributions, 1e-12)
            if x.isFinite && observation.expectedContributions.isFinite {
                normalised.append((observation.participant, x))
            } else {
                flag(
                    observation.participant, .nonFinite,
                    "pre-clip norm or expected contributions is not a finite number")
            }
        }

        var zScores: [String: Double] = [:]
        var median: Double?
        var mad: Double?
        var scale: Double?
        let normTestApplied = normalised.count >= minimumObservationsForNormTest
        if normTestApplied {
            let m = RobustStatistics.median(normalised.map(\.x))
            let deviation = RobustStatistics.median(normalised.map { abs($0.x - m) })
            let s = Swift.max(madConsistency * deviation, policy.madFloor * m, 1e-12)
            median = m
            mad = deviation
            scale = s
            for (name, x) in normalised {
                let z = (x - m) / s
                zScores[name] = z
                if z > policy.normZThreshold {
                    flag(
                        name, .norm,
                        "normalised norm z = \(GateJSON.text(z)) > norm_z_threshold \(policy.normZThreshold)")
                }
            }
        }

        var cosines: [String: JSONValue] = [:]
        let finiteCosines = observations.compactMap { $0.cosineToPreviousUpdate }.filter(\.isFinite)
        let directionTested = finiteCosines.count
        // With three or more, a direction must also stand apart from the round's median: when the
        // previous update is mostly noise every honest cosine sits near or below zero together.
        let medianCosine =
            finiteCosines.count >= minimumObservationsForNormTest ? RobustStatistics.median(finiteCosines) : nil
        for observation in observations {
            guard let cosine = observation.cosineToPreviousUpdate, cosine.isFinite else {
                cosines[observation.participant] = .null
                continue
            }
            cosines[observation.participant] = GateJSON.rounded(cosine)
            guard cosine < policy.minCosine else { continue }
            if let medianCosine {
                if cosine < medianCosine - policy.directionMargin {
                    flag(
                        observation.participant, .direction,
                        "cosine with the previous global update \(GateJSON.text(cosine)) < min_cosine \(policy.minCosine) "
                            + "and < median cosine \(GateJSON.text(medianCosine)) − direction_margin \(policy.directionMargin)"
                    )
                }
            } else {
                flag(
                    observation.participant, .direction,
                    "cosine with the previous global update \(GateJSON.text(cosine)) < min_cosine \(policy.minCosine)")
            }
        }

        let flaggedOrClipped = Set(
            observations.filter { $0.clipped || flags[$0.participant] != nil }.map(\.participant)
        ).count
        let passed = flags.isEmpty
        var notes: [String] = []
        if !normTestApplied {
            notes.append(
                "norm test skipped: \(normalised.count) observation(s), it needs at least \(minimumObservationsForNormTest)"
            )
        }
        if directionTested == 0 {
            notes.append("direction test skipped: no previous global update")
        }
        var reason: String
        if passed {
            reason = "no update flagged among \(observations.count)"
        } else {
            reason =
                "flagged "
                + reasons.keys.sorted().map { "\($0) (\(reasons[$0]!.joined(separator: "; ")))" }
                .joined(separator: ", ")
        }
        if !notes.isEmpty { reason += "; " + notes.joined(separator: "; ") }

        let inputs: [String: JSONValue] = [
            "median": median.map { GateJSON.number($0) } ?? .null,
            "mad": mad.map { GateJSON.number($0) } ?? .null,
            "scale": scale.map { GateJSON.number($0) } ?? .null,
            "norm_test_applied": .bool(normTestApplied),
            "direction_tested": .integer(directionTested),
            "z": .object(zScores.mapValues { GateJSON.rounded($0) }),
            "cosine": .object(cosines),
            "flags": .object(flags.mapValues { .array($0.map { .string($0.rawValue) }) }),
            "norm_z_threshold": GateJSON.number(policy.normZThreshold),
            "mad_floor": GateJSON.number(policy.madFloor),
            "min_cosine": GateJSON.number(policy.minCosine),
            "direction_margin": GateJSON.number(policy.directionMargin),
            "median_cosine": medianCosine.map { GateJSON.number($0) } ?? .null,
            "observations": .integer(observations.count),
            "flagged_or_clipped": .integer(flaggedOrClipped),
        ]
        return Result(
            outcome: GateOutcome(gate: .anomaly, passed: passed, reason: reason, inputs: inputs),
            flagged: reasons, flags: flags, normTestApplied: normTestApplied,
            median: median, mad: mad, scale: scale, zScores: zScores, flaggedOrClipped: flaggedOrClipped
        )
    }

    /// cos(a, b) = a·b / (‖a‖₂‖b‖₂), or nil when the lengths differ, either vector is zero, or the
    /// result is not finite.
    public static func cosine(_ a: [Double], _ b: [Double]) -> Double? {
        guard a.count == b.count, !a.isEmpty else { return nil }
        var dot = 0.0
        var normA = 0.0
        var normB = 0.0
        for index in a.indices {
            dot += a[index] * b[index]
            normA += a[index] * a[index]
            normB += b[index] * b[index]
        }
        guard normA > 0, normB > 0 else { return nil }
        let value = dot / (normA.squareRoot() * normB.squareRoot())
        guard value.isFinite else { return nil }
        return Swift.min(Swift.max(value, -1), 1)
    }
}
