import Foundation
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import ParleyPKI
import ParleyProtos
import ParleyWire

/// One mutually authenticated connection: reads frames, dispatches calls to
/// the router, writes replies. All its state lives on the channel's event
/// loop; handlers run as tasks and hand their replies back through a
/// ``CallSink``.
///
/// Writes are coalesced: replies are appended to one outbound buffer, which
/// goes to TLS as a single write (one TLS record) when flushed. Replies
/// produced while a read burst is processed are flushed once at
/// `channelReadComplete`; replies produced later by one scheduled flush per
/// event-loop turn. Deadlines are not one timer per call: one sweep per
/// connection wakes at the earliest deadline.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Parley_Wire_V1_Frame
    typealias OutboundOut = ByteBuffer

    /// One running call.
    final class ActiveCall {
        let metrics: MethodMetrics
        let started: NIODeadline
        let requestID: String?
        let deadline: NIODeadline
        let timeout: Duration
        var task: Task<Void, Never>?
        /// A streamed response waiting for the connection to drain.
        var writabilityWaiter: CheckedContinuation<Void, any Error>?

        init(metrics: MethodMetrics, started: NIODeadline, requestID: String?, timeout: Duration) {
            self.metrics = metrics
            self.started = started
            self.requestID = requestID
            self.timeout = timeout
            self.deadline = started + TimeAmount(timeout)
        }

        /// Ends the call's work: no reply is expected from it any more.
        func stop(_ reason: RPCError) {
            task?.cancel()
            writabilityWaiter?.resume(throwing: reason)
            writabilityWaiter = nil
        }
    }

    struct Dependencies: Sendable {
        let router: Router
        let environment: CallEnvironment
        let configuration: ServerConfiguration
        let revocations: RevocationList
        let registry: ConnectionRegistry
        /// Authenticated connections per principal (`limits.max_connections_per_principal`).
        let principals: ConnectionQuota<String>
        let principalRefusals: RefusalLog
        let metrics: ServerMetrics
        let logger: Logger
    }

    private let dependencies: Dependencies
    private let tlsHandler: NIOSSLServerHandler
    private var state: ConnectionStateMachine<ActiveCall>
    private var context: ChannelHandlerContext?
    private var bound: NIOLoopBound<ConnectionHandler>?
    private(set) var identity: PeerIdentity?
    /// The principal this connection is counted for in `principals`.
    private var countedPrincipal: String?
    private var logger: Logger

    private var isClosing = false
    private var isInReadBurst = false
    private var needsFlush = false
    private var flushScheduled = false
    private var lastActivity = NIODeadline.now()

    private var outbound: ByteBuffer?
    private var deadlineSweep = DeadlineSweep()
    private var handshakeTimer: Scheduled<Void>?
    private var partialFrameTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?

    init(dependencies: Dependencies, tlsHandler: NIOSSLServerHandler) {
        self.dependencies = dependencies
        self.tlsHandler = tlsHandler
        self.logger = dependencies.logger
        self.state = ConnectionStateMachine(
            maxConcurrentCalls: dependencies.configuration.limits.maxConcurrentCalls,
            retryAfterMilliseconds: dependencies.configuration.limits.retryAfterMilliseconds
        )
    }

    // MARK: Life cycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.bound = bound
        if let remote = context.channel.remoteAddress { logger[metadataKey: "peer"] = "\(remote)" }
        dependencies.registry.add(bound)
        dependencies.metrics.connectionOpened()
        handshakeTimer = context.eventLoop.scheduleTask(in: .init(dependencies.configuration.timeouts.handshake)) {
            let handler = bound.value
            guard handler.identity == nil, let context = handler.context else { return }
            handler.logger.info("TLS handshake timed out")
            context.close(promise: nil)
        }
        // The idle clock starts once the peer is authenticated: until then
        // the handshake timeout bounds the connection, and an idle GoAway
        // written before the handshake ends would be lost with the close.
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    private func tearDown() {
        guard let bound else { return }
        self.bound = nil
        for timer in [handshakeTimer, partialFrameTimer, idleTimer] { timer?.cancel() }
        deadlineSweep.cancel()
        for call in state.finishAll() {
            call.stop(RPCError(code: .unavailable, message: "connection closed"))
            dependencies.metrics.callEnded()
        }
        dependencies.registry.remove(bound)
        dependencies.metrics.connectionClosed()
        if let countedPrincipal {
            dependencies.principals.release(countedPrincipal)
            self.countedPrincipal = nil
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event {
            handshakeCompleted(alpn: negotiated)
        } else if let event = event as? PartialFrameEvent {
            partialFrameTimer?.cancel()
            partialFrameTimer = nil
            if event == .started, let bound {
                let timeout = dependencies.configuration.timeouts.partialFrame
                partialFrameTimer = context.eventLoop.scheduleTask(in: .init(timeout)) {
                    bound.value.goAwayAndClose(
                        RPCError(code: .deadlineExceeded, message: "a frame stayed incomplete for \(timeout)")
                    )
                }
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func handshakeCompleted(alpn: String?) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        guard alpn == WireProtocol.alpn else {
            logger.info("refused a client without ALPN \(WireProtocol.alpn)", metadata: ["alpn": "\(alpn ?? "none")"])
            goAwayAndClose(RPCError(code: .invalidArgument, message: "the client must negotiate ALPN \(WireProtocol.alpn)"))
            return
        }
        do {
            guard let certificate = tlsHandler.peerCertificate else {
                throw PKIError(message: "no client certificate was presented")
            }
            let identity = try PeerIdentity(derEncoded: certificate.toDERBytes())
            logger[metadataKey: "principal"] = "\(identity.principal)"
            if dependencies.revocations.isRevoked(identity.serial) {
                logger.notice("refused a revoked client certificate", metadata: ["serial": "\(identity.serial)"])
                goAwayAndClose(RPCError(code: .unauthenticated, message: "client certificate \(identity.serial) is revoked"))
                return
            }
            guard dependencies.principals.take(identity.principal) else {
                let limit = dependencies.principals.limit
                dependencies.metrics.connectionRefused()
                if let refused = dependencies.principalRefusals.due() {
                    logger.warning(
                        "per-principal connection limit reached; closing new connections of it",
                        metadata: ["max_connections_per_principal": "\(limit)", "refused": "\(refused)"]
                    )
                }
                goAwayAndClose(
                    RPCError(
                        code: .resourceExhausted,
                        message: "principal '\(identity.principal)' already has \(limit) connections open (limits.max_connections_per_principal)"
                    )
                )
                return
            }
            countedPrincipal = identity.principal
            self.identity = identity
            logger.debug("connection authenticated", metadata: ["roles": "\(identity.roles.sorted())"])
            lastActivity = .now()
            scheduleIdleCheck(after: dependencies.configuration.timeouts.idle)
        } catch {
            goAwayAndClose(RPCError(code: .unauthenticated, message: "unusable client certificate: \(error)"))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? FrameDecodingError {
            logger.info("protocol error", metadata: ["error": "\(error.rpcError)"])
            goAwayAndClose(error.rpcError)
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosing else { return }
        let frame = unwrapInboundIn(data)
        isInReadBurst = true
        lastActivity = .now()
        switch frame.kind {
        case .call(let call):
            receiveCall(id: frame.callID, call: call, context: context)
        case .cancel:
            receiveCancel(id: frame.callID)
        case .ping(let ping):
            write(.pong(nonce: ping.nonce))
        case .pong:
            break
        case .goAway:
            // The client will start no new calls here; close once its calls are done.
            _ = state.beginGoingAway()
            closeIfDone()
        case .reply:
            goAwayAndClose(RPCError(code: .invalidArgument, message: "a client may not send Reply frames"))
        case nil:
            goAwayAndClose(RPCError(code: .invalidArgument, message: "frame carries no known kind"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        isInReadBurst = false
        if needsFlush {
            needsFlush = false
            flushNow()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            for call in state.calls.values {
                call.writabilityWaiter?.resume()
                call.writabilityWaiter = nil
            }
        }
        context.fireChannelWritabilityChanged()
    }

    private func receiveCall(id: UInt32, call: Parley_Wire_V1_Call, context: ChannelHandlerContext) {
        if case .violation(let error) = state.receiveCallID(id) {
            goAwayAndClose(error)
            return
        }
        guard let identity, let bound else {
            goAwayAndClose(RPCError(code: .unauthenticated, message: "no authenticated identity"))
            return
        }
        let metrics = dependencies.metrics
        guard let method = dependencies.router.method(for: call.method) else {
            reply(id: id, error: RPCError(code: .unimplemented, message: "unknown method '\(call.method)'"), metrics: metrics.unknownMethod)
            return
        }
        let methodMetrics = metrics.method(method.path.path)
        guard method.roles.isEmpty || identity.has(anyOf: method.roles) else {
            let needed = method.roles.sorted().map(\.name).joined(separator: " or ")
            let held = identity.roles.sorted().map(\.name).joined(separator: ", ")
            reply(
                id: id,
                error: RPCError(
                    code: .permissionDenied,
                    message: "\(method.path) needs role \(needed); \(identity.principal) has [\(held)]"
                ),
                metrics: methodMetrics
            )
            return
        }
        let timeouts = dependencies.configuration.timeouts
        let timeout: Duration = call.timeoutMs == 0 ? timeouts.defaultCall : min(.milliseconds(call.timeoutMs), timeouts.maxCall)
        let active = ActiveCall(
            metrics: methodMetrics,
            started: .now(),
            requestID: call.metadata[MetadataKey.requestID],
            timeout: timeout
        )
        if let refusal = state.admit(id: id, call: active) {
            reply(id: id, error: refusal, metrics: methodMetrics)
            return
        }
        metrics.callStarted()
        deadlineSweep.ensure(wakeBy: active.deadline, on: context.eventLoop) { bound.value.sweepDeadlines() }

        var callLogger = logger
        if callLogger.logLevel <= .debug {
            callLogger[metadataKey: "method"] = "\(method.path)"
            callLogger[metadataKey: "call"] = "\(id)"
            if let requestID = call.metadata[MetadataKey.requestID] { callLogger[metadataKey: "request-id"] = "\(requestID)" }
        }
        let callContext = CallContext(
            callID: id,
            method: method.path,
            peer: identity,
            metadata: call.metadata,
            deadline: .now + timeout,
            logger: callLogger
        )
        let sink = CallSink(eventLoop: context.eventLoop, connection: bound, callID: id)
        let environment = dependencies.environment
        let request = call.request
        let invoke = method.invoke
        active.task = Task {
            await invoke(request, callContext, sink, environment)
        }
    }

    private func receiveCancel(id: UInt32) {
        guard let call = state.finish(id: id) else { return }
        let error = RPCError(code: .cancelled, message: "cancelled by the client")
        call.stop(error)
        ended(id: id, call: call, error: error)
    }

    /// Ends every call whose deadline has passed, then sleeps until the next one.
    private func sweepDeadlines() {
        deadlineSweep.fired()
        let (expired, next) = DeadlineSweep.partition(state.calls.lazy.map { (key: $0.key, deadline: $0.value.deadline) }, now: .now())
        for id in expired {
            guard let call = state.finish(id: id) else { continue }
            let error = RPCError(code: .deadlineExceeded, message: "deadline of \(call.timeout) exceeded")
            call.stop(error)
            ended(id: id, call: call, error: error)
        }
        if let next, let context, let bound {
            deadlineSweep.ensure(wakeBy: next, on: context.eventLoop) { bound.value.sweepDeadlines() }
        }
    }

    /// A response too large for one frame is never sent: the call fails instead.
    private func checkResponseSize(_ response: Data) -> RPCError? {
        // The frame adds a few bytes of envelope to the response.
        let limit = dependencies.configuration.limits.maxFrameBytes - 32
        guard response.count > limit else { return nil }
        return RPCError(
            code: .resourceExhausted,
            message: "the response of \(response.count) bytes exceeds max_frame_bytes (\(dependencies.configuration.limits.maxFrameBytes))"
        )
    }

    // MARK: Replies (called through CallSink, on the event loop)

    func finishCall(id: UInt32, result: Result<Data?, RPCError>) {
        guard let call = state.finish(id: id) else { return }
        var result = result
        if case .success(let response?) = result, let tooLarge = checkResponseSize(response) {
            result = .failure(tooLarge)
        }
        switch result {
        case .success(let response):
            appendOutbound { $0.writeReplyFrame(callID: id, response: response ?? Data(), final: true) }
            record(id: id, call: call, code: .ok)
            dependencies.metrics.callEnded()
            closeIfDone()
        case .failure(let error):
            ended(id: id, call: call, error: error)
        }
    }

    func sendStreamMessage(id: UInt32, response: Data, continuation: CheckedContinuation<Void, any Error>) {
        guard let call = state.calls[id], let context else {
            continuation.resume(throwing: RPCError(code: .cancelled, message: "the call has ended"))
            return
        }
        if let tooLarge = checkResponseSize(response) {
            continuation.resume(throwing: tooLarge)
            return
        }
        appendOutbound { $0.writeReplyFrame(callID: id, response: response, final: false) }
        if context.channel.isWritable {
            continuation.resume()
        } else {
            call.writabilityWaiter = continuation
        }
    }

    private func ended(id: UInt32, call: ActiveCall, error: RPCError) {
        write(.reply(id: id, error: error))
        record(id: id, call: call, code: error.code)
        dependencies.metrics.callEnded()
        closeIfDone()
    }

    private func reply(id: UInt32, error: RPCError, metrics: MethodMetrics) {
        write(.reply(id: id, error: error))
        metrics.record(code: error.code, nanoseconds: 0)
    }

    private func record(id: UInt32, call: ActiveCall, code: RPCError.Code) {
        let elapsed = NIODeadline.now().uptimeNanoseconds - call.started.uptimeNanoseconds
        call.metrics.record(code: code, nanoseconds: Int64(elapsed))
        logger.debug(
            "call",
            metadata: [
                "method": "\(call.metrics.path)", "call": "\(id)", "code": "\(code)",
                "micros": "\(elapsed / 1000)", "request-id": "\(call.requestID ?? "-")",
            ]
        )
    }

    // MARK: Writing

    private func write(_ frame: Parley_Wire_V1_Frame) {
        appendOutbound { buffer in
            do {
                try buffer.writeFrame(frame)
            } catch {
                logger.error("could not serialize a frame", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Appends to the coalesced outbound buffer and arranges a flush. A
    /// buffer past 64 KiB is handed to TLS at once, so records stay near
    /// TLS's 16 KiB maximum without holding much.
    private func appendOutbound(_ body: (inout ByteBuffer) -> Void) {
        guard let context else { return }
        var buffer = outbound.take() ?? context.channel.allocator.buffer(capacity: 4096)
        body(&buffer)
        if buffer.readableBytes >= 64 * 1024 {
            context.write(wrapOutboundOut(buffer), promise: nil)
        } else {
            outbound = buffer
        }
        markNeedsFlush()
    }

    /// Hands the coalesced buffer to TLS and flushes.
    private func flushNow() {
        guard let context else { return }
        if let buffer = outbound.take() { context.write(wrapOutboundOut(buffer), promise: nil) }
        context.flush()
    }

    private func markNeedsFlush() {
        if isInReadBurst {
            needsFlush = true
            return
        }
        guard !flushScheduled, let context, let bound else { return }
        flushScheduled = true
        context.eventLoop.execute {
            let handler = bound.value
            handler.flushScheduled = false
            handler.flushNow()
        }
    }

    // MARK: Going away

    /// Graceful: GoAway with the last call id; admitted calls finish, then close.
    func beginGracefulShutdown(reason: RPCError) {
        guard let lastCallID = state.beginGoingAway() else { return }
        write(.goAway(lastCallID: lastCallID, status: reason.status))
        closeIfDone()
    }

    /// Closes at once, telling the peer why; running calls are cancelled.
    func goAwayAndClose(_ error: RPCError) {
        guard !isClosing, let context else { return }
        isClosing = true
        _ = state.beginGoingAway()
        for call in state.finishAll() {
            call.stop(error)
            dependencies.metrics.callEnded()
        }
        // Replies already produced go out first, then the GoAway.
        var buffer = outbound.take() ?? context.channel.allocator.buffer(capacity: 64)
        try? buffer.writeFrame(.goAway(lastCallID: state.lastCallID, status: error.status))
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
        let channel = context.channel
        promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        // A peer that stopped reading never lets the GoAway drain: close anyway.
        context.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }

    /// Closes at once without a GoAway (grace period over).
    func forceClose() {
        context?.close(promise: nil)
    }

    private func closeIfDone() {
        guard state.canClose, !isClosing, let context else { return }
        isClosing = true
        flushNow()
        let channel = context.channel
        // Flushed writes complete before close; NIOSSL sends close_notify.
        context.eventLoop.execute { channel.close(promise: nil) }
    }

    private func scheduleIdleCheck(after delay: Duration) {
        guard let context, let bound else { return }
        idleTimer = context.eventLoop.scheduleTask(in: .init(delay)) {
            bound.value.idleCheck()
        }
    }

    private func idleCheck() {
        let idle = dependencies.configuration.timeouts.idle
        let quietFor = NIODeadline.now() - lastActivity
        if state.isIdle && quietFor >= TimeAmount(idle) {
            logger.debug("closing an idle connection")
            beginGracefulShutdown(reason: RPCError(code: .unavailable, message: "connection idle for \(idle)"))
            closeIfDone()
        } else {
            let remaining = TimeAmount(idle) - (state.isIdle ? quietFor : .zero)
            scheduleIdleCheck(after: .nanoseconds(max(remaining.nanoseconds, 1_000_000)))
        }
    }

    /// The revocation list changed: a connection whose certificate is now
    /// revoked goes away at once.
    func recheckRevocation() {
        guard let identity, dependencies.revocations.isRevoked(identity.serial) else { return }
        goAwayAndClose(RPCError(code: .unauthenticated, message: "client certificate \(identity.serial) was revoked"))
    }
}
