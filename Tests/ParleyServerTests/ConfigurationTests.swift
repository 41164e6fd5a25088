import Foundation
import ParleyDaemon
import ParleyServer
import ParleyStore
import ParleyWarehouse
import Testing

@Suite("Daemon configuration")
struct ConfigurationTests {
    private func load(_ json: String) throws -> DaemonConfiguration {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("parleyd-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(json.utf8).write(to: file)
        var configuration = DaemonConfiguration.defaults
        try configuration.apply(configurationFile: file.path)
        try configuration.validate()
        return configuration
    }

    @Test("the embedded defaults are the documented ones")
    func defaults() throws {
        let configuration = DaemonConfiguration.defaults
        try configuration.validate()
        #expect(configuration.server.host == "127.0.0.1")
        #expect(configuration.server.port == 7443)
        #expect(configuration.server.limits.maxFrameBytes == 4 * 1024 * 1024)
        #expect(configuration.server.limits.maxConcurrentCalls == 256)
        #expect(configuration.server.limits.maxConnections == 4096)
        #expect(configuration.server.limits.maxConnectionsPerAddress == 1024)
        #expect(configuration.server.limits.maxConnectionsPerPrincipal == 256)
        #expect(configuration.server.timeouts.handshake == .seconds(10))
        #expect(configuration.server.timeouts.partialFrame == .seconds(30))
        #expect(configuration.server.timeouts.idle == .seconds(300))
        #expect(configuration.server.timeouts.shutdownGrace == .seconds(30))
        #expect(configuration.metrics.port == 9464)
        #expect(configuration.databasePath.hasSuffix(".parley/parley.sqlite"))
        #expect(configuration.store.checkpointInterval == .milliseconds(50))
        #expect(configuration.store.walRestartPages == 16_384)
        #expect(configuration.store.pageSizeBytes == 2048)
    }

    @Test("a file sets what it names and keeps the rest")
    func applies() throws {
        let configuration = try load(#"{"listen": {"port": 8443}, "limits": {"max_concurrent_calls": 32, "max_connections": 100}, "timeouts_ms": {"idle": 60000}, "log_level": "debug"}"#)
        #expect(configuration.server.port == 8443)
        #expect(configuration.server.limits.maxConcurrentCalls == 32)
        #expect(configuration.server.limits.maxConnections == 100)
        let perSource = try load(#"{"limits": {"max_connections_per_address": 16, "max_connections_per_principal": 8, "max_idempotency_key_bytes": 64, "max_pending_handshakes_per_address": 4}}"#).server.limits
        #expect(perSource.maxConnectionsPerAddress == 16 && perSource.maxConnectionsPerPrincipal == 8 && perSource.maxConnections == 4096)
        #expect(perSource.maxIdempotencyKeyBytes == 64 && configuration.server.limits.maxIdempotencyKeyBytes == 256)
        #expect(perSource.maxPendingHandshakesPerAddress == 4 && configuration.server.limits.maxPendingHandshakesPerAddress == 128)
        #expect(configuration.server.timeouts.idle == .seconds(60))
        #expect(configuration.server.host == "127.0.0.1")
        let store = try load(#"{"store": {"checkpoint_interval_ms": 250, "wal_restart_pages": 4096, "page_size": 4096}}"#).store
        #expect(store.checkpointInterval == .milliseconds(250) && store.walRestartPages == 4096 && store.maxBatchSize == 512)
        #expect(store.pageSizeBytes == 4096)
        let warehouse = try load(#"{"warehouse": {"max_held_reservations_per_agent": 50, "max_held_units_per_agent": 500}}"#).warehouse
        #expect(warehouse.maxHeldReservationsPerAgent == 50 && warehouse.maxHeldUnitsPerAgent == 500)
        #expect(try load("{}").warehouse.maxHeldUnitsPerAgent == 10_000)
        #expect(try load("{}").fraudSnapshotInterval == .seconds(10))
        #expect(try load(#"{"orders": {"fraud_snapshot_interval_ms": 2500}}"#).fraudSnapshotInterval == .milliseconds(2500))
    }

    @Test("mistakes are refused with the setting named", arguments: [
        (#"{"limits": {"max_concurent_calls": 3}}"#, "limits.max_concurent_calls"),
        (#"{"listen": {"port": "eighty"}}"#, "listen.port"),
        (#"{"limits": {"max_concurrent_calls": 0}}"#, "max_concurrent_calls"),
        (#"{"limits": {"max_connections": 0}}"#, "max_connections"),
        (#"{"limits": {"max_connections_per_address": 0}}"#, "max_connections_per_address"),
        (#"{"limits": {"max_connections_per_principal": 2000000}}"#, "max_connections_per_principal"),
        (#"{"limits": {"max_idempotency_key_bytes": 8}}"#, "max_idempotency_key_bytes"),
        (#"{"limits": {"max_pending_handshakes_per_address": 0}}"#, "max_pending_handshakes_per_address"),
        (#"{"timeouts_ms": {"default_call": 10000, "max_call": 5000}}"#, "default_call"),
        (#"{"log_level": "loud"}"#, "log_level"),
        (#"{"store": {"checkpoint_interval_ms": 0}}"#, "store.checkpoint_interval_ms"),
        (#"{"store": {"wal_restart_pages": 10}}"#, "store.wal_restart_pages"),
        (#"{"store": {"page_size": 3000}}"#, "store.page_size"),
        (#"{"store": {"page_size": 256}}"#, "store.page_size"),
        (#"{"warehouse": {"max_held_units_per_agent": 0}}"#, "warehouse.max_held_units_per_agent"),
        (#"{"orders": {"fraud_snapshot_interval_ms": 50}}"#, "orders.fraud_snapshot_interval_ms"),
        (#"{"orders": {"fraud_snapshot_interval": 500}}"#, "orders.fraud_snapshot_interval"),
        (#"{"tls": {"certificate": "a.pem"}}"#, "tls"),
        ("[1, 2]", "JSON object"),
    ])
    func mistakes(_ json: String, _ named: String) {
        do {
            _ = try load(json)
            Issue.record("\(json) should be refused")
        } catch {
            #expect("\(error)".contains(named), "\(error)")
        }
    }
}
