public import Foundation
public import NIOCore
import NIOPosix
import NIOSSL
public import ParleyWire
public import SwiftProtobuf
import Synchronization

/// An async client for Parley's wire protocol over mutual TLS.
///
/// Calls are multiplexed over `configuration.connections` connections,
/// opened lazily. A connection that receives GoAway takes no new calls; the
/// next call opens a replacement. Cancelling the calling task sends Cancel.
/// Calls that carry an `idempotency-key` are retried on UNAVAILABLE and
/// RESOURCE_EXHAUSTED according to ``RetryPolicy``; others never are.
public final class ParleyClient: Sendable {
    public let configuration: ClientConfiguration
    private let sslContext: NIOSSLContext
    /// The group's loops: connection slot `i` lives on loop `i + loopOffset`
    /// modulo their number, so that the connections spread evenly whatever
    /// else takes loops from the group (its `next()` is shared with every
    /// other user); the offset, random per client, spreads one-connection
    /// clients of one process.
    private let loops: [any EventLoop]
    private let loopOffset: Int
    private let slots: Mutex<[Slot]>
    private let slotCount: Int
    private let nextSlot = Atomic<Int>(0)

    private enum Slot {
        case empty
        case connecting(EventLoopFuture<ClientConnection>)
        case ready(ClientConnection)
    }

    /// Reads the certificate files now; connects on the first call.
    public init(configuration: ClientConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        precondition(configuration.connections >= 1)
        self.configuration = configuration
        self.sslContext = try NIOSSLContext(configuration: configuration.tls.makeTLSConfiguration())
        self.loops = Array(group.makeIterator())
        precondition(!loops.isEmpty, "an event loop group without loops")
        self.loopOffset = Int.random(in: 0..<loops.count)
        self.slots = Mutex(Array(repeating: Slot.empty, count: configuration.connections))
        self.slotCount = configuration.connections
    }

    // MARK: Calls

    /// A unary call with typed messages.
    public func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodPath,
        _ request: Request,
        as response: Response.Type = Response.self,
        options: CallOptions = .defaults
    ) async throws -> Response {
        let bytes = try await unary(method.path, request: try request.serializedBytes(), options: options)
        do {
            return try Response(serializedBytes: bytes)
        } catch {
            throw RPCError(code: .internal, message: "the response is not a \(Response.protoMessageName): \(error)")
        }
    }

    /// A unary call with raw bytes (any method path, any payload).
    public func unary(_ method: String, request: Data, options: CallOptions = .defaults) async throws -> Data {
        let timeout = options.timeout ?? configuration.defaultCallTimeout
        return try await withRetries(options: options) {
            let connection = try await self.connection()
            return try await connection.unary(method: method, request: request, timeout: timeout, metadata: options.metadata)
        }
    }

    /// A server-streaming call: the responses in order; the stream throws the
    /// call's error status, if any.
    public func serverStreaming<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodPath,
        _ request: Request,
        as response: Response.Type = Response.self,
        options: CallOptions = .defaults
    ) -> AsyncThrowingStream<Response, any Error> {
        let timeout = options.timeout ?? configuration.defaultCallTimeout
        let (stream, continuation) = AsyncThrowingStream<Response, any Error>.makeStream()
        let task = Task {
            do {
                let connection = try await self.connection()
                let raw = try await connection.serverStreaming(
                    method: method.path,
                    request: try request.serializedBytes(),
                    timeout: timeout,
                    metadata: options.metadata
                )
                for try await bytes in raw {
                    continuation.yield(try Response(serializedBytes: bytes))
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: ClientErrors.map(error))
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Opens every connection now, one after another in slot order, instead
    /// of on the first calls: a caller learns at once whether the server can
    /// be reached, no call waits for TCP and TLS, and the server sees the
    /// connections arrive in a fixed order (it places each on its
    /// least-loaded event loop in turn). Connections already open are kept.
    public func connect() async throws {
        for index in 0..<slotCount {
            _ = try await connection(slot: index)
        }
    }

    /// Round-trip time of a Ping on one connection.
    public func ping() async throws -> Duration {
        try await connection().ping()
    }

    /// Tells the server no new calls will come and closes every connection.
    public func close() async {
        let all = slots.withLock { slots -> [Slot] in
            defer { slots = Array(repeating: .empty, count: slots.count) }
            return slots
        }
        for current in all {
            switch current {
            case .ready(let connection): await connection.close()
            case .connecting(let future): if let connection = try? await future.get() { await connection.close() }
            case .empty: break
            }
        }
    }

    private func withRetries<T: Sendable>(options: CallOptions, _ body: @Sendable () async throws -> T) async throws -> T {
        let policy = configuration.retry
        let retryable = options.idempotencyKey != nil
        var attempt = 1
        var backoff = policy.initialBackoff
        while true {
            do {
                return try await body()
            } catch {
                let error = ClientErrors.map(error)
                guard retryable, attempt < policy.maxAttempts, !Task.isCancelled,
                    error.code == .unavailable || error.code == .resourceExhausted
                else { throw error }
                let hint: Duration = .milliseconds(error.retryAfterMilliseconds)
                try await Task.sleep(for: max(hint, backoff))
                backoff = min(backoff * 2, policy.maxBackoff)
                attempt += 1
            }
        }
    }

    // MARK: Connections

    private func connection() async throws -> ClientConnection {
        let start = nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue
        // Prefer a connection on the caller's own event loop: the call then
        // starts and completes without a thread hop.
        if let current = MultiThreadedEventLoopGroup.currentEventLoop {
            let local: ClientConnection? = slots.withLock { slots in
                for offset in 0..<slots.count {
                    if case .ready(let connection) = slots[(start &+ offset) % slots.count],
                        connection.isUsable, connection.eventLoop === current
                    {
                        return connection
                    }
                }
                return nil
            }
            if let local { return local }
        }
        return try await connection(slot: start % slotCount)
    }

    /// The connection of slot `index`, opened if it is not.
    private func connection(slot index: Int) async throws -> ClientConnection {
        enum Next { case use(ClientConnection), wait(EventLoopFuture<ClientConnection>), open(EventLoopPromise<ClientConnection>) }
        let next: Next = slots.withLock { slots in
            switch slots[index] {
            case .ready(let connection) where connection.isUsable:
                return .use(connection)
            case .connecting(let future):
                return .wait(future)
            case .ready, .empty:
                let promise = loops[(index + loopOffset) % loops.count].makePromise(of: ClientConnection.self)
                slots[index] = .connecting(promise.futureResult)
                return .open(promise)
            }
        }
        switch next {
        case .use(let connection):
            return connection
        case .wait(let future):
            return try await future.get()
        case .open(let promise):
            do {
                let connection = try await ClientConnection.connect(
                    configuration: configuration,
                    sslContext: sslContext,
                    eventLoop: promise.futureResult.eventLoop
                )
                settle(slot: index, attempt: promise.futureResult, as: .ready(connection))
                promise.succeed(connection)
                return connection
            } catch {
                let mapped = ClientErrors.map(error)
                settle(slot: index, attempt: promise.futureResult, as: .empty)
                promise.fail(mapped)
                throw mapped
            }
        }
    }

    /// Records how a connection attempt ended, unless the slot has moved on
    /// meanwhile (``close()`` emptied it, and perhaps a newer attempt began):
    /// then the newer state stays, and ``close()`` closes this connection.
    private func settle(slot index: Int, attempt: EventLoopFuture<ClientConnection>, as outcome: Slot) {
        slots.withLock { slots in
            guard case .connecting(let current) = slots[index], current === attempt else { return }
            slots[index] = outcome
        }
    }
}
