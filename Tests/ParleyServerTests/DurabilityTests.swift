import Foundation
import ParleyClient
import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyWire
import Synchronization
import Testing

/// A real `parleyd` process, killed with SIGKILL in the middle of writes.
@Suite("Durability")
struct DurabilityTests {
    /// The daemon binary built beside the test bundle.
    static func parleydPath() throws -> String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [
            bundleDirectory.appendingPathComponent("parleyd"),
            bundleDirectory.deletingLastPathComponent().appendingPathComponent("parleyd"),
            packageRoot.appendingPathComponent(".build/debug/parleyd"),
        ]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw DaemonProcess.Failure(message: "parleyd not found next to the tests: \(candidates.map(\.path))")
        }
        return found.path
    }

    @Test("every acknowledged write survives kill -9 of the daemon")
    func killNine() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let binary = try Self.parleydPath()

        let first = try await DaemonProcess.start(binary: binary, directory: directory)
        let acknowledged = Locked<Set<String>>([])
        let client = try first.client()
        // 16 writers revoke random serials until the daemon dies under them.
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask {
                        while !Task.isCancelled {
                            let serial = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 1...255)) }.joined()
                            var request = Parley_V1_RevokeCertificateRequest()
                            request.serial = serial
                            do {
                                _ = try await client.unary(AdminService.revokeCertificate, request, as: Parley_V1_RevokeCertificateResponse.self)
                                acknowledged.update { _ = $0.insert(serial) }
                            } catch {
                                return
                            }
                        }
                    }
                }
            }
        }
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(30)
        while acknowledged.value.count < 300 && clock.now < giveUp {
            try await Task.sleep(for: .milliseconds(5))
        }
        first.kill()
        await writers.value
        await client.close()
        let acked = acknowledged.value
        #expect(acked.count >= 300)

        let second = try await DaemonProcess.start(binary: binary, directory: directory)
        defer { second.kill() }
        let verifier = try second.client()
        let list = try await verifier.unary(AdminService.listRevocations, Parley_V1_ListRevocationsRequest(), as: Parley_V1_ListRevocationsResponse.self)
        await verifier.close()
        let stored = Set(list.revocations.map(\.serial))
        let lost = acked.subtracting(stored)
        #expect(lost.isEmpty, "\(lost.count) acknowledged writes were lost")
    }
}

/// A `parleyd` child process on a free port with its own directory.
struct DaemonProcess {
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    let process: Process
    let port: Int
    let certificates: URL

    static func start(binary: String, directory: URL) async throws -> DaemonProcess {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = directory.appendingPathComponent("certs")
        let log = directory.appendingPathComponent("parleyd-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--port", "0", "--no-metrics", "--data-dir", directory.appendingPathComponent("data").path,
            "--certs-dir", certificates.path, "--log-level", "info",
        ]
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(30)
        while clock.now < giveUp {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"--server 127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                let port = Int(text[range].split(separator: ":").last!)!
                return DaemonProcess(process: process, port: port, certificates: certificates)
            }
            guard process.isRunning else { throw Failure(message: "parleyd exited early:\n\(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.terminate()
        throw Failure(message: "parleyd did not become ready within 30 s")
    }

    func client() throws -> ParleyClient {
        try ParleyClient(
            configuration: ClientConfiguration(
                host: "127.0.0.1",
                port: port,
                tls: .mTLS(
                    certificate: certificates.appendingPathComponent("admin.pem").path,
                    privateKey: certificates.appendingPathComponent("admin-key.pem").path,
                    ca: certificates.appendingPathComponent("ca.pem").path
                ),
                connections: 2,
                retry: .none
            )
        )
    }

    /// SIGKILL: no chance to flush or close anything.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("Daemon process")
struct DaemonProcessTests {
    @Test("SIGHUP rereads the revocation file: a newly listed certificate is refused without a restart")
    func sighupReload() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-hup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try await DaemonProcess.start(binary: try DurabilityTests.parleydPath(), directory: directory)
        defer { daemon.kill() }
        let certificates = CertificateDirectory(daemon.certificates)
        let issued = try certificates.issueClient(name: "travel", principal: "travel", roles: [.agent])
        func check() async throws -> RPCError.Code {
            let client = try ParleyClient(
                configuration: ClientConfiguration(
                    host: "127.0.0.1",
                    port: daemon.port,
                    tls: .mTLS(
                        certificate: certificates.clientCertificate("travel").path,
                        privateKey: certificates.clientPrivateKey("travel").path,
                        ca: certificates.caCertificate.path
                    ),
                    retry: .none
                )
            )
            defer { Task { await client.close() } }
            do {
                _ = try await client.unary(HealthService.check, Parley_V1_HealthCheckRequest(), as: Parley_V1_HealthCheckResponse.self)
                return .ok
            } catch let error as RPCError {
                return error.code
            }
        }
        #expect(try await check() == .ok)
        try certificates.revoke(serial: issued.serial, reason: "left the company")
        Foundation.kill(daemon.process.processIdentifier, SIGHUP)
        let clock = ContinuousClock()
        let giveUp = clock.now + .seconds(10)
        var code = RPCError.Code.ok
        while clock.now < giveUp {
            code = try await check()
            if code != .ok { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(code == .unauthenticated)
        #expect(daemon.process.isRunning)
    }
}
