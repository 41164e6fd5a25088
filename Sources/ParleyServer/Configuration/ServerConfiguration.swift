public import NIOSSL
import ParleyWire

/// Everything the listener needs: where to listen, the limits of DESIGN §2,
/// and the TLS set-up. Loading from files and flags lives in ParleyDaemon.
public struct ServerConfiguration: Sendable {
    /// The address to bind. Loopback by default.
    public var host: String
    /// The TCP port; 0 picks a free one (tests).
    public var port: Int
    public var limits: Limits
    public var timeouts: Timeouts
    public var tls: TLS

    public init(host: String, port: Int, limits: Limits, timeouts: Timeouts, tls: TLS) {
        self.host = host
        self.port = port
        self.limits = limits
        self.timeouts = timeouts
        self.tls = tls
    }

    /// Per-connection and per-call limits.
    public struct Limits: Sendable, Hashable {
        /// The largest frame accepted, in bytes (the length prefix excluded).
        public var maxFrameBytes: Int
        /// Calls running at once on one connection; more get RESOURCE_EXHAUSTED.
        public var maxConcurrentCalls: Int
        /// The `retry_after_ms` hint sent with RESOURCE_EXHAUSTED for the concurrency limit.
        public var retryAfterMilliseconds: UInt32
        /// Bytes queued for one connection above which it stops being
        /// writable: streaming handlers wait, nothing is buffered without bound.
        public var writeBufferHighWaterMark: Int
        public var writeBufferLowWaterMark: Int
        /// Connections open at once, counted from accept (before TLS); one
        /// more is closed as soon as it is accepted.
        public var maxConnections: Int
        /// Connections open at once from one source IP address, counted
        /// from accept; one more from it is closed as soon as it is accepted.
        public var maxConnectionsPerAddress: Int
        /// Connections open at once with one principal's certificates,
        /// counted from the handshake; one more gets GoAway
        /// RESOURCE_EXHAUSTED and is closed before any call.
        public var maxConnectionsPerPrincipal: Int
        /// Connections from one source IP address whose TLS handshake has
        /// not completed yet (counted from accept); one more from it is
        /// closed as soon as it is accepted. Bounds what a peer without a
        /// certificate can hold open (each such connection waits out the
        /// handshake timeout) far below `maxConnectionsPerAddress`; a value
        /// above that has no effect.
        public var maxPendingHandshakesPerAddress: Int
        /// The longest `idempotency-key` accepted, in UTF-8 bytes: every
        /// stored outcome keeps its key for the retention, so an unbounded
        /// key would let any caller grow the database at will. A longer one
        /// gets INVALID_ARGUMENT and nothing runs.
        public var maxIdempotencyKeyBytes: Int

        public init(
            maxFrameBytes: Int,
            maxConcurrentCalls: Int,
            retryAfterMilliseconds: UInt32,
            writeBufferHighWaterMark: Int,
            writeBufferLowWaterMark: Int,
            maxConnections: Int = 4096,
            maxConnectionsPerAddress: Int = 1024,
            maxConnectionsPerPrincipal: Int = 256,
            maxPendingHandshakesPerAddress: Int = 128,
            maxIdempotencyKeyBytes: Int = 256
        ) {
            self.maxPendingHandshakesPerAddress = maxPendingHandshakesPerAddress
            self.maxIdempotencyKeyBytes = maxIdempotencyKeyBytes
            self.maxConnections = maxConnections
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.maxConnectionsPerPrincipal = maxConnectionsPerPrincipal
            self.maxFrameBytes = maxFrameBytes
            self.maxConcurrentCalls = maxConcurrentCalls
            self.retryAfterMilliseconds = retryAfterMilliseconds
            self.writeBufferHighWaterMark = writeBufferHighWaterMark
            self.writeBufferLowWaterMark = writeBufferLowWaterMark
        }

