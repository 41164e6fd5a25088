import Foundation
import GRDB
import ParleyProtos
import ParleyStore
import SwiftProtobuf

/// What sub-transaction 1 writes besides the order itself.
struct OrderRow: Sendable {
    var key: OrderKey
    var merchant: String
    var mac: Data
    /// The request without card numbers.
    var request: Parley_V1_OrderAcceptanceRequest
    var acceptance: Parley_V1_OrderAcceptanceResponse
    var fingerprint: String
    var total: Money
}

/// An ``OrderRow`` with its request and evaluation serialized, before the
/// write (the writer thread, every durable call's serial section, only binds).
struct EncodedOrderRow: Sendable {
    var row: OrderRow
    var request: Data
    var acceptance: Data

    init(_ row: OrderRow) throws {
        self.row = row
        self.request = try row.request.serializedBytes()
        self.acceptance = try row.acceptance.serializedBytes()
    }
}

/// An order with its detail serialized, before the write.
///
/// The detail leaves out what the row holds already: the amended order (in
/// `acceptance`), the buyer and the shipping address (in `request`).
/// ``OrdersStore/completed(_:request:acceptance:)`` puts them back when the
/// order is read. The order is written twice per capture, and those three
/// were most of its bytes (about 570 of them per order, encoded on the
/// event loop each time). Rows written before this kept them in the detail,
/// and read as they are.
struct EncodedOrder: Sendable {
    var order: Parley_V1_Order
    var detail: Data

    init(_ order: Parley_V1_Order) throws {
        self.order = order
        var stored = order
        stored.clearOrder()
        stored.clearBuyer()
        stored.clearShippingAddress()
        self.detail = try stored.serializedBytes()
    }
}

/// An order as stored.
struct StoredOrder: Sendable {
    var key: OrderKey
    var mac: Data
    var request: Parley_V1_OrderAcceptanceRequest
    var acceptance: Parley_V1_OrderAcceptanceResponse
    var order: Parley_V1_Order
}

/// The statements of `orders_order`, `orders_outbox` and `orders_fraud_event`.
enum OrdersStore {
    static func stateName(_ state: Parley_V1_OrderState) -> String {
        switch state {
        case .pending: "PENDING"
        case .authorized: "AUTHORIZED"
        case .captured: "CAPTURED"
        default: "FAILED"
        }
    }

    /// Writes the order PENDING. `detail` is the order serialized without
    /// its reservation id, which the warehouse chooses inside the write: it is
    /// appended as one more field (a later field wins when protobuf parses),
    /// so the writer thread serializes nothing else.
    static func insert(_ db: Database, _ row: EncodedOrderRow, detail: EncodedOrder, reservationID: String) throws {
        var bytes = detail.detail
        if !reservationID.isEmpty {
            // `reservation_id`, field 11, as SwiftProtobuf would write it.
            ProtobufFields.appendLengthDelimited(11, Data(reservationID.utf8), to: &bytes)
        }
        try db.executeDirect(
            sql: """
                INSERT INTO orders_order (agent, order_id, merchant, state, request_mac, request, acceptance, detail,
                    amount_minor, currency, card_fingerprint, reservation_id, authorization_id, created_at_ms, updated_at_ms)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, '', ?13, ?13)
                """
        ) { binder in
            binder.bind(row.row.key.agent)
            binder.bind(row.row.key.orderID)
            binder.bind(row.row.merchant)
            binder.bind(stateName(detail.order.state))
            binder.bind(row.row.mac)
            binder.bind(row.request)
            binder.bind(row.acceptance)
            binder.bind(bytes)
            binder.bind(row.row.total.minorUnits)
            binder.bind(row.row.total.currency.rawValue)
            binder.bind(row.row.fingerprint)
            binder.bind(reservationID)
            binder.bind(detail.order.createdAtMs)
        }
    }

    /// Writes the order's state, authorization and detail. A CAPTURED or
    /// FAILED order is final: changing it throws.
    static func update(_ db: Database, _ encoded: EncodedOrder) throws {
        let order = encoded.order
        let changed = try db.executeDirect(
            sql: """
                UPDATE orders_order SET state = ?1, authorization_id = ?2, detail = ?3, updated_at_ms = ?4
                WHERE agent = ?5 AND order_id = ?6 AND state IN ('PENDING', 'AUTHORIZED')
                """
        ) { binder in
            binder.bind(stateName(order.state))
            binder.bind(order.authorizationID)
            binder.bind(encoded.detail)
            binder.bind(order.updatedAtMs)
            binder.bind(order.agent)
            binder.bind(order.orderID)
        }
        guard changed == 1 else { throw OrdersError(code: .failedPrecondition, message: "order \(order.agent)/\(order.orderID) is not open") }
    }

