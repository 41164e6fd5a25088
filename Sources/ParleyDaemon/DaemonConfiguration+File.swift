import Foundation
import Logging
import ParleyServer
import ParleyStore
import ParleyWarehouse

/// The JSON configuration file (`parleyd --config FILE`). Every key is
/// optional; what is absent keeps its default. Unknown keys are an error, so
/// a misspelt setting is never silently ignored. See docs/operations.md.
struct ConfigurationFile: Decodable {
    struct Listen: Decodable { var host: String?; var port: Int? }
    struct TLS: Decodable {
        var certificate: String?
        var privateKey: String?
        var clientCA: String?
        var revocationFile: String?
        var allowTLS12: Bool?
        enum CodingKeys: String, CodingKey {
            case certificate, privateKey = "private_key", clientCA = "client_ca", revocationFile = "revocation_file"
            case allowTLS12 = "allow_tls12"
        }
    }
    struct Limits: Decodable {
        var maxFrameBytes: Int?
        var maxConcurrentCalls: Int?
        var retryAfterMs: UInt32?
        var writeBufferHighWaterMark: Int?
        var writeBufferLowWaterMark: Int?
        var maxConnections: Int?
        var maxConnectionsPerAddress: Int?
        var maxConnectionsPerPrincipal: Int?
        var maxIdempotencyKeyBytes: Int?
        var maxPendingHandshakesPerAddress: Int?
        enum CodingKeys: String, CodingKey {
            case maxFrameBytes = "max_frame_bytes", maxConcurrentCalls = "max_concurrent_calls", maxConnections = "max_connections"
            case maxConnectionsPerAddress = "max_connections_per_address", maxConnectionsPerPrincipal = "max_connections_per_principal"
            case retryAfterMs = "retry_after_ms", writeBufferHighWaterMark = "write_buffer_high_water_mark"
            case writeBufferLowWaterMark = "write_buffer_low_water_mark"
            case maxIdempotencyKeyBytes = "max_idempotency_key_bytes"
            case maxPendingHandshakesPerAddress = "max_pending_handshakes_per_address"
        }
    }
    struct Timeouts: Decodable {
        var handshake: Int?
        var partialFrame: Int?
        var idle: Int?
        var defaultCall: Int?
        var maxCall: Int?
        var shutdownGrace: Int?
        enum CodingKeys: String, CodingKey {
            case handshake, partialFrame = "partial_frame", idle, defaultCall = "default_call"
            case maxCall = "max_call", shutdownGrace = "shutdown_grace"
        }
    }
    struct Metrics: Decodable { var enabled: Bool?; var host: String?; var port: Int? }
    struct Warehouse: Decodable {
        var defaultHoldSeconds: UInt32?
        var maxHoldSeconds: UInt32?
        var maxLifetimeSeconds: UInt32?
        var maxUnitsPerSKU: UInt32?
        var maxLines: Int?
        var maxHeldReservationsPerAgent: Int?
        var maxHeldUnitsPerAgent: Int64?
        enum CodingKeys: String, CodingKey {
            case defaultHoldSeconds = "default_hold_seconds", maxHoldSeconds = "max_hold_seconds"
            case maxLifetimeSeconds = "max_lifetime_seconds"
            case maxUnitsPerSKU = "max_units_per_sku", maxLines = "max_lines"
            case maxHeldReservationsPerAgent = "max_held_reservations_per_agent"
            case maxHeldUnitsPerAgent = "max_held_units_per_agent"
        }
    }
    struct Orders: Decodable {
        var fraudSnapshotIntervalMs: Int64?
        enum CodingKeys: String, CodingKey {
            case fraudSnapshotIntervalMs = "fraud_snapshot_interval_ms"
        }
    }
    struct Store: Decodable {
        var maxBatchSize: Int?
        var checkpointIntervalMs: Int64?
        var walRestartPages: Int?
        var pageSize: Int?
        enum CodingKeys: String, CodingKey {
            case maxBatchSize = "max_batch_size", checkpointIntervalMs = "checkpoint_interval_ms", walRestartPages = "wal_restart_pages"
            case pageSize = "page_size"
        }
    }

    var listen: Listen?
    var dataDirectory: String?
    var certificateDirectory: String?
    var tls: TLS?
    var limits: Limits?
    var timeoutsMs: Timeouts?
    var metrics: Metrics?
    var store: Store?
    var idempotencyRetentionMs: Int?
    var logLevel: String?
    var warehouse: Warehouse?
    var orders: Orders?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, dataDirectory = "data_directory", certificateDirectory = "certificate_directory", tls, limits
        case timeoutsMs = "timeouts_ms", metrics, store, idempotencyRetentionMs = "idempotency_retention_ms"
        case logLevel = "log_level", warehouse, orders
    }
}

extension DaemonConfiguration {
    /// Applies a JSON configuration file on top of this configuration.
    public mutating func apply(configurationFile path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(message: "cannot read configuration file \(path): \(error.localizedDescription)")
        }
        try Self.rejectUnknownKeys(data, path: path)
        let file: ConfigurationFile
        do {
            file = try JSONDecoder().decode(ConfigurationFile.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigurationError(message: "\(path): \(key): \(context.debugDescription)")
        } catch {
            throw ConfigurationError(message: "\(path): not valid JSON: \(error)")
        }
        try apply(file)
    }

