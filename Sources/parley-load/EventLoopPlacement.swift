import NIOCore
import NIOPosix

/// Spreads the load tool's tasks over the event loops.
///
/// With NIO as the global executor a task runs on the event loop it was
/// started from, and the client prefers a connection on the caller's loop;
/// so workers all started from one task would share one loop and the
/// connections on it, leaving the other cores idle. Each worker therefore
/// hops once to its own loop before it starts calling; the client's loop
/// affinity keeps it there afterwards.
enum EventLoopPlacement {
    static let loops: [any EventLoop] = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())

    /// Moves the calling task onto loop `index` (modulo the number of loops).
    ///
    /// Checked, and tried again: a task resumed from the target loop is
    /// normally enqueued there, but in about one run in four all of a run's
    /// tasks stayed where they were, every call then went over one
    /// connection and the other loops idled (benchmarks.md, Session 8).
    static func move(toLoop index: Int) async {
        let loop = loops[index % loops.count]
        for _ in 0..<100 {
            _ = try? await loop.submit {}.get()
            if MultiThreadedEventLoopGroup.currentEventLoop === loop { return }
            // Not moved yet: let the loop run first, then ask again.
            _ = try? await loop.scheduleTask(in: .milliseconds(1)) {}.futureResult.get()
            if MultiThreadedEventLoopGroup.currentEventLoop === loop { return }
        }
        StandardError.write("parley-load: warning: a worker could not move to event loop \(index % loops.count); the load may be uneven\n")
    }
}