    static func enqueue(_ db: Database, kind: String, _ order: Parley_V1_Order) throws {
        try db.executeDirect(sql: "INSERT INTO orders_outbox (kind, agent, order_id, created_at_ms) VALUES (?, ?, ?, ?)") { binder in
            binder.bind(kind)
            binder.bind(order.agent)
            binder.bind(order.orderID)
            binder.bind(order.updatedAtMs)
        }
    }

    static let orderColumns = "agent, order_id, request_mac, request, acceptance, detail"

    static func order(_ db: Database, _ key: OrderKey) throws -> StoredOrder? {
        try Row.fetchOne(
            cached: db,
            sql: "SELECT \(orderColumns) FROM orders_order WHERE agent = ? AND order_id = ?",
            arguments: [key.agent, key.orderID]
        ).map(stored)
    }

    /// A row of ``orderColumns``.
    static func stored(_ row: Row) throws -> StoredOrder {
        try stored(key: OrderKey(agent: row[0], orderID: row[1]), mac: row[2], request: row[3], acceptance: row[4], detail: row[5])
    }

    /// An order from its stored columns (see ``orderColumns``).
    static func stored(key: OrderKey, mac: Data, request requestBytes: Data, acceptance acceptanceBytes: Data, detail: Data) throws -> StoredOrder {
        let request = try Parley_V1_OrderAcceptanceRequest(serializedBytes: requestBytes)
        let acceptance = try Parley_V1_OrderAcceptanceResponse(serializedBytes: acceptanceBytes)
        return StoredOrder(
            key: key,
            mac: mac,
            request: request,
            acceptance: acceptance,
            order: try completed(Parley_V1_Order(serializedBytes: detail), request: request, acceptance: acceptance)
        )
    }

    /// A stored detail with what ``EncodedOrder`` left out put back (a detail
    /// written before it left nothing out, and is returned as it is).
    static func completed(
        _ detail: Parley_V1_Order,
        request: Parley_V1_OrderAcceptanceRequest,
        acceptance: Parley_V1_OrderAcceptanceResponse
    ) -> Parley_V1_Order {
        var order = detail
        if !order.hasOrder { order.order = acceptance.order }
        if !order.hasBuyer { order.buyer = request.buyer }
        if !order.hasShippingAddress { order.shippingAddress = request.shippingAddress }
        return order
    }

    /// The state of the order `authorization` was made for, if it records
    /// that authorization. The processor's key is `<agent>/<order id>`, and
    /// either may contain a slash, so each split is tried as a primary key
    /// (one lookup per slash: no index on `authorization_id` is kept up to
    /// date on every capture for a start-up query).
    ///
    /// The split is by Unicode scalar, not by `Character`: an order id that
    /// starts with a combining mark joins the slash before it into one
    /// character, and a search by character would never try that split.
    static func state(_ db: Database, of authorization: AuthorizationRecord) throws -> String? {
        let scalars = authorization.key.unicodeScalars
        var split = scalars.startIndex
        while let slash = scalars[split...].firstIndex(of: "/") {
            let rest = scalars.index(after: slash)
            if let state = try String.fetchOne(
                cached: db,
                sql: "SELECT state FROM orders_order WHERE agent = ? AND order_id = ? AND authorization_id = ?",
                arguments: [String(Substring(scalars[..<slash])), String(Substring(scalars[rest...])), authorization.id]
            ) {
                return state
            }
            split = rest
        }
        return nil
    }

    /// Orders left between sub-transactions.
    static func openOrders(_ db: Database) throws -> [StoredOrder] {
        try Row.fetchAll(db, sql: "SELECT \(orderColumns) FROM orders_order WHERE state IN ('PENDING', 'AUTHORIZED')").map(stored)
    }

    static func insertFraudEvents(_ db: Database, _ events: [FraudEventRecord]) throws {
        for event in events {
            let violation = event.violation
            try db.executeDirect(
                sql: """
                    INSERT INTO orders_fraud_event (merchant, agent, order_id, rule_id, key_kind, key_value, observed, limit_value, action, at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ) { binder in
                binder.bind(event.merchant)
                binder.bind(event.agent)
                binder.bind(event.orderID)
                binder.bind(violation.ruleID)
                binder.bind(violation.key.kind.rawValue)
                binder.bind(violation.key.value)
                binder.bind(violation.observed)
                binder.bind(violation.limit)
                binder.bind(violation.action.rawValue)
                binder.bind(violation.atMilliseconds)
            }
        }
    }
}
