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
/// Accepting blocks one thread, which sleeps while no client connects.
/// ``stop()`` shuts the socket down, which wakes `accept`; the thread then
/// closes the socket and ends.
final class Acceptor: Sendable {
    /// The address bound, with the real port when 0 was asked for.
    let address: SocketAddress
    private let descriptor: CInt
    private let stopping = Atomic<Bool>(false)
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
        let descriptor = socket(family, SOCK_STREAM, 0)
        #else
        let descriptor = socket(family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        #endif
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        do {
            var on: CInt = 1
            guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
                throw IOError(errnoCode: errno, reason: "setsockopt(SO_REUSEADDR)")
            }
            let bound = requested.withSockAddr { address, length in bind(descriptor, address, socklen_t(length)) }
            guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind to \(requested)") }
            guard listen(descriptor, backlog) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
            self.address = try SocketAddress(ipAddress: requested.ipAddress ?? host, port: Self.boundPort(descriptor))
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        self.logger = logger
    }

    /// Accepts until ``stop()``, handing each connected socket to `onAccept`,
    /// which owns it from then on. Returns when the accepting thread has ended
    /// and the listening socket is closed.
    func run(onAccept: @escaping @Sendable (CInt) -> Void) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                acceptUntilStopped(onAccept)
                close(descriptor)
                done.resume()
            }
            thread.name = "parley-accept"
            thread.start()
        }
    }

    /// Stops accepting: wakes the thread blocked in `accept`. Idempotent.
    func stop() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        // On Linux a listening socket shut down for reading makes a blocked
        // `accept` return EINVAL; the descriptor itself stays open (and
        // cannot be reused by another file) until the thread closes it.
        _ = shutdown(descriptor, CInt(SHUT_RDWR))
    }

    private func acceptUntilStopped(_ onAccept: @Sendable (CInt) -> Void) {
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let connection = accept(descriptor, nil, nil)
            if connection >= 0 {
                // Not inherited by anything the daemon might spawn.
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                onAccept(connection)
                continue
            }
            let code = errno
            switch code {
            case EINTR, EAGAIN, ECONNABORTED, EPROTO, EPERM:
                // The peer gave up before we took the connection, or a signal
                // arrived: nothing lost, take the next one.
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors or memory: pending connections wait in the
                // backlog until some close.
                logger.warning("accept is out of resources; retrying in 100 ms", metadata: ["errno": "\(code)"])
                usleep(100_000)
            default:
                if !stopping.load(ordering: .sequentiallyConsistent) {
                    logger.error("accept failed; the listener stops", metadata: ["errno": "\(code)"])
                }
                return
            }
        }
    }

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
        let loop: any EventLoop
        fileprivate let index: Int
        private let balancer: LoopBalancer
        private let released = Atomic<Bool>(false)

        fileprivate init(index: Int, balancer: LoopBalancer) {
            self.loop = balancer.loops[index]
            self.index = index
            self.balancer = balancer
        }

        /// The connection has closed, or never opened. Counted once however
        /// often it is called.
        func release() {
            guard !released.exchange(true, ordering: .relaxed) else { return }
            balancer.state.withLock { $0.open[index] -= 1 }
        }
    }

    /// A lease on the least-loaded loop.
    func take() -> Lease {
        let index = state.withLock { state in
            let count = state.open.count
            var best = state.cursor
            for step in 1..<max(count, 1) {
                let candidate = (state.cursor + step) % count
                if state.open[candidate] < state.open[best] { best = candidate }
            }
            state.open[best] += 1
            state.cursor = (best + 1) % count
            return best
        }
        return Lease(index: index, balancer: self)
    }

    /// Open connections per loop, in the order of ``loops``.
    var openPerLoop: [Int] { state.withLock { $0.open } }
}
