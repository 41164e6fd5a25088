import ParleyClient
import ParleyWire
import Synchronization

/// Opens the client's connections before the clock starts.
enum Connect {
    /// Opens every connection, in slot order, then pings once — failing at
    /// once, with the client's message, when no daemon answers — so that
    /// neither TCP nor TLS setup lands in the measurements, and every run
    /// uses all `--connections` (pings sent at once could share one:
    /// benchmarks.md, Session 8).
    static func open(_ client: ParleyClient, timeout: Duration) async throws {
        try await client.connect()
        try await ping(client, timeout: timeout)
    }

    /// A ping that gives up after `timeout`. The client's connect timeout
    /// bounds TCP and TLS, but a ping on an open connection waits for the
    /// pong however long it takes and ignores cancellation, so it runs in a
    /// task of its own that is abandoned if it does not answer in time.
    private static func ping(_ client: ParleyClient, timeout: Duration) async throws {
        let configuration = client.configuration
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let once = ResumeOnce(continuation)
            let timer = Task {
                try await Task.sleep(for: timeout)
                once.resume(throwing: RPCError(
                    code: .deadlineExceeded,
                    message: "\(configuration.host):\(configuration.port) accepted the connection but did not answer a ping within \(timeout)"
                ))
            }
            Task {
                do {
                    _ = try await client.ping()
                    once.resume()
                } catch {
                    once.resume(throwing: error)
                }
                timer.cancel()
            }
        }
    }
}

/// Resumes a continuation once; later attempts are ignored.
private final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Void, any Error>?>

    init(_ continuation: CheckedContinuation<Void, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume() {
        take()?.resume()
    }

    func resume(throwing error: any Error) {
        take()?.resume(throwing: error)
    }

    private func take() -> CheckedContinuation<Void, any Error>? {
        continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }
    }
}
