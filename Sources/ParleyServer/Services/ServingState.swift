import Foundation
import Synchronization

/// Whether the daemon is serving or draining, with a feed of changes for
/// `Health/Watch` and `/healthz`.
public final class ServingState: Sendable {
    /// The daemon's status.
    public enum Status: Sendable, Hashable {
        case serving
        /// Shutting down: in-flight calls finish, new calls are refused.
        case draining
    }

    private struct State {
        var status: Status = .serving
        var subscribers: [UUID: AsyncStream<Status>.Continuation] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public var status: Status { state.withLock { $0.status } }

    /// Changes the status and tells every subscriber. Draining is final:
    /// subscribers' streams end after it.
    public func set(_ status: Status) {
        let subscribers: [AsyncStream<Status>.Continuation] = state.withLock { state in
            guard state.status != status else { return [] }
            state.status = status
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers {
            subscriber.yield(status)
            if status == .draining { subscriber.finish() }
        }
    }

    /// The current status, then every change, then (when `heartbeat` is set)
    /// the current status again at that interval. Ends after `draining`.
    public func updates(heartbeat: Duration?) -> AsyncStream<Status> {
        let (stream, continuation) = AsyncStream<Status>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        let current: Status = state.withLock { state in
            state.subscribers[id] = continuation
            return state.status
        }
        continuation.yield(current)
        if current == .draining { continuation.finish() }
        let ticker: Task<Void, Never>? = heartbeat.map { interval in
            Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self, !Task.isCancelled else { return }
                    continuation.yield(self.status)
                }
            }
        }
        continuation.onTermination = { [weak self] _ in
            ticker?.cancel()
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }
}
