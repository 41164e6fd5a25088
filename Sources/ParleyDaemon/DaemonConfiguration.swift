public import Logging
public import ParleyServer
public import ParleyStore
import Foundation
import ParleyPKI
public import ParleyWarehouse

/// Everything `parleyd` can be told. Defaults are the embedded ones the
/// README's first command runs on; ``DaemonConfiguration+File`` and the
/// command-line flags change them.
public struct DaemonConfiguration: Sendable {
    /// Listener, limits, timeouts, TLS.
    public var server: ServerConfiguration
    /// Holds the SQLite database (`parley.sqlite`).
    public var dataDirectory: String
    /// Where development certificates are created and read when the TLS
    /// paths are not given (`certs/dev`).
    public var certificateDirectory: String
    /// Whether the TLS file paths came from configuration (true) or default
    /// to the development certificate directory (false).
    public var usesDevelopmentCertificates: Bool
    public var metrics: Metrics
    public var store: ParleyDatabase.Configuration
    /// How long idempotent outcomes are kept.
    public var idempotencyRetention: Duration
    public var logLevel: Logger.Level
    /// The virtual warehouse's windows and caps.
    public var warehouse: WarehouseConfiguration
    /// How long the payment processor simulator takes per authorization
    /// (`--payment-latency-ms`; default 0).
    public var paymentLatency: Duration = .zero
    /// How often the rolling fraud statistics' quote-only and rejected
    /// requests are written down (`orders.fraud_snapshot_interval_ms`;
    /// default 10 s): what a crash can lose of them. Captured orders are
    /// durable on their own.
    public var fraudSnapshotInterval: Duration = .seconds(10)

    /// The Prometheus and `/healthz` endpoint.
    public struct Metrics: Sendable, Hashable {
        public var enabled: Bool
        public var host: String
        public var port: Int

        public init(enabled: Bool, host: String, port: Int) {
            self.enabled = enabled
            self.host = host
            self.port = port
        }

        public static var defaults: Metrics { Metrics(enabled: true, host: "127.0.0.1", port: 9464) }
    }

    public var databasePath: String { URL(fileURLWithPath: dataDirectory).appendingPathComponent("parley.sqlite").path }

    public init(
        server: ServerConfiguration,
        dataDirectory: String,
        certificateDirectory: String,
        usesDevelopmentCertificates: Bool,
        metrics: Metrics,
        store: ParleyDatabase.Configuration,
        idempotencyRetention: Duration,
        logLevel: Logger.Level,
        warehouse: WarehouseConfiguration = .defaults
    ) {
        self.server = server
        self.dataDirectory = dataDirectory
        self.certificateDirectory = certificateDirectory
        self.usesDevelopmentCertificates = usesDevelopmentCertificates
        self.metrics = metrics
        self.store = store
        self.idempotencyRetention = idempotencyRetention
        self.logLevel = logLevel
        self.warehouse = warehouse
    }

    /// 127.0.0.1:7443, data in `./.parley/`, development certificates in
    /// `certs/dev/`, metrics on 127.0.0.1:9464.
    public static var defaults: DaemonConfiguration {
        let certificates = CertificateDirectory(path: "certs/dev")
        return DaemonConfiguration(
            server: ServerConfiguration(
                host: "127.0.0.1",
                port: 7443,
                limits: .defaults,
                timeouts: .defaults,
                tls: .mTLS(
                    certificateChain: certificates.serverCertificate.path,
                    privateKey: certificates.serverPrivateKey.path,
                    clientCA: certificates.caCertificate.path,
                    revocationFile: certificates.revocationList.path
                )
            ),
            dataDirectory: ".parley",
            certificateDirectory: "certs/dev",
            usesDevelopmentCertificates: true,
            metrics: .defaults,
            store: .defaults,
            idempotencyRetention: .seconds(24 * 3600),
            logLevel: .info
        )
    }

    /// Points the TLS paths at `certificateDirectory` (after it changed).
    public mutating func useDevelopmentCertificates(in directory: String) {
        let certificates = CertificateDirectory(path: directory)
        certificateDirectory = directory
        usesDevelopmentCertificates = true
        server.tls.certificateChainPath = certificates.serverCertificate.path
        server.tls.privateKeyPath = certificates.serverPrivateKey.path
        server.tls.clientCAPath = certificates.caCertificate.path
        server.tls.revocationFilePath = certificates.revocationList.path
    }

