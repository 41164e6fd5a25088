import Foundation
import GRDB
import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyStore
import ParleyWire
import Synchronization

/// Methods that exist only in tests, to drive the server through every
/// path: echo with a delay, hang until cancelled, stream N messages, and a
/// mutating append for idempotency and durability.
struct TestService: RegistrableService {
    static let echo = MethodPath(service: "parley.test.v1.Test", method: "Echo")
    static let hang = MethodPath(service: "parley.test.v1.Test", method: "Hang")
    static let count = MethodPath(service: "parley.test.v1.Test", method: "Count")
    static let append = MethodPath(service: "parley.test.v1.Test", method: "Append")
    static let large = MethodPath(service: "parley.test.v1.Test", method: "Large")

    static let migration = StoreMigration("test.v1.entry") { db in
        try db.execute(sql: "CREATE TABLE test_entry (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
    }

    let probe: Probe

    func registerMethods(with router: inout Router) {
        let probe = self.probe
        router.registerUnary(Self.echo, roles: [.agent]) {
            (request: Parley_V1_HealthCheckRequest, context: CallContext) -> Parley_V1_HealthCheckResponse in
            if let text = String(data: request.payload, encoding: .utf8), text.hasPrefix("sleep:"), let ms = Int(text.dropFirst(6)) {
                probe.update { $0.sleeping += 1 }
                defer { probe.update { $0.sleeping -= 1 } }
                try await Task.sleep(for: .milliseconds(ms))
            }
            var response = Parley_V1_HealthCheckResponse()
            response.payload = request.payload
            response.principal = context.peer.principal
            return response
        }
        router.registerUnary(Self.hang, roles: [.agent]) {
            (_: Parley_V1_HealthCheckRequest, _: CallContext) -> Parley_V1_HealthCheckResponse in
            probe.update { $0.running += 1 }
            defer { probe.update { $0.running -= 1 } }
            do {
                try await Task.sleep(for: .seconds(3600))
            } catch {
                probe.update { $0.cancelled += 1 }
                throw error
            }
            return Parley_V1_HealthCheckResponse()
        }
        router.registerServerStreaming(Self.count, roles: [.agent]) {
            (request: Parley_V1_HealthWatchRequest, _: CallContext, writer: ResponseStreamWriter<Parley_V1_HealthCheckResponse>) in
            for index in 0..<request.intervalMs {
                var response = Parley_V1_HealthCheckResponse()
                response.uptimeMs = UInt64(index)
                try await writer.send(response)
            }
        }
        router.registerUnary(Self.large, roles: [.agent]) {
            (request: Parley_V1_HealthWatchRequest, _: CallContext) -> Parley_V1_HealthCheckResponse in
            var response = Parley_V1_HealthCheckResponse()
            response.payload = Data(repeating: 0x61, count: Int(request.intervalMs))
            return response
        }
        router.registerUnary(Self.append, roles: [.agent], mutating: true) {
            (request: Parley_V1_HealthCheckRequest, _: CallContext) -> Parley_V1_HealthCheckResponse in
            guard let database = probe.database else { throw RPCError(code: .unavailable, message: "no database yet") }
            let count = try await database.batchedWriter.write { db -> Int in
                try db.execute(sql: "INSERT INTO test_entry (payload) VALUES (?)", arguments: [request.payload])
                return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM test_entry") ?? 0
            }
            probe.update { $0.appends += 1 }
            var response = Parley_V1_HealthCheckResponse()
            response.payload = request.payload
            response.uptimeMs = UInt64(count)
            return response
        }
    }
}

/// What the test methods saw, for tests to wait on.
final class Probe: Sendable {
    struct Counts: Sendable {
        var running = 0
        var sleeping = 0
        var cancelled = 0
        var appends = 0
    }

    private let counts = Mutex(Counts())
    private let databaseBox = Mutex<ParleyDatabase?>(nil)

    var database: ParleyDatabase? {
        get { databaseBox.withLock { $0 } }
        set { databaseBox.withLock { $0 = newValue } }
    }

    var snapshot: Counts { counts.withLock { $0 } }

    func update(_ body: (inout Counts) -> Void) { counts.withLock { body(&$0) } }

    /// Polls until `condition` holds or `timeout` passes; returns whether it held.
    func wait(timeout: Duration = .seconds(5), until condition: (Counts) -> Bool) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + timeout
        while clock.now < end {
            if condition(snapshot) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(snapshot)
    }
}
