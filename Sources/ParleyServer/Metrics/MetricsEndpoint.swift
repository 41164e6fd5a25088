public import Logging
public import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
public import ServiceLifecycle

/// A loopback HTTP endpoint: `GET /metrics` (Prometheus text format) and
/// `GET /healthz` (200 `serving`, 503 `draining`).
public final class MetricsEndpoint: Service, Sendable {
    private let host: String
    private let port: Int
    private let registry: PrometheusCollectorRegistry
    private let servingState: ServingState
    private let group: any EventLoopGroup
    private let logger: Logger
    private let bound: EventLoopPromise<SocketAddress>

    public init(
        host: String,
        port: Int,
        registry: PrometheusCollectorRegistry,
        servingState: ServingState,
        group: any EventLoopGroup,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.servingState = servingState
        self.group = group
        self.logger = logger
        self.bound = group.next().makePromise()
    }

    /// The address actually bound (port 0 picks one).
    public func localAddress() async throws -> SocketAddress { try await bound.futureResult.get() }

    public func run() async throws {
        let registry = self.registry
        let servingState = self.servingState
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(
                            MetricsHTTPHandler(registry: registry, servingState: servingState)
                        )
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            bound.fail(error)
            throw error
        }
        if let address = channel.localAddress { bound.succeed(address) }
        logger.info("metrics endpoint listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        // Cancellation too: when another service ends unexpectedly the group
        // cancels every service, and a future's `get()` never notices that.
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

final class MetricsHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let servingState: ServingState
    private var request: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry, servingState: ServingState) {
        self.registry = registry
        self.servingState = servingState
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let status: HTTPResponseStatus
        let contentType: String
        var body: [UInt8] = []
        switch (head.method, head.uri.split(separator: "?").first.map(String.init) ?? head.uri) {
        case (.GET, "/metrics"):
            status = .ok
            contentType = "text/plain; version=0.0.4"
            registry.emit(into: &body)
        case (.GET, "/healthz"):
            let serving = servingState.status == .serving
            status = serving ? .ok : .serviceUnavailable
            contentType = "text/plain"
            body = Array((serving ? "serving\n" : "draining\n").utf8)
        default:
            status = .notFound
            contentType = "text/plain"
            body = Array("not found: GET /metrics or /healthz\n".utf8)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
        if !keepAlive {
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
