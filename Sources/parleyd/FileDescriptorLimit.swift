import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The daemon holds up to `limits.max_connections` sockets, plus what the
/// database, the log and the metrics endpoint need. The usual soft limit on
/// open files (1024) is below the default connection limit, and a process
/// that runs out of descriptors fails with EMFILE before the connection
/// limit can apply.
enum FileDescriptorLimit {
    /// Descriptors kept aside for everything but client connections.
    static let reserve = 256

    /// Raises the soft open-file limit to the hard one, and warns when
    /// `maxConnections` plus ``reserve`` still does not fit.
    static func prepare(maxConnections: Int, logger: Logger) {
        var limit = rlimit()
        guard getLimit(&limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            // Refused when the hard limit is "unlimited" on Linux (the
            // kernel's nr_open caps it): the soft limit then stays.
            if setLimit(&raised) == 0 { limit = raised }
        }
        let needed = UInt64(maxConnections + reserve)
        if limit.rlim_cur != rlim_t.max, UInt64(limit.rlim_cur) < needed {
            logger.warning(
                "the open-file limit is below limits.max_connections plus \(reserve); past it, new connections wait in the backlog (EMFILE) before the connection limit applies",
                metadata: ["open_file_limit": "\(limit.rlim_cur)", "max_connections": "\(maxConnections)"]
            )
        }
    }

    #if os(Linux)
    private static func getLimit(_ limit: inout rlimit) -> CInt { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
    private static func setLimit(_ limit: inout rlimit) -> CInt { setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }
    #else
    private static func getLimit(_ limit: inout rlimit) -> CInt { getrlimit(RLIMIT_NOFILE, &limit) }
    private static func setLimit(_ limit: inout rlimit) -> CInt { setrlimit(RLIMIT_NOFILE, &limit) }
    #endif
}
