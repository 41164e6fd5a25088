import Foundation
import NIOCore
import ParleyWire

/// Where a running call sends its replies: hops onto the connection's event
/// loop (free when the task already runs there) and hands the reply to the
/// connection, which drops it if the call has already ended.
struct CallSink: Sendable {
    let eventLoop: any EventLoop
    let connection: NIOLoopBound<ConnectionHandler>
    let callID: UInt32

    /// Ends a unary call: one Reply carrying the response and OK, or the error.
    func finish(_ result: Result<Data, RPCError>) {
        deliver { $0.finishCall(id: callID, result: result.map { Optional($0) }) }
    }

    /// Ends a streaming call: a final Reply carrying only the status.
    func finishStream(_ result: Result<Void, RPCError>) {
        deliver { $0.finishCall(id: callID, result: result.map { nil }) }
    }

    /// Sends one streamed response; returns once the connection can take
    /// more. Throws CANCELLED when the call has ended.
    func send(_ response: Data) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            deliver { $0.sendStreamMessage(id: callID, response: response, continuation: continuation) }
        }
    }

    private func deliver(_ body: @escaping @Sendable (ConnectionHandler) -> Void) {
        if eventLoop.inEventLoop {
            body(connection.value)
        } else {
            let connection = self.connection
            eventLoop.execute { body(connection.value) }
        }
    }
}
