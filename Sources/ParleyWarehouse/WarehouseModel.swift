/// Who is asking, in the warehouse's terms.
public struct WarehouseCaller: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// Buys: owns reservations.
        case agent
        /// Sells: owns inventory; sees reservations on its stock.
        case merchant
        /// Sees and may do everything.
        case admin
        /// Another subsystem (Orders at capture) acting for the owner.
        case system
    }

    public let principal: String
    public let kinds: Set<Kind>

    public init(principal: String, kinds: Set<Kind>) {
        self.principal = principal
        self.kinds = kinds
    }

    public func `is`(_ kind: Kind) -> Bool { kinds.contains(kind) }
    var isPrivileged: Bool { kinds.contains(.admin) || kinds.contains(.system) }
}

/// One requested reservation line.
public struct ReservationLineRequest: Sendable, Hashable {
    public var merchant: String
    public var sku: String
    public var quantity: Int64

    public init(merchant: String, sku: String, quantity: Int64) {
        self.merchant = merchant
        self.sku = sku
        self.quantity = quantity
    }
}

extension [ReservationLineRequest] {
    /// The units of all the lines: what a reservation counts against its
    /// agent's quota (`warehouse.max_held_units_per_agent`).
    var units: Int64 { reduce(0) { $0 + $1.quantity } }
}

/// A stored reservation.
public struct ReservationRecord: Sendable, Hashable {
    public var id: String
    public var owner: String
    public var reference: String
    /// The state as of the moment it was read (lapsed HELD reads EXPIRED).
    public var state: ReservationState
    public var lines: [ReservationLineRequest]
    public var createdAtMilliseconds: Int64
    public var expiresAtMilliseconds: Int64
    public var closedAtMilliseconds: Int64
}

/// A line that could not be held, and how many units were free.
public struct LineShortage: Sendable, Hashable {
    public var line: Int
    public var merchant: String
    public var sku: String
    public var requested: Int64
    public var free: Int64

    public init(line: Int, merchant: String, sku: String, requested: Int64, free: Int64) {
        self.line = line
        self.merchant = merchant
        self.sku = sku
        self.requested = requested
        self.free = free
    }
}

/// What `reserve` achieved: every line held, or nothing held and why.
public enum ReserveOutcome: Sendable, Hashable {
    case reserved(ReservationRecord)
    case shortage([LineShortage])
}

/// A SKU's counters.
public struct SkuCounters: Sendable, Hashable {
    public var merchant: String
    public var sku: String
    public var allocated: Int64
    public var held: Int64
    public var sold: Int64
    public var free: Int64 { allocated - held - sold }

    public init(merchant: String, sku: String, allocated: Int64, held: Int64, sold: Int64) {
        self.merchant = merchant
        self.sku = sku
        self.allocated = allocated
        self.held = held
        self.sold = sold
    }
}

/// One change to a merchant's allocation.
public struct InventoryAdjustmentRequest: Sendable, Hashable {
    public var sku: String
    public var delta: Int64
    public var reason: String

    public init(sku: String, delta: Int64, reason: String) {
        self.sku = sku
        self.delta = delta
        self.reason = reason
    }
}

/// Free units of one SKU right now.
public struct SkuAvailability: Sendable, Hashable {
    public var merchant: String
    public var sku: String
    public var known: Bool
    public var free: Int64
}

/// A merchant's reservation settings.
public struct MerchantWarehouseSettings: Sendable, Hashable {
    public var merchant: String
    public var defaultHoldSeconds: UInt32
    public var maxUnitsPerSKU: UInt32
}

/// The outcome of checking counters against the ledger.
public struct InventoryAudit: Sendable, Hashable {
    public struct Discrepancy: Sendable, Hashable {
        public var merchant: String
        public var sku: String
        public var problem: String
    }

    public var skus: Int
    public var ledgerEntries: Int
    public var allocated: Int64
    public var held: Int64
    public var sold: Int64
    public var discrepancies: [Discrepancy]
    public var free: Int64 { allocated - held - sold }
    public var balances: Bool { discrepancies.isEmpty }
}
