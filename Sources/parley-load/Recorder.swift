import Histogram
import Synchronization

/// Latency histograms: values in microseconds, 1 µs to 60 s.
enum Latency {
    static let highest: UInt64 = 60_000_000

    /// The run's histogram: 3 significant digits (about 140 KB).
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: highest, numberOfSignificantValueDigits: .three)
    }

    /// The live progress line's histogram: 2 significant digits (about 20 KB), enough for p50/p99 on screen.
    static func makeCoarseHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: highest, numberOfSignificantValueDigits: .two)
    }

    /// Whole microseconds, clamped to the histogram's range.
    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        let micros = UInt64(seconds) &* 1_000_000 &+ UInt64(attoseconds / 1_000_000_000_000)
        return min(micros, highest)
    }
}

/// What one worker (closed loop) or lane (open loop) measured; merged at the end.
struct RunPart: Sendable {
    /// Latencies of successful measured calls.
    var latency = Latency.makeHistogram()
    var succeeded: UInt64 = 0
    var errors: [ErrorKind: UInt64] = [:]
    /// The first message seen for each kind of error.
    var errorSamples: [ErrorKind: String] = [:]

    var failed: UInt64 { errors.values.reduce(0, +) }

    mutating func fail(_ kind: ErrorKind, _ message: String) {
        errors[kind, default: 0] += 1
        if errorSamples[kind] == nil { errorSamples[kind] = message }
    }

    mutating func merge(_ other: RunPart) {
        latency.add(other.latency)
        succeeded += other.succeeded
        errors.merge(other.errors, uniquingKeysWith: +)
        errorSamples.merge(other.errorSamples) { mine, _ in mine }
    }
}

/// Records outcomes for one worker or lane, owned by exactly one task: no
/// lock on the hot path. Feeds the shared live counters (atomics) and, about
/// once a second, hands its recent latencies to the progress board.
struct Recorder {
    private(set) var part = RunPart()
    private var recent = Latency.makeCoarseHistogram()
    private var nextPublish: ContinuousClock.Instant
    private let plan: LoadPlan
    private let live: LiveCounters

    init(plan: LoadPlan, live: LiveCounters) {
        self.plan = plan
        self.live = live
        self.nextPublish = plan.start + .seconds(1)
    }

    /// Records a call that was due at `intended` and ended at `finished`.
    /// Only calls due inside the measured window count in the report.
    mutating func record(_ outcome: Outcome, intended: ContinuousClock.Instant, finished: ContinuousClock.Instant) {
        let measured = plan.isMeasured(intended)
        switch outcome {
        case .success:
            let micros = Latency.microseconds(finished - intended)
            recent.record(micros)
            if measured {
                part.latency.record(micros)
                part.succeeded += 1
            }
        case .failure(let kind, let message):
            live.errors.add(1, ordering: .relaxed)
            if measured { part.fail(kind, message) }
        }
        live.calls.add(1, ordering: .relaxed)
        if finished >= nextPublish { publish(at: finished) }
    }

    /// Hands the recent latencies to the progress board and starts afresh.
    private mutating func publish(at now: ContinuousClock.Instant) {
        live.publish(recent)
        recent.reset()
        let elapsed = (now - plan.start).components.seconds
        nextPublish = plan.start + .seconds(elapsed + 1)
    }

    /// The measurements, after publishing what the progress line has not seen.
    mutating func finish() -> RunPart {
        live.publish(recent)
        recent.reset()
        return part
    }
}
