import Foundation
import NIOCore
import NIOPosix
import ParleyClient
import ParleyDaemon
import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyTesting
import ParleyWire
import Testing

@Suite("Client retries and the metrics endpoint")
struct ClientAndMetricsTests {
    @Test("a call with an idempotency key is retried through RESOURCE_EXHAUSTED; one without is not")
    func retries() async throws {
        try await withServiceDaemon(configure: { $0.server.limits.maxConcurrentCalls = 1 }) { daemon, probe in
            var configuration = daemon.clientConfiguration(try daemon.pki.client("retrier", roles: [.agent]))
            configuration.retry = RetryPolicy(maxAttempts: 20, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100))
            let client = try ParleyClient(configuration: configuration)
            try await client.using { client in
                let blocker = Task {
                    try await client.unary(TestService.hang, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
                }
                #expect(await probe.wait { $0.running == 1 })
                var request = Parley_V1_HealthCheckRequest()
                request.payload = Data("x".utf8)
                // Without a key: refused at once, never retried.
                do {
                    _ = try await client.unary(TestService.append, request, as: Parley_V1_HealthCheckResponse.self)
                    Issue.record("expected RESOURCE_EXHAUSTED")
                } catch let error as RPCError {
                    #expect(error.code == .resourceExhausted)
                }
                // With a key: retried until the slot frees.
                let freeSlot = Task {
                    try await Task.sleep(for: .milliseconds(150))
                    blocker.cancel()
                }
                let response = try await client.unary(
                    TestService.append,
                    request,
                    as: Parley_V1_HealthCheckResponse.self,
                    options: CallOptions(idempotencyKey: "retry-me")
                )
                #expect(response.payload == request.payload)
                #expect(probe.snapshot.appends == 1)
                try await freeSlot.value
            }
        }
    }

    @Test("/metrics exports per-method calls and latency; /healthz says serving")
    func metricsEndpoint() async throws {
        try await withTestDaemon { daemon in
            try await daemon.client().using { client in
                _ = try await client.unary(HealthService.check, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
                _ = try? await client.unary("/parley.v1.Nope/Nothing", request: Data())
            }
            let endpoint = try #require(daemon.daemon.metricsEndpoint)
            let port = try #require(try await endpoint.localAddress().port)
            let metrics = try await Self.get("/metrics", port: port)
            #expect(metrics.contains(#"parley_calls_total{method="/parley.v1.Health/Check",code="OK"} 1"#))
            #expect(metrics.contains(#"parley_calls_total{method="unknown",code="UNIMPLEMENTED"} 1"#))
            #expect(metrics.contains("parley_call_duration_seconds_bucket"))
            #expect(metrics.contains("parley_open_connections"))
            #expect(metrics.contains("parley_inflight_calls"))
            let health = try await Self.get("/healthz", port: port)
            #expect(health.hasPrefix("HTTP/1.1 200") || health.hasPrefix("HTTP/1.0 200"))
            #expect(health.hasSuffix("serving\n"))
        }
    }

    /// A plain HTTP/1.0 GET on loopback; returns the whole response.
    static func get(_ path: String, port: Int) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
            var text = ""
            for try await buffer in inbound { text += String(buffer: buffer) }
            return text
        }
    }
}