    /// Checks every number and path is usable; the message names the setting.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw ConfigurationError(message: message) }
        }
        func require(_ value: Int, in range: ClosedRange<Int>, _ name: String) throws {
            try require(range.contains(value), "\(name) must be \(range)")
        }
        let limits = server.limits
        try require(server.port, in: 0...65535, "listen.port")
        try require(limits.maxFrameBytes, in: 64...(1 << 30), "limits.max_frame_bytes")
        try require(limits.maxConcurrentCalls, in: 1...100_000, "limits.max_concurrent_calls")
        try require(limits.maxConnections, in: 1...1_000_000, "limits.max_connections")
        try require(limits.maxConnectionsPerAddress, in: 1...1_000_000, "limits.max_connections_per_address")
        try require(limits.maxConnectionsPerPrincipal, in: 1...1_000_000, "limits.max_connections_per_principal")
        try require(limits.maxPendingHandshakesPerAddress, in: 1...1_000_000, "limits.max_pending_handshakes_per_address")
        try require(limits.maxIdempotencyKeyBytes, in: 16...4096, "limits.max_idempotency_key_bytes")
        try require(
            limits.writeBufferLowWaterMark >= 1 && limits.writeBufferLowWaterMark < limits.writeBufferHighWaterMark,
            "limits.write_buffer_low_water_mark must be at least 1 and below limits.write_buffer_high_water_mark"
        )
        let timeouts = server.timeouts
        for (name, value) in [
            ("handshake", timeouts.handshake), ("partial_frame", timeouts.partialFrame), ("idle", timeouts.idle),
            ("default_call", timeouts.defaultCall), ("max_call", timeouts.maxCall), ("shutdown_grace", timeouts.shutdownGrace),
        ] {
            try require(value > .zero, "timeouts_ms.\(name) must be positive")
        }
        try require(timeouts.defaultCall <= timeouts.maxCall, "timeouts_ms.default_call must not exceed timeouts_ms.max_call")
        try require(metrics.port, in: 0...65535, "metrics.port")
        try require(store.maxBatchSize, in: 1...10_000, "store.max_batch_size")
        try require(
            store.checkpointInterval >= .milliseconds(10) && store.checkpointInterval <= .seconds(60),
            "store.checkpoint_interval_ms must be 10...60000"
        )
        try require(store.walRestartPages, in: 1000...1_048_576, "store.wal_restart_pages")
        try require(
            (512...65_536).contains(store.pageSizeBytes) && store.pageSizeBytes & (store.pageSizeBytes - 1) == 0,
            "store.page_size must be a power of two, 512...65536"
        )
        try require(idempotencyRetention >= .seconds(60), "idempotency_retention_ms must be at least 60000")
        try require(
            fraudSnapshotInterval >= .milliseconds(100) && fraudSnapshotInterval <= .seconds(3600),
            "orders.fraud_snapshot_interval_ms must be 100...3600000"
        )
        try require(warehouse.defaultHoldSeconds >= 1, "warehouse.default_hold_seconds must be at least 1")
        try require(warehouse.defaultHoldSeconds <= warehouse.maxHoldSeconds, "warehouse.default_hold_seconds must not exceed warehouse.max_hold_seconds")
        try require(warehouse.defaultMaxUnitsPerSKU >= 1, "warehouse.max_units_per_sku must be at least 1")
        try require(warehouse.maxHoldSeconds <= warehouse.maxLifetimeSeconds, "warehouse.max_hold_seconds must not exceed warehouse.max_lifetime_seconds")
        try require(warehouse.maxLines, in: 1...10_000, "warehouse.max_lines")
        try require(warehouse.maxHeldReservationsPerAgent >= 1, "warehouse.max_held_reservations_per_agent must be at least 1")
        try require(
            (1...Warehouse.maxAllocatedUnits).contains(warehouse.maxHeldUnitsPerAgent),
            "warehouse.max_held_units_per_agent must be 1...\(Warehouse.maxAllocatedUnits)"
        )
    }
}

/// A configuration that cannot be used; the message names the setting.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
