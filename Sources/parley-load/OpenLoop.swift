import Synchronization

/// What a lane of the open loop waits for.
private enum LaneEvent: Sendable {
    /// Time to start the calls that are due.
    case tick
    /// A call ended.
    case done(Outcome, intended: ContinuousClock.Instant, finished: ContinuousClock.Instant)
    /// The drain period is over: cancel what is still in flight.
    case drainOver
}

extension LoadRun {
    /// Starts calls on a fixed schedule — call `n` is due at
    /// `start + n / rate` — whether or not earlier calls have ended, and
    /// measures each call's latency from the moment it was due. A server that
    /// stalls therefore shows up as latency for every call that should have
    /// been sent during the stall (no coordinated omission), instead of
    /// quietly lowering the load.
    ///
    /// The schedule is dealt round-robin over `lanes` tasks (lane `i` owns
    /// calls `i`, `i + lanes`, …) so that no single task has to start and
    /// collect every call. Each lane runs a task group of its own: one child
    /// per call plus a timer child for the next due time; the lane's body is
    /// the only consumer of its group's results, so it records into its own
    /// histogram with no lock. A lane that wakes up late starts every call
    /// that has come due, each still timed from its own due time.
    ///
    /// `maxOutstanding` (shared by all lanes, an atomic counter) bounds the
    /// calls in flight: a call that comes due past it is not sent and counts
    /// as an `overloaded` error, so the schedule never slips.
    func openLoop(plan: LoadPlan, live: LiveCounters, rate: Double, lanes: Int, maxOutstanding: Int) async -> RunPart {
        await withTaskGroup(of: RunPart.self) { group in
            for index in 0..<lanes {
                group.addTask {
                    await self.lane(index, of: lanes, plan: plan, live: live, rate: rate, maxOutstanding: maxOutstanding)
                }
            }
            var total = RunPart()
            while let part = await group.next() { total.merge(part) }
            return total
        }
    }

    private func lane(
        _ index: Int,
        of lanes: Int,
        plan: LoadPlan,
        live: LiveCounters,
        rate: Double,
        maxOutstanding: Int
    ) async -> RunPart {
        func due(_ sequence: UInt64) -> ContinuousClock.Instant {
            plan.start + .seconds(Double(sequence) / rate)
        }
        await EventLoopPlacement.move(toLoop: index)
        return await withTaskGroup(of: LaneEvent.self) { group in
            var recorder = Recorder(plan: plan, live: live)
            var next = UInt64(index)
            var scheduling = true
            var inFlight = 0
            group.addTask { .tick }
            while let event = await group.next() {
                switch event {
                case .tick:
                    guard scheduling else { continue }
                    let now = ContinuousClock.now
                    while true {
                        let intended = due(next)
                        if intended >= plan.end || Task.isCancelled {
                            scheduling = false
                            break
                        }
                        if intended > now { break }
                        let sequence = next
                        next += UInt64(lanes)
                        if live.outstanding.add(1, ordering: .relaxed).newValue > maxOutstanding {
                            live.outstanding.subtract(1, ordering: .relaxed)
                            recorder.record(
                                .failure(.overloaded, "\(maxOutstanding) calls already in flight (--max-outstanding)"),
                                intended: intended,
                                finished: now
                            )
                            continue
                        }
                        inFlight += 1
                        group.addTask {
                            let outcome = await self.perform(sequence)
                            let finished = ContinuousClock.now
                            live.outstanding.subtract(1, ordering: .relaxed)
                            return .done(outcome, intended: intended, finished: finished)
                        }
                    }
                    if scheduling {
                        let wake = due(next)
                        group.addTask {
                            try? await Task.sleep(until: wake, clock: .continuous)
                            return .tick
                        }
                    } else if inFlight > 0 && !Task.isCancelled {
                        group.addTask {
                            try? await Task.sleep(until: plan.drainEnd, clock: .continuous)
                            return .drainOver
                        }
                    }
                case .done(let outcome, let intended, let finished):
                    inFlight -= 1
                    recorder.record(outcome, intended: intended, finished: finished)
                    if !scheduling && inFlight == 0 { group.cancelAll() }  // Stops the drain timer.
                case .drainOver:
                    group.cancelAll()
                }
            }
            return recorder.finish()
        }
    }
}
