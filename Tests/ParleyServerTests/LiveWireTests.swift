import Foundation
import NIOCore
import NIOPosix
import ParleyClient
import ParleyDaemon
import ParleyPKI
import SwiftProtobuf
import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyTesting
import ParleyWire
import Synchronization
import Testing

@Suite("Wire protocol over a live daemon")
struct LiveWireTests {
    private func echo(_ text: String) -> Parley_V1_HealthCheckRequest {
        var request = Parley_V1_HealthCheckRequest()
        request.payload = Data(text.utf8)
        return request
    }

    @Test("200 concurrent calls on one connection are all answered, out of order")
    func concurrentOutOfOrder() async throws {
        try await withServiceDaemon { daemon, _ in
            try await daemon.client(connections: 1).using { client in
                let order = Locked<[Int]>([])
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            // Later calls sleep less, so they overtake earlier ones.
                            let delay = (200 - index) % 40
                            let response = try await client.unary(TestService.echo, self.echo("sleep:\(delay)"), as: Parley_V1_HealthCheckResponse.self)
                            #expect(String(decoding: response.payload, as: UTF8.self) == "sleep:\(delay)")
                            order.update { $0.append(index) }
                        }
                    }
                    try await group.waitForAll()
                }
                let completed = order.value
                #expect(completed.count == 200)
                #expect(completed != completed.sorted(), "replies should arrive out of order")
            }
        }
    }

    @Test("cancelling the calling task sends Cancel and the server stops the work")
    func cancel() async throws {
        try await withServiceDaemon { daemon, probe in
            try await daemon.client().using { client in
                let call = Task {
                    try await client.unary(TestService.hang, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
                }
                #expect(await probe.wait { $0.running == 1 })
                call.cancel()
                await #expect(throws: RPCError(code: .cancelled, message: "cancelled by the caller")) { try await call.value }
                #expect(await probe.wait { $0.cancelled == 1 && $0.running == 0 })
                // The connection still works.
                _ = try await client.unary(TestService.echo, echo("after"), as: Parley_V1_HealthCheckResponse.self)
            }
        }
    }

    @Test("a passed deadline gives DEADLINE_EXCEEDED and cancels the work")
    func deadline() async throws {
        try await withServiceDaemon { daemon, probe in
            try await daemon.client().using { client in
                do {
                    _ = try await client.unary(
                        TestService.hang,
                        Parley_V1_HealthCheckRequest(),
                        as: Parley_V1_HealthCheckResponse.self,
                        options: CallOptions(timeout: .milliseconds(200))
                    )
                    Issue.record("expected DEADLINE_EXCEEDED")
                } catch let error as RPCError {
                    #expect(error.code == .deadlineExceeded)
                }
                #expect(await probe.wait { $0.cancelled == 1 })
            }
        }
    }

    @Test("server streaming delivers every message in order, then OK")
    func streaming() async throws {
        try await withServiceDaemon { daemon, _ in
            try await daemon.client().using { client in
                var request = Parley_V1_HealthWatchRequest()
                request.intervalMs = 500
                var received: [UInt64] = []
                for try await response in client.serverStreaming(TestService.count, request, as: Parley_V1_HealthCheckResponse.self) {
                    received.append(response.uptimeMs)
                }
                #expect(received == (0..<500).map(UInt64.init))
            }
        }
    }

    @Test("over max_concurrent_calls a call gets RESOURCE_EXHAUSTED with retry_after_ms")
    func concurrencyLimit() async throws {
        try await withServiceDaemon(configure: { $0.server.limits.maxConcurrentCalls = 4 }) { daemon, probe in
            try await daemon.client().using { client in
                let hanging = (0..<4).map { _ in
                    Task { try await client.unary(TestService.hang, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self) }
                }
                #expect(await probe.wait { $0.running == 4 })
                do {
                    _ = try await client.unary(TestService.echo, echo("one too many"), as: Parley_V1_HealthCheckResponse.self)
                    Issue.record("expected RESOURCE_EXHAUSTED")
                } catch let error as RPCError {
                    #expect(error.code == .resourceExhausted)
                    #expect(error.retryAfterMilliseconds > 0)
                }
                for task in hanging { task.cancel() }
                #expect(await probe.wait { $0.running == 0 })
                _ = try await client.unary(TestService.echo, echo("room again"), as: Parley_V1_HealthCheckResponse.self)
            }
        }
    }

    @Test("unknown methods are UNIMPLEMENTED; undecodable requests INVALID_ARGUMENT; Ping is answered")
    func unknownAndUndecodable() async throws {
        try await withServiceDaemon { daemon, _ in
            try await daemon.client().using { client in
                await #expect(throws: RPCError.self) { _ = try await client.unary("/parley.v1.Nope/Nothing", request: Data()) }
                do {
                    _ = try await client.unary("/parley.v1.Nope/Nothing", request: Data())
                } catch let error as RPCError {
                    #expect(error.code == .unimplemented)
                }
                do {
                    _ = try await client.unary(TestService.echo.path, request: Data([0xff, 0xff, 0xff]))
                    Issue.record("expected INVALID_ARGUMENT")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument)
                }
                let rtt = try await client.ping()
                #expect(rtt > .zero)
            }
        }
    }

    @Test("an oversized frame gets GoAway RESOURCE_EXHAUSTED and closes only that connection")
    func oversizedFrame() async throws {
        try await withServiceDaemon { daemon, _ in
            let credentials = try daemon.pki.client("raw", roles: [.agent])
            try await daemon.client().using { bystander in
                _ = try await bystander.unary(TestService.echo, echo("before"), as: Parley_V1_HealthCheckResponse.self)
                let frames = try await RawConnection.with(port: daemon.port, credentials: credentials, pki: daemon.pki) { raw in
                    try await raw.send([0x7f, 0xff, 0xff, 0xff])
                    return await raw.framesUntilClose()
                }
                #expect(frames.count == 1)
                guard case .goAway(let goAway) = frames.first?.kind else {
                    Issue.record("expected a GoAway, got \(frames)")
                    return
                }
                #expect(goAway.status.code == .resourceExhausted)
                _ = try await bystander.unary(TestService.echo, echo("after"), as: Parley_V1_HealthCheckResponse.self)
            }
        }
    }

    @Test("protocol violations get GoAway INVALID_ARGUMENT", arguments: ["repeated call id", "reply from client"])
    func violations(_ violation: String) async throws {
        try await withServiceDaemon { daemon, _ in
            let credentials = try daemon.pki.client("raw", roles: [.agent])
            let frames = try await RawConnection.with(port: daemon.port, credentials: credentials, pki: daemon.pki) { raw in
                let request = try Data(echo("x").serializedBytes() as [UInt8])
                if violation == "repeated call id" {
                    try await raw.send(.call(id: 5, method: TestService.echo.path, request: request))
                    try await raw.send(.call(id: 5, method: TestService.echo.path, request: request))
                } else {
                    try await raw.send(.reply(id: 1, status: .ok))
                }
                return await raw.framesUntilClose()
            }
            let goAways = frames.compactMap { frame -> Parley_Wire_V1_GoAway? in
                if case .goAway(let goAway) = frame.kind { return goAway }
                return nil
            }
            #expect(goAways.count == 1)
            #expect(goAways.first?.status.code == .invalidArgument)
        }
    }

    @Test("a frame left incomplete is timed out with GoAway")
    func partialFrameTimeout() async throws {
        try await withServiceDaemon(configure: { $0.server.timeouts.partialFrame = .milliseconds(300) }) { daemon, _ in
            let credentials = try daemon.pki.client("slow", roles: [.agent])
            let frames = try await RawConnection.with(port: daemon.port, credentials: credentials, pki: daemon.pki) { raw in
                try await raw.send([0, 0, 0, 40, 1, 2])
                return await raw.framesUntilClose()
            }
            guard case .goAway(let goAway) = frames.last?.kind else {
                Issue.record("expected GoAway, got \(frames)")
                return
            }
            #expect(goAway.status.code == .deadlineExceeded)
        }
    }

    /// The idle clock starts once the peer is authenticated: a handshake
    /// slower than the idle timeout still ends in GoAway, not a silent close.
    @Test("an idle connection gets GoAway and is closed, also after a slow handshake", arguments: [Duration.zero, .milliseconds(600)])
    func idleTimeout(handshakeDelay: Duration) async throws {
        try await withServiceDaemon(configure: { $0.server.timeouts.idle = .milliseconds(300) }) { daemon, _ in
            let credentials = try daemon.pki.client("idle", roles: [.agent])
            let frames = try await RawConnection.with(
                port: daemon.port,
                credentials: credentials,
                pki: daemon.pki,
                handshakeDelay: handshakeDelay
            ) { raw in
                await raw.framesUntilClose()
            }
            guard case .goAway(let goAway) = frames.last?.kind else {
                Issue.record("expected GoAway, got \(frames)")
                return
            }
            #expect(goAway.status.code == .unavailable)
        }
    }

    @Test("a peer that never starts TLS is dropped after the handshake timeout")
    func handshakeTimeout() async throws {
        try await withServiceDaemon(configure: { $0.server.timeouts.handshake = .milliseconds(300) }) { daemon, _ in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: daemon.port)
                .get()
            let started = ContinuousClock.now
            try await channel.closeFuture.get()
            #expect(ContinuousClock.now - started < .seconds(5))
        }
    }
}

