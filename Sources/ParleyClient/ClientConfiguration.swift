import NIOSSL
import Foundation
import ParleyWire

/// Where and how a client connects.
public struct ClientConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var tls: TLS
    /// Connections to spread calls over (calls are multiplexed on each).
    public var connections: Int
    /// TCP connect plus TLS handshake.
    public var connectTimeout: Duration
    /// The deadline of a call that sets none.
    public var defaultCallTimeout: Duration
    /// The largest frame accepted from the server.
    public var maxFrameBytes: Int
    /// Retries for calls that carry an idempotency key.
    public var retry: RetryPolicy

    public init(
        host: String,
        port: Int,
        tls: TLS,
        connections: Int = 1,
        connectTimeout: Duration = .seconds(10),
        defaultCallTimeout: Duration = .seconds(30),
        maxFrameBytes: Int = WireProtocol.defaultMaxFrameBytes,
        retry: RetryPolicy = .defaults
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.connections = connections
        self.connectTimeout = connectTimeout
        self.defaultCallTimeout = defaultCallTimeout
        self.maxFrameBytes = maxFrameBytes
        self.retry = retry
    }

    /// The client's certificate and the CA that signed the server's.
    public struct TLS: Sendable {
        /// The client certificate (PEM); nil presents none (the server will refuse).
        public var certificatePath: String?
        public var privateKeyPath: String?
        public var caPath: String
        /// The name checked against the server certificate; the host by default.
        public var serverName: String?

        public static func mTLS(certificate: String, privateKey: String, ca: String, serverName: String? = nil) -> TLS {
            TLS(certificatePath: certificate, privateKeyPath: privateKey, caPath: ca, serverName: serverName)
        }

        /// Verifies the server but presents no client certificate (for testing refusals).
        public static func withoutClientCertificate(ca: String, serverName: String? = nil) -> TLS {
            TLS(certificatePath: nil, privateKeyPath: nil, caPath: ca, serverName: serverName)
        }

        func makeTLSConfiguration() throws -> TLSConfiguration {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let certificatePath, let privateKeyPath {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyPath, format: .pem))
            }
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPath))
            configuration.minimumTLSVersion = .tlsv13
            configuration.applicationProtocols = [WireProtocol.alpn]
            return configuration
        }
    }
}

/// When to retry. Only calls with an `idempotency-key` are retried, and only
/// for outcomes that mean the call did not run (UNAVAILABLE) or may run
/// later (RESOURCE_EXHAUSTED).
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(maxAttempts: Int, initialBackoff: Duration, maxBackoff: Duration) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    public static var defaults: RetryPolicy { RetryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(50), maxBackoff: .seconds(2)) }
    public static var none: RetryPolicy { RetryPolicy(maxAttempts: 1, initialBackoff: .zero, maxBackoff: .zero) }
}

/// Per-call options.
public struct CallOptions: Sendable {
    /// The call's deadline; the client's default when nil.
    public var timeout: Duration?
    public var metadata: [String: String]

    public init(timeout: Duration? = nil, metadata: [String: String] = [:], idempotencyKey: String? = nil) {
        self.timeout = timeout
        self.metadata = metadata
        if let idempotencyKey { self.metadata[MetadataKey.idempotencyKey] = idempotencyKey }
    }

    public static var defaults: CallOptions { CallOptions() }

    public var idempotencyKey: String? {
        get { metadata[MetadataKey.idempotencyKey] }
        set { metadata[MetadataKey.idempotencyKey] = newValue }
    }

    /// A fresh random idempotency key.
    public static func newIdempotencyKey() -> String { UUID().uuidString.lowercased() }
}
