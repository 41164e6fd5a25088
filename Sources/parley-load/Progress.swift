#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Histogram
import Synchronization

/// What the progress line reads while the run goes on: atomic counters bumped
/// by every call, and recent latencies that each worker merges in about once
/// a second (so the lock is taken once per worker per second, not per call).
final class LiveCounters: Sendable {
    /// Calls ended so far, warmup included.
    let calls = Atomic<UInt64>(0)
    /// Calls that failed so far, warmup included.
    let errors = Atomic<UInt64>(0)
    /// Open loop: calls started and not yet ended, for `--max-outstanding`.
    let outstanding = Atomic<Int>(0)

    private let recent = Mutex(Latency.makeCoarseHistogram())

    /// Merges a worker's latencies since its last publication.
    func publish(_ histogram: Histogram<UInt64>) {
        guard histogram.totalCount > 0 else { return }
        recent.withLock { $0.add(histogram) }
    }

    /// The latencies published since the last call, and a reset.
    func takeRecent() -> Histogram<UInt64> {
        recent.withLock { histogram in
            defer { histogram.reset() }
            return histogram
        }
    }
}

/// Prints a progress line on stderr once a second: rewritten in place on a
/// terminal, one line per second otherwise (logs, CI).
struct ProgressPrinter: Sendable {
    let plan: LoadPlan
    let live: LiveCounters

    /// Prints until cancelled.
    func run() async {
        let terminal = StandardError.isTerminal
        var previousCalls: UInt64 = 0
        var second: Int64 = 1
        var printed = false
        // Read a little after each whole second, once workers have published theirs.
        while true {
            do {
                try await Task.sleep(until: plan.start + .seconds(second) + .milliseconds(100), clock: .continuous)
            } catch {
                break
            }
            let calls = live.calls.load(ordering: .relaxed)
            let errors = live.errors.load(ordering: .relaxed)
            let recent = live.takeRecent()
            let line = describe(second: second, rate: calls - previousCalls, errors: errors, recent: recent)
            StandardError.write(terminal ? "\r\(line)\u{1B}[K" : "\(line)\n")
            printed = true
            previousCalls = calls
            second += 1
        }
        if terminal && printed { StandardError.write("\n") }
    }

    private func describe(second: Int64, rate: UInt64, errors: UInt64, recent: Histogram<UInt64>) -> String {
        let instant = plan.start + .seconds(second)
        let phase: String
        if instant <= plan.measureStart {
            phase = "warmup \(second)s"
        } else if instant <= plan.end {
            phase = "\((instant - plan.measureStart).components.seconds)s/\(plan.duration.components.seconds)s"
        } else {
            phase = "draining"
        }
        let latency = recent.totalCount == 0
            ? "p50 -  p99 -"
            : "p50 \(Format.latency(recent.valueAtPercentile(50)))  p99 \(Format.latency(recent.valueAtPercentile(99)))"
        return "[\(phase)] \(rate) calls/s  errors \(errors)  \(latency)"
    }
}

/// Unbuffered writes to the standard error stream.
enum StandardError {
    static var isTerminal: Bool { isatty(FileHandle.standardError.fileDescriptor) == 1 }

    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Human-readable numbers.
enum Format {
    /// Microseconds as `412 µs`, `1.23 ms` or `2.50 s`.
    static func latency(_ micros: UInt64) -> String {
        switch micros {
        case ..<1000: "\(micros) µs"
        case ..<1_000_000: String(format: "%.2f ms", Double(micros) / 1000)
        default: String(format: "%.2f s", Double(micros) / 1_000_000)
        }
    }

    /// Seconds given on the command line, without a needless `.0`.
    static func seconds(_ value: Double) -> String {
        "\(number(value)) s"
    }

    /// A number from the command line: `500`, `2.5`, never `5e+02`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\(value)"
    }
}
