#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// `--ack-log FILE`: one line per outcome the server acknowledged, so that a
/// crash test can check after restarting the daemon that nothing it
/// acknowledged was lost.
///
/// The format is plain text, one event per line, each line
/// `<event> <reservation-id>\n` with a single space and no other fields:
///
///     held rsv_…        ReserveInventory returned OK with this reservation (state HELD)
///     confirmed rsv_…   ConfirmReservation of it returned OK (state CONFIRMED)
///     released rsv_…    ReleaseReservation of it returned OK (state RELEASED)
///     captured <order-id> auth_…   Orders/Capture returned the order CAPTURED
///                                  with this authorization (scenario capture)
///
/// A reservation's `held` line always comes before its `confirmed` or
/// `released` line. Lines of different reservations interleave in the order
/// their replies arrived. Nothing is written for a call that failed, timed
/// out or was cancelled — including a reservation refused for shortage — so
/// the daemon may hold records the log does not mention, but never the
/// reverse: every `held` id must exist, and every `confirmed`/`released` id
/// must be in that state. A `held` id without a settlement line stays HELD
/// until its window (600 s) lapses, then EXPIRED.
///
/// The file is created if needed and appended to, never truncated. Each line
/// is written with one `write(2)` under a lock, as soon as its reply arrives:
/// there is no buffer in the process, so the log is complete and made of
/// whole lines whenever the daemon is killed and whenever this tool exits,
/// however it exits. (It is not fsynced: it survives the death of processes,
/// not of the machine.)
final class AckLog: Sendable {
    enum Event: String, Sendable {
        case held
        case confirmed
        case released
        case captured
    }

    let path: String
    /// The open descriptor; -1 once closed.
    private let descriptor: Mutex<Int32>

    /// Opens (creating if needed) `path` for appending.
    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LoadFailure("cannot open the ack log \(path): \(String(cString: strerror(errno)))") }
        self.path = path
        self.descriptor = Mutex(fd)
    }

    deinit {
        close()
    }

    /// Appends `<event> <id>\n`; throws when the line could not be written whole.
    func append(_ event: Event, _ id: String) throws {
        var line = event.rawValue
        line.reserveCapacity(line.utf8.count + id.utf8.count + 2)
        line += " "
        line += id
        line += "\n"
        let failure: Int32? = line.withUTF8 { bytes in
            descriptor.withLock { fd -> Int32? in
                guard fd >= 0 else { return EBADF }
                var offset = 0
                while offset < bytes.count {
                    let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += written
                }
                return nil
            }
        }
        if let failure {
            throw LoadFailure("cannot append to the ack log \(path): \(String(cString: strerror(failure)))")
        }
    }

    /// Closes the file; later appends fail.
    func close() {
        descriptor.withLock { fd in
            if fd >= 0 {
                _ = systemClose(fd)
                fd = -1
            }
        }
    }
}

/// `close(2)`, out of reach of `AckLog.close` shadowing it.
private func systemClose(_ fd: Int32) -> Int32 {
    close(fd)
}