    mutating func apply(_ file: ConfigurationFile) throws {
        if let host = file.listen?.host { server.host = host }
        if let port = file.listen?.port { server.port = port }
        if let directory = file.dataDirectory { dataDirectory = directory }
        if let directory = file.certificateDirectory { useDevelopmentCertificates(in: directory) }
        if let tls = file.tls {
            if tls.certificate != nil || tls.privateKey != nil || tls.clientCA != nil {
                guard let certificate = tls.certificate, let key = tls.privateKey, let ca = tls.clientCA else {
                    throw ConfigurationError(message: "tls: certificate, private_key and client_ca go together")
                }
                server.tls.certificateChainPath = certificate
                server.tls.privateKeyPath = key
                server.tls.clientCAPath = ca
                usesDevelopmentCertificates = false
            }
            if let file = tls.revocationFile { server.tls.revocationFilePath = file }
            if let allow = tls.allowTLS12 { server.tls.allowTLS12 = allow }
        }
        if let limits = file.limits {
            if let value = limits.maxFrameBytes { server.limits.maxFrameBytes = value }
            if let value = limits.maxConcurrentCalls { server.limits.maxConcurrentCalls = value }
            if let value = limits.retryAfterMs { server.limits.retryAfterMilliseconds = value }
            if let value = limits.writeBufferHighWaterMark { server.limits.writeBufferHighWaterMark = value }
            if let value = limits.writeBufferLowWaterMark { server.limits.writeBufferLowWaterMark = value }
            if let value = limits.maxConnections { server.limits.maxConnections = value }
            if let value = limits.maxConnectionsPerAddress { server.limits.maxConnectionsPerAddress = value }
            if let value = limits.maxConnectionsPerPrincipal { server.limits.maxConnectionsPerPrincipal = value }
            if let value = limits.maxIdempotencyKeyBytes { server.limits.maxIdempotencyKeyBytes = value }
            if let value = limits.maxPendingHandshakesPerAddress { server.limits.maxPendingHandshakesPerAddress = value }
        }
        if let timeouts = file.timeoutsMs {
            if let value = timeouts.handshake { server.timeouts.handshake = .milliseconds(value) }
            if let value = timeouts.partialFrame { server.timeouts.partialFrame = .milliseconds(value) }
            if let value = timeouts.idle { server.timeouts.idle = .milliseconds(value) }
            if let value = timeouts.defaultCall { server.timeouts.defaultCall = .milliseconds(value) }
            if let value = timeouts.maxCall { server.timeouts.maxCall = .milliseconds(value) }
            if let value = timeouts.shutdownGrace { server.timeouts.shutdownGrace = .milliseconds(value) }
        }
        if let metrics = file.metrics {
            if let value = metrics.enabled { self.metrics.enabled = value }
            if let value = metrics.host { self.metrics.host = value }
            if let value = metrics.port { self.metrics.port = value }
        }
        if let value = file.store?.maxBatchSize { store.maxBatchSize = value }
        if let value = file.store?.checkpointIntervalMs { store.checkpointInterval = .milliseconds(value) }
        if let value = file.store?.walRestartPages { store.walRestartPages = value }
        if let value = file.store?.pageSize { store.pageSizeBytes = value }
        if let settings = file.warehouse {
            if let value = settings.defaultHoldSeconds { warehouse.defaultHoldSeconds = value }
            if let value = settings.maxHoldSeconds { warehouse.maxHoldSeconds = value }
            if let value = settings.maxLifetimeSeconds { warehouse.maxLifetimeSeconds = value }
            if let value = settings.maxUnitsPerSKU { warehouse.defaultMaxUnitsPerSKU = value }
            if let value = settings.maxLines { warehouse.maxLines = value }
            if let value = settings.maxHeldReservationsPerAgent { warehouse.maxHeldReservationsPerAgent = value }
            if let value = settings.maxHeldUnitsPerAgent { warehouse.maxHeldUnitsPerAgent = value }
        }
        if let value = file.orders?.fraudSnapshotIntervalMs { fraudSnapshotInterval = .milliseconds(value) }
        if let value = file.idempotencyRetentionMs { idempotencyRetention = .milliseconds(value) }
        if let value = file.logLevel {
            guard let level = Logger.Level(rawValue: value) else {
                throw ConfigurationError(message: "log_level: '\(value)' is not one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        }
    }

    private static let knownKeys: [String: Set<String>] = [
        "": Set(ConfigurationFile.CodingKeys.allCases.map(\.rawValue)),
        "listen": ["host", "port"],
        "tls": ["certificate", "private_key", "client_ca", "revocation_file", "allow_tls12"],
        "limits": [
            "max_frame_bytes", "max_concurrent_calls", "retry_after_ms", "write_buffer_high_water_mark", "write_buffer_low_water_mark",
            "max_connections", "max_connections_per_address", "max_connections_per_principal", "max_pending_handshakes_per_address",
            "max_idempotency_key_bytes",
        ],
        "timeouts_ms": ["handshake", "partial_frame", "idle", "default_call", "max_call", "shutdown_grace"],
        "metrics": ["enabled", "host", "port"],
        "orders": ["fraud_snapshot_interval_ms"],
        "store": ["max_batch_size", "checkpoint_interval_ms", "wal_restart_pages", "page_size"],
        "warehouse": ["default_hold_seconds", "max_hold_seconds", "max_lifetime_seconds", "max_units_per_sku", "max_lines", "max_held_reservations_per_agent", "max_held_units_per_agent"],
    ]

    private static func rejectUnknownKeys(_ data: Data, path: String) throws {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigurationError(message: "\(path): the configuration must be a JSON object")
        }
        func check(_ object: [String: Any], section: String) throws {
            let known = knownKeys[section] ?? []
            for (key, value) in object {
                let name = section.isEmpty ? key : "\(section).\(key)"
                guard known.contains(key) else { throw ConfigurationError(message: "\(path): unknown setting '\(name)'") }
                if section.isEmpty, let nested = value as? [String: Any] { try check(nested, section: key) }
            }
        }
        try check(root, section: "")
    }
}
