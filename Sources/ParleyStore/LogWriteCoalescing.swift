public import GRDB
import GRDBSQLite
import Synchronization

/// Gathers SQLite's writes to a write-ahead log into one `pwrite` per commit.
///
/// Why: SQLite appends each page of a commit to the log with two system
/// calls (the frame's 24-byte header, then the page). A batch of a few dozen
/// reservations writes about a hundred frames, and those `pwrite`s were 12 %
/// of the writer thread's time under Reserve (`docs/benchmarks.md`,
/// session 12) — the writer being the daemon's serial section.
///
/// How: a VFS (SQLite's file-system layer) over the platform's default one,
/// registered as the process's default before the store opens a database.
/// Every file but a log is the default VFS's own file, untouched, and a log
/// passes its writes straight through too until ``arm(_:)`` turns gathering
/// on for one connection's log: the store's writer, once it commits with
/// `synchronous=FULL`. Then the log's writes that continue one another are
/// kept in a buffer and written as one when SQLite does anything else with
/// the file: before it syncs it (which every commit of that connection
/// does), reads, truncates, sizes or closes it, and before a write elsewhere
/// in the file. So the bytes are in the file, and on disk, when the commit's
/// fsync returns, as before, and other connections never read a frame before
/// the commit that adds it to the log's index, which comes after the sync.
/// (A connection whose commits are not synced must never gather: its
/// frames would be in the index while still in its buffer. GRDB commits one
/// such transaction when it opens a pool on a database without a log,
/// before the store sets `synchronous=FULL`.)
///
/// A write that fails when the buffer is written out is reported by the call
/// that wrote it out (a sync, so the commit fails and is rolled back, as any
/// failed log write makes it).
public enum LogWriteCoalescing {
    /// The largest run of writes kept before it is written out: 124 KiB,
    /// about 60 frames of 2 KiB pages, a large batch's commit. Longer runs
    /// take more than one write: the unix VFS writes at most 128 KiB − 1 per
    /// call (it masks the length with `0x1ffff`), and fails a longer write
    /// with SQLITE_FULL.
    public static let bufferCapacity = 124 * 1024

    /// Counts, since the process started, of the log writes SQLite made to
    /// gathering logs and of the writes passed to the file system for them.
    public static var statistics: (received: Int, issued: Int) {
        (received.load(ordering: .relaxed), issued.load(ordering: .relaxed))
    }

    /// Registers the VFS as the default, once per process; true when it is.
    /// Databases opened before it keep the VFS they were opened with.
    @discardableResult
    public static func install() -> Bool { installation != nil }

    /// Has the log of `db`'s connection gather its writes from now on, and
    /// tells whether it does. Call it only for a connection that syncs every
    /// commit (`synchronous=FULL`) and writes the log alone (the store's
    /// writer). Refused (false) when the log is not this VFS's or not open,
    /// or when the device may tear writes (no powersafe overwrite: SQLite
    /// then pads a commit after its sync, and the padding would stay in the
    /// buffer).
    public static func arm(_ db: Database) -> Bool {
        guard let installation, let connection = db.sqliteConnection else { return false }
        var pointer: UnsafeMutableRawPointer?
        guard sqlite3_file_control(connection, "main", SQLITE_FCNTL_JOURNAL_POINTER, &pointer) == SQLITE_OK,
            let file = pointer?.assumingMemoryBound(to: sqlite3_file.self),
            file.pointee.pMethods == UnsafePointer(installation.methods)
        else { return false }
        guard realMethods(file).xDeviceCharacteristics!(realFile(file)) & SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0 else { return false }
        pending(file).armed = true
        return true
    }

    private static let received = Atomic<Int>(0)
    private static let issued = Atomic<Int>(0)

    /// Where in the file object the buffer's reference is kept, and where the
    /// default VFS's own file object starts.
    private static let pendingOffset = MemoryLayout<sqlite3_file>.stride
    private static let realOffset = pendingOffset + MemoryLayout<UnsafeMutableRawPointer?>.stride

    private struct Installation: @unchecked Sendable {
        /// The default VFS this one forwards to; never freed.
        let parent: UnsafeMutablePointer<sqlite3_vfs>
        /// The methods of every log file opened through this VFS; never freed.
        let methods: UnsafeMutablePointer<sqlite3_io_methods>
    }

