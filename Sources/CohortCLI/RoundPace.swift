/// Round durations and the time left, from what `cohort round status --watch` observes.
///
/// Durations come from the coordinator's own `opened_at_millis` of successive rounds, so neither
/// the polling interval nor the clock difference between this machine and the coordinator's
/// affects them: a round's duration is the time from its opening to the next round's opening
/// (the gap between rounds included, which is what an ETA needs). The pace is the mean over the
/// last `window` rounds; the ETA is the pace times the queued rounds plus what is left of the
/// current round at that pace. Only the current round's elapsed time reads this machine's clock
/// (clamped at 0 when it is behind the coordinator's). Pure: tests feed it statuses and times.
struct RoundPace: Sendable, Equatable {
    /// Rounds averaged over.
    static let window = 5

    /// Distinct rounds seen open, with their opening time (coordinator clock, ms), in order.
    private(set) var openings: [Opening] = []

    struct Opening: Sendable, Equatable {
        let round: Int
        let openedAtMillis: Int64
    }

    /// Records the round open in a status, if any.
    mutating func observe(currentRound: Int?, openedAtMillis: Int64?) {
        guard let currentRound, let openedAtMillis else { return }
        if let last = openings.last {
            // A restarted coordinator may reuse no number, but could report an older opening; ignore
            // anything that does not move forward in both round number and time.
            guard currentRound > last.round, openedAtMillis > last.openedAtMillis else { return }
        }
        openings.append(Opening(round: currentRound, openedAtMillis: openedAtMillis))
        if openings.count > Self.window + 1 { openings.removeFirst(openings.count - Self.window - 1) }
    }

    /// Mean seconds from one round's opening to the next, over the rounds seen; nil before two
    /// openings have been seen.
    var secondsPerRound: Double? {
        guard let first = openings.first, let last = openings.last, last.round > first.round else { return nil }
        return Double(last.openedAtMillis - first.openedAtMillis) / 1000 / Double(last.round - first.round)
    }

    /// The mean duration of the rounds between the last two openings seen (one round when the
    /// watch saw every opening; more when rounds are shorter than the polling interval).
    var lastRoundSeconds: (rounds: ClosedRange<Int>, seconds: Double)? {
        guard openings.count >= 2 else { return nil }
        let previous = openings[openings.count - 2]
        let last = openings[openings.count - 1]
        return (
            previous.round...(last.round - 1),
            Double(last.openedAtMillis - previous.openedAtMillis) / 1000 / Double(last.round - previous.round)
        )
    }

    /// Seconds the current round has been open, at `nowMillis` (this machine's clock).
    static func elapsedSeconds(openedAtMillis: Int64, nowMillis: Int64) -> Double {
        max(0, Double(nowMillis - openedAtMillis) / 1000)
    }

    /// Seconds until the queued rounds and the current one are done, at the observed pace; nil
    /// without a pace. 0 when nothing is running or queued.
    func etaSeconds(queued: Int, currentOpenedAtMillis: Int64?, nowMillis: Int64) -> Double? {
        if queued == 0 && currentOpenedAtMillis == nil { return 0 }
        guard let pace = secondsPerRound else { return nil }
        var left = Double(queued) * pace
        if let opened = currentOpenedAtMillis {
            left += max(0, pace - Self.elapsedSeconds(openedAtMillis: opened, nowMillis: nowMillis))
        }
        return left
    }

