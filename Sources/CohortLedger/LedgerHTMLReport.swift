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
                rounds[p.round]!.participants =
                    p.participantsSampled.map { "\($0)/\(p.participantsEligible)" }
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
        html +=
            "<tr><td>Cumulative ε</td><td>\(LedgerRendering.format(lastCumulative))\(delta.map { " at δ = \(LedgerRendering.format($0))" } ?? "")</td></tr>"
        html += "<tr><td>Cap ε<sub>max</sub></td><td>\(LedgerRendering.format(cap))</td></tr>"
        html +=
            "<tr><td>Budget used</td><td>\(cap > 0 ? LedgerRendering.format(100 * lastCumulative / cap) + " %" : "–")</td></tr></table>\n"
        let metrics = evaluations ?? RoundEvaluations.fromLedger(entries)
        let source =
            evaluations == nil
            ? "the ledger's round.closed / evaluation.recorded entries" : (evaluationsSource ?? "evaluations.jsonl")
        html += "<h2>Federated holdout: accuracy and ROC AUC per round</h2>\n"
        html += lineChart(
            id: "holdout-metrics", yLabel: "metric", yRange: 0...1,
            series: [
                Series(
                    name: "accuracy", color: "#1f5fbf",
                    points: metrics.compactMap { e in e.accuracy.map { (e.round, $0) } }),
                Series(
                    name: "roc_auc", color: "#2e7d32",
                    points: metrics.compactMap { e in e.rocAUC.map { (e.round, $0) } }),
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
            html +=
                "<p data-withheld=\"contributors\">Participant unit: the ledger withholds how many participants "
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
            html +=
                "<p class=\"note\">Sample sizes of participant-unit rounds from \(escape(sampleSizesSource)) "
                + "(operator-only; checked against the ledger's commitments).</p>\n"
        }
        html +=
            "<h2>Rounds</h2>\n<table><tr><th>round</th><th>opened</th><th>sampled/eligible</th><th>unit</th><th>q</th><th>σ</th><th>C</th><th>ε round</th><th>ε cumulative</th><th>status</th><th>model SHA-256</th></tr>\n"
        for round in roundOrder {
            let row = rounds[round]!
            let c = row.charge
            html +=
                "<tr><td class=\"n\">\(round)</td><td>\(escape(row.opened))</td><td>\(escape(row.participants))</td>"
            html +=
                "<td>\(c.map { $0.unit.rawValue } ?? "")</td><td class=\"n\">\(number(c?.samplingRate))</td><td class=\"n\">\(number(c?.noiseMultiplier))</td>"
            html +=
                "<td class=\"n\">\(number(c?.clippingBound))</td><td class=\"n\">\(number(c?.roundEpsilon))</td><td class=\"n\">\(number(c?.cumulativeEpsilon))</td>"
            let statusClass =
                row.status.hasPrefix("refused") || row.status.hasPrefix("aborted") ? " class=\"fail\"" : ""
            html +=
                "<td\(statusClass)>\(escape(row.status))</td><td class=\"mono\">\(escape(String(row.model.prefix(16))))</td></tr>\n"
        }
        html += "</table>\n<h2>Governance decisions</h2>\n"
        if gates.isEmpty {
            html += "<p>No gate decisions recorded.</p>\n"
        } else {
            html +=
                "<table><tr><th>seq</th><th>time</th><th>round</th><th>gate</th><th>result</th><th>reason</th><th>inputs</th></tr>\n"
            for (entry, gate) in gates {
                html +=
                    "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td class=\"n\">\(gate.round)</td><td>\(escape(gate.gate))</td>"
                html += gate.passed ? "<td class=\"pass\">pass</td>" : "<td class=\"fail\">FAIL</td>"
                html +=
                    "<td>\(escape(gate.reason))</td><td class=\"mono\">\(escape(JSONValue.object(gate.inputs).canonicalString))</td></tr>\n"
            }
            html += "</table>\n"
        }
        html += "<h2>Refusals and aborts</h2>\n"
        if refusals.isEmpty && aborts.isEmpty {
            html += "<p>No round was refused or aborted.</p>\n"
        } else {
            html += "<table><tr><th>seq</th><th>time</th><th>round</th><th>what</th><th>reason</th></tr>\n"
            for (entry, refusal) in refusals {
                html +=
                    "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td class=\"n\">\(refusal.round)</td><td class=\"fail\">refused by \(escape(refusal.gate))</td>"
                html +=
                    "<td>\(escape(refusal.reason)) (projected ε \(LedgerRendering.format(refusal.projectedEpsilon)), cap \(LedgerRendering.format(refusal.epsilonMax)))</td></tr>\n"
            }
            for (entry, abort) in aborts {
                html +=
                    "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td class=\"n\">\(abort.round)</td><td class=\"fail\">aborted\(abort.charged ? " (charged)" : "")</td><td>\(escape(abort.reason))</td></tr>\n"
            }
            html += "</table>\n"
        }
        if !policies.isEmpty {
            html +=
                "<h2>Policy changes</h2>\n<table><tr><th>seq</th><th>time</th><th>ε<sub>max</sub></th><th>operator</th><th>policy SHA-256</th><th>changed fields</th></tr>\n"
            for (entry, policy) in policies {
                html +=
                    "<tr><td class=\"n\">\(entry.seq)</td><td>\(entry.time)</td><td>\(LedgerRendering.format(policy.oldEpsilonMax)) → \(LedgerRendering.format(policy.newEpsilonMax))</td>"
                // Entries written before `changes` existed show a dash: not recorded, not "nothing".
                let changes =
                    policy.changes.map { list in
                        list.map { "\(escape($0.field)): \(escape($0.old.display)) → \(escape($0.new.display))" }
                            .joined(separator: "<br>")
                    } ?? "—"
                html += "<td>\(escape(policy.operatorName))</td><td class=\"mono\">\(escape(policy.policySHA256))</td>"
                html += "<td class=\"mono\">\(changes)</td></tr>\n"
            }
            html += "</table>\n"
        }
        html +=
            "<p style=\"color:#667;margin-top:2em\">Generated by <code>cohort ledger report</code>. Values are as recorded; run <code>cohort ledger verify</code> to check signatures and recompute ε.</p>\n</body></html>\n"
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
        let width = 900.0
        let height = 320.0
        let left = 60.0
        let right = 20.0
        let top = 20.0
        let bottom = 40.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let yMax = Self.finite(max(charges.map { $0.cumulative }.max() ?? 0, charges.map { $0.cap }.max() ?? 0) * 1.1)
        let count = charges.count
        func x(_ index: Int) -> Double {
            left + (count == 1 ? plotWidth / 2 : plotWidth * Double(index) / Double(count - 1))
        }
        func y(_ value: Double) -> Double { top + plotHeight * (1 - (yMax > 0 ? value / yMax : 0)) }
        func f(_ value: Double) -> String { Self.f(value) }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" data-plot=\"epsilon\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"cumulative epsilon per round\">\n"
        svg +=
            "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"#fafbfd\" stroke=\"#ccd\"/>\n"
        for tick in 0...4 {
            let value = yMax * Double(tick) / 4
            svg +=
                "<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(y(value)))\" y2=\"\(f(y(value)))\" stroke=\"#e4e6ee\"/>"
            svg +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(y(value) + 4))\" text-anchor=\"end\" font-size=\"11\">\(LedgerRendering.format(value))</text>\n"
        }
        let xTicks = Set([0, count / 4, count / 2, 3 * count / 4, count - 1])
        for index in xTicks.sorted() {
            svg +=
                "<text x=\"\(f(x(index)))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\" font-size=\"11\">\(charges[index].round)</text>\n"
        }
        svg +=
            "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 4))\" text-anchor=\"middle\" font-size=\"12\">round</text>"
        svg +=
            "<text x=\"14\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 \(f(top + plotHeight / 2)))\">ε</text>\n"
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
        if count == 1 {
            capPath = "M\(f(left)) \(f(y(charges[0].cap))) L\(f(left + plotWidth)) \(f(y(charges[0].cap)))"
        }
        svg +=
            "<path data-series=\"epsilon_max\" d=\"\(capPath)\" fill=\"none\" stroke=\"#c62828\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        let points = indices.map { "\(f(x($0))),\(f(y(charges[$0].cumulative)))" }.joined(separator: " ")
        svg +=
            "<polyline data-series=\"epsilon\" points=\"\(points)\" fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"2\"/>\n"
        if count <= 200 {
            for index in indices {
                svg +=
                    "<circle cx=\"\(f(x(index)))\" cy=\"\(f(y(charges[index].cumulative)))\" r=\"2.5\" fill=\"#1f5fbf\"><title>round \(charges[index].round): ε \(LedgerRendering.format(charges[index].cumulative))</title></circle>\n"
            }
        }
        svg +=
            "<text x=\"\(f(left + plotWidth - 4))\" y=\"\(f(y(previousCap) - 6))\" text-anchor=\"end\" font-size=\"11\" fill=\"#c62828\">ε_max \(LedgerRendering.format(previousCap))</text>\n"
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
