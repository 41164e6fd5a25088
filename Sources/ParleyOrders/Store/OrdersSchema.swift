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
        }
    ]
}