    /// The timing part of a watch line, e.g. `round 7 open 1.2 s · 0.43 s/round · ETA 2.1 s (5 rounds left)`.
    func describe(currentRound: Int?, currentOpenedAtMillis: Int64?, queued: Int, nowMillis: Int64) -> String {
        var parts: [String] = []
        if let currentRound, let opened = currentOpenedAtMillis {
            parts.append(
                "round \(currentRound) open \(Self.format(Self.elapsedSeconds(openedAtMillis: opened, nowMillis: nowMillis)))"
            )
        }
        if let last = lastRoundSeconds {
            parts.append(
                last.rounds.count == 1
                    ? "round \(last.rounds.lowerBound) took \(Self.format(last.seconds))"
                    : "rounds \(last.rounds.lowerBound)–\(last.rounds.upperBound) took \(Self.format(last.seconds)) each"
            )
        }
        let left = queued + (currentRound == nil ? 0 : 1)
        if left > 0 {
            if let eta = etaSeconds(queued: queued, currentOpenedAtMillis: currentOpenedAtMillis, nowMillis: nowMillis),
                let pace = secondsPerRound
            {
                parts.append(
                    "\(Self.format(pace))/round · ETA \(Self.format(eta)) (\(left) round\(left == 1 ? "" : "s") left)")
            } else {
                parts.append("ETA after the next round opens (\(left) round\(left == 1 ? "" : "s") left)")
            }
        }
        return parts.joined(separator: " · ")
    }

    /// The timing `describe` puts in words, as numbers for `--watch --json` (member `watch` of
    /// each status line). Seconds are absent (null) when not yet known.
    struct Timing: Encodable, Sendable, Equatable {
        /// The round open now and for how long (this machine's clock against the coordinator's opening).
        var currentRound: Int?
        var currentRoundOpenSeconds: Double?
        /// The rounds between the last two openings seen and the mean duration of each (the last
        /// round's duration when the watch saw every opening).
        var lastRounds: [Int]?
        var lastRoundSeconds: Double?
        /// The mean duration over the last ``RoundPace/window`` rounds seen.
        var secondsPerRound: Double?
        /// The running round plus the queued ones.
        var roundsLeft: Int
        /// Seconds until they are done at that pace; 0 when nothing is left.
        var etaSeconds: Double?

        // Explicit nulls: a reader sees every member on every line, known or not.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(currentRound, forKey: .currentRound)
            try container.encode(currentRoundOpenSeconds, forKey: .currentRoundOpenSeconds)
            try container.encode(lastRounds, forKey: .lastRounds)
            try container.encode(lastRoundSeconds, forKey: .lastRoundSeconds)
            try container.encode(secondsPerRound, forKey: .secondsPerRound)
            try container.encode(roundsLeft, forKey: .roundsLeft)
            try container.encode(etaSeconds, forKey: .etaSeconds)
        }

        enum CodingKeys: String, CodingKey {
            case currentRound, currentRoundOpenSeconds, lastRounds, lastRoundSeconds, secondsPerRound, roundsLeft
            case etaSeconds
        }
    }

    /// ``describe(currentRound:currentOpenedAtMillis:queued:nowMillis:)`` as numbers.
    func timing(currentRound: Int?, currentOpenedAtMillis: Int64?, queued: Int, nowMillis: Int64) -> Timing {
        let opened = currentRound == nil ? nil : currentOpenedAtMillis
        return Timing(
            currentRound: opened == nil ? nil : currentRound,
            currentRoundOpenSeconds: opened.map { Self.elapsedSeconds(openedAtMillis: $0, nowMillis: nowMillis) },
            lastRounds: lastRoundSeconds.map { Array($0.rounds) },
            lastRoundSeconds: lastRoundSeconds?.seconds,
            secondsPerRound: secondsPerRound,
            roundsLeft: queued + (currentRound == nil ? 0 : 1),
            etaSeconds: etaSeconds(queued: queued, currentOpenedAtMillis: opened, nowMillis: nowMillis)
        )
    }

    /// Seconds as `0.43 s`, `12.3 s`, `4 min 05 s` or `2 h 03 min`.
    static func format(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        if seconds < 10 { return String(format2: seconds) + " s" }
        if seconds < 60 { return String(Int(seconds.rounded())) + " s" }
        let total = Int(seconds.rounded())
        if total < 3600 { return "\(total / 60) min \(pad(total % 60)) s" }
        return "\(total / 3600) h \(pad(total % 3600 / 60)) min"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}

extension String {
    /// Two decimals without Foundation's locale-dependent formatting.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
