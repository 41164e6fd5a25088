import Foundation
import NIOCore
import NIOPosix
import ParleyClient
import ParleyDaemon
import ParleyProtos
import ParleyServer
import ParleyTesting
import ParleyWire
import Testing

@Suite("Connection placement")
struct ConnectionPlacementTests {
    @Test("each new connection goes to the event loop serving the fewest, also after others close")
    func leastLoadedLoop() async throws {
        try await withTestDaemon { daemon in
            let server = daemon.daemon.server
            let loops = server.connectionsPerLoop.count
            try #require(loops >= 1)
            // Opened one after another, connection i lands on loop i mod loops
            // however often something else takes the group's shared next loop
            // (NIO's own placement follows that shared round robin).
            var clients: [ParleyClient] = []
            for _ in 0..<(2 * loops) {
                for _ in 0..<(loops - 1) { _ = MultiThreadedEventLoopGroup.singleton.next() }
                clients.append(try await Self.connected(daemon))
            }
            #expect(await Self.settle(server) { $0 == Array(repeating: 2, count: loops) })

            // Close both connections on loop 0: the next two both go there,
            // where plain turn-taking would put one on loop 0 and one on loop 1.
            await clients[0].close()
            await clients[loops].close()
            #expect(await Self.settle(server) { $0.first == 0 && $0.reduce(0, +) == 2 * loops - 2 })
            clients.append(try await Self.connected(daemon))
            clients.append(try await Self.connected(daemon))
            #expect(await Self.settle(server) { $0 == Array(repeating: 2, count: loops) })

            for client in clients { await client.close() }
            #expect(await Self.settle(server) { $0.allSatisfy { $0 == 0 } })
        }
    }

    /// A client whose one connection is open and has served a call.
    private static func connected(_ daemon: TestDaemon) async throws -> ParleyClient {
        let client = try daemon.client()
        _ = try await client.unary(HealthService.check, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
        return client
    }

    /// Polls the per-loop counts (closes reach the server a little after the
    /// client returns) until `condition` holds, for up to five seconds.
    private static func settle(_ server: ParleyServer, _ condition: ([Int]) -> Bool) async -> Bool {
        let giveUp = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < giveUp {
            if condition(server.connectionsPerLoop) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("connections per loop stayed at \(server.connectionsPerLoop)")
        return false
    }
}
