import ParleyClient

/// Everything the run was asked to do; echoed in the JSON report.
struct LoadSettings: Sendable, Codable {
    enum Loop: String, Sendable, Codable {
        /// A fixed number of calls in flight, each started when the previous one ends.
        case closed
        /// Calls started at a fixed rate, whatever the completions.
        case open
    }

    var scenario: String
    var server: String
    var loop: Loop
    var connections: Int
    /// Closed loop: concurrent workers.
    var inFlight: Int?
    /// Open loop: calls started per second.
    var rate: Double?
    /// Open loop: calls in flight past which new ones are counted as `overloaded` instead of sent.
    var maxOutstanding: Int?
    /// Open loop: scheduling lanes, each owning a share of the schedule and its own histogram.
    var lanes: Int?
    var payloadBytes: Int
    var warmupSeconds: Double
    var durationSeconds: Double
    var timeoutSeconds: Double
    var drainSeconds: Double
    /// `--ack-log`, when given.
    var ackLog: String?
    /// The `reserve` scenario's settings; nil for other scenarios.
    var reserve: ReserveSettings?
    /// The `negotiate` and `capture` scenarios' settings; nil for other scenarios.
    var orders: OrderSettings?
}

/// The run's timeline, on the continuous clock.
///
/// Calls *due* (closed loop: started) in `[measureStart, end)` are measured;
/// earlier ones are warmup. No call starts at or after `end`; calls still in
/// flight at `drainEnd` are cancelled and counted as `unfinished`.
struct LoadPlan: Sendable {
    let start: ContinuousClock.Instant
    let measureStart: ContinuousClock.Instant
    let end: ContinuousClock.Instant
    let drainEnd: ContinuousClock.Instant

    init(start: ContinuousClock.Instant, warmup: Duration, duration: Duration, drain: Duration) {
        self.start = start
        self.measureStart = start + warmup
        self.end = measureStart + duration
        self.drainEnd = end + drain
    }

    /// The measured window's length.
    var duration: Duration { end - measureStart }

    func isMeasured(_ instant: ContinuousClock.Instant) -> Bool {
        instant >= measureStart && instant < end
    }
}

/// One load run: a scenario driven in a closed or open loop through one client.
struct LoadRun<S: Scenario>: Sendable {
    let scenario: S
    let client: ParleyClient
    let settings: LoadSettings
    /// The options of every call (the per-call timeout).
    let options: CallOptions

    /// Runs warmup, measurement and drain, and returns the merged measurements.
    func run(showProgress: Bool) async -> RunPart {
        let plan = LoadPlan(
            start: .now,
            warmup: .seconds(settings.warmupSeconds),
            duration: .seconds(settings.durationSeconds),
            drain: .seconds(settings.drainSeconds)
        )
        let live = LiveCounters()
        let printer = showProgress ? Task { await ProgressPrinter(plan: plan, live: live).run() } : nil
        let part: RunPart
        switch settings.loop {
        case .closed:
            part = await closedLoop(plan: plan, live: live, workers: settings.inFlight ?? 1)
        case .open:
            part = await openLoop(
                plan: plan,
                live: live,
                rate: settings.rate ?? 1,
                lanes: settings.lanes ?? 1,
                maxOutstanding: settings.maxOutstanding ?? .max
            )
        }
        printer?.cancel()
        await printer?.value
        return part
    }

    /// Makes one call and classifies how it ended.
    func perform(_ sequence: UInt64) async -> Outcome {
        do {
            try await scenario.call(client: client, sequence: sequence, options: options)
            return .success
        } catch {
            return Outcome(error: error)
        }
    }
}
