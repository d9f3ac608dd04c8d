/// The report's inline SVG charts: line charts of per-round values and the contributors' bars.
extension LedgerHTMLReport {
    /// One line of a plot: a value per round.
    struct Series {
        let name: String
        let color: String
        let points: [(round: Int, value: Double)]
    }

    static let plotWidth = 900.0, plotHeight = 280.0, marginLeft = 60.0, marginRight = 130.0, marginTop = 16.0,
        marginBottom = 40.0

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
    static func lineChart(
        id: String, yLabel: String, yRange: ClosedRange<Double>?, series: [Series], empty: String
    ) -> String {
        let drawn = series.filter { !$0.points.isEmpty }
        guard !drawn.isEmpty else { return "<p>\(empty)</p>\n" }
        let rounds = drawn.flatMap { $0.points.map(\.round) }
        let minRound = rounds.min()!
        let maxRound = rounds.max()!
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
        let innerWidth = plotWidth - marginLeft - marginRight
        let innerHeight = plotHeight - marginTop - marginBottom
        func x(_ round: Int) -> Double {
            marginLeft
                + (maxRound == minRound
                    ? innerWidth / 2 : innerWidth * Double(round - minRound) / Double(maxRound - minRound))
        }
        func y(_ value: Double) -> Double {
            let clamped = min(max(value, range.lowerBound), range.upperBound)
            return marginTop + innerHeight * (1 - (clamped - range.lowerBound) / (range.upperBound - range.lowerBound))
        }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" data-plot=\"\(id)\" width=\"\(Int(plotWidth))\" height=\"\(Int(plotHeight))\" "
        svg +=
            "viewBox=\"0 0 \(Int(plotWidth)) \(Int(plotHeight))\" role=\"img\" aria-label=\"\(escape(drawn.map(\.name).joined(separator: ", "))) per round\">\n"
        svg +=
            "<rect x=\"\(f(marginLeft))\" y=\"\(f(marginTop))\" width=\"\(f(innerWidth))\" height=\"\(f(innerHeight))\" fill=\"#fafbfd\" stroke=\"#ccd\"/>\n"
        for tick in 0...4 {
            let value = range.lowerBound + (range.upperBound - range.lowerBound) * Double(tick) / 4
            svg +=
                "<line x1=\"\(f(marginLeft))\" x2=\"\(f(marginLeft + innerWidth))\" y1=\"\(f(y(value)))\" y2=\"\(f(y(value)))\" stroke=\"#e4e6ee\"/>"
            svg +=
                "<text x=\"\(f(marginLeft - 6))\" y=\"\(f(y(value) + 4))\" text-anchor=\"end\" font-size=\"11\">\(LedgerRendering.format(value))</text>\n"
        }
        svg += roundTicks(minRound: minRound, maxRound: maxRound, x: x)
        svg += "<text x=\"14\" y=\"\(f(marginTop + innerHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" "
        svg += "transform=\"rotate(-90 14 \(f(marginTop + innerHeight / 2)))\">\(escape(yLabel))</text>\n"
        for (index, line) in drawn.enumerated() {
            let points = line.points.map { "\(f(x($0.round))),\(f(y($0.value)))" }.joined(separator: " ")
            svg +=
                "<polyline data-series=\"\(escape(line.name))\" points=\"\(points)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"/>\n"
            if line.points.count <= 300 {
                for point in line.points {
                    svg +=
                        "<circle cx=\"\(f(x(point.round)))\" cy=\"\(f(y(point.value)))\" r=\"2.5\" fill=\"\(line.color)\">"
                    svg +=
                        "<title>round \(point.round): \(escape(line.name)) \(LedgerRendering.format(point.value))</title></circle>\n"
                }
            }
            let legendY = marginTop + 14 + Double(index) * 18
            svg +=
                "<line x1=\"\(f(plotWidth - marginRight + 12))\" x2=\"\(f(plotWidth - marginRight + 32))\" y1=\"\(f(legendY - 4))\" y2=\"\(f(legendY - 4))\" stroke=\"\(line.color)\" stroke-width=\"2\"/>"
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
            svg +=
                "<text x=\"\(f(x(round)))\" y=\"\(f(plotHeight - marginBottom + 16))\" text-anchor=\"middle\" font-size=\"11\">\(round)</text>\n"
        }
        let innerWidth = plotWidth - marginLeft - marginRight
        svg +=
            "<text x=\"\(f(marginLeft + innerWidth / 2))\" y=\"\(f(plotHeight - 4))\" text-anchor=\"middle\" font-size=\"12\">round</text>\n"
        return svg
    }

