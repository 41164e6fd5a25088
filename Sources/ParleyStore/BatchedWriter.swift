import Foundation
public import GRDB
public import NIOCore
import NIOPosix
import Synchronization

/// Runs inside a batched write's transaction just before the operation
/// ends, with its result: a caller commits its own record (an idempotent
/// outcome, an order row) atomically with the change.
public typealias CommitHook<Value> = @Sendable (Database, Value) throws -> Void

/// Group commit: write operations submitted concurrently are committed
/// together in one transaction, so that one fsync serves many callers.
///
/// Each operation runs in its own savepoint: one that throws rolls back alone
/// and its batch-mates still commit. A caller resumes only after the
/// transaction holding its operation has committed (and so, with
/// `synchronous=FULL`, is durable). A batch starts as soon as the previous one
/// has committed; whatever arrived meanwhile forms the next batch, so batches
/// grow with load and a lone write is not delayed.
///
/// Batches run on one dedicated thread that stays on the writer connection
/// (GRDB's synchronous API runs the work on the calling thread). The writer
/// is the serial section of every durable call, so it must not wait between
/// batches for a task to be scheduled on a busy event loop or for a hop onto
/// a dispatch queue: measured, those gaps cost more than the SQL.
///
/// A caller that submits from an event loop is resumed on that loop: the
/// writer hands each loop its batch's continuations in one hop. Resumed on
/// the writer thread, a task would go to whichever loop Swift's global
/// executor (NIO's loops) picks next, and its reply then hops once more to
/// its connection's loop — a second cross-thread wake-up for half the calls
/// with two loops (docs/benchmarks.md, session 7).
public final class BatchedWriter: Sendable {
    private struct Pending: Sendable {
        let operation: @Sendable (Database) throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
        /// The event loop the caller submitted from, if any.
        let eventLoop: (any EventLoop)?
    }

    private struct State: ~Copyable {
        var queue: [Pending] = []
        /// A batch is being committed.
        var busy = false
        var stopped = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        /// Run a checkpoint after the current batch (see ``Checkpointer``).
        var checkpointRequested = false
    }

    private let writer: any DatabaseWriter
    private let maxBatchSize: Int
    private let onBatch: (@Sendable (Int) -> Void)?
    private let state = Mutex(State())
    /// Batches ended so far (committed or failed), counted before their
    /// callers resume.
    private let ended = Atomic<UInt64>(0)
    /// Wakes the writer thread when work arrives (its lock guards nothing else).
    private let wakeup = NSCondition()
    /// What runs after the batch being written commits (see
    /// ``afterCommit(of:_:)``). Only the writer thread adds to it, while a
    /// batch holds the connection; the lock is hardly ever contended.
    private let afterCommitActions = Mutex(AfterCommitActions())

    private struct AfterCommitActions: ~Copyable {
        /// The connection of the batch being written; nil between batches.
        var database: ObjectIdentifier?
        var actions: [@Sendable () -> Void] = []
    }

    init(writer: any DatabaseWriter, maxBatchSize: Int, onBatch: (@Sendable (Int) -> Void)?) {
        precondition(maxBatchSize >= 1)
        self.writer = writer
        self.maxBatchSize = maxBatchSize
        self.onBatch = onBatch
        let thread = Thread { [self] in
            // Named for `top -H` and profiles (Linux threads otherwise inherit
            // the name of the thread that created them, often an event loop's).
            Thread.current.name = "parley-writer"
            self.run()
        }
        thread.start()
    }

