import Foundation
import ParleyClient
import ParleyDaemon
import ParleyPKI
import SwiftProtobuf
import ParleyProtos
import ParleyServer
import ParleyTesting
import ParleyWire
import Synchronization
import Testing

@Suite("Idempotency and shutdown")
struct LifecycleTests {
    private func entry(_ text: String) -> Parley_V1_HealthCheckRequest {
        var request = Parley_V1_HealthCheckRequest()
        request.payload = Data(text.utf8)
        return request
    }

    @Test("same key and request: the stored outcome; same key, other request: FAILED_PRECONDITION")
    func idempotency() async throws {
        try await withServiceDaemon { daemon, probe in
            try await daemon.client().using { client in
                let options = CallOptions(idempotencyKey: "key-1")
                let first = try await client.unary(TestService.append, entry("a"), as: Parley_V1_HealthCheckResponse.self, options: options)
                let retry = try await client.unary(TestService.append, entry("a"), as: Parley_V1_HealthCheckResponse.self, options: options)
                #expect(retry == first)
                #expect(probe.snapshot.appends == 1)
                do {
                    _ = try await client.unary(TestService.append, entry("b"), as: Parley_V1_HealthCheckResponse.self, options: options)
                    Issue.record("expected FAILED_PRECONDITION")
                } catch let error as RPCError {
                    #expect(error.code == .failedPrecondition)
                }
                // Concurrent duplicates run once.
                try await withThrowingTaskGroup(of: Parley_V1_HealthCheckResponse.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            try await client.unary(TestService.append, self.entry("c"), as: Parley_V1_HealthCheckResponse.self, options: CallOptions(idempotencyKey: "key-2"))
                        }
                    }
                    var outcomes = Set<UInt64>()
                    for try await response in group { outcomes.insert(response.uptimeMs) }
                    #expect(outcomes.count == 1)
                }
                #expect(probe.snapshot.appends == 2)
                // Without a key every call runs.
                _ = try await client.unary(TestService.append, entry("a"), as: Parley_V1_HealthCheckResponse.self)
                #expect(probe.snapshot.appends == 3)
            }
            // Another principal's identical key is its own.
            try await daemon.client("someone-else", roles: [.agent]).using { other in
                _ = try await other.unary(TestService.append, entry("a"), as: Parley_V1_HealthCheckResponse.self, options: CallOptions(idempotencyKey: "key-1"))
            }
            #expect(probe.snapshot.appends == 4)
        }
    }

    @Test("an idempotency-key over limits.max_idempotency_key_bytes (UTF-8 bytes) is INVALID_ARGUMENT naming it, and nothing runs")
    func idempotencyKeyLimit() async throws {
        try await withServiceDaemon { daemon, probe in
            try await daemon.client().using { client in
                // 128 two-byte characters: at the limit of 256 bytes.
                let longest = String(repeating: "é", count: 128)
                _ = try await client.unary(TestService.append, entry("a"), as: Parley_V1_HealthCheckResponse.self, options: CallOptions(idempotencyKey: longest))
                #expect(probe.snapshot.appends == 1)
                do {
                    _ = try await client.unary(
                        TestService.append,
                        entry("a"),
                        as: Parley_V1_HealthCheckResponse.self,
                        options: CallOptions(idempotencyKey: longest + "x")
                    )
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument)
                    #expect(error.violations.map(\.field) == ["metadata.idempotency-key"])
                    #expect(error.violations.first?.description.contains("257") == true)
                }
                #expect(probe.snapshot.appends == 1)
            }
        }
    }

    /// When a service ends unexpectedly, the service group cancels all the
    /// others; the daemon must then end (and `parleyd` exit, so that a
    /// supervisor restarts it) rather than hang with nothing serving.
    @Test("a cancelled daemon ends: every service, the metrics endpoint too, stops on cancellation")
    func cancelledDaemonEnds() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (daemon, _) = try makeTestDaemon(TestDaemonOptions(), directory: directory)
        let running = Task { try await daemon.run() }
        _ = try await daemon.server.localAddress()
        _ = try await #require(daemon.metricsEndpoint).localAddress()
        running.cancel()
        let timer = Mutex<Task<Void, Never>?>(nil)
        let ended = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let first = FirstAnswer(continuation)
            Task {
                _ = try? await running.value
                first.resume(returning: true)
            }
            timer.withLock {
                $0 = Task {
                    try? await Task.sleep(for: .seconds(20))
                    first.resume(returning: false)
                }
            }
        }
        timer.withLock { $0?.cancel() }
        #expect(ended, "the daemon was still running 20 s after its task was cancelled")
    }

    @Test("graceful shutdown: in-flight calls finish, new calls are refused, Watch reports DRAINING")
    func gracefulShutdown() async throws {
        try await withServiceDaemon { daemon, probe in
            try await daemon.client().using { client in
                let statuses = Locked<[Parley_V1_ServingStatus]>([])
                let watch = Task {
                    for try await response in client.serverStreaming(HealthService.watch, Parley_V1_HealthWatchRequest(), as: Parley_V1_HealthCheckResponse.self) {
                        statuses.update { $0.append(response.status) }
                    }
                }
                let inFlight = Task {
                    try await client.unary(TestService.echo, entry("sleep:1000"), as: Parley_V1_HealthCheckResponse.self)
                }
                // Shut down only once both calls are running on the server.
                #expect(await probe.wait { $0.sleeping == 1 })
                let clock = ContinuousClock()
                let giveUp = clock.now + .seconds(5)
                while statuses.value.isEmpty && clock.now < giveUp { try await Task.sleep(for: .milliseconds(5)) }
                await daemon.shutdown()
                try await Task.sleep(for: .milliseconds(100))
                do {
                    _ = try await client.unary(TestService.echo, entry("late"), as: Parley_V1_HealthCheckResponse.self)
                    Issue.record("a call after shutdown began must be refused")
                } catch let error as RPCError {
                    #expect(error.code == .unavailable)
                }
                let finished = try await inFlight.value
                #expect(String(decoding: finished.payload, as: UTF8.self) == "sleep:1000")
                try await watch.value
                #expect(statuses.value == [.serving, .draining])
            }
        }
    }
}

/// Resumes a continuation with whichever answer comes first.
private final class FirstAnswer: Sendable {
    private let continuation: Mutex<CheckedContinuation<Bool, Never>?>

    init(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(returning value: Bool) {
        continuation.withLock { $0.take() }?.resume(returning: value)
    }
}
