import GRDB
import ParleyStore

/// The Orders subsystem's tables. Catalog items and configurations are
/// stored as their serialized wire messages (the daemon compiles them into
/// ``MerchantSetup`` in memory); the columns beside them are what queries
/// and consistency checks need.
public enum OrdersSchema {
    public static let migrations: [StoreMigration] = [
        StoreMigration("orders.v1.merchant") { db in
            try db.execute(sql: """
                CREATE TABLE orders_catalog_item (
                    merchant TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    item BLOB NOT NULL,
                    updated_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (merchant, sku)
                ) WITHOUT ROWID;

                CREATE TABLE orders_merchant_configuration (
                    merchant TEXT PRIMARY KEY NOT NULL,
                    currency TEXT NOT NULL,
                    configuration BLOB NOT NULL,
                    applied_at_ms INTEGER NOT NULL
                ) WITHOUT ROWID;

                -- Server secrets of the subsystem, made once: the key of card
                -- fingerprints (a keyed hash, so stored fingerprints cannot be
                -- brute-forced back into card numbers without it).
                CREATE TABLE orders_secret (
                    name TEXT PRIMARY KEY NOT NULL,
                    value BLOB NOT NULL
                ) WITHOUT ROWID;
                """)
        },
        StoreMigration("orders.v2.capture") { db in
            try db.execute(sql: """
                -- One row per captured (or attempted) order, keyed by the agent's
                -- order id. request: the request with card numbers removed;
                -- request_mac: HMAC of the whole request (same order id +
                -- different request is refused); acceptance: the evaluation
                -- Capture ran; detail: the parley.v1.Order as last written.
                CREATE TABLE orders_order (
                    agent TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    merchant TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('PENDING', 'AUTHORIZED', 'CAPTURED', 'FAILED')),
                    request_mac BLOB NOT NULL,
                    request BLOB NOT NULL,
                    acceptance BLOB NOT NULL,
                    detail BLOB NOT NULL,
                    amount_minor INTEGER NOT NULL,
                    currency TEXT NOT NULL,
                    card_fingerprint TEXT NOT NULL DEFAULT '',
                    reservation_id TEXT NOT NULL DEFAULT '',
                    authorization_id TEXT NOT NULL DEFAULT '',
                    created_at_ms INTEGER NOT NULL,
                    updated_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (agent, order_id)
                );
                CREATE INDEX orders_order_agent_recent ON orders_order (agent, created_at_ms);
                CREATE INDEX orders_order_merchant_recent ON orders_order (merchant, created_at_ms);
                CREATE INDEX orders_order_open ON orders_order (state) WHERE state IN ('PENDING', 'AUTHORIZED');
                CREATE INDEX orders_order_authorization ON orders_order (authorization_id) WHERE authorization_id != '';

                -- A coupon serial is redeemed once per merchant: the unique
                -- key is the single-use rule.
                CREATE TABLE orders_coupon_redemption (
                    merchant TEXT NOT NULL,
                    serial TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    redeemed_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (merchant, serial)
                ) WITHOUT ROWID;

                -- Post-capture work, written with the order's last
                -- sub-transaction and processed after the reply.
                CREATE TABLE orders_outbox (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('captured', 'failed')),
                    agent TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    done_at_ms INTEGER
                );
                CREATE INDEX orders_outbox_pending ON orders_outbox (id) WHERE done_at_ms IS NULL;

                -- The fraud avoidance violation log.
                CREATE TABLE orders_fraud_event (
                    id INTEGER PRIMARY KEY,
                    merchant TEXT NOT NULL,
                    agent TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    rule_id TEXT NOT NULL,
                    key_kind TEXT NOT NULL,
                    key_value TEXT NOT NULL,
                    observed INTEGER NOT NULL,
                    limit_value INTEGER NOT NULL,
                    action TEXT NOT NULL,
                    at_ms INTEGER NOT NULL
                );
                CREATE INDEX orders_fraud_event_merchant ON orders_fraud_event (merchant, id);

                -- The payment processor simulator's own ledger (an external
                -- processor keeps one like it; reconciliation compares them).
                CREATE TABLE payments_authorization (
                    id TEXT PRIMARY KEY NOT NULL,
                    key TEXT NOT NULL UNIQUE,
                    merchant TEXT NOT NULL,
                    amount_minor INTEGER NOT NULL,
                    currency TEXT NOT NULL,
                    instrument TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('AUTHORIZED', 'DECLINED', 'CAPTURED', 'VOIDED')),
                    decline_code TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    updated_at_ms INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX payments_authorization_open ON payments_authorization (created_at_ms) WHERE state = 'AUTHORIZED';
                """)
        },
        // The state CHECKs as OR chains: SQLite evaluates `state IN (…)` with
        // three or more values by building a temporary index of the list on
        // every row written, about 3 µs per insert or update (measured; see
        // `warehouse.v3.check_or_chains`). Both tables are rebuilt, as
        // SQLite cannot alter a constraint.
        StoreMigration("orders.v3.check_or_chains") { db in
            try db.execute(sql: """
                CREATE TABLE orders_order_new (
                    agent TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    merchant TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state = 'PENDING' OR state = 'AUTHORIZED' OR state = 'CAPTURED' OR state = 'FAILED'),
                    request_mac BLOB NOT NULL,
                    request BLOB NOT NULL,
                    acceptance BLOB NOT NULL,
                    detail BLOB NOT NULL,
                    amount_minor INTEGER NOT NULL,
                    currency TEXT NOT NULL,
                    card_fingerprint TEXT NOT NULL DEFAULT '',
                    reservation_id TEXT NOT NULL DEFAULT '',
                    authorization_id TEXT NOT NULL DEFAULT '',
                    created_at_ms INTEGER NOT NULL,
                    updated_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (agent, order_id)
                );
                INSERT INTO orders_order_new SELECT * FROM orders_order ORDER BY rowid;
                DROP TABLE orders_order;
                ALTER TABLE orders_order_new RENAME TO orders_order;
                CREATE INDEX orders_order_agent_recent ON orders_order (agent, created_at_ms);
                CREATE INDEX orders_order_merchant_recent ON orders_order (merchant, created_at_ms);
                CREATE INDEX orders_order_open ON orders_order (state) WHERE state IN ('PENDING', 'AUTHORIZED');
                CREATE INDEX orders_order_authorization ON orders_order (authorization_id) WHERE authorization_id != '';

                CREATE TABLE payments_authorization_new (
                    id TEXT PRIMARY KEY NOT NULL,
                    key TEXT NOT NULL UNIQUE,
                    merchant TEXT NOT NULL,
                    amount_minor INTEGER NOT NULL,
                    currency TEXT NOT NULL,
                    instrument TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state = 'AUTHORIZED' OR state = 'DECLINED' OR state = 'CAPTURED' OR state = 'VOIDED'),
                    decline_code TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    updated_at_ms INTEGER NOT NULL
                ) WITHOUT ROWID;
                INSERT INTO payments_authorization_new SELECT * FROM payments_authorization;
                DROP TABLE payments_authorization;
                ALTER TABLE payments_authorization_new RENAME TO payments_authorization;
                CREATE INDEX payments_authorization_open ON payments_authorization (created_at_ms) WHERE state = 'AUTHORIZED';
                """)
        },
        // Quote-only and rejected requests in the rolling fraud statistics,
        // which exist nowhere else (captured orders are rebuilt from
        // orders_order): one row per merchant and key, rewritten when the
        // key's events change, so that a restart keeps them.
        StoreMigration("orders.v4.fraud_snapshot") { db in
            try db.execute(sql: """
                CREATE TABLE orders_fraud_snapshot (
                    merchant TEXT NOT NULL,
                    key_kind TEXT NOT NULL,
                    key_value TEXT NOT NULL,
                    -- 24 bytes per event, oldest first (FraudSnapshotCodec).
                    events BLOB NOT NULL,
                    newest_at_ms INTEGER NOT NULL,
                    PRIMARY KEY (merchant, key_kind, key_value)
                ) WITHOUT ROWID;
                CREATE INDEX orders_fraud_snapshot_newest ON orders_fraud_snapshot (newest_at_ms);
                """)
        },
        // Recovery finds an authorization's order by its primary key (the
        // processor's key is `<agent>/<order id>`): the index on
        // authorization_id cost an insert on every capture.
        StoreMigration("orders.v5.drop_authorization_index") { db in
            try db.execute(sql: "DROP INDEX IF EXISTS orders_order_authorization")
        },
    ]
}