@Suite("Server edge cases")
struct ServerEdgeTests {
    @Test("a response larger than max_frame_bytes fails the call, not the connection")
    func oversizedResponse() async throws {
        try await withServiceDaemon(configure: { $0.server.limits.maxFrameBytes = 64 * 1024 }) { daemon, _ in
            try await daemon.client().using { client in
                var request = Parley_V1_HealthWatchRequest()
                request.intervalMs = 100 * 1024
                do {
                    _ = try await client.unary(TestService.large, request, as: Parley_V1_HealthCheckResponse.self)
                    Issue.record("expected RESOURCE_EXHAUSTED")
                } catch let error as RPCError {
                    #expect(error.code == .resourceExhausted)
                }
                request.intervalMs = 1024
                let small = try await client.unary(TestService.large, request, as: Parley_V1_HealthCheckResponse.self)
                #expect(small.payload.count == 1024)
            }
        }
    }

    @Test("a client that does not negotiate ALPN parley/1 is refused")
    func alpnRequired() async throws {
        try await withServiceDaemon { daemon, _ in
            let credentials = try daemon.pki.client("old-client", roles: [.agent])
            let frames = try await RawConnection.with(port: daemon.port, credentials: credentials, pki: daemon.pki, alpn: []) { raw in
                await raw.framesUntilClose()
            }
            guard case .goAway(let goAway) = frames.last?.kind else {
                Issue.record("expected GoAway, got \(frames)")
                return
            }
            #expect(goAway.status.code == .invalidArgument)
        }
    }

    @Test("Health answers any authenticated caller, even one without roles")
    func healthForEveryone() async throws {
        try await withTestDaemon { daemon in
            try await daemon.client("no-roles", roles: []).using { client in
                let response = try await client.unary(HealthService.check, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
                #expect(response.principal == "no-roles")
                #expect(response.roles.isEmpty)
            }
        }
    }
}
