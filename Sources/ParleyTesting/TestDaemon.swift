public import Foundation
import Logging
public import ParleyClient
public import ParleyDaemon
public import ParleyPKI
public import ParleyServer
public import ParleyStore
import NIOCore
import NIOPosix

/// What a test daemon is built with.
public struct TestDaemonOptions: Sendable {
    /// Extra services (test methods) registered beside the built-in ones.
    public var services: [any RegistrableService] = []
    /// Extra migrations (tables for test services).
    public var migrations: [StoreMigration] = []
    public var clock: any WallClock = SystemWallClock()
    /// Changes to the configuration (limits, timeouts) before start.
    public var configure: @Sendable (inout DaemonConfiguration) -> Void = { _ in }
    /// Where the daemon keeps its certificates and database (nil: a fresh
    /// temporary directory, removed afterwards). A test that restarts a
    /// daemon over the same data passes one, and removes it itself.
    public var directory: URL?

    public init() {}
}

/// A daemon running in this process on 127.0.0.1 with a free port, its own
/// certificates and database in a temporary directory.
public final class TestDaemon: Sendable {
    public let daemon: Daemon
    public let pki: TestPKI
    public let port: Int
    public let directory: URL

    init(daemon: Daemon, pki: TestPKI, port: Int, directory: URL) {
        self.daemon = daemon
        self.pki = pki
        self.port = port
        self.directory = directory
    }

    /// A client configuration for `credentials` (nil: no client certificate).
    public func clientConfiguration(_ credentials: TestPKI.Credentials?, connections: Int = 1) -> ClientConfiguration {
        ClientConfiguration(
            host: "127.0.0.1",
            port: port,
            tls: pki.tls(credentials),
            connections: connections,
            connectTimeout: .seconds(5),
            defaultCallTimeout: .seconds(10),
            retry: .none
        )
    }

    /// A client with a fresh certificate for `principal` with `roles`.
    public func client(
        _ principal: String = "tester",
        roles: [Role] = [.admin, .agent],
        connections: Int = 1
    ) throws -> ParleyClient {
        try ParleyClient(configuration: clientConfiguration(try pki.client(principal, roles: roles), connections: connections))
    }

    /// Starts a graceful shutdown.
    public func shutdown() async { await daemon.shutdown() }
}

/// A daemon configured as ``withTestDaemon(_:_:)`` configures it, with its
/// certificates and database in `directory`, not yet running: for a test
/// that runs (and ends) it itself.
public func makeTestDaemon(_ options: TestDaemonOptions, directory: URL) throws -> (Daemon, TestPKI) {
    let pki = try TestPKI(directory: directory.appendingPathComponent("certs"))

    var configuration = DaemonConfiguration.defaults
    configuration.server.port = 0
    configuration.dataDirectory = directory.appendingPathComponent("data").path
    configuration.usesDevelopmentCertificates = false
    configuration.server.tls = .mTLS(
        certificateChain: pki.serverCertificatePath,
        privateKey: pki.serverKeyPath,
        clientCA: pki.caPath,
        revocationFile: directory.appendingPathComponent("revoked.txt").path
    )
    configuration.metrics.port = 0
    configuration.server.timeouts.shutdownGrace = .seconds(5)
    options.configure(&configuration)

    var logger = Logger(label: "parley-test")
    logger.logLevel = ProcessInfo.processInfo.environment["PARLEY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical

    let daemon = try Daemon(
        configuration: configuration,
        services: options.services,
        migrations: options.migrations,
        clock: options.clock,
        handleSignals: false,
        logger: logger
    )
    return (daemon, pki)
}

/// Runs `body` against a fresh daemon, then shuts it down gracefully and
/// removes its files, whether `body` succeeded or threw.
public func withTestDaemon<T: Sendable>(
    _ options: TestDaemonOptions = TestDaemonOptions(),
    _ body: (TestDaemon) async throws -> T
) async throws -> T {
    let directory = options.directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("parley-test-\(UUID().uuidString)")
    defer { if options.directory == nil { try? FileManager.default.removeItem(at: directory) } }
    let (daemon, pki) = try makeTestDaemon(options, directory: directory)
    let running = Task { try await daemon.run() }
    let port: Int
    do {
        port = try await daemon.server.localAddress().port ?? 0
    } catch {
        running.cancel()
        _ = try? await running.value
        throw error
    }
    let test = TestDaemon(daemon: daemon, pki: pki, port: port, directory: directory)
    do {
        let result = try await body(test)
        await daemon.shutdown()
        try await running.value
        return result
    } catch {
        await daemon.shutdown()
        _ = try? await running.value
        throw error
    }
}
