import Foundation
import Histogram

/// The outcome of a run, as text or as one JSON object.
struct Report: Sendable, Codable {
    /// Latency percentiles of the successful measured calls, in microseconds.
    struct LatencySummary: Sendable, Codable {
        var count: UInt64
        var min: UInt64
        var p50: UInt64
        var p90: UInt64
        var p99: UInt64
        var p999: UInt64
        var max: UInt64
        var mean: Double

        init(_ histogram: Histogram<UInt64>) {
            count = histogram.totalCount
            min = histogram.min
            p50 = histogram.valueAtPercentile(50)
            p90 = histogram.valueAtPercentile(90)
            p99 = histogram.valueAtPercentile(99)
            p999 = histogram.valueAtPercentile(99.9)
            max = histogram.max
            mean = (histogram.mean * 10).rounded() / 10
        }
    }

    var settings: LoadSettings
    var startedAt: Date
    /// The measured window, warmup and drain excluded.
    var measuredSeconds: Double
    /// Calls due in the measured window, whatever their outcome (`overloaded` included).
    var calls: UInt64
    var succeeded: UInt64
    var failed: UInt64
    /// `calls / measuredSeconds`.
    var callsPerSecond: Double
    /// `succeeded / measuredSeconds`.
    var succeededPerSecond: Double
    /// Failed calls by status code name (`UNAVAILABLE`) or client-side reason (`overloaded`).
    var errors: [String: UInt64]
    /// The first message seen for each entry of `errors`.
    var errorSamples: [String: String]
    var latencyMicroseconds: LatencySummary

    init(settings: LoadSettings, startedAt: Date, part: RunPart) {
        self.settings = settings
        self.startedAt = startedAt
        measuredSeconds = settings.durationSeconds
        succeeded = part.succeeded
        failed = part.failed
        calls = succeeded + failed
        callsPerSecond = Self.rounded(Double(calls) / settings.durationSeconds)
        succeededPerSecond = Self.rounded(Double(succeeded) / settings.durationSeconds)
        errors = Dictionary(uniqueKeysWithValues: part.errors.map { ($0.key.name, $0.value) })
        errorSamples = Dictionary(uniqueKeysWithValues: part.errorSamples.map { ($0.key.name, $0.value) })
        latencyMicroseconds = LatencySummary(part.latency)
    }

    private static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    /// One line of JSON, keys sorted and in snake case.
    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The report for people.
    var text: String {
        var lines: [String] = []
        lines.append("\(settings.scenario) against \(settings.server): \(Self.describe(settings))")
        lines.append("measured \(Format.seconds(settings.durationSeconds)) after \(Format.seconds(settings.warmupSeconds)) of warmup")
        lines.append("")
        lines.append(row("calls", "\(calls)", String(format: "%.1f/s", callsPerSecond)))
        lines.append(row("succeeded", "\(succeeded)", String(format: "%.1f/s", succeededPerSecond)))
        lines.append(row("failed", "\(failed)", calls == 0 ? "" : String(format: "%.2f%%", Double(failed) * 100 / Double(calls))))
        for (name, count) in errors.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            lines.append(row("  \(name)", "\(count)", errorSamples[name] ?? ""))
        }
        lines.append("")
        let origin = settings.loop == .open ? "from each call's due time" : "from each call's start"
        lines.append("latency of successful calls (\(origin))")
        let latency = latencyMicroseconds
        if latency.count == 0 {
            lines.append("  none")
        } else {
            for (label, value) in [("p50", latency.p50), ("p90", latency.p90), ("p99", latency.p99), ("p99.9", latency.p999), ("max", latency.max)] {
                lines.append("  " + label.padding(toLength: 8, withPad: " ", startingAt: 0) + Format.latency(value))
            }
        }
        return lines.joined(separator: "\n")
    }

    private func row(_ label: String, _ value: String, _ note: String) -> String {
        let padded = label.padding(toLength: 22, withPad: " ", startingAt: 0)
        let number = String(repeating: " ", count: max(0, 10 - value.count)) + value
        return note.isEmpty ? padded + number : padded + number + "   " + note
    }

    private static func describe(_ settings: LoadSettings) -> String {
        switch settings.loop {
        case .closed:
            "closed loop, \(settings.inFlight ?? 0) in flight over \(settings.connections) connection(s)"
        case .open:
            "open loop, \(settings.rate.map(Format.number) ?? "?") calls/s over \(settings.connections) connection(s), at most \(settings.maxOutstanding ?? 0) outstanding"
        }
    }
}

extension RunPart {
    /// Writes the latency histogram as an HdrHistogram percentile distribution
    /// (`.hgrm`, values in milliseconds), as read by HdrHistogram's plotter.
    func writePercentileDistribution(to path: String) throws {
        var text = ""
        latency.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
