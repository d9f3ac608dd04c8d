/// Human- and machine-readable views of ledger entries, for `cohort ledger show|export|report`.
/// Pure functions of the entries, so they are tested without a process.
public enum LedgerRendering {
    /// One display row per entry.
    public struct Row: Sendable, Equatable {
        public let seq: Int
        public let time: String
        public let kind: String
        public let round: Int?
        public let roundEpsilon: Double?
        public let cumulativeEpsilon: Double?
        /// A short description: gate outcomes, refusal reasons, model digests.
        public let detail: String
    }

    /// The display row of `entry`.
    public static func row(_ entry: LedgerEntry) -> Row {
        let record = try? entry.record()
        var roundEpsilon: Double? = nil
        var cumulative: Double? = nil
        let detail: String
        switch record {
        case .genesis(let p)?:
            detail = "ε_max \(format(p.epsilonMax)) at δ \(format(p.delta)), policy \(p.policySHA256.prefix(12))…"
        case .policyAdopted(let p)?:
            detail =
                "ε_max \(format(p.oldEpsilonMax)) → \(format(p.newEpsilonMax)) by \(p.operatorName)"
                + (p.changes.map { changes in
                    "; changed: "
                        + (changes.isEmpty
                            ? "nothing"
                            : changes.map { "\($0.field) \($0.old.display) → \($0.new.display)" }.joined(
                                separator: ", "))
                } ?? "")
        case .roundOpened(let p)?:
            detail =
                (p.participantsSampled.map { "\($0) of \(p.participantsEligible) participants" }
                    ?? "sample of \(p.participantsEligible) participants committed to "
                    + "(\(p.sampleCommitment?.prefix(12) ?? "")…)")
                + ", \(p.mechanism)"
                + (p.plan.map {
                    ", plan: \($0.unit.rawValue)-level, q \(format($0.samplingRate)), σ \(format($0.noiseMultiplier)), \($0.chargeMethod.rawValue)"
                } ?? "")
        case .roundCharged(let p)?:
            roundEpsilon = p.roundEpsilon
            cumulative = p.cumulativeEpsilon
            detail =
                "\(p.unit.rawValue)-level, q \(format(p.samplingRate)), σ \(format(p.noiseMultiplier)), "
                + (p.contributorsCommitment.map { "contributors committed to (\($0.prefix(12))…), " }
                    ?? "\(p.contributors.count) contributors, ")
                + (p.chargeMethod?.rawValue ?? "\(p.effectiveChargeMethod.rawValue) (unnamed)")
        case .roundClosed(let p)?:
            detail =
                "model \(p.modelSHA256.prefix(12))…"
                + (p.evaluationSHA256.map { ", evaluation \($0.prefix(12))…" } ?? "")
                + (p.participantsSampled.map { ", \($0) sampled, \(p.contributorsCount ?? 0) contributed" } ?? "")
        case .roundRefused(let p)?:
            detail =
                "REFUSED by \(p.gate): \(p.reason) (projected ε \(format(p.projectedEpsilon)) > \(format(p.epsilonMax)))"
        case .roundAborted(let p)?:
            detail =
                "ABORTED: \(p.reason)\(p.charged ? " (charged)" : "")"
                + (p.participantsSampled.map { " (\($0) sampled, \(p.contributorsCount ?? 0) contributed)" } ?? "")
        case .gateDecision(let p)?:
            detail = "gate \(p.gate): \(p.passed ? "pass" : "FAIL")\(p.reason.isEmpty ? "" : " — \(p.reason)")"
        case .evaluationRecorded(let p)?:
            detail =
                p.evaluationSHA256.map {
                    "\(p.participantsEvaluated ?? 0) participants evaluated; metrics in the evaluation store (\($0.prefix(12))…)"
                }
                ?? p.aggregate.sorted { $0.key < $1.key }.map { "\($0.key) \(format($0.value))" }.joined(
                    separator: ", ")
        case .unknown(let kind, _)?:
            detail = "(unknown kind \(kind))"
        case nil:
            detail = "(malformed data)"
        }
        return Row(
            seq: entry.seq, time: entry.time.description, kind: entry.kind, round: record?.round,
            roundEpsilon: roundEpsilon, cumulativeEpsilon: cumulative, detail: detail)
    }

    /// A fixed-width table: seq, time, kind, round, ε round / cumulative, detail.
    public static func table(_ entries: [LedgerEntry]) -> String {
        let header = ["seq", "time", "kind", "round", "ε round", "ε cumulative", "detail"]
        var rows: [[String]] = [header]
        for entry in entries {
            let r = row(entry)
            rows.append([
                String(r.seq), r.time, r.kind, r.round.map(String.init) ?? "",
                r.roundEpsilon.map { format($0) } ?? "", r.cumulativeEpsilon.map { format($0) } ?? "", r.detail,
            ])
        }
        var widths = Array(repeating: 0, count: header.count)
        for cells in rows {
            for (index, cell) in cells.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { cells in
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// CSV (RFC 4180): seq,time,kind,round,round_epsilon,cumulative_epsilon,data — `data` is the
    /// entry's canonical JSON, quoted.
    public static func csv(_ entries: [LedgerEntry]) -> String {
        var out = "seq,time,kind,round,round_epsilon,cumulative_epsilon,data\r\n"
        for entry in entries {
            let r = row(entry)
            let fields = [
                String(r.seq), r.time, r.kind, r.round.map(String.init) ?? "",
                r.roundEpsilon.map(CanonicalJSON.numberString) ?? "",
                r.cumulativeEpsilon.map(CanonicalJSON.numberString) ?? "",
                entry.data.canonicalString,
            ]
            out += fields.map(csvField).joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func csvField(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingAll("\"", with: "\"\"") + "\""
    }

    /// A JSON array of the entries (each in canonical form, with `sig`), one per line.
    public static func json(_ entries: [LedgerEntry]) -> String {
        "[\n" + entries.map { entry in entry.json.canonicalString }.joined(separator: ",\n") + "\n]\n"
    }

    /// A number for people: up to 6 significant digits.
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return String(value) }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e-4 && magnitude < 1e6 {
            // Round to 6 significant digits, then print the shortest form of the rounded value.
            let digits = 6 - Int((log10Floor(magnitude))) - 1
            let scale = pow10(max(0, digits))
            let rounded = (value * scale).rounded() / scale
            return CanonicalJSON.numberString(rounded)
        }
        return CanonicalJSON.numberString(value)
    }

    private static func log10Floor(_ x: Double) -> Int {
        var exponent = 0
        var value = x
        while value >= 10 {
            value /= 10
            exponent += 1
        }
        while value < 1 {
            value *= 10
            exponent -= 1
        }
        return exponent
    }

    private static func pow10(_ n: Int) -> Double {
        var result = 1.0
        for _ in 0..<n { result *= 10 }
        return result
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this module).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
