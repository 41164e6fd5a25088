import ParleyWire

extension LoadRun {
    /// `workers` tasks, each making one call after another until the end of
    /// the plan, each recording into its own histogram; merged at the end.
    ///
    /// A worker whose call failed with UNAVAILABLE (daemon down, connection
    /// refused or lost) waits before its next call, 10 ms at first and twice
    /// as long after each further UNAVAILABLE up to 200 ms, so a dead daemon
    /// costs errors, not a spinning CPU, until the run ends.
    ///
    /// Latency runs from the moment a worker starts a call. A closed loop
    /// slows down with the server, so its latencies say nothing about what a
    /// caller arriving at a fixed rate would see: use `--rate` for that.
    func closedLoop(plan: LoadPlan, live: LiveCounters, workers: Int) async -> RunPart {
        await withTaskGroup(of: RunPart?.self) { group in
            for index in 0..<workers {
                group.addTask { await self.worker(index, of: workers, plan: plan, live: live) }
            }
            // The drain timer: cancels calls still in flight when the drain period ends.
            group.addTask {
                try? await Task.sleep(until: plan.drainEnd, clock: .continuous)
                return nil
            }
            var total = RunPart()
            var remaining = workers
            while let result = await group.next() {
                if let part = result {
                    total.merge(part)
                    remaining -= 1
                    if remaining == 0 { group.cancelAll() }  // Stops the drain timer.
                } else {
                    group.cancelAll()
                }
            }
            return total
        }
    }

    /// The first and the longest wait after an UNAVAILABLE call.
    static var unavailablePause: (first: Duration, max: Duration) { (.milliseconds(10), .milliseconds(200)) }

    private func worker(_ index: Int, of workers: Int, plan: LoadPlan, live: LiveCounters) async -> RunPart {
        await EventLoopPlacement.move(toLoop: index)
        var recorder = Recorder(plan: plan, live: live)
        // Sequence numbers interleave across workers: worker i makes i, i + workers, …
        var sequence = UInt64(index)
        var pause = Self.unavailablePause.first
        while !Task.isCancelled {
            let started = ContinuousClock.now
            guard started < plan.end else { break }
            let outcome = await perform(sequence)
            recorder.record(outcome, intended: started, finished: .now)
            sequence += UInt64(workers)
            if case .failure(.status(.unavailable), _) = outcome {
                // The daemon is down or going away: every call would fail at
                // once, so pause rather than spin until the run ends.
                try? await Task.sleep(until: min(.now + pause, plan.end), clock: .continuous)
                pause = min(pause * 2, Self.unavailablePause.max)
            } else {
                pause = Self.unavailablePause.first
            }
        }
        return recorder.finish()
    }
}
