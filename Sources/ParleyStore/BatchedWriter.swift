public import GRDB
import Synchronization

/// Group commit: write operations submitted concurrently are committed
/// together in one transaction, so that one fsync serves many callers.
///
/// Each operation runs in its own savepoint: one that throws rolls back alone
/// and its batch-mates still commit. A caller resumes only after the
/// transaction holding its operation has committed (and so, with
/// `synchronous=FULL`, is durable). A batch starts as soon as the previous one
/// has committed; whatever arrived meanwhile forms the next batch, so batches
/// grow with load and a lone write is not delayed.
public final class BatchedWriter: Sendable {
    private struct Pending: Sendable {
        let operation: @Sendable (Database) throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
    }

    private struct State: ~Copyable {
        var queue: [Pending] = []
        var flushing = false
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let writer: any DatabaseWriter
    private let maxBatchSize: Int
    private let onBatch: (@Sendable (Int) -> Void)?
    private let state = Mutex(State())

    init(writer: any DatabaseWriter, maxBatchSize: Int, onBatch: (@Sendable (Int) -> Void)?) {
        precondition(maxBatchSize >= 1)
        self.writer = writer
        self.maxBatchSize = maxBatchSize
        self.onBatch = onBatch
    }

    /// Runs `operation` inside the next batch transaction and returns its
    /// result once that transaction has committed. If `operation` throws, its
    /// changes are rolled back and the error is rethrown; other operations are
    /// unaffected. If the commit itself fails, every operation of the batch
    /// gets that error.
    public func write<T: Sendable>(_ operation: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let value = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let pending = Pending(operation: { db in try operation(db) }, continuation: continuation)
            let startFlush = state.withLock { state in
                state.queue.append(pending)
                if state.flushing { return false }
                state.flushing = true
                return true
            }
            if startFlush {
                Task { await self.flushLoop() }
            }
        }
        return value as! T
    }

    /// Waits until every operation submitted so far has completed.
    public func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if !state.flushing && state.queue.isEmpty { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    private func flushLoop() async {
        while true {
            let batch: [Pending] = state.withLock { state in
                let count = min(state.queue.count, maxBatchSize)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            if batch.isEmpty {
                let waiters: [CheckedContinuation<Void, Never>]? = state.withLock { state in
                    // Something may have arrived between the take and here.
                    if !state.queue.isEmpty { return nil }
                    state.flushing = false
                    defer { state.drainWaiters.removeAll() }
                    return state.drainWaiters
                }
                guard let waiters else { continue }
                for waiter in waiters { waiter.resume() }
                return
            }
            await commit(batch)
        }
    }

    /// Runs one operation in its own savepoint: its error rolls back its
    /// changes only. (GRDB's `inSavepoint` parses its SAVEPOINT statements on
    /// every call; these are prepared once per connection and run directly,
    /// see `Database+Direct.swift`.)
    private static func inSavepoint(
        _ db: Database,
        _ operation: @Sendable (Database) throws -> any Sendable
    ) throws -> Result<any Sendable, any Error> {
        try db.executeDirect(sql: "SAVEPOINT batch_operation") { _ in }
        do {
            let value = try operation(db)
            try db.executeDirect(sql: "RELEASE SAVEPOINT batch_operation") { _ in }
            return .success(value)
        } catch {
            // Failing to roll back leaves the transaction unusable: the whole
            // batch fails (the error propagates), which is the safe outcome.
            try db.executeDirect(sql: "ROLLBACK TO SAVEPOINT batch_operation") { _ in }
            try db.executeDirect(sql: "RELEASE SAVEPOINT batch_operation") { _ in }
            return .failure(error)
        }
    }

    private func commit(_ batch: [Pending]) async {
        onBatch?(batch.count)
        do {
            let results = try await writer.writeWithoutTransaction { db -> [Result<any Sendable, any Error>] in
                var results: [Result<any Sendable, any Error>] = []
                results.reserveCapacity(batch.count)
                try db.inTransaction(.immediate) {
                    for pending in batch {
                        results.append(try Self.inSavepoint(db, pending.operation))
                    }
                    return .commit
                }
                return results
            }
            for (pending, result) in zip(batch, results) {
                pending.continuation.resume(with: result)
            }
        } catch {
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }
}
