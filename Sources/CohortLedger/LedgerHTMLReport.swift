/// A single self-contained HTML page about a ledger: plots of the federated-holdout accuracy,
/// ROC AUC and loss per round, of the cumulative ε against the cap and of the contributors per
/// round; then the rounds, governance decisions and refusals. Inline CSS and SVG only, no scripts
/// and no external resources, so it can be archived with an audit and opened offline.
///
/// Every plot is an `<svg data-plot="…">` whose series are `<polyline data-series="…">` (one
/// point per round) or, for contributors, one `<rect data-series="contributors">` per round.
public enum LedgerHTMLReport {
    /// Renders the report.
    /// - Parameters:
    ///   - entries: the ledger's entries in order.
    ///   - title: the page heading (e.g. the ledger's file name).
    ///   - verification: a one-line verification verdict to show, if the caller verified.
    ///   - evaluations: per-round holdout metrics from the coordinator's `evaluations.jsonl`;
    ///     nil reads them from the ledger entries that carry them (older ledgers).
    ///   - evaluationsSource: where `evaluations` came from, shown under the plot.
    ///   - sampleSizes: participant unit: each committed round's sample size and contributors, from
    ///     the coordinator's operator-only sample store (checked against the ledger's commitments
    ///     by `ParticipantSampleStore.check`); the ledger itself withholds them. Nil: such rounds
    ///     are shown as withheld.
    ///   - sampleSizesSource: where `sampleSizes` came from.
    public static func render(
        entries: [LedgerEntry], title: String, verification: String? = nil,
        evaluations: [RoundEvaluation]? = nil, evaluationsSource: String? = nil,
        sampleSizes: [Int: ParticipantSampleStore.SampleSize]? = nil, sampleSizesSource: String? = nil
    ) -> String {
        var cap = 0.0
        var delta: Double? = nil
        var charges: [(round: Int, cumulative: Double, cap: Double)] = []
        var rounds: [Int: RoundRow] = [:]
        var roundOrder: [Int] = []
        var gates: [(LedgerEntry, GateDecisionPayload)] = []
        var refusals: [(LedgerEntry, RoundRefusedPayload)] = []
        var aborts: [(LedgerEntry, RoundAbortedPayload)] = []
        var policies: [(LedgerEntry, PolicyAdoptedPayload)] = []
        func touch(_ round: Int) {
            if rounds[round] == nil {
                rounds[round] = RoundRow(round: round)
                roundOrder.append(round)
            }
        }
        for entry in entries {
            guard let record = try? entry.record() else { continue }
            switch record {
            case .genesis(let p):
                cap = p.epsilonMax
                delta = p.delta
            case .policyAdopted(let p):
                cap = p.newEpsilonMax
                policies.append((entry, p))
            case .roundOpened(let p):
                touch(p.round)
                rounds[p.round]!.opened = entry.time.description
                rounds[p.round]!.participants = p.participantsSampled.map { "\($0)/\(p.participantsEligible)" }
                    ?? "committed/\(p.participantsEligible)"
                rounds[p.round]!.sampled = p.participantsSampled
                rounds[p.round]!.committed = p.sampleCommitment != nil
                if p.sampleCommitment != nil, let size = sampleSizes?[p.round] {
                    rounds[p.round]!.participants = "\(size.sampled)/\(p.participantsEligible) (sample store)"
                    rounds[p.round]!.sampled = size.sampled
                    rounds[p.round]!.contributorsCount = size.contributors
                }
            case .roundCharged(let p):
                touch(p.round)
                rounds[p.round]!.charge = p
                charges.append((p.round, p.cumulativeEpsilon, cap))
            case .roundClosed(let p):
                touch(p.round)
                rounds[p.round]!.status = "closed"
                // Older participant-unit ledgers recorded the counts here; current ones withhold them.
                if let sampled = p.participantsSampled {
                    rounds[p.round]!.participants = "\(sampled) (\(p.contributorsCount ?? 0) contributed)"
                    rounds[p.round]!.sampled = sampled
                    rounds[p.round]!.contributorsCount = p.contributorsCount
                }
                rounds[p.round]!.model = p.modelSHA256
            case .roundAborted(let p):
                touch(p.round)
                rounds[p.round]!.status = p.charged ? "aborted (charged)" : "aborted"
                aborts.append((entry, p))
            case .roundRefused(let p):
                touch(p.round)
                rounds[p.round]!.status = "refused"
                refusals.append((entry, p))
            case .gateDecision(let p):
                gates.append((entry, p))
            case .evaluationRecorded, .unknown:
                break
            }
        }
        let lastCumulative = charges.last?.cumulative ?? 0
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) — Cohort privacy ledger</title>
            <style>
            body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2330;padding:0 1em}
            h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ccd}
            table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #dde;padding:3px 6px;text-align:left}
            th{background:#f1f3f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
            .fail{color:#a40000;font-weight:600}.pass{color:#1b6e20}.mono{font-family:ui-monospace,monospace;font-size:12px}
            .summary td{border:none;padding:1px 12px 1px 0}.note{color:#667;font-size:12px}
            </style></head><body>
            <h1>Privacy ledger: \(escape(title))</h1>

            """
        if let verification { html += "<p><strong>Verification:</strong> \(escape(verification))</p>\n" }
        html += "<table class=\"summary\">"
        html += "<tr><td>Entries</td><td>\(entries.count)</td></tr>"
        html += "<tr><td>Rounds charged</td><td>\(charges.count)</td></tr>"
        html += "<tr><td>Cumulative ε</td><td>\(LedgerRendering.format(lastCumulative))\(delta.map { " at δ = \(LedgerRendering.format($0))" } ?? "")</td></tr>"
        html += "<tr><td>Cap ε<sub>max</sub></td><td>\(LedgerRendering.format(cap))</td></tr>"
        html += "<tr><td>Budget used</td><td>\(cap > 0 ? LedgerRendering.format(100 * lastCumulative / cap) + " %" : "–")</td></tr></table>\n"
        let metrics = evaluations ?? RoundEvaluations.fromLedger(entries)
        let source = evaluations == nil ? "the ledger's round.closed / evaluation.recorded entries" : (evaluationsSource ?? "evaluations.jsonl")
        html += "<h2>Federated holdout: accuracy and ROC AUC per round</h2>\n"
        html += lineChart(
            id: "holdout-metrics", yLabel: "metric", yRange: 0...1,
            series: [
                Series(name: "accuracy", color: "#1f5fbf", points: metrics.compactMap { e in e.accuracy.map { (e.round, $0) } }),
                Series(name: "roc_auc", color: "#2e7d32", points: metrics.compactMap { e in e.rocAUC.map { (e.round, $0) } }),
            ],
            empty: "No holdout metrics recorded (from \(escape(source)))."
        )
        let losses = metrics.compactMap { e in e.loss.map { (e.round, $0) } }
        html += "<h2>Federated holdout: loss per round</h2>\n"
        html += lineChart(
            id: "holdout-loss", yLabel: "log-loss", yRange: nil,
            series: [Series(name: "loss", color: "#8e24aa", points: losses)],
            empty: "No loss recorded (from \(escape(source))); the coordinator's evaluations.jsonl carries it."
        )
        html += "<p class=\"note\">Metrics from \(escape(source)).</p>\n"
        html += "<h2>Cumulative ε per charged round, against the cap</h2>\n" + chart(charges)
        var contributors: [(round: Int, count: Int, invited: Int?)] = []
        var withheld = 0
        for round in roundOrder {
            guard let charge = rounds[round]!.charge else { continue }
            // Participant unit: the charge commits to its contributors; their number comes from the
            // sample store (or, in older ledgers, the round's end), never from the current ledger.
            if rounds[round]!.committed {
                guard let count = rounds[round]!.contributorsCount else {
                    withheld += 1
                    continue
                }
                contributors.append((round, count, rounds[round]!.sampled))
            } else {
                contributors.append((round, charge.contributors.count, rounds[round]!.sampled))
            }
        }
        html += "<h2>Contributors per round</h2>\n"
        if withheld > 0 {
            html += "<p data-withheld=\"contributors\">Participant unit: the ledger withholds how many participants "
                + "were sampled and contributed in \(withheld) round(s) (the count would reveal the round's "
                + "sampling outcome, which the ε does not pay for). An operator can plot them with the "
                + "coordinator's sample store: <code>cohort ledger report --samples "
                + "&lt;state&gt;/participant-samples.jsonl</code>.</p>\n"
        }
        if contributors.isEmpty && withheld > 0 {
            html += "<p>No round with a public contributor count.</p>\n"
        } else {
            html += barChart(contributors)
        }
        if let sampleSizesSource, sampleSizes != nil {
            html += "<p class=\"note\">Sample sizes of participant-unit rounds from \(escape(sampleSizesSource)) "
                + "(operator-only; checked against the ledger's commitments).</p>\n"
        }
        html += "<h2>Rounds</h2>\n<table><tr><th>round</th><th>opened</th><th>sampled/eligible</th><th>unit</th><th>q</th><th>σ</th><th>C</th><th>ε round</th><th>ε cumulative</th><th>status</th><th>model SHA-256</th></tr>\n"
        for round in roundOrder {
            let row = rounds[round]!
            let c = row.charge
            html += "<tr><td class=\"n\">\(round)</td><td>\(escape(row.opened))</td><td>\(escape(row.participants))</td>"
            html += "<td>\(c.map { $0.unit.rawValue } ?? "")</td><td class=\"n\">\(number(c?.samplingRate))</td><td class=\"n\">\(number(c?.noiseMultiplier))</td>"
            html += "<td class=\"n\">\(number(c?.clippingBound))</td><td class=\"n\">\(number(c?.roundEpsilon))</td><td class=\"n\">\(number(c?.cumulativeEpsilon))</td>"
            let statusClass = row.status.hasPrefix("refused") || row.status.hasPrefix("aborted") ? " class=\"fail\"" : ""
            html += "<td\(statusClass)>\(escape(row.status))</td><td class=\"mono\">\(escape(String(row.model.prefix(16))))</td></tr>\n"
        }
        html += "</table>\n<h2>Governance decisions</h2>\n"
        if gates.isEmpty {
            html += "<p>No gate decisions recorded.</p>\n"
        } else {
            html += "<table><tr><th>seq</th><th>time</th><th>round</th><th>gate</th><th>result</th><th>reason</th><th>inputs</th></tr>\n"
            for (entry, gate) in gates {
                html += "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td class=\"n\">\(gate.round)</td><td>\(escape(gate.gate))</td>"
                html += gate.passed ? "<td class=\"pass\">pass</td>" : "<td class=\"fail\">FAIL</td>"
                html += "<td>\(escape(gate.reason))</td><td class=\"mono\">\(escape(JSONValue.object(gate.inputs).canonicalString))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "<h2>Refusals and aborts</h2>\n"
        if refusals.isEmpty && aborts.isEmpty {
            html += "<p>No round was refused or aborted.</p>\n"
        } else {
            html += "<table><tr><th>seq</th><th>time</th><th>round</th><th>what</th><th>reason</th></tr>\n"
            for (entry, refusal) in refusals {
                html += "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td class=\"n\">\(refusal.round)</td><td class=\"fail\">refused by \(escape(refusal.gate))</td>"
                html += "<td>\(escape(refusal.reason)) (projected ε \(LedgerRendering.format(refusal.projectedEpsilon)), cap \(LedgerRendering.format(refusal.epsilonMax)))</td></tr>\n"
            }
            for (entry, abort) in aborts {
                html += "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td class=\"n\">\(abort.round)</td><td class=\"fail\">aborted\(abort.charged ? " (charged)" : "")</td><td>\(escape(abort.reason))</td></tr>\n"
            }
            html += "</table>\n"
        }
        if !policies.isEmpty {
            html += "<h2>Policy changes</h2>\n<table><tr><th>seq</th><th>time</th><th>ε<sub>max</sub></th><th>operator</th><th>policy SHA-256</th><th>changed fields</th></tr>\n"
            for (entry, policy) in policies {
                html += "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td>\(LedgerRendering.format(policy.oldEpsilonMax)) → \(LedgerRendering.format(policy.newEpsilonMax))</td>"
                // Entries written before `changes` existed show a dash: not recorded, not "nothing".
                let changes = policy.changes.map { list in
                    list.map { "\(escape($0.field)): \(escape($0.old.display)) → \(escape($0.new.display))" }.joined(separator: "<br>")
                } ?? "—"
                html += "<td>\(escape(policy.operatorName))</td><td class=\"mono\">\(escape(policy.policySHA256))</td>"
                html += "<td class=\"mono\">\(changes)</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "<p style=\"color:#667;margin-top:2em\">Generated by <code>cohort ledger report</code>. Values are as recorded; run <code>cohort ledger verify</code> to check signatures and recompute ε.</p>\n</body></html>\n"
        return html
    }

    struct RoundRow {
        let round: Int
        var opened = ""
        var participants = ""
        var charge: RoundChargedPayload? = nil
        var status = "open"
        var model = ""
        var sampled: Int? = nil
        var contributorsCount: Int? = nil
        /// The round committed to its participant sample (participant unit).
        var committed = false
    }

    static func number(_ value: Double?) -> String {
        value.map { LedgerRendering.format($0) } ?? ""
    }

    /// An inline SVG: cumulative ε by charge (x: round number) with the cap as a dashed step line.
    static func chart(_ charges: [(round: Int, cumulative: Double, cap: Double)]) -> String {
        guard !charges.isEmpty else { return "<p>No charges recorded yet.</p>\n" }
        let width = 900.0, height = 320.0, left = 60.0, right = 20.0, top = 20.0, bottom = 40.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let yMax = Self.finite(max(charges.map { $0.cumulative }.max() ?? 0, charges.map { $0.cap }.max() ?? 0) * 1.1)
        let count = charges.count
        func x(_ index: Int) -> Double { left + (count == 1 ? plotWidth / 2 : plotWidth * Double(index) / Double(count - 1)) }
        func y(_ value: Double) -> Double { top + plotHeight * (1 - (yMax > 0 ? value / yMax : 0)) }
        func f(_ value: Double) -> String { Self.f(value) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" data-plot=\"epsilon\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"cumulative epsilon per round\">\n"
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"#fafbfd\" stroke=\"#ccd\"/>\n"
        for tick in 0...4 {
            let value = yMax * Double(tick) / 4
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(y(value)))\" y2=\"\(f(y(value)))\" stroke=\"#e4e6ee\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(value) + 4))\" text-anchor=\"end\" font-size=\"11\">\(LedgerRendering.format(value))</text>\n"
        }
        let xTicks = Set([0, count / 4, count / 2, 3 * count / 4, count - 1])
        for index in xTicks.sorted() {
            svg += "<text x=\"\(f(x(index)))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\" font-size=\"11\">\(charges[index].round)</text>\n"
        }
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 4))\" text-anchor=\"middle\" font-size=\"12\">round</text>"
        svg += "<text x=\"14\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 \(f(top + plotHeight / 2)))\">ε</text>\n"
        // Downsample long ledgers to ~2,000 points; the curve is monotone, so nothing is hidden.
        let stride = max(1, count / 2000)
        var indices = Array(Swift.stride(from: 0, to: count, by: stride))
        if indices.last != count - 1 { indices.append(count - 1) }
        var capPath = "M\(f(x(0))) \(f(y(charges[0].cap)))"
        var previousCap = charges[0].cap
        for index in indices.dropFirst() {
            if charges[index].cap != previousCap {
                capPath += " L\(f(x(index))) \(f(y(previousCap))) L\(f(x(index))) \(f(y(charges[index].cap)))"
                previousCap = charges[index].cap
            }
        }
        capPath += " L\(f(x(count - 1))) \(f(y(previousCap)))"
        if count == 1 { capPath = "M\(f(left)) \(f(y(charges[0].cap))) L\(f(left + plotWidth)) \(f(y(charges[0].cap)))" }
        svg += "<path data-series=\"epsilon_max\" d=\"\(capPath)\" fill=\"none\" stroke=\"#c62828\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        let points = indices.map { "\(f(x($0))),\(f(y(charges[$0].cumulative)))" }.joined(separator: " ")
        svg += "<polyline data-series=\"epsilon\" points=\"\(points)\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\"/>\n"
        if count <= 200 {
            for index in indices {
                svg += "<circle cx=\"\(f(x(index)))\" cy=\"\(f(y(charges[index].cumulative)))\" r=\"2.5\" fill=\"#1f5fbf\"><title>round \(charges[index].round): ε \(LedgerRendering.format(charges[index].cumulative))</title></circle>\n"
            }
        }
        svg += "<text x=\"\(f(left + plotWidth - 4))\" y=\"\(f(y(previousCap) - 6))\" text-anchor=\"end\" font-size=\"11\" fill=\"#c62828\">ε_max \(LedgerRendering.format(previousCap))</text>\n"
        svg += "</svg>\n"
        return svg
    }

    /// Escapes text for HTML element content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}

extension LedgerHTMLReport {
    /// One line of a plot: a value per round.
    struct Series {
        let name: String
        let color: String
        let points: [(round: Int, value: Double)]
    }

    static let plotWidth = 900.0, plotHeight = 280.0, marginLeft = 60.0, marginRight = 130.0, marginTop = 16.0, marginBottom = 40.0

    /// A coordinate or tick with one decimal. Verified ledgers and stores may still hold numbers
    /// near Double's limit (an ε cap of 1e308 is finite); scaled, they overflow, and a report must
    /// draw them off the chart rather than fail.
    static func f(_ value: Double) -> String { CanonicalJSON.numberString((finite(value) * 10).rounded() / 10) }

    /// `value` kept within ±1e300 (NaN as 0), where scaling by a chart's factors stays finite.
    static func finite(_ value: Double) -> Double {
        value.isNaN ? 0 : min(max(value, -1e300), 1e300)
    }

    /// An inline SVG with one polyline (and a marker with a tooltip per point) per series; x is
    /// the round number, y the value in `yRange` (or from 0 to the largest value).
    static func lineChart(id: String, yLabel: String, yRange: ClosedRange<Double>?, series: [Series], empty: String) -> String {
        let drawn = series.filter { !$0.points.isEmpty }
        guard !drawn.isEmpty else { return "<p>\(empty)</p>\n" }
        let rounds = drawn.flatMap { $0.points.map(\.round) }
        let minRound = rounds.min()!, maxRound = rounds.max()!
        let values = drawn.flatMap { $0.points.map(\.value) }
        // Ratios zoom to the data (in steps of 0.05, never below 0) so a change from 0.95 to 0.97 is
        // visible; other values start at 0.
        let range: ClosedRange<Double>
        if let yRange {
            let lowest = values.min() ?? yRange.lowerBound
            let lower = max(yRange.lowerBound, ((lowest - 0.02) * 20).rounded(.down) / 20)
            range = lower < yRange.upperBound ? lower...yRange.upperBound : yRange
        } else {
            range = 0...max(Self.finite((values.max() ?? 1) * 1.1), 1e-9)
        }
        let innerWidth = plotWidth - marginLeft - marginRight, innerHeight = plotHeight - marginTop - marginBottom
        func x(_ round: Int) -> Double {
            marginLeft + (maxRound == minRound ? innerWidth / 2 : innerWidth * Double(round - minRound) / Double(maxRound - minRound))
        }
        func y(_ value: Double) -> Double {
            let clamped = min(max(value, range.lowerBound), range.upperBound)
            return marginTop + innerHeight * (1 - (clamped - range.lowerBound) / (range.upperBound - range.lowerBound))
        }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" data-plot=\"\(id)\" width=\"\(Int(plotWidth))\" height=\"\(Int(plotHeight))\" "
        svg += "viewBox=\"0 0 \(Int(plotWidth)) \(Int(plotHeight))\" role=\"img\" aria-label=\"\(escape(drawn.map(\.name).joined(separator: ", "))) per round\">\n"
        svg += "<rect x=\"\(f(marginLeft))\" y=\"\(f(marginTop))\" width=\"\(f(innerWidth))\" height=\"\(f(innerHeight))\" fill=\"#fafbfd\" stroke=\"#ccd\"/>\n"
        for tick in 0...4 {
            let value = range.lowerBound + (range.upperBound - range.lowerBound) * Double(tick) / 4
            svg += "<line x1=\"\(f(marginLeft))\" x2=\"\(f(marginLeft + innerWidth))\" y1=\"\(f(y(value)))\" y2=\"\(f(y(value)))\" stroke=\"#e4e6ee\"/>"
            svg += "<text x=\"\(f(marginLeft - 6))\" y=\"\(f(y(value) + 4))\" text-anchor=\"end\" font-size=\"11\">\(LedgerRendering.format(value))</text>\n"
        }
        svg += roundTicks(minRound: minRound, maxRound: maxRound, x: x)
        svg += "<text x=\"14\" y=\"\(f(marginTop + innerHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" "
        svg += "transform=\"rotate(-90 14 \(f(marginTop + innerHeight / 2)))\">\(escape(yLabel))</text>\n"
        for (index, line) in drawn.enumerated() {
            let points = line.points.map { "\(f(x($0.round))),\(f(y($0.value)))" }.joined(separator: " ")
            svg += "<polyline data-series=\"\(escape(line.name))\" points=\"\(points)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"/>\n"
            if line.points.count <= 300 {
                for point in line.points {
                    svg += "<circle cx=\"\(f(x(point.round)))\" cy=\"\(f(y(point.value)))\" r=\"2.5\" fill=\"\(line.color)\">"
                    svg += "<title>round \(point.round): \(escape(line.name)) \(LedgerRendering.format(point.value))</title></circle>\n"
                }
            }
            let legendY = marginTop + 14 + Double(index) * 18
            svg += "<line x1=\"\(f(plotWidth - marginRight + 12))\" x2=\"\(f(plotWidth - marginRight + 32))\" y1=\"\(f(legendY - 4))\" y2=\"\(f(legendY - 4))\" stroke=\"\(line.color)\" stroke-width=\"2\"/>"
            let last = line.points.last!
            svg += "<text x=\"\(f(plotWidth - marginRight + 36))\" y=\"\(f(legendY))\" font-size=\"11\">"
            svg += "\(escape(line.name)) \(short(last.value))</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// A value with three significant decimals, for legends.
    static func short(_ value: Double) -> String {
        let magnitude = abs(value)
        let digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3
        let scale = [1.0, 10, 100, 1000][digits]
        return LedgerRendering.format((value * scale).rounded() / scale)
    }

    /// The x-axis labels: about five round numbers and the axis title.
    static func roundTicks(minRound: Int, maxRound: Int, x: (Int) -> Double) -> String {
        let span = maxRound - minRound
        let ticks = Set([minRound, minRound + span / 4, minRound + span / 2, minRound + 3 * span / 4, maxRound])
        var svg = ""
        for round in ticks.sorted() {
            svg += "<text x=\"\(f(x(round)))\" y=\"\(f(plotHeight - marginBottom + 16))\" text-anchor=\"middle\" font-size=\"11\">\(round)</text>\n"
        }
        let innerWidth = plotWidth - marginLeft - marginRight
        svg += "<text x=\"\(f(marginLeft + innerWidth / 2))\" y=\"\(f(plotHeight - 4))\" text-anchor=\"middle\" font-size=\"12\">round</text>\n"
        return svg
    }

    /// An inline SVG bar chart: contributors per charged round, with the number invited as a tick.
    static func barChart(_ bars: [(round: Int, count: Int, invited: Int?)]) -> String {
        guard !bars.isEmpty else { return "<p>No round has been charged yet.</p>\n" }
        let innerWidth = plotWidth - marginLeft - marginRight, innerHeight = plotHeight - marginTop - marginBottom
        let top = Double(max(bars.map { max($0.count, $0.invited ?? 0) }.max() ?? 1, 1))
        let minRound = bars.map(\.round).min()!, maxRound = bars.map(\.round).max()!
        let slot = innerWidth / Double(maxRound - minRound + 1)
        func x(_ round: Int) -> Double { marginLeft + slot * (Double(round - minRound) + 0.5) }
        func y(_ value: Double) -> Double { marginTop + innerHeight * (1 - value / top) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" data-plot=\"contributors\" width=\"\(Int(plotWidth))\" height=\"\(Int(plotHeight))\" "
        svg += "viewBox=\"0 0 \(Int(plotWidth)) \(Int(plotHeight))\" role=\"img\" aria-label=\"contributors per round\">\n"
        svg += "<rect x=\"\(f(marginLeft))\" y=\"\(f(marginTop))\" width=\"\(f(innerWidth))\" height=\"\(f(innerHeight))\" fill=\"#fafbfd\" stroke=\"#ccd\"/>\n"
        let step = max(1, Int(top) / 4)
        for value in Swift.stride(from: 0, through: Int(top), by: step) {
            svg += "<line x1=\"\(f(marginLeft))\" x2=\"\(f(marginLeft + innerWidth))\" y1=\"\(f(y(Double(value))))\" y2=\"\(f(y(Double(value))))\" stroke=\"#e4e6ee\"/>"
            svg += "<text x=\"\(f(marginLeft - 6))\" y=\"\(f(y(Double(value)) + 4))\" text-anchor=\"end\" font-size=\"11\">\(value)</text>\n"
        }
        svg += roundTicks(minRound: minRound, maxRound: maxRound, x: x)
        svg += "<text x=\"14\" y=\"\(f(marginTop + innerHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" "
        svg += "transform=\"rotate(-90 14 \(f(marginTop + innerHeight / 2)))\">participants</text>\n"
        let width = max(1, slot * 0.7)
        for bar in bars {
            let invited = bar.invited.map { " of \($0) invited" } ?? ""
            svg += "<rect data-series=\"contributors\" x=\"\(f(x(bar.round) - width / 2))\" y=\"\(f(y(Double(bar.count))))\" width=\"\(f(width))\" "
            svg += "height=\"\(f(y(0) - y(Double(bar.count))))\" fill=\"#5c7cbf\"><title>round \(bar.round): \(bar.count) contributed\(invited)</title></rect>\n"
            if let sampled = bar.invited {
                svg += "<line x1=\"\(f(x(bar.round) - width / 2))\" x2=\"\(f(x(bar.round) + width / 2))\" y1=\"\(f(y(Double(sampled))))\" "
                svg += "y2=\"\(f(y(Double(sampled))))\" stroke=\"#c62828\" stroke-width=\"1.5\"/>\n"
            }
        }
        svg += "<text x=\"\(f(plotWidth - marginRight + 12))\" y=\"\(f(marginTop + 14))\" font-size=\"11\" fill=\"#5c7cbf\">■ contributed</text>\n"
        svg += "<text x=\"\(f(plotWidth - marginRight + 12))\" y=\"\(f(marginTop + 32))\" font-size=\"11\" fill=\"#c62828\">— invited</text>\n"
        return svg + "</svg>\n"
    }
}
