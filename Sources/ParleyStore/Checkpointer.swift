import Foundation
import GRDB
import Synchronization

/// Copies the write-ahead log into the database file on a thread of its own,
/// so that the writer thread — the serial section of every durable call —
/// does not.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its
/// threshold: measured under capture load, checkpoints every 1000 pages cost
/// the writer about an eighth of its time, and a larger threshold stalls one
/// unlucky batch for hundreds of milliseconds. Here, automatic checkpoints are
/// off (`PRAGMA wal_autocheckpoint = 0` on every connection) and:
///
/// - every `interval`, a PASSIVE checkpoint on this thread's own connection
///   copies what the log holds; it runs beside the writer and blocks no one;
/// - a log still longer than `restartPages` after that (the writer kept
///   appending while it ran) has the writer run one more PASSIVE checkpoint
///   between two batches. That one only copies the frames written
///   meanwhile, and once the log is fully copied the next transaction starts
///   the log over from its beginning, so the file stops growing.
///
/// Durability does not change: commits still fsync the log, and a checkpoint
/// fsyncs the database file before the log is reused.
final class Checkpointer: Sendable {
    private let connection: DatabaseQueue
    private let interval: Duration
    private let restartPages: Int
    private let writer: BatchedWriter
    private let stopped = Mutex(false)
    private let wakeup = NSCondition()
    /// Whether the thread has ended, and who waits for it to.
    private let ending = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    init(path: String, configuration: GRDB.Configuration, interval: Duration, restartPages: Int, writer: BatchedWriter) throws {
        self.connection = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
        self.restartPages = restartPages
        self.writer = writer
        let thread = Thread { [self] in
            // At most 15 characters: Linux refuses a longer thread name, and
            // the thread then keeps its creator's (an event loop's), which
            // made checkpoints look like event-loop work in profiles.
            Thread.current.name = "parley-ckpt"
            self.run()
        }
        thread.start()
    }

    private func run() {
        while waitInterval() {
            do {
                var log = try checkpoint()
                guard log.walFrameCount >= restartPages else { continue }
                // The log is to start over. Each round copies what the writer
                // appended during the one before, and copying is several times
                // faster than appending, so a few rounds shrink the remainder
                // the writer will copy itself (and wait for) to a few pages.
                var rounds = 0
                while rounds < Self.maxCatchUpRounds, !stopped.withLock({ $0 }) {
                    let previous = log.walFrameCount
                    log = try checkpoint()
                    rounds += 1
                    if log.walFrameCount - previous <= Self.writerRemainderPages { break }
                }
                writer.requestCheckpoint()
            } catch {
                // SQLITE_BUSY while another checkpoint runs, for instance:
                // the next round tries again.
            }
        }
        try? connection.close()
        let waiter = ending.withLock { ending in
            ending.done = true
            return ending.waiter
        }
        waiter?.resume()
    }

    private func wake() {
        wakeup.lock()
        wakeup.signal()
        wakeup.unlock()
    }

    /// At most this many rounds chase the writer before it copies the rest.
    static let maxCatchUpRounds = 8
    /// A remainder this small is left to the writer (a stall of a few ms).
    static let writerRemainderPages = 256

    private func checkpoint() throws -> (walFrameCount: Int, checkpointedFrameCount: Int) {
        try connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
    }

    /// Sleeps one interval; false once stopped.
    private func waitInterval() -> Bool {
        wakeup.lock()
        defer { wakeup.unlock() }
        if stopped.withLock({ $0 }) { return false }
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        _ = wakeup.wait(until: Date(timeIntervalSinceNow: seconds))
        return !stopped.withLock { $0 }
    }

    /// Ends the thread (after the round in progress) and closes its connection.
    func stop() async {
        stopped.withLock { $0 = true }
        wake()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyDone = ending.withLock { ending in
                if !ending.done { ending.waiter = continuation }
                return ending.done
            }
            if alreadyDone { continuation.resume() }
        }
    }
}
