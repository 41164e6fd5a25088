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
    static func move(toLoop index: Int) async {
        let loop = loops[index % loops.count]
        _ = try? await loop.submit {}.get()
    }
}
