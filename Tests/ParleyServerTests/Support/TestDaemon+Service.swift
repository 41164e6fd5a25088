import Foundation
import ParleyClient
import ParleyDaemon
import ParleyTesting

/// A test daemon with ``TestService`` registered and its probe wired to the database.
func withServiceDaemon<T: Sendable>(
    configure: @escaping @Sendable (inout DaemonConfiguration) -> Void = { _ in },
    _ body: (TestDaemon, Probe) async throws -> T
) async throws -> T {
    let probe = Probe()
    var options = TestDaemonOptions()
    options.services = [TestService(probe: probe)]
    options.migrations = [TestService.migration]
    options.configure = configure
    return try await withTestDaemon(options) { daemon in
        probe.database = daemon.daemon.database
        return try await body(daemon, probe)
    }
}

extension ParleyClient {
    /// Closes the client after `body`, whatever happens.
    func using<T>(_ body: (ParleyClient) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await close()
            return result
        } catch {
            await close()
            throw error
        }
    }
}
