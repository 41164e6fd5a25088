import Foundation
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The listening socket and the thread that accepts on it.
///
/// NIO's `ServerBootstrap` places each accepted connection on its group's
/// shared round-robin `next()`, which Swift Concurrency's global executor also
/// advances from every thread that is not an event loop; with few long-lived
/// connections, two of them often landed on one loop while the other idled
/// (benchmarks.md, Session 7). Accepting here lets the listener hand each
/// connection to the loop serving the fewest (``LoopBalancer``).
///
/// The thread sleeps in `poll` on the listening socket and on a pipe that
/// ``stop()`` writes to; it alone closes the descriptors, once it has seen
/// the stop, so no other thread ever touches a closed descriptor number.
final class Acceptor: Sendable {
    /// The address bound, with the real port when 0 was asked for.
    let address: SocketAddress
    private let listener: CInt
    /// `[read end, write end]` of the pipe that wakes the thread to stop.
    private let wake: [CInt]
    /// Stopping was asked for; the descriptors are closed (by the thread).
    private let state = Mutex<(stopping: Bool, closed: Bool)>((false, false))
    private let logger: Logger

    /// Binds and listens; throws `IOError` naming the failing call.
    init(host: String, port: Int, backlog: CInt, logger: Logger) throws {
        let requested = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let family: CInt
        switch requested {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        case .unixDomainSocket: throw IOError(errnoCode: EAFNOSUPPORT, reason: "the listener takes an IP address")
        }
        #if canImport(Darwin)
        let listener = socket(family, SOCK_STREAM, 0)
        #else
        let listener = socket(family, CInt(SOCK_STREAM.rawValue), 0)
        #endif
        guard listener >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var wake: [CInt] = [-1, -1]
        do {
            guard pipe(&wake) == 0 else { throw IOError(errnoCode: errno, reason: "pipe") }
            for descriptor in [listener] + wake {
                // Not inherited across exec; the listener never blocks in
                // accept (a connection can vanish between poll and accept).
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            }
            guard fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK) == 0 else {
                throw IOError(errnoCode: errno, reason: "fcntl(O_NONBLOCK)")
            }
            var on: CInt = 1
            guard setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
                throw IOError(errnoCode: errno, reason: "setsockopt(SO_REUSEADDR)")
            }
            let bound = requested.withSockAddr { address, length in bind(listener, address, socklen_t(length)) }
            guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind to \(requested)") }
            guard listen(listener, backlog) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
            self.address = try SocketAddress(ipAddress: requested.ipAddress ?? host, port: Self.boundPort(listener))
        } catch {
            for descriptor in [listener] + wake where descriptor >= 0 { close(descriptor) }
            throw error
        }
        self.listener = listener
        self.wake = wake
        self.logger = logger
    }

    /// Accepts until ``stop()``, handing each connected socket and its
    /// peer's IP address (as text; "unknown" if the kernel gave none) to
    /// `onAccept`, which owns the socket from then on. Returns once the
    /// accepting thread has ended and closed the listening socket; throws
    /// the error that ended it if that was not ``stop()``.
    func run(onAccept: @escaping @Sendable (CInt, String) -> Void) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            let thread = Thread { [self] in
                let failure = acceptUntilStopped(onAccept)
                state.withLock { state in
                    for descriptor in [listener] + wake { close(descriptor) }
                    state.closed = true
                }
                if let failure { done.resume(throwing: failure) } else { done.resume() }
            }
            thread.name = "parley-accept"
            thread.start()
        }
    }

    /// The IP address of `peer` as text, "unknown" if it has none (an IPv4
    /// peer of an IPv6 socket as IPv4, so that it counts as one source
    /// either way).
    static func host(of peer: sockaddr_storage, length: socklen_t) -> String {
        var peer = peer
        var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let code = withUnsafePointer(to: &peer) { storage in
            storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                getnameinfo(address, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST)
            }
        }
        guard code == 0 else { return "unknown" }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return host.hasPrefix("::ffff:") && host.contains(".") ? String(host.dropFirst("::ffff:".count)) : host
    }

    /// Closes an accepted socket that is not taken (over a connection limit).
    static func refuse(_ descriptor: CInt) {
        close(descriptor)
    }

    /// Stops accepting: wakes the thread. Idempotent; safe before, during
    /// and after ``run(onAccept:)``.
    func stop() {
        state.withLock { state in
            guard !state.stopping else { return }
            state.stopping = true
            // Under the lock: the thread closes the pipe only under it too.
            guard !state.closed else { return }
            var byte: UInt8 = 1
            _ = write(wake[1], &byte, 1)
        }
    }

    /// The loop of the accepting thread: nil once stopped, or the error that
    /// made it give up.
    private func acceptUntilStopped(_ onAccept: @Sendable (CInt, String) -> Void) -> IOError? {
        var watched = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0)]
        while true {
            if state.withLock({ $0.stopping }) { return nil }
            let ready = poll(&watched, nfds_t(watched.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return IOError(errnoCode: errno, reason: "poll")
            }
            if watched[1].revents != 0 { return nil }
            guard watched[0].revents != 0 else { continue }
            // Takes every connection waiting, then polls again.
            while true {
                var peer = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let connection = withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
                }
                if connection >= 0 {
                    _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                    onAccept(connection, Self.host(of: peer, length: length))
                    continue
                }
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK { break }
                if Self.connectionErrors.contains(code) { continue }
                if Self.resourceErrors.contains(code) {
                    // Pending connections wait in the backlog until some close.
                    logger.warning("accept is out of resources; retrying in 100 ms", metadata: ["errno": "\(code)"])
                    usleep(100_000)
                    break
                }
                return IOError(errnoCode: code, reason: "accept")
            }
        }
    }

    /// Errors of one pending connection, not of the listener (accept(2)):
    /// that connection is gone or unusable; take the next.
    private static let connectionErrors: Set<CInt> = [
        EINTR, ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH,
    ]
    /// Out of descriptors or memory: retried after a pause.
    private static let resourceErrors: Set<CInt> = [EMFILE, ENFILE, ENOBUFS, ENOMEM]

    private static func boundPort(_ descriptor: CInt) throws -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard status == 0 else { throw IOError(errnoCode: errno, reason: "getsockname") }
        // sin_port and sin6_port both sit at bytes 2–3, in network order.
        return withUnsafeBytes(of: &storage) { Int($0[2]) << 8 | Int($0[3]) }
    }
}

