import Foundation
public import GRDB
import ParleyStore
public import SwiftProtobuf
import Synchronization

/// The stored outcome of one idempotent call, recorded by the method itself
/// inside the transaction that makes its change, so that the change and its
/// replay record commit together (or not at all) and one commit serves both.
///
/// Found on ``CallContext/idempotentOutcome`` for mutating calls that carry an
/// `idempotency-key`. A method that does not record it is still covered: the
/// server then stores the outcome in a transaction of its own after the reply
/// is ready, which leaves a window where a crash loses only the replay record.
public final class IdempotentOutcome: Sendable {
    let scope: IdempotencyKey
    let digest: Data
    let clock: any WallClock
    let store: IdempotencyStore
    /// The serialized response once recorded: the reply reuses these bytes
    /// instead of serializing the same response again on the event loop.
    private let recorded = Mutex<Data?>(nil)

    init(scope: IdempotencyKey, digest: Data, clock: any WallClock, store: IdempotencyStore) {
        self.scope = scope
        self.digest = digest
        self.clock = clock
        self.store = store
    }

    /// Records `response` as this call's outcome inside `db`'s transaction.
    /// The method must then return exactly this response.
    public func record(_ db: Database, response: some SwiftProtobuf.Message) throws {
        let payload = Data(try response.serializedBytes() as [UInt8])
        try store.insert(
            db,
            scope,
            record: IdempotencyRecord(
                requestDigest: digest,
                code: 0,
                payload: payload,
                createdAtMilliseconds: clock.nowMilliseconds
            )
        )
        recorded.withLock { $0 = payload }
    }

    /// The response recorded by ``record(_:response:)``, serialized; nil
    /// before (or if the method never recorded one). Recorded in a
    /// transaction that then rolled back, it is still set, but the method
    /// has failed then and its error is the reply.
    var recordedPayload: Data? { recorded.withLock { $0 } }

    var wasRecorded: Bool { recordedPayload != nil }
}

extension CallContext {
    /// For a call with an `idempotency-key`: a hook for a subsystem's write
    /// that commits `response(value)` as this call's outcome inside the
    /// write's own transaction (``IdempotentOutcome/record(_:response:)``).
    /// Nil for a call without a key.
    public func outcomeRecorder<Value, Response: SwiftProtobuf.Message>(
        _ response: @escaping @Sendable (Value) -> Response
    ) -> CommitHook<Value>? {
        guard let outcome = idempotentOutcome else { return nil }
        return { db, value in try outcome.record(db, response: response(value)) }
    }
}

