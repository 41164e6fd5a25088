import NIOCore
import ParleyWire
import Synchronization

/// Every open connection, so that shutdown and revocation can reach them.
final class ConnectionRegistry: Sendable {
    private struct State {
        var connections: [ObjectIdentifier: NIOLoopBound<ConnectionHandler>] = [:]
        var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func add(_ connection: NIOLoopBound<ConnectionHandler>) {
        state.withLock { $0.connections[ObjectIdentifier(connection.value)] = connection }
    }

    func remove(_ connection: NIOLoopBound<ConnectionHandler>) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.connections.removeValue(forKey: ObjectIdentifier(connection.value))
            guard state.connections.isEmpty else { return [] }
            defer { state.emptyWaiters.removeAll() }
            return state.emptyWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var count: Int { state.withLock { $0.connections.count } }

    /// Runs `body` for each connection on its own event loop.
    func forEach(_ body: @escaping @Sendable (ConnectionHandler) -> Void) {
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections {
            connection.eventLoop.execute { body(connection.value) }
        }
    }

    /// Returns once no connection is open.
    func waitUntilEmpty() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let empty = state.withLock { state in
                if state.connections.isEmpty { return true }
                state.emptyWaiters.append(continuation)
                return false
            }
            if empty { continuation.resume() }
        }
    }
}
