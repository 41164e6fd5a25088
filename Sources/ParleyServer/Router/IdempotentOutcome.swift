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
    private let recorded = Atomic<Bool>(false)

    init(scope: IdempotencyKey, digest: Data, clock: any WallClock, store: IdempotencyStore) {
        self.scope = scope
        self.digest = digest
        self.clock = clock
        self.store = store
    }

    /// Records `response` as this call's outcome inside `db`'s transaction.
    /// The method must then return exactly this response.
    public func record(_ db: Database, response: some SwiftProtobuf.Message) throws {
        try store.insert(
            db,
            scope,
            record: IdempotencyRecord(
                requestDigest: digest,
                code: 0,
                payload: Data(response.serializedBytes() as [UInt8]),
                createdAtMilliseconds: clock.nowMilliseconds
            )
        )
        recorded.store(true, ordering: .releasing)
    }

    var wasRecorded: Bool { recorded.load(ordering: .acquiring) }
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

