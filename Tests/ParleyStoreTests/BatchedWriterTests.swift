import Foundation
import GRDB
import NIOCore
import NIOPosix
@testable import ParleyStore
import Synchronization
import Testing

@Suite("Store")
struct StoreTests {
    static let itemTable = StoreMigration("test.v1.item") { db in
        try db.execute(sql: "CREATE TABLE item (id INTEGER PRIMARY KEY, value INTEGER NOT NULL UNIQUE)")
    }

    final class NameLog: Sendable {
        private let names = Mutex<[String]>([])
        func append(_ name: String) { names.withLock { $0.append(name) } }
        var all: [String] { names.withLock { $0 } }
    }

    final class BatchLog: Sendable {
        private let sizes = Mutex<[Int]>([])
        func append(_ size: Int) { sizes.withLock { $0.append(size) } }
        var all: [Int] { sizes.withLock { $0 } }
    }

    private func withDatabase<T>(
        _ configuration: ParleyDatabase.Configuration = .defaults,
        _ body: (ParleyDatabase, BatchLog) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let batches = BatchLog()
        let database = try ParleyDatabase.open(
            path: directory.appendingPathComponent("test.sqlite").path,
            migrations: [Self.itemTable],
            configuration: configuration,
            onBatch: { size in batches.append(size) }
        )
        let result = try await body(database, batches)
        try await database.close()
        return result
    }

    @Test("durable settings: WAL journal and synchronous=FULL on the writer connection, which commits every batch")
    func pragmas() async throws {
        try await withDatabase { database, _ in
            let journal = try database.pragma("journal_mode")
            let synchronous = try database.pragma("synchronous")
            #expect(journal == "wal")
            #expect(synchronous == "2")
            // Asked inside a batch: the connection that commits it fsyncs.
            let inBatch = try await database.batchedWriter.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(inBatch == 2)
            // The writer's page cache is its own size; readers keep theirs.
            let writerCache = try await database.batchedWriter.write { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
            #expect(writerCache == -ParleyDatabase.Configuration.defaults.writerCacheSizeKiB)
            let readerCache = try await database.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
            #expect(readerCache == -ParleyDatabase.Configuration.defaults.cacheSizeKiB)
            // Only the writer reads through a memory map.
            let writerMap = try await database.batchedWriter.write { db in try Int.fetchOne(db, sql: "PRAGMA mmap_size") }
            #expect(writerMap == ParleyDatabase.Configuration.defaults.mmapSizeBytes)
            let readerMap = try await database.writer.read { db in try Int.fetchOne(db, sql: "PRAGMA mmap_size") }
            #expect(readerMap == 0)
            let directMap = try database.queryNow(sql: "PRAGMA mmap_size", { _ in }, row: { $0.int64(0) })
            #expect(directMap == [0])
        }
    }

    struct Refused: Error {}

    @Test("closing right after a checkpoint request never checkpoints the closed connection")
    func closeWithCheckpointPending() async throws {
        // Before the fix the writer thread could run a requested checkpoint
        // after close() had closed the connection: a crash in
        // sqlite3_wal_checkpoint_v2 (seen about once in five full test runs).
        for _ in 0..<500 {
            let database = try ParleyDatabase.inMemory(migrations: [Self.itemTable])
            database.batchedWriter.requestCheckpoint()
            try await database.close()
        }
    }

    @Test("a new file gets the configured page size; an existing file keeps its own")
    func pageSize() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("test.sqlite").path
        var configuration = ParleyDatabase.Configuration.defaults
        configuration.pageSizeBytes = 8192
        let created = try ParleyDatabase.open(path: path, migrations: [Self.itemTable], configuration: configuration)
        #expect(try created.pragma("page_size") == "8192")
        try await created.close()
        let reopened = try ParleyDatabase.open(path: path, migrations: [Self.itemTable])
        #expect(try reopened.pragma("page_size") == "8192")
        // The log limit counts the file's own pages.
        #expect(try reopened.pragma("journal_size_limit") == "\(ParleyDatabase.Configuration.defaults.walRestartPages * 8192)")
        try await reopened.close()
        let fresh = try ParleyDatabase.open(path: path + "-2", migrations: [Self.itemTable])
        #expect(try fresh.pragma("page_size") == "2048")
        try await fresh.close()
    }