/// Places each new connection on the event loop that serves the fewest;
/// ties go round in turn, so that connections that open together spread out.
final class LoopBalancer: Sendable {
    let loops: [any EventLoop]
    private let state: Mutex<(open: [Int], cursor: Int)>

    init(loops: [any EventLoop]) {
        precondition(!loops.isEmpty, "the listener needs at least one event loop")
        self.loops = loops
        self.state = Mutex((open: Array(repeating: 0, count: loops.count), cursor: 0))
    }

    /// One connection's place on a loop, counted until ``release()``.
    final class Lease: Sendable {
        /// The loop's position in ``LoopBalancer/loops``.
        let index: Int
        private let balancer: LoopBalancer
        private let released = Atomic<Bool>(false)
        private let onRelease: (@Sendable () -> Void)?

        var loop: any EventLoop { balancer.loops[index] }

        fileprivate init(index: Int, balancer: LoopBalancer, onRelease: (@Sendable () -> Void)?) {
            self.index = index
            self.balancer = balancer
            self.onRelease = onRelease
        }

        /// The connection has closed, or never opened. Counted once however
        /// often it is called.
        func release() {
            guard !released.exchange(true, ordering: .relaxed) else { return }
            balancer.state.withLock { $0.open[index] -= 1 }
            onRelease?()
        }
    }

    /// A lease on the least-loaded loop; `onRelease` runs once when it ends.
    func take(onRelease: (@Sendable () -> Void)? = nil) -> Lease {
        let index = state.withLock { state in
            let count = state.open.count
            var best = state.cursor
            for step in 1..<count {
                let candidate = (state.cursor + step) % count
                if state.open[candidate] < state.open[best] { best = candidate }
            }
            state.open[best] += 1
            state.cursor = (best + 1) % count
            return best
        }
        return Lease(index: index, balancer: self, onRelease: onRelease)
    }

    /// Open connections, counted from their accept until they close.
    var open: Int { state.withLock { $0.open.reduce(0, +) } }

    /// Open connections per loop, in the order of ``loops``.
    var openPerLoop: [Int] { state.withLock { $0.open } }
}