    private static let installation: Installation? = {
        guard let parent = sqlite3_vfs_find(nil) else { return nil }
        let methods = UnsafeMutablePointer<sqlite3_io_methods>.allocate(capacity: 1)
        methods.initialize(to: logMethods())
        let vfs = UnsafeMutablePointer<sqlite3_vfs>.allocate(capacity: 1)
        // Everything but opening a file is the default VFS's (none of its
        // other methods depends on which VFS object it is called through).
        var shim = parent.pointee
        shim.pNext = nil
        // A literal's bytes are static and end with a NUL, as a C string's.
        let name: StaticString = "parley-log-coalescing"
        shim.zName = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        shim.szOsFile = Int32(realOffset) + parent.pointee.szOsFile
        shim.xOpen = { _, name, file, flags, outFlags in
            LogWriteCoalescing.open(name: name, file: file, flags: flags, outFlags: outFlags)
        }
        vfs.initialize(to: shim)
        let installation = Installation(parent: parent, methods: methods)
        guard sqlite3_vfs_register(vfs, 1) == SQLITE_OK else { return nil }
        return installation
    }()

    /// The runs of writes kept for one open log file.
    private final class PendingWrites {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: LogWriteCoalescing.bufferCapacity, alignment: 16)
        /// The file offset of the first byte kept.
        var start: Int64 = 0
        var count = 0
        /// Writes are gathered (see ``LogWriteCoalescing/arm(_:)``); until
        /// then they pass straight through.
        var armed = false

