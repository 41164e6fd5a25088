import NIOCore
import ParleyWire
import Synchronization

/// Every open connection, so that shutdown and revocation can reach them.
final class ConnectionRegistry: Sendable {
    private let connections = Mutex<[ObjectIdentifier: NIOLoopBound<ConnectionHandler>]>([:])

    func add(_ connection: NIOLoopBound<ConnectionHandler>) {
        connections.withLock { $0[ObjectIdentifier(connection.value)] = connection }
    }

    func remove(_ connection: NIOLoopBound<ConnectionHandler>) {
        _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(connection.value)) }
    }

    /// Open connections; shutdown polls this against its grace deadline.
    var count: Int { connections.withLock { $0.count } }

    /// Runs `body` for each connection on its own event loop.
    func forEach(_ body: @escaping @Sendable (ConnectionHandler) -> Void) {
        let connections = self.connections.withLock { Array($0.values) }
        for connection in connections {
            connection.eventLoop.execute { body(connection.value) }
        }
    }
}