    /// Runs `operation` inside the next batch transaction and returns its
    /// result once that transaction has committed. If `operation` throws, its
    /// changes are rolled back and the error is rethrown; other operations are
    /// unaffected. If the commit itself fails, every operation of the batch
    /// gets that error. After ``stop()``, fails with `StoreError.closed`.
    ///
    /// - Parameter eventLoop: Where the caller is resumed: by default the
    ///   event loop it calls from if that is one of NIO's singleton group or
    ///   of the ``WorkLoops``, which never shut down (otherwise on the writer
    ///   thread). A loop
    ///   given here must outlive the write: a loop that has shut down drops
    ///   what it is given, and the caller would never resume.
    public func write<T: Sendable>(
        resumingOn eventLoop: (any EventLoop)? = BatchedWriter.currentLastingEventLoop,
        _ operation: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        let value = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let pending = Pending(
                operation: { db in try operation(db) },
                continuation: continuation,
                eventLoop: eventLoop
            )
            let accepted = state.withLock { state in
                guard !state.stopped else { return false }
                state.queue.append(pending)
                return true
            }
            guard accepted else {
                continuation.resume(throwing: StoreError.closed)
                return
            }
            wakeWriter()
        }
        return value as! T
    }

    /// How many batches have ended (committed or rolled back) so far. It
    /// grows after a batch's transaction ends and before its callers
    /// resume, so a value read before a read of the database that is still
    /// the same afterwards means no batch ended in between: a cache of
    /// what was read, tagged with it, is current while it is unchanged.
    public var batchesEnded: UInt64 { ended.load(ordering: .acquiring) }

    /// The singleton group's loops and the ``WorkLoops``: they run until the
    /// process ends.
    private static let lastingLoops = Set(
        (MultiThreadedEventLoopGroup.singleton.makeIterator().map { $0 } + WorkLoops.group.makeIterator().map { $0 })
            .map { ObjectIdentifier($0) }
    )

    /// The event loop the caller runs on, if it is one of NIO's singleton
    /// group (the daemon's, and Swift's global executor there) or of the
    /// ``WorkLoops``.
    public static var currentLastingEventLoop: (any EventLoop)? {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop, lastingLoops.contains(ObjectIdentifier(loop)) else { return nil }
        return loop
    }

    /// Runs `action` once the batch transaction that holds `db` has
    /// committed, before the batch's callers resume; never if the operation
    /// adding it fails or the batch's commit does (one added inside a
    /// savepoint that the operation itself rolls back and gets past still
    /// runs: an action must tolerate that, as the idempotency index's hints
    /// do, being checked against the row they point to). Returns false, and keeps
    /// nothing, when `db` is not a batch's (a write outside the batched
    /// writer), so that the caller can use GRDB's `afterNextTransaction`
    /// there.
    ///
    /// Cheaper than `afterNextTransaction`, which registers a transaction
    /// observer: while one is registered GRDB inspects every statement of
    /// the batch, and the registration itself costs more than an insert.
    public func afterCommit(of db: Database, _ action: @escaping @Sendable () -> Void) -> Bool {
        afterCommitActions.withLock { pending in
            guard pending.database == ObjectIdentifier(db) else { return false }
            pending.actions.append(action)
            return true
        }
    }

    /// Waits until every operation submitted so far has completed.
    public func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if !state.busy && state.queue.isEmpty { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Finishes what is queued, then ends the writer thread; later writes fail.
    func stop() async {
        state.withLock { $0.stopped = true }
        wakeWriter()
        await drain()
    }

    /// Has the writer thread run a PASSIVE checkpoint between two batches
    /// (the ``Checkpointer`` asks when the log keeps growing).
    func requestCheckpoint() {
        state.withLock { state in
            if !state.stopped { state.checkpointRequested = true }
        }
        wakeWriter()
    }

    private func wakeWriter() {
        wakeup.lock()
        wakeup.signal()
        wakeup.unlock()
    }

    private func run() {
        while let (batch, checkpoint) = nextBatch() {
            if !batch.isEmpty { commit(batch) }
            if checkpoint {
                // Copies only what the checkpointer's own round left; an
                // error (a reader in the way) leaves it to the next request.
                _ = try? writer.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
        }
    }

    /// The next batch, waiting for work if there is none, and whether a
    /// checkpoint is due after it (the batch is empty when only that is);
    /// nil once stopped with nothing queued. Each time the queue is found
    /// empty, the callers of ``drain()`` resume.
    private func nextBatch() -> (batch: [Pending], checkpoint: Bool)? {
        wakeup.lock()
        defer { wakeup.unlock() }
        while true {
            let (batch, checkpoint, stopped, idleWaiters) = state.withLock { state in
                let count = min(state.queue.count, maxBatchSize)
                // No checkpoint once stopping: the connection is closed right
                // after the drain, and a checkpoint on it then would crash.
                let checkpoint = state.checkpointRequested && !state.stopped
                state.checkpointRequested = false
                // Busy through a checkpoint too, so that a drain waits for it.
                state.busy = count > 0 || checkpoint
                guard !state.busy else {
                    defer { state.queue.removeFirst(count) }
                    return (Array(state.queue.prefix(count)), checkpoint, state.stopped, [CheckedContinuation<Void, Never>]())
                }
                let waiters = state.drainWaiters
                state.drainWaiters = []
                return ([], false, state.stopped, waiters)
            }
            for waiter in idleWaiters { waiter.resume() }
            if !batch.isEmpty || checkpoint { return (batch, checkpoint) }
            if stopped { return nil }
            wakeup.wait()
        }
    }

    /// Runs one operation in its own savepoint: its error rolls back its
    /// changes only, including any savepoint of its own it left open (see
    /// ``GRDB/Database/inDirectSavepoint(named:_:)``).
    private static func inSavepoint(
        _ db: Database,
        _ operation: @Sendable (Database) throws -> any Sendable
    ) throws -> Result<any Sendable, any Error> {
        do {
            return .success(
                try db.inDirectSavepoint(named: .batchOperation) {
                    do { return try operation(db) } catch { throw OperationFailed(error: error) }
                }
            )
        } catch let failed as OperationFailed {
            // Any other error is the savepoint's own: the whole batch fails.
            return .failure(failed.error)
        }
    }

    /// An operation's own error, told apart from its savepoint's.
    private struct OperationFailed: Error {
        var error: any Error
    }

    private func commit(_ batch: [Pending]) {
        onBatch?(batch.count)
        var committedActions: [@Sendable () -> Void] = []
        do {
            let results = try writer.writeWithoutTransaction { db -> [Result<any Sendable, any Error>] in
                // Cleared before the connection is released, so that no
                // write outside the batch can add to the list.
                afterCommitActions.withLock { $0.database = ObjectIdentifier(db) }
                defer {
                    afterCommitActions.withLock { pending in
                        pending.database = nil
                        committedActions = pending.actions
                        pending.actions = []
                    }
                }
                var results: [Result<any Sendable, any Error>] = []
                results.reserveCapacity(batch.count)
                try db.inTransaction(.immediate) {
                    for pending in batch {
                        let mark = afterCommitActions.withLock { $0.actions.count }
                        let result = try Self.inSavepoint(db, pending.operation)
                        if case .failure = result {
                            afterCommitActions.withLock { $0.actions.removeSubrange(mark...) }
                        }
                        results.append(result)
                    }
                    return .commit
                }
                return results
            }
            for action in committedActions { action() }
            ended.add(1, ordering: .releasing)
            Self.resume(zip(batch, results).map { ($0, $1) })
        } catch {
            ended.add(1, ordering: .releasing)
            Self.resume(batch.map { ($0, .failure(error)) })
        }
    }

    /// Resumes each caller on the event loop it submitted from, one hop per
    /// loop for the whole batch; callers from elsewhere right here.
    private static func resume(_ outcomes: [(Pending, Result<any Sendable, any Error>)]) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, outcomes: [(Pending, Result<any Sendable, any Error>)])] = [:]
        for (pending, result) in outcomes {
            guard let loop = pending.eventLoop else {
                pending.continuation.resume(with: result)
                continue
            }
            byLoop[ObjectIdentifier(loop), default: (loop, [])].outcomes.append((pending, result))
        }
        for (loop, group) in byLoop.values {
            loop.execute {
                for (pending, result) in group { pending.continuation.resume(with: result) }
            }
        }
    }
}
