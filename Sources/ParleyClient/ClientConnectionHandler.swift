import Foundation
import NIOCore
import NIOSSL
import NIOTLS
import ParleyProtos
import ParleyWire

/// The client end of one connection, on its event loop: assigns call ids in
/// send order, matches replies to calls, and fails calls the server will not
/// answer (GoAway beyond `last_call_id`, connection lost).
final class ClientConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Parley_Wire_V1_Frame
    typealias OutboundOut = ByteBuffer

    enum Pending {
        case unary(CheckedContinuation<Data, any Error>)
        case stream(AsyncThrowingStream<Data, any Error>.Continuation)
    }

    private var context: ChannelHandlerContext?
    private var bound: NIOLoopBound<ClientConnectionHandler>?
    private var nextCallID: UInt32 = 1
    private var calls: [UInt32: (pending: Pending, deadline: NIODeadline)] = [:]
    private var outbound: ByteBuffer?
    private var deadlineSweep = DeadlineSweep()
    private var pings: [UInt64: (start: NIODeadline, continuation: CheckedContinuation<Duration, any Error>)] = [:]
    private var nextNonce: UInt64 = 1
    private var flushScheduled = false
    private(set) var goAway: RPCError?
    private(set) var closed: RPCError?
    private let ready: EventLoopPromise<Void>
    private let onGoAway: @Sendable () -> Void

    init(ready: EventLoopPromise<Void>, onGoAway: @escaping @Sendable () -> Void) {
        self.ready = ready
        self.onGoAway = onGoAway
    }

    /// True while new calls may start here. A connection retires before its
    /// call ids would wrap around (ids must only grow).
    var isUsable: Bool { goAway == nil && closed == nil && nextCallID < Self.lastUsableCallID }

    static let lastUsableCallID = UInt32.max - 1024

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.bound = NIOLoopBound(self, eventLoop: context.eventLoop)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            ready.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(with: ClientErrors.map(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The server's GoAway says why better than the close that followed it.
        fail(with: closed ?? goAway ?? RPCError(code: .unavailable, message: "the connection was closed"))
        bound = nil
        context.fireChannelInactive()
    }

    private func fail(with error: RPCError) {
        if closed == nil { closed = error }
        ready.fail(error)
        let calls = self.calls
        self.calls.removeAll()
        deadlineSweep.cancel()
        for (_, call) in calls {
            switch call.pending {
            case .unary(let continuation): continuation.resume(throwing: error)
            case .stream(let continuation): continuation.finish(throwing: error)
            }
        }
        let pings = self.pings
        self.pings.removeAll()
        for (_, ping) in pings { ping.continuation.resume(throwing: error) }
    }

    // MARK: Starting calls

    /// Sends a Call; returns its id, or nil (and fails `pending`) when the
    /// connection can no longer take calls.
    func start(method: String, request: Data, timeout: Duration, metadata: [String: String], pending: Pending) -> UInt32? {
        if let error = goAway ?? closed {
            resolve(pending, with: .failure(error))
            return nil
        }
        guard nextCallID < Self.lastUsableCallID else {
            resolve(pending, with: .failure(RPCError(code: .unavailable, message: "call ids exhausted on this connection; retry")))
            return nil
        }
        guard let context, let bound else {
            resolve(pending, with: .failure(RPCError(code: .unavailable, message: "the connection is not open")))
            return nil
        }
        let id = nextCallID
        nextCallID &+= 1
        let milliseconds = UInt32(clamping: max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        // A local guard in case the server never answers: the server's own deadline plus a margin.
        let deadline = NIODeadline.now() + TimeAmount(timeout + .milliseconds(500))
        calls[id] = (pending, deadline)
        deadlineSweep.ensure(wakeBy: deadline, on: context.eventLoop) { bound.value.sweepDeadlines() }
        append { $0.writeCallFrame(callID: id, method: method, request: request, timeoutMilliseconds: milliseconds, metadata: metadata) }
        return id
    }

    /// The task awaiting `id` was cancelled: tell the server, fail locally.
    func cancel(id: UInt32) {
        guard let call = calls.removeValue(forKey: id) else { return }
        write(.cancel(id: id))
        resolve(call.pending, with: .failure(RPCError(code: .cancelled, message: "cancelled by the caller")))
    }

    func ping(continuation: CheckedContinuation<Duration, any Error>) {
        if let error = closed {
            continuation.resume(throwing: error)
            return
        }
        let nonce = nextNonce
        nextNonce &+= 1
        pings[nonce] = (NIODeadline.now(), continuation)
        write(.ping(nonce: nonce))
    }

    /// Tells the server no new calls will come, so that it closes once idle.
    func sendGoAway() {
        write(.goAway(lastCallID: 0, status: .ok))
    }

    /// Fails calls the server has not answered well past their deadline,
    /// then sleeps until the next one.
    private func sweepDeadlines() {
        deadlineSweep.fired()
        let (expired, next) = DeadlineSweep.partition(calls.lazy.map { (key: $0.key, deadline: $0.value.deadline) }, now: .now())
        for id in expired {
            guard let call = calls.removeValue(forKey: id) else { continue }
            write(.cancel(id: id))
            resolve(call.pending, with: .failure(RPCError(code: .deadlineExceeded, message: "no reply from the server within the call's deadline")))
        }
        if let next, let context, let bound {
            deadlineSweep.ensure(wakeBy: next, on: context.eventLoop) { bound.value.sweepDeadlines() }
        }
    }

    private func resolve(_ pending: Pending, with result: Result<Data?, RPCError>) {
        switch (pending, result) {
        case (.unary(let continuation), .success(let data)): continuation.resume(returning: data ?? Data())
        case (.unary(let continuation), .failure(let error)): continuation.resume(throwing: error)
        case (.stream(let continuation), .success): continuation.finish()
        case (.stream(let continuation), .failure(let error)): continuation.finish(throwing: error)
        }
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.kind {
        case .reply(let reply):
            receive(reply: reply, id: frame.callID)
        case .goAway(let goAway):
            receive(goAway: goAway)
        case .ping(let ping):
            write(.pong(nonce: ping.nonce))
        case .pong(let pong):
            if let ping = pings.removeValue(forKey: pong.nonce) {
                let elapsed = NIODeadline.now() - ping.start
                ping.continuation.resume(returning: .nanoseconds(elapsed.nanoseconds))
            }
        case .call, .cancel, nil:
            fail(with: RPCError(code: .internal, message: "the server sent a frame a client does not take"))
            context.close(promise: nil)
        }
    }

    private func receive(reply: Parley_Wire_V1_Reply, id: UInt32) {
        guard let call = calls[id] else { return }  // A call we gave up on.
        if reply.hasStatus {
            calls.removeValue(forKey: id)
            if let error = RPCError(status: reply.status) {
                resolve(call.pending, with: .failure(error))
            } else {
                switch call.pending {
                case .unary(let continuation): continuation.resume(returning: reply.response)
                case .stream(let continuation):
                    if !reply.response.isEmpty { continuation.yield(reply.response) }
                    continuation.finish()
                }
            }
        } else if case .stream(let continuation) = call.pending {
            continuation.yield(reply.response)
        }
    }

    private func receive(goAway frame: Parley_Wire_V1_GoAway) {
        let error = RPCError(status: frame.status)
            ?? RPCError(code: .unavailable, message: "the server is going away")
        let refused = error.code == .unavailable
            ? RPCError(code: .unavailable, message: "\(error.message) (call not processed; retry on a new connection)")
            : error
        goAway = refused
        for (id, call) in calls where id > frame.lastCallID {
            calls.removeValue(forKey: id)
            resolve(call.pending, with: .failure(refused))
        }
        onGoAway()
    }

    // MARK: Writing

    private func write(_ frame: Parley_Wire_V1_Frame) {
        append { buffer in try? buffer.writeFrame(frame) }
    }

    /// Frames are appended to one buffer that goes to TLS as a single write
    /// (one record) per flush; one flush serves every call started in this
    /// event-loop turn.
    private func append(_ body: (inout ByteBuffer) -> Void) {
        guard let context, let bound else { return }
        var buffer = outbound.take() ?? context.channel.allocator.buffer(capacity: 4096)
        body(&buffer)
        if buffer.readableBytes >= 64 * 1024 {
            context.write(wrapOutboundOut(buffer), promise: nil)
        } else {
            outbound = buffer
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.execute {
            let handler = bound.value
            handler.flushScheduled = false
            guard let context = handler.context else { return }
            if let buffer = handler.outbound.take() { context.write(handler.wrapOutboundOut(buffer), promise: nil) }
            context.flush()
        }
    }
}

/// Turns transport failures into the status a caller can act on.
enum ClientErrors {
    static func map(_ error: any Error) -> RPCError {
        if let error = error as? RPCError { return error }
        if let error = error as? FrameDecodingError { return error.rpcError }
        if let error = error as? NIOSSLError {
            switch error {
            case .handshakeFailed(.sslError(let stack)) where stack == [.eofDuringHandshake]:
                // Closed without a TLS alert: not a refused certificate (that
                // comes as an alert) but a server at its connection limit,
                // shutting down, or a connection cut on the way.
                return RPCError(
                    code: .unavailable,
                    message: "the server closed the connection during the TLS handshake (at its connection limit, or shutting down?)",
                    cause: error
                )
            case .handshakeFailed(let inner):
                return RPCError(code: .unauthenticated, message: "TLS handshake failed: \(describe(inner))", cause: error)
            default:
                return RPCError(code: .unavailable, message: "TLS error: \(error)", cause: error)
            }
        }
        if let error = error as? BoringSSLError {
            return RPCError(
                code: .unauthenticated,
                message: "the server refused the TLS session (is the client certificate valid, unexpired and issued by the server's CA?): \(describe(error))",
                cause: error
            )
        }
        if let error = error as? IOError {
            return RPCError(code: .unavailable, message: "connection failed: \(error)", cause: error)
        }
        return RPCError(code: .unavailable, message: "connection failed: \(error)")
    }

    private static func describe(_ error: BoringSSLError) -> String {
        switch error {
        case .sslError(let errors), .unknownError(let errors):
            return errors.map { "\($0)" }.joined(separator: "; ")
        default:
            return "\(error)"
        }
    }
}