    @Test("checkpoints run off the writer: under steady writes the log starts over and stays near its limit")
    func checkpointsBoundTheLog() async throws {
        var configuration = ParleyDatabase.Configuration.defaults
        configuration.checkpointInterval = .milliseconds(10)
        configuration.walRestartPages = 64
        try await withDatabase(configuration) { database, _ in
            let file = try await database.writer.read { db in try String.fetchOne(db, sql: "SELECT file FROM pragma_database_list WHERE name = 'main'") }
            let wal = try #require(file) + "-wal"
            func walBytes() throws -> Int { try FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int ?? 0 }
            // Automatic checkpoints are off: without the checkpointer these
            // 4 MiB of rows (about 2,000 pages of 2 KiB) would all stay in the log.
            let blob = Data(repeating: 7, count: 4000)
            for round in 0..<50 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<20 {
                        let value = round * 20 + index + 1
                        group.addTask {
                            try await database.batchedWriter.write { db in
                                try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [value])
                                try db.execute(sql: "CREATE TABLE IF NOT EXISTS blob (id INTEGER PRIMARY KEY, data BLOB)")
                                try db.execute(sql: "INSERT INTO blob (data) VALUES (?)", arguments: [blob])
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            // The log restarts once the writer copies the remainder; give the
            // checkpointer a few rounds, with a write to start the log over.
            var size = try walBytes()
            for attempt in 0..<200 where size > 64 * configuration.pageSizeBytes * 2 {
                try await Task.sleep(for: .milliseconds(20))
                try await database.batchedWriter.write { db in try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [100_000 + attempt]) }
                size = try walBytes()
            }
            #expect(size <= 64 * configuration.pageSizeBytes * 2, "log of \(size) bytes")
            let count = try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM blob") }
            #expect(count == 1000)
        }
    }

    @Test("1,000 concurrent writes with some failing: exactly the good ones commit, in shared batches")
    func groupCommit() async throws {
        try await withDatabase { database, batches in
            // value 0 exists, so writes that insert it again violate UNIQUE.
            _ = try await database.batchedWriter.write { db in try db.execute(sql: "INSERT INTO item (value) VALUES (0)") }
            let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                for i in 1...1000 {
                    group.addTask {
                        do {
                            try await database.batchedWriter.write { db in
                                try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [i])
                                if i % 10 == 3 { throw Refused() }  // after writing: must roll back alone
                                if i % 10 == 7 { try db.execute(sql: "INSERT INTO item (value) VALUES (0)") }
                            }
                            return (i, true)
                        } catch {
                            return (i, false)
                        }
                    }
                }
                var outcomes: [Int: Bool] = [:]
                for try await (i, ok) in group { outcomes[i] = ok }
                return outcomes
            }
            let expected = Set((1...1000).filter { $0 % 10 != 3 && $0 % 10 != 7 })
            #expect(Set(outcomes.filter(\.value).keys) == expected)
            let stored = try await database.writer.read { db in try Set(Int.fetchAll(db, sql: "SELECT value FROM item WHERE value > 0")) }
            #expect(stored == expected)
            let sizes = batches.all
            #expect(sizes.reduce(0, +) == 1001)
            #expect(sizes.contains { $0 > 1 }, "concurrent writes should share a commit")
        }
    }

    @Test("a failing operation is undone whole, even past a savepoint it left open; a step's savepoint undoes that step only")
    func operationRollsBackNestedSavepoints() async throws {
        try await withDatabase { database, _ in
            // A step that failed to close its savepoint (say its RELEASE
            // failed) and then an error: the operation's rollback must reach
            // back past it, to before the operation's first change.
            await #expect(throws: Refused.self) {
                try await database.batchedWriter.write { db in
                    try db.execute(sql: "INSERT INTO item (value) VALUES (1)")
                    try db.executeDirect(sql: "SAVEPOINT step") { _ in }
                    try db.execute(sql: "INSERT INTO item (value) VALUES (2)")
                    throw Refused()
                }
            }
            // A failing step inside an operation that goes on: only the step is undone.
            try await database.batchedWriter.write { db in
                try db.execute(sql: "INSERT INTO item (value) VALUES (3)")
                _ = try? db.inDirectSavepoint {
                    try db.execute(sql: "INSERT INTO item (value) VALUES (4)")
                    throw Refused()
                }
                try db.inDirectSavepoint { try db.execute(sql: "INSERT INTO item (value) VALUES (5)") }
            }
            let values = try await database.writer.read { db in try Int.fetchAll(db, sql: "SELECT value FROM item ORDER BY value") }
            #expect(values == [3, 5])
        }
    }

    @Test("a write returns its value and drain waits for everything queued")
    func returnsValues() async throws {
        try await withDatabase { database, _ in
            let id = try await database.batchedWriter.write { db -> Int64 in
                try db.execute(sql: "INSERT INTO item (value) VALUES (42)")
                return db.lastInsertedRowID
            }
            #expect(id > 0)
            await database.batchedWriter.drain()
        }
    }

    @Test("after-commit actions run once the batch commits, before its caller resumes; not for a failed operation, nor outside a batch")
    func afterCommitActions() async throws {
        struct Refused: Error {}
        try await withDatabase { database, _ in
            let log = Mutex<[String]>([])
            let writer = database.batchedWriter
            let ranInside = try await writer.write { db -> Bool in
                #expect(writer.afterCommit(of: db) { log.withLock { $0.append("kept") } })
                try db.execute(sql: "INSERT INTO item (value) VALUES (1)")
                return log.withLock { $0.contains("kept") }
            }
            #expect(!ranInside)
            #expect(log.withLock { $0 } == ["kept"])
            await #expect(throws: Refused.self) {
                try await writer.write { db in
                    _ = writer.afterCommit(of: db) { log.withLock { $0.append("failed") } }
                    throw Refused()
                }
            }
            #expect(log.withLock { $0 } == ["kept"])
            let outside = try await database.writer.write { db in writer.afterCommit(of: db) { log.withLock { $0.append("outside") } } }
            #expect(!outside)
            try await writer.write { _ in }
            #expect(log.withLock { $0 } == ["kept"])
        }
    }

    @Test("in one batch, a failed operation's after-commit actions go and its batch-mates' run")
    func afterCommitActionsOfBatchMates() async throws {
        struct Refused: Error {}
        try await withDatabase { database, batches in
            let log = NameLog()
            let writer = database.batchedWriter
            // The first write holds the writer until the three others are
            // queued, so that they share the next batch.
            let entered = DispatchSemaphore(value: 0)
            let proceed = DispatchSemaphore(value: 0)
            let holder = Task { try await writer.write { _ in
                entered.signal()
                proceed.wait()
            } }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    entered.wait()
                    continuation.resume()
                }
            }
            // Queued in this order (a pause between submissions): a
            // batch-mate before the failing operation and one after it.
            func succeeding(_ name: String, value: Int) -> Task<Void, any Error> {
                Task {
                    try await writer.write { db in
                        _ = writer.afterCommit(of: db) { log.append(name) }
                        try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [value])
                    }
                }
            }
            let before = succeeding("before", value: 10)
            try await Task.sleep(for: .milliseconds(50))
            let failing = Task {
                try await writer.write { db in
                    _ = writer.afterCommit(of: db) { log.append("failed") }
                    throw Refused()
                }
            }
            try await Task.sleep(for: .milliseconds(50))
            let after = succeeding("after", value: 11)
            try await Task.sleep(for: .milliseconds(100))
            proceed.signal()
            try await holder.value
            await #expect(throws: Refused.self) { try await failing.value }
            try await before.value
            try await after.value
            #expect(batches.all.last == 3, "the three were not batch-mates: \(batches.all)")
            #expect(log.all == ["before", "after"])
        }
    }

    @Test("idempotency outcomes are kept for the retention, scoped by principal")
    func idempotencyRetention() async throws {
        try await withDatabase { database, _ in
            let store = IdempotencyStore(database: database, retention: .seconds(3600))
            let record = IdempotencyRecord(requestDigest: Data([1]), code: 0, payload: Data([9]), createdAtMilliseconds: 1_000_000)
            try await store.store(principal: "acme", method: "/m", key: "k", record: record)
            #expect(try await store.lookup(principal: "acme", method: "/m", key: "k", nowMilliseconds: 1_000_000 + 3_599_000) == record)
            #expect(try await store.lookup(principal: "other", method: "/m", key: "k", nowMilliseconds: 1_000_000) == nil)
            #expect(try await store.lookup(principal: "acme", method: "/m", key: "k", nowMilliseconds: 1_000_000 + 3_601_000) == nil)
            #expect(try await store.purgeExpired(nowMilliseconds: 1_000_000 + 3_601_000) == 1)
        }
    }

    @Test("stored outcomes are found again after the database is reopened (the index is rebuilt)")
    func idempotencyIndexRebuilt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("test.sqlite").path
        let record = IdempotencyRecord(requestDigest: Data([1]), code: 0, payload: Data([9]), createdAtMilliseconds: 5_000)
        do {
            let database = try ParleyDatabase.open(path: path, migrations: [])
            let store = IdempotencyStore(database: database)
            for index in 0..<50 {
                try await store.store(principal: "acme", method: "/m", key: "k\(index)", record: record)
            }
            try await database.close()
        }
        let reopened = try ParleyDatabase.open(path: path, migrations: [])
        let store = IdempotencyStore(database: reopened)
        for index in 0..<50 {
            #expect(try await store.lookup(principal: "acme", method: "/m", key: "k\(index)", nowMilliseconds: 6_000) == record)
        }
        #expect(try await store.lookup(principal: "acme", method: "/m", key: "k50", nowMilliseconds: 6_000) == nil)
        try await reopened.close()
    }

    @Test("an outcome whose operation rolled back is not found, even when a later row reuses its row id")
    func idempotencyRolledBack() async throws {
        try await withDatabase { database, _ in
            let store = IdempotencyStore(database: database)
            let doomed = IdempotencyRecord(requestDigest: Data([1]), code: 0, payload: Data([1]), createdAtMilliseconds: 1_000)
            let kept = IdempotencyRecord(requestDigest: Data([2]), code: 0, payload: Data([2]), createdAtMilliseconds: 1_000)
            // One transaction, as in a batch: the first operation's savepoint
            // rolls back after its insert, and the second reuses its row id.
            try await database.writer.write { db in
                try db.inSavepoint {
                    try store.insert(db, IdempotencyKey(principal: "acme", method: "/m", key: "doomed"), record: doomed)
                    return .rollback
                }
                try store.insert(db, IdempotencyKey(principal: "acme", method: "/m", key: "kept"), record: kept)
            }
            #expect(try await store.lookup(principal: "acme", method: "/m", key: "doomed", nowMilliseconds: 2_000) == nil)
            #expect(try await store.lookup(principal: "acme", method: "/m", key: "kept", nowMilliseconds: 2_000) == kept)
        }
    }

    @Test("purging deletes only expired outcomes, in chunks, and forgets them")
    func idempotencyPurgeChunks() async throws {
        try await withDatabase { database, _ in
            let store = IdempotencyStore(database: database, retention: .seconds(60))
            for index in 0..<25 {
                let created: Int64 = index < 20 ? 1_000 : 100_000
                let record = IdempotencyRecord(requestDigest: Data([1]), code: 0, payload: Data(), createdAtMilliseconds: created)
                try await store.store(principal: "acme", method: "/m", key: "k\(index)", record: record)
            }
            #expect(try await store.purgeExpired(nowMilliseconds: 100_000, chunk: 7) == 20)
            #expect(try await store.purgeExpired(nowMilliseconds: 100_000, chunk: 7) == 0)
            let left = try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM idempotency_record") }
            #expect(left == 5)
            #expect(try await store.lookup(principal: "acme", method: "/m", key: "k3", nowMilliseconds: 100_000) == nil)
            #expect(try await store.lookup(principal: "acme", method: "/m", key: "k22", nowMilliseconds: 100_000) != nil)
        }
    }

    @Test("a caller is resumed on the event loop it names, after the commit: not before that loop is free")
    func resumesOnCallersEventLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let loop = group.next()
        try await withDatabase { database, _ in
            // The loop is kept busy: a resume that goes through it must wait.
            let release = DispatchSemaphore(value: 0)
            let busy = loop.submit { release.wait() }
            let finished = Atomic<Bool>(false)
            let write = Task {
                let value = try await database.batchedWriter.write(resumingOn: loop) { db -> Int in
                    try db.execute(sql: "INSERT INTO item (value) VALUES (7)")
                    return 7
                }
                finished.store(true, ordering: .releasing)
                return value
            }
            do {
                // Committed meanwhile (another connection sees the row), yet not resumed.
                var committed = false
                for _ in 0..<500 where !committed {
                    committed = try await database.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM item") } == 1
                    if !committed { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(committed)
                try await Task.sleep(for: .milliseconds(100))
                let resumedEarly = finished.load(ordering: .acquiring)
                #expect(!resumedEarly)
            } catch {
                release.signal()
                throw error
            }
            release.signal()
            try await busy.get()
            #expect(try await write.value == 7)
        }
    }

    @Test("by default only a loop of NIO's singleton group is resumed on: another group's loop may shut down")
    func defaultResumeLoopIsLasting() async throws {
        #expect(BatchedWriter.currentLastingEventLoop == nil)
        let singleton = MultiThreadedEventLoopGroup.singleton.next()
        #expect(try await singleton.submit { BatchedWriter.currentLastingEventLoop === singleton }.get())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        #expect(try await group.next().submit { BatchedWriter.currentLastingEventLoop == nil }.get())
    }

    @Test("queryNow reads each statement's committed state on its own connections, from many threads at once")
    func queryNowReadsCommittedState() async throws {
        try await withDatabase { database, _ in
            let count = { () throws -> Int64 in
                try database.queryNow(sql: "SELECT COUNT(*), COALESCE(SUM(value), 0) FROM item", { _ in }, row: { $0.int64(0) })[0]
            }
            #expect(try count() == 0)
            for value in 1...20 {
                _ = try await database.batchedWriter.write { db in
                    try db.executeDirect(sql: "INSERT INTO item (value) VALUES (?)") { $0.bind(value) }
                }
                // Each query is a fresh snapshot: it sees the write just acknowledged.
                #expect(try count() == Int64(value))
            }
            // More threads than connections (4): a query waits for a free one.
            let sums = try await withThrowingTaskGroup(of: Int64.self) { group in
                for thread in 0..<16 {
                    group.addTask {
                        var total: Int64 = 0
                        for round in 0..<200 {
                            let value = (thread + round) % 20 + 1
                            let found = try database.queryNow(
                                sql: "SELECT value FROM item WHERE value = ?",
                                { $0.bind(value) },
                                row: { $0.int64(0) }
                            )
                            total += found.first ?? -1_000_000
                        }
                        return total
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            let expected = (0..<16).map { thread in (0..<200).reduce(Int64(0)) { $0 + Int64((thread + $1) % 20 + 1) } }
            #expect(sums.sorted() == expected.sorted())
            // A bad statement is an error, and the connection stays usable.
            #expect(throws: DatabaseError.self) {
                _ = try database.queryNow(sql: "SELECT nothing FROM nowhere", { _ in }, row: { $0.int64(0) })
            }
            #expect(try count() == 20)
        }
    }

    @Test("queryNow after close fails; it never touches a closed connection")
    func queryNowAfterClose() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try ParleyDatabase.open(path: directory.appendingPathComponent("test.sqlite").path, migrations: [Self.itemTable])
        #expect(try database.queryNow(sql: "SELECT COUNT(*) FROM item", { _ in }, row: { $0.int64(0) }) == [0])
        try await database.close()
        #expect(throws: StoreError.self) {
            _ = try database.queryNow(sql: "SELECT COUNT(*) FROM item", { _ in }, row: { $0.int64(0) })
        }
    }

    @Test("queryEachNow runs a statement once per index in one read; a failing run ends that read and nothing stays stale")
    func queryEachNow() async throws {
        try await withDatabase { database, _ in
            _ = try await database.batchedWriter.write { db in
                for value in [10, 20, 30] { try db.executeDirect(sql: "INSERT INTO item (value) VALUES (?)") { $0.bind(value) } }
            }
            let wanted: [Int64] = [30, 5, 10, 20]
            let rows = try database.queryEachNow(
                sql: "SELECT value FROM item WHERE value = ?",
                count: wanted.count,
                { index, binder in binder.bind(wanted[index]) },
                row: { $0.int64(0) }
            )
            #expect(rows == [[30], [], [10], [20]])
            // abs() of the smallest integer is a run-time error: the third run fails.
            for _ in 0..<8 {
                #expect(throws: DatabaseError.self) {
                    _ = try database.queryEachNow(
                        sql: "SELECT CASE WHEN ?1 = 3 THEN abs(-9223372036854775807 - 1) ELSE ?1 END",
                        count: 4,
                        { index, binder in binder.bind(index + 1) },
                        row: { $0.int64(0) }
                    )
                }
            }
            _ = try await database.batchedWriter.write { db in
                try db.executeDirect(sql: "INSERT INTO item (value) VALUES (40)") { _ in }
            }
            // Every connection (queries rotate over them) sees the new row:
            // none was left inside the failed read's snapshot.
            for _ in 0..<8 {
                let counts = try database.queryEachNow(sql: "SELECT COUNT(*) FROM item", count: 2, { _, _ in }, row: { $0.int64(0) })
                #expect(counts == [[4], [4]])
            }
        }
    }
}

@Suite("Work loops")
struct WorkLoopsTests {
    @Test("a task preferring the work loops runs on one, and a batched write resumes it on that same loop in one hop")
    func resumedOnItsWorkLoop() async throws {
        let database = try ParleyDatabase.inMemory(migrations: [StoreTests.itemTable])
        let workLoops = Set(WorkLoops.group.makeIterator().map { ObjectIdentifier($0) })
        let placements = try await withThrowingTaskGroup(of: (ObjectIdentifier?, ObjectIdentifier?).self) { group in
            for value in 1...20 {
                group.addTask(executorPreference: WorkLoops.executor) {
                    let before = MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) }
                    try await database.batchedWriter.write { db in
                        try db.execute(sql: "INSERT INTO item (value) VALUES (?)", arguments: [value])
                    }
                    return (before, MultiThreadedEventLoopGroup.currentEventLoop.map { ObjectIdentifier($0) })
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(placements.count == 20)
        for (before, after) in placements {
            #expect(before.map(workLoops.contains) == true)
            #expect(after == before)
        }
        try await database.close()
    }
}
