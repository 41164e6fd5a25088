import GRDB
import ParleyStore

/// The warehouse's tables. The counters row of a SKU is the source of truth
/// for decisions; the ledger records every movement so the counters can be
/// checked (`allocated = free + held + sold`, each equal to its ledger sum).
/// CHECK constraints refuse an oversold or negative row even if a bug tried.
public enum WarehouseSchema {
    public static let migrations: [StoreMigration] = [
        StoreMigration("warehouse.v1.tables") { db in
            try db.execute(sql: """
                CREATE TABLE warehouse_sku (
                    merchant TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    allocated INTEGER NOT NULL DEFAULT 0 CHECK (allocated >= 0),
                    held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
                    sold INTEGER NOT NULL DEFAULT 0 CHECK (sold >= 0),
                    CHECK (allocated >= held + sold),
                    PRIMARY KEY (merchant, sku)
                ) WITHOUT ROWID;

                CREATE TABLE warehouse_reservation (
                    id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    reference TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('HELD', 'CONFIRMED', 'RELEASED', 'EXPIRED')),
                    created_at_ms INTEGER NOT NULL,
                    expires_at_ms INTEGER NOT NULL,
                    closed_at_ms INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                CREATE INDEX warehouse_reservation_owner ON warehouse_reservation(owner, created_at_ms);
                CREATE INDEX warehouse_reservation_due ON warehouse_reservation(expires_at_ms) WHERE state = 'HELD';

                CREATE TABLE warehouse_reservation_line (
                    reservation_id TEXT NOT NULL,
                    line INTEGER NOT NULL,
                    merchant TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    quantity INTEGER NOT NULL CHECK (quantity > 0),
                    PRIMARY KEY (reservation_id, line)
                ) WITHOUT ROWID;
                -- Lines never change after insert. Due holds are found through
                -- warehouse_reservation_due (append-ordered by expiry), not a
                -- per-SKU index that every hold and settlement would rewrite.
                CREATE INDEX warehouse_line_merchant ON warehouse_reservation_line(merchant, reservation_id);

                CREATE TABLE warehouse_ledger (
                    id INTEGER PRIMARY KEY,
                    merchant TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('allocate', 'deallocate', 'hold', 'release', 'expire', 'confirm')),
                    quantity INTEGER NOT NULL CHECK (quantity > 0),
                    reservation_id TEXT,
                    reason TEXT NOT NULL DEFAULT '',
                    at_ms INTEGER NOT NULL
                );
                -- No index on (merchant, sku): only the audit reads the ledger
                -- by SKU and it scans it whole, while every movement would pay
                -- for the index with a write to a random page.

                CREATE TABLE warehouse_settings (
                    merchant TEXT PRIMARY KEY NOT NULL,
                    default_hold_seconds INTEGER NOT NULL,
                    max_units_per_sku INTEGER NOT NULL
                ) WITHOUT ROWID;
                """)
        },
        // How many reservations each agent holds, kept with every hold and
        // settlement so the per-agent cap is one row, not a count.
        StoreMigration("warehouse.v2.owner_held") { db in
            try db.execute(sql: """
                CREATE TABLE warehouse_owner (
                    owner TEXT PRIMARY KEY NOT NULL,
                    held INTEGER NOT NULL CHECK (held >= 0)
                ) WITHOUT ROWID;
                INSERT INTO warehouse_owner (owner, held)
                    SELECT owner, COUNT(*) FROM warehouse_reservation WHERE state = 'HELD' GROUP BY owner;
                """)
        },
        // The same CHECK constraints written as OR chains. SQLite evaluates
        // `x IN ('a', 'b', 'c', …)` (three or more values) in a CHECK by
        // building a temporary index of the list on every row written: about
        // 3 µs per insert or update (measured), a fifth of a hold's time on
        // the writer. An OR chain of equalities costs a few comparisons.
        // SQLite cannot alter a constraint, so both tables are rebuilt.
        StoreMigration("warehouse.v3.check_or_chains") { db in
            try db.execute(sql: """
                CREATE TABLE warehouse_reservation_new (
                    id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    reference TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state = 'HELD' OR state = 'CONFIRMED' OR state = 'RELEASED' OR state = 'EXPIRED'),
                    created_at_ms INTEGER NOT NULL,
                    expires_at_ms INTEGER NOT NULL,
                    closed_at_ms INTEGER NOT NULL DEFAULT 0
                ) WITHOUT ROWID;
                INSERT INTO warehouse_reservation_new SELECT * FROM warehouse_reservation;
                DROP TABLE warehouse_reservation;
                ALTER TABLE warehouse_reservation_new RENAME TO warehouse_reservation;
                CREATE INDEX warehouse_reservation_owner ON warehouse_reservation(owner, created_at_ms);
                CREATE INDEX warehouse_reservation_due ON warehouse_reservation(expires_at_ms) WHERE state = 'HELD';

                CREATE TABLE warehouse_ledger_new (
                    id INTEGER PRIMARY KEY,
                    merchant TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (
                        kind = 'allocate' OR kind = 'deallocate' OR kind = 'hold'
                        OR kind = 'release' OR kind = 'expire' OR kind = 'confirm'
                    ),
                    quantity INTEGER NOT NULL CHECK (quantity > 0),
                    reservation_id TEXT,
                    reason TEXT NOT NULL DEFAULT '',
                    at_ms INTEGER NOT NULL
                );
                INSERT INTO warehouse_ledger_new SELECT * FROM warehouse_ledger;
                DROP TABLE warehouse_ledger;
                ALTER TABLE warehouse_ledger_new RENAME TO warehouse_ledger;
                """)
        },
        // How many units each agent's held reservations hold, kept beside the
        // count (warehouse.max_held_units_per_agent), from what is held now.
        StoreMigration("warehouse.v4.owner_units") { db in
            try db.execute(sql: """
                ALTER TABLE warehouse_owner ADD COLUMN units INTEGER NOT NULL DEFAULT 0 CHECK (units >= 0);
                UPDATE warehouse_owner SET units = (
                    SELECT COALESCE(SUM(l.quantity), 0)
                    FROM warehouse_reservation r JOIN warehouse_reservation_line l ON l.reservation_id = r.id
                    WHERE r.owner = warehouse_owner.owner AND r.state = 'HELD'
                );
                """)
        },
    ]
}
