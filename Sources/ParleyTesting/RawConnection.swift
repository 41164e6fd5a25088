import NIOCore
import NIOPosix
import NIOSSL
public import ParleyProtos
import ParleyWire

/// A bare TLS connection that sends any bytes and collects the frames the
/// server answers with, for testing protocol violations the real client
/// never commits.
public final class RawConnection {
    private var inbound: NIOAsyncChannelInboundStream<Parley_Wire_V1_Frame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    private init(
        inbound: NIOAsyncChannelInboundStream<Parley_Wire_V1_Frame>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects with `credentials`, runs `body`, closes. With a
    /// `handshakeDelay`, the TCP connection stays silent that long before
    /// the TLS handshake starts (a slow client).
    public static func with<T>(
        port: Int,
        credentials: TestPKI.Credentials,
        pki: TestPKI,
        alpn: [String] = [WireProtocol.alpn],
        handshakeDelay: Duration = .zero,
        _ body: (RawConnection) async throws -> T
    ) async throws -> T {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(credentials.certificatePath).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: credentials.keyPath, format: .pem))
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(pki.caPath))
        configuration.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: configuration)
        let tcp = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port)
            .get()
        let channel: NIOAsyncChannel<Parley_Wire_V1_Frame, ByteBuffer>
        do {
            if handshakeDelay > .zero { try await Task.sleep(for: handshakeDelay) }
            channel = try await tcp.eventLoop.submit {
                let sync = tcp.pipeline.syncOperations
                try sync.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                try sync.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: WireProtocol.defaultMaxFrameBytes)))
                return try NIOAsyncChannel<Parley_Wire_V1_Frame, ByteBuffer>(wrappingChannelSynchronously: tcp)
            }.get()
        } catch {
            try? await tcp.close()
            throw error
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawConnection(inbound: inbound, outbound: outbound))
        }
    }

    /// Sends raw bytes.
    public func send(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends one well-formed frame.
    public func send(_ frame: Parley_Wire_V1_Frame) async throws {
        var buffer = ByteBuffer()
        try buffer.writeFrame(frame)
        try await outbound.write(buffer)
    }

    /// The next frame, or nil once the server closed the connection.
    public func next() async -> Parley_Wire_V1_Frame? {
        do {
            return try await inbound.next()
        } catch {
            return nil
        }
    }

    /// Every frame the server sends until it closes the connection.
    public func framesUntilClose() async -> [Parley_Wire_V1_Frame] {
        var frames: [Parley_Wire_V1_Frame] = []
        while let frame = await next() { frames.append(frame) }
        return frames
    }
}