        deinit { storage.deallocate() }
    }

    private static func open(
        name: UnsafePointer<CChar>?,
        file: UnsafeMutablePointer<sqlite3_file>?,
        flags: Int32,
        outFlags: UnsafeMutablePointer<Int32>?
    ) -> Int32 {
        let parent = installation!.parent
        guard let file, flags & SQLITE_OPEN_WAL != 0 else {
            // The default VFS's own file object, in the same memory.
            return parent.pointee.xOpen!(parent, name, file, flags, outFlags)
        }
        let raw = UnsafeMutableRawPointer(file)
        raw.advanced(by: pendingOffset).storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
        let real = realFile(file)
        real.pointee.pMethods = nil
        let code = parent.pointee.xOpen!(parent, name, real, flags, outFlags)
        guard code == SQLITE_OK else {
            if let methods = real.pointee.pMethods { _ = methods.pointee.xClose!(real) }
            file.pointee.pMethods = nil
            return code
        }
        raw.advanced(by: pendingOffset).storeBytes(
            of: Unmanaged.passRetained(PendingWrites()).toOpaque(),
            as: UnsafeMutableRawPointer?.self
        )
        file.pointee.pMethods = UnsafePointer(installation!.methods)
        return SQLITE_OK
    }

    private static func realFile(_ file: UnsafeMutablePointer<sqlite3_file>) -> UnsafeMutablePointer<sqlite3_file> {
        UnsafeMutableRawPointer(file).advanced(by: realOffset).assumingMemoryBound(to: sqlite3_file.self)
    }

    private static func realMethods(_ file: UnsafeMutablePointer<sqlite3_file>) -> sqlite3_io_methods {
        realFile(file).pointee.pMethods.pointee
    }

    private static func pending(_ file: UnsafeMutablePointer<sqlite3_file>) -> PendingWrites {
        let reference = UnsafeMutableRawPointer(file).advanced(by: pendingOffset).load(as: UnsafeMutableRawPointer.self)
        return Unmanaged<PendingWrites>.fromOpaque(reference).takeUnretainedValue()
    }

    /// Writes out what is kept; the buffer is empty afterwards either way.
    private static func flush(_ file: UnsafeMutablePointer<sqlite3_file>) -> Int32 {
        let pending = pending(file)
        guard pending.count > 0 else { return SQLITE_OK }
        let count = pending.count
        pending.count = 0
        issued.add(1, ordering: .relaxed)
        return realMethods(file).xWrite!(realFile(file), pending.storage, Int32(count), pending.start)
    }

    private static func write(
        _ file: UnsafeMutablePointer<sqlite3_file>,
        _ data: UnsafeRawPointer,
        _ amount: Int32,
        _ offset: Int64
    ) -> Int32 {
        let pending = pending(file)
        guard pending.armed else { return realMethods(file).xWrite!(realFile(file), data, amount, offset) }
        received.add(1, ordering: .relaxed)
        let size = Int(amount)
        if pending.count > 0, offset == pending.start + Int64(pending.count), pending.count + size <= bufferCapacity {
            (pending.storage + pending.count).copyMemory(from: data, byteCount: size)
            pending.count += size
            return SQLITE_OK
        }
        let code = flush(file)
        guard code == SQLITE_OK else { return code }
        guard size <= bufferCapacity else {
            issued.add(1, ordering: .relaxed)
            return realMethods(file).xWrite!(realFile(file), data, amount, offset)
        }
        pending.storage.copyMemory(from: data, byteCount: size)
        pending.start = offset
        pending.count = size
        return SQLITE_OK
    }

    /// Writes out what is kept, then forwards to the default VFS's file.
    private static func afterFlush(
        _ file: UnsafeMutablePointer<sqlite3_file>?,
        _ forward: (UnsafeMutablePointer<sqlite3_file>, sqlite3_io_methods) -> Int32
    ) -> Int32 {
        let file = file!
        let code = flush(file)
        guard code == SQLITE_OK else { return code }
        return forward(realFile(file), realMethods(file))
    }

    /// The methods of a log file: writes are kept, everything else writes
    /// them out first where it could see the file, then is forwarded.
    private static func logMethods() -> sqlite3_io_methods {
        var methods = sqlite3_io_methods()
        methods.iVersion = 3
        methods.xClose = { file in
            let file = file!
            let flushed = LogWriteCoalescing.flush(file)
            let closed = LogWriteCoalescing.realMethods(file).xClose!(LogWriteCoalescing.realFile(file))
            let reference = UnsafeMutableRawPointer(file).advanced(by: LogWriteCoalescing.pendingOffset)
            Unmanaged<PendingWrites>.fromOpaque(reference.load(as: UnsafeMutableRawPointer.self)).release()
            reference.storeBytes(of: nil, as: UnsafeMutableRawPointer?.self)
            return flushed == SQLITE_OK ? closed : flushed
        }
        methods.xRead = { file, buffer, amount, offset in
            LogWriteCoalescing.afterFlush(file) { real, methods in methods.xRead!(real, buffer, amount, offset) }
        }
        methods.xWrite = { file, data, amount, offset in
            LogWriteCoalescing.write(file!, data!, amount, offset)
        }
        methods.xTruncate = { file, size in
            LogWriteCoalescing.afterFlush(file) { real, methods in methods.xTruncate!(real, size) }
        }
        methods.xSync = { file, flags in
            LogWriteCoalescing.afterFlush(file) { real, methods in methods.xSync!(real, flags) }
        }
        methods.xFileSize = { file, size in
            LogWriteCoalescing.afterFlush(file) { real, methods in methods.xFileSize!(real, size) }
        }
        methods.xLock = { file, level in
            LogWriteCoalescing.realMethods(file!).xLock!(LogWriteCoalescing.realFile(file!), level)
        }
        methods.xUnlock = { file, level in
            LogWriteCoalescing.realMethods(file!).xUnlock!(LogWriteCoalescing.realFile(file!), level)
        }
        methods.xCheckReservedLock = { file, result in
            LogWriteCoalescing.realMethods(file!).xCheckReservedLock!(LogWriteCoalescing.realFile(file!), result)
        }
        methods.xFileControl = { file, operation, argument in
            // Some controls act on the file's contents (a size hint, a chunk size).
            LogWriteCoalescing.afterFlush(file) { real, methods in methods.xFileControl!(real, operation, argument) }
        }
        methods.xSectorSize = { file in
            LogWriteCoalescing.realMethods(file!).xSectorSize!(LogWriteCoalescing.realFile(file!))
        }
        methods.xDeviceCharacteristics = { file in
            LogWriteCoalescing.realMethods(file!).xDeviceCharacteristics!(LogWriteCoalescing.realFile(file!))
        }
        // Shared memory and memory maps belong to database files, not logs;
        // forwarded all the same, as long as the default VFS has them.
        methods.xShmMap = { file, page, pageSize, extend, pointer in
            guard let map = LogWriteCoalescing.realMethods(file!).xShmMap else { return SQLITE_IOERR }
            return map(LogWriteCoalescing.realFile(file!), page, pageSize, extend, pointer)
        }
        methods.xShmLock = { file, offset, count, flags in
            guard let lock = LogWriteCoalescing.realMethods(file!).xShmLock else { return SQLITE_IOERR }
            return lock(LogWriteCoalescing.realFile(file!), offset, count, flags)
        }
        methods.xShmBarrier = { file in
            if let barrier = LogWriteCoalescing.realMethods(file!).xShmBarrier { barrier(LogWriteCoalescing.realFile(file!)) }
        }
        methods.xShmUnmap = { file, delete in
            guard let unmap = LogWriteCoalescing.realMethods(file!).xShmUnmap else { return SQLITE_OK }
            return unmap(LogWriteCoalescing.realFile(file!), delete)
        }
        methods.xFetch = { file, offset, amount, pointer in
            LogWriteCoalescing.afterFlush(file) { real, methods in
                guard let fetch = methods.xFetch else {
                    pointer?.pointee = nil
                    return SQLITE_OK
                }
                return fetch(real, offset, amount, pointer)
            }
        }
        methods.xUnfetch = { file, offset, pointer in
            guard let unfetch = LogWriteCoalescing.realMethods(file!).xUnfetch else { return SQLITE_OK }
            return unfetch(LogWriteCoalescing.realFile(file!), offset, pointer)
        }
        return methods
    }
}
