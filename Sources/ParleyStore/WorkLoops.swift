import NIOCore
public import NIOPosix

/// Event loops apart from the connections', for calls that compute long
/// enough to starve a connection's loop: Capture.
///
/// Why: a NIO event loop reads its sockets only when its queue of tasks is
/// empty. Calls run as tasks on the loop that read them (NIO's loops are the
/// daemon's global executor), and under Capture a loop's queue seldom ran
/// dry: each group commit handed it a batch of captures to finish while it
/// still had the previous requests' acceptance runs queued. Measured with
/// the `epoll_wait` tracepoints, about 90 turns of each loop in 4 s lasted
/// over 5 ms (up to 99 ms), and requests waited unread in the socket
/// meanwhile: the client saw a p99 of 54–65 ms while the daemon's own
/// measure, from reading a request to writing its reply, stayed near 30 ms
/// (docs/benchmarks.md, session 12). Run here, a capture's work leaves the
/// connection's loop free to read, and the writer resumes its callers on
/// these loops in one hop per batch (they are "lasting": they never shut
/// down), as it does for the connections' loops.
///
/// Cheap calls stay on the connection's loop: for them the hop to another
/// thread and back costs more than it saves (Negotiate lost 29 %).
public enum WorkLoops {
    /// As many loops as cores, created on first use and never shut down.
    public static let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

    /// Runs a task's work on ``group``: on the loop it is already on, if it
    /// is one of these, else on the next.
    public static var executor: any TaskExecutor { loopExecutor }

    private static let loopExecutor = EventLoopGroupExecutor(group: group)

    /// ``executor`` when called on one of these loops, else nil: the
    /// preference that keeps a new unstructured task (which inherits none)
    /// where its creator runs. Without it, a task made on a work loop goes to
    /// Swift's global executor, which is NIO's singleton group, the
    /// connections' loops: a hop there and back, and the work on the loop
    /// that should stay free to read.
    public static var executorIfHere: (any TaskExecutor)? {
        loopExecutor.currentLoop == nil ? nil : executor
    }
}

/// A task executor over the loops of one event loop group.
final class EventLoopGroupExecutor: TaskExecutor {
    private let group: MultiThreadedEventLoopGroup
    private let loops: Set<ObjectIdentifier>

    init(group: MultiThreadedEventLoopGroup) {
        self.group = group
        self.loops = Set(group.makeIterator().map { ObjectIdentifier($0) })
    }

    /// The loop of this group the caller runs on, if any.
    var currentLoop: (any EventLoop)? {
        guard let current = MultiThreadedEventLoopGroup.currentEventLoop, loops.contains(ObjectIdentifier(current)) else { return nil }
        return current
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let loop = currentLoop ?? group.next()
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
