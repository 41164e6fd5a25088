import Foundation
import GRDB
@testable import ParleyStore
import Testing

@Suite("Log write coalescing")
struct LogWriteCoalescingTests {
    static let blobTable = StoreMigration("test.v1.blob") { db in
        try db.execute(sql: "CREATE TABLE blob (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    }

    /// A body that tells its row apart from every other (so a page that went
    /// missing or moved cannot pass for another).
    static func body(_ id: Int, bytes: Int) -> Data {
        Data((0..<bytes).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ (id &* 131) ^ ($0 >> 8) ^ (id >> 3)) })
    }

    @Test("a commit's log writes reach the file system as fewer, larger writes; the log on disk holds every committed row, small commits and ones past the buffer alike")
    func committedLogIsComplete() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("test.sqlite").path
        // No checkpoint while the test runs: every committed page stays in
        // the log, which is what the copy below has to recover them from.
        var configuration = ParleyDatabase.Configuration.defaults
        configuration.checkpointInterval = .seconds(3600)
        let database = try ParleyDatabase.open(path: path, migrations: [Self.blobTable], configuration: configuration)
        let before = LogWriteCoalescing.statistics

        // Many small batches, concurrent, then one commit several times the
        // buffer (the unix VFS refuses a single write of 128 KiB or more).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...200 {
                group.addTask {
                    try await database.batchedWriter.write { db in
                        try db.execute(sql: "INSERT INTO blob (id, body) VALUES (?, ?)", arguments: [id, Self.body(id, bytes: 300)])
                    }
                }
            }
            try await group.waitForAll()
        }
        let large = 201...300
        try await database.batchedWriter.write { db in
            for id in large {
                try db.execute(sql: "INSERT INTO blob (id, body) VALUES (?, ?)", arguments: [id, Self.body(id, bytes: 5000)])
            }
        }
        let after = LogWriteCoalescing.statistics
        #expect(LogWriteCoalescing.bufferCapacity < 128 * 1024)
        // Other tests may write logs meanwhile; all of them coalesce too.
        let received = after.received - before.received
        let issued = after.issued - before.issued
        #expect(received > 300)
        #expect(issued * 4 < received, "\(issued) writes issued for \(received) received")

        // Another connection sees everything committed.
        let seen = try database.queryNow(sql: "SELECT COUNT(*) FROM blob", { _ in }, row: { $0.int64(0) })
        #expect(seen == [300])

        // A copy of the files as they are now, with the log's index left
        // behind, is what a crash would leave: SQLite rebuilds the index from
        // the log, checking every frame's checksum, and keeps only what ends
        // in a commit frame.
        let copy = directory.appendingPathComponent("copy")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        for suffix in ["", "-wal"] {
            try FileManager.default.copyItem(atPath: path + suffix, toPath: copy.appendingPathComponent("test.sqlite" + suffix).path)
        }
        try await database.close()
        let recovered = try DatabaseQueue(path: copy.appendingPathComponent("test.sqlite").path)
        let rows = try await recovered.read { db in
            try Row.fetchAll(db, sql: "SELECT id, body FROM blob ORDER BY id").map { (id: $0["id"] as Int, body: $0["body"] as Data) }
        }
        #expect(rows.map(\.id) == Array(1...300))
        for row in rows {
            #expect(row.body == Self.body(row.id, bytes: large.contains(row.id) ? 5000 : 300), "row \(row.id)")
        }
    }
}

extension LogWriteCoalescingTests {
    @Test("a database whose log was deleted (a restore, or the sqlite3 tool run while stopped) opens and serves: GRDB's set-up commit, not fsynced, is not left in a buffer")
    func reopenWithoutLog() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-log-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("test.sqlite").path
        let first = try ParleyDatabase.open(path: path, migrations: [Self.blobTable])
        try await first.batchedWriter.write { db in
            try db.execute(sql: "INSERT INTO blob (id, body) VALUES (1, ?)", arguments: [Self.body(1, bytes: 100)])
        }
        // Everything into the database file, as a backup made with `.backup` is.
        _ = try await first.writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        try await first.close()
        // What the operations guide's restore does: the log and its index go.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        for round in 1...2 {
            let reopened = try ParleyDatabase.open(path: path, migrations: [Self.blobTable])
            let direct = try reopened.queryNow(sql: "SELECT COUNT(*) FROM blob", { _ in }, row: { $0.int64(0) })
            #expect(direct == [Int64(round)], "round \(round)")
            let pooled = try await reopened.writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM blob") }
            #expect(pooled == round, "round \(round)")
            try await reopened.batchedWriter.write { db in
                try db.execute(sql: "INSERT INTO blob (id, body) VALUES (?, ?)", arguments: [round + 1, Self.body(round + 1, bytes: 100)])
            }
            _ = try await reopened.writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            try await reopened.close()
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }
}