    /// An inline SVG bar chart: contributors per charged round, with the number invited as a tick.
    static func barChart(_ bars: [(round: Int, count: Int, invited: Int?)]) -> String {
        guard !bars.isEmpty else { return "<p>No round has been charged yet.</p>\n" }
        let innerWidth = plotWidth - marginLeft - marginRight
        let innerHeight = plotHeight - marginTop - marginBottom
        let top = Double(max(bars.map { max($0.count, $0.invited ?? 0) }.max() ?? 1, 1))
        let minRound = bars.map(\.round).min()!
        let maxRound = bars.map(\.round).max()!
        let slot = innerWidth / Double(maxRound - minRound + 1)
        func x(_ round: Int) -> Double { marginLeft + slot * (Double(round - minRound) + 0.5) }
        func y(_ value: Double) -> Double { marginTop + innerHeight * (1 - value / top) }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" data-plot=\"contributors\" width=\"\(Int(plotWidth))\" height=\"\(Int(plotHeight))\" "
        svg +=
            "viewBox=\"0 0 \(Int(plotWidth)) \(Int(plotHeight))\" role=\"img\" aria-label=\"contributors per round\">\n"
        svg +=
            "<rect x=\"\(f(marginLeft))\" y=\"\(f(marginTop))\" width=\"\(f(innerWidth))\" height=\"\(f(innerHeight))\" fill=\"#fafbfd\" stroke=\"#ccd\"/>\n"
        let step = max(1, Int(top) / 4)
        for value in Swift.stride(from: 0, through: Int(top), by: step) {
            svg +=
                "<line x1=\"\(f(marginLeft))\" x2=\"\(f(marginLeft + innerWidth))\" y1=\"\(f(y(Double(value))))\" y2=\"\(f(y(Double(value))))\" stroke=\"#e4e6ee\"/>"
            svg +=
                "<text x=\"\(f(marginLeft - 6))\" y=\"\(f(y(Double(value)) + 4))\" text-anchor=\"end\" font-size=\"11\">\(value)</text>\n"
        }
        svg += roundTicks(minRound: minRound, maxRound: maxRound, x: x)
        svg += "<text x=\"14\" y=\"\(f(marginTop + innerHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" "
        svg += "transform=\"rotate(-90 14 \(f(marginTop + innerHeight / 2)))\">participants</text>\n"
        let width = max(1, slot * 0.7)
        for bar in bars {
            let invited = bar.invited.map { " of \($0) invited" } ?? ""
            svg +=
                "<rect data-series=\"contributors\" x=\"\(f(x(bar.round) - width / 2))\" y=\"\(f(y(Double(bar.count))))\" width=\"\(f(width))\" "
            svg +=
                "height=\"\(f(y(0) - y(Double(bar.count))))\" fill=\"#5c7cbf\"><title>round \(bar.round): \(bar.count) contributed\(invited)</title></rect>\n"
            if let sampled = bar.invited {
                svg +=
                    "<line x1=\"\(f(x(bar.round) - width / 2))\" x2=\"\(f(x(bar.round) + width / 2))\" y1=\"\(f(y(Double(sampled))))\" "
                svg += "y2=\"\(f(y(Double(sampled))))\" stroke=\"#c62828\" stroke-width=\"1.5\"/>\n"
            }
        }
        svg +=
            "<text x=\"\(f(plotWidth - marginRight + 12))\" y=\"\(f(marginTop + 14))\" font-size=\"11\" fill=\"#5c7cbf\">■ contributed</text>\n"
        svg +=
            "<text x=\"\(f(plotWidth - marginRight + 12))\" y=\"\(f(marginTop + 32))\" font-size=\"11\" fill=\"#c62828\">— invited</text>\n"
        return svg + "</svg>\n"
    }
}