        public static var defaults: Limits {
            Limits(
                maxFrameBytes: WireProtocol.defaultMaxFrameBytes,
                maxConcurrentCalls: 256,
                retryAfterMilliseconds: 50,
                writeBufferHighWaterMark: 1024 * 1024,
                writeBufferLowWaterMark: 256 * 1024,
                maxConnections: 4096,
                maxConnectionsPerAddress: 1024,
                maxConnectionsPerPrincipal: 256,
                maxPendingHandshakesPerAddress: 128,
                maxIdempotencyKeyBytes: 256
            )
        }
    }

    /// Every timeout of the listener.
    public struct Timeouts: Sendable, Hashable {
        /// From accept to a completed TLS handshake.
        public var handshake: Duration
        /// How long a frame may stay partly received.
        public var partialFrame: Duration
        /// A connection with no call in flight and no frame for this long gets GoAway.
        public var idle: Duration
        /// The deadline of a call that sets `timeout_ms` 0.
        public var defaultCall: Duration
        /// The longest deadline a call may ask for; longer ones are cut to this.
        public var maxCall: Duration
        /// On shutdown, how long in-flight calls may take before their connections are closed.
        public var shutdownGrace: Duration

        public init(
            handshake: Duration,
            partialFrame: Duration,
            idle: Duration,
            defaultCall: Duration,
            maxCall: Duration,
            shutdownGrace: Duration
        ) {
            self.handshake = handshake
            self.partialFrame = partialFrame
            self.idle = idle
            self.defaultCall = defaultCall
            self.maxCall = maxCall
            self.shutdownGrace = shutdownGrace
        }

        public static var defaults: Timeouts {
            Timeouts(
                handshake: .seconds(10),
                partialFrame: .seconds(30),
                idle: .seconds(300),
                defaultCall: .seconds(30),
                maxCall: .seconds(3600),
                shutdownGrace: .seconds(30)
            )
        }
    }

    /// Mutual TLS. Build with ``mTLS(certificateChain:privateKey:clientCA:revocationFile:)``.
    public struct TLS: Sendable {
        /// PEM file of the server's certificate chain.
        public var certificateChainPath: String
        /// PEM file of the server's private key.
        public var privateKeyPath: String
        /// PEM file of the CA that client certificates must chain to.
        public var clientCAPath: String
        /// Revoked client serials, one per line; reread on SIGHUP. Optional.
        public var revocationFilePath: String?
        /// Allow TLS 1.2 (off by default: TLS 1.3 only).
        public var allowTLS12: Bool

        /// A server that requires a client certificate chaining to `clientCA`.
        public static func mTLS(
            certificateChain: String,
            privateKey: String,
            clientCA: String,
            revocationFile: String? = nil,
            allowTLS12: Bool = false
        ) -> TLS {
            TLS(
                certificateChainPath: certificateChain,
                privateKeyPath: privateKey,
                clientCAPath: clientCA,
                revocationFilePath: revocationFile,
                allowTLS12: allowTLS12
            )
        }

        /// The NIOSSL configuration: client certificates verified against the
        /// client CA (never the system roots), TLS 1.3 minimum unless 1.2 is
        /// allowed, ALPN `parley/1`.
        public func makeTLSConfiguration() throws -> TLSConfiguration {
            let chain = try NIOSSLCertificate.fromPEMFile(certificateChainPath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
            let clientCAs = try NIOSSLCertificate.fromPEMFile(clientCAPath)
            var configuration = TLSConfiguration.makeServerConfigurationWithMTLS(
                certificateChain: chain,
                privateKey: .privateKey(key),
                trustRoots: .certificates(clientCAs)
            )
            configuration.certificateVerification = .noHostnameVerification
            configuration.minimumTLSVersion = allowTLS12 ? .tlsv12 : .tlsv13
            configuration.applicationProtocols = [WireProtocol.alpn]
            configuration.sendCANameList = true
            return configuration
        }
    }
}
