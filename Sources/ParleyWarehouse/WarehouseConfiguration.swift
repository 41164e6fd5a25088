/// The warehouse's limits. Merchants may change their own default window and
/// per-SKU cap within these (`UpdateWarehouseSettings`).
public struct WarehouseConfiguration: Sendable, Hashable {
    /// A reservation's window when neither the request nor the merchant says.
    public var defaultHoldSeconds: UInt32
    /// The longest window any reservation or extension may ask for.
    public var maxHoldSeconds: UInt32
    /// How long a reservation may be held in all, extensions included, from
    /// its creation: extending cannot keep stock out of reach forever.
    public var maxLifetimeSeconds: UInt32
    /// Most units of one SKU in one reservation, unless the merchant says otherwise (anti-hoarding).
    public var defaultMaxUnitsPerSKU: UInt32
    /// Most lines in one reservation.
    public var maxLines: Int
    /// Most reservations one agent may hold at once (anti-hoarding across reservations).
    public var maxHeldReservationsPerAgent: Int
    /// Most units, all SKUs together, that one agent's held reservations may
    /// hold at once (anti-hoarding across reservations and SKUs).
    public var maxHeldUnitsPerAgent: Int64
    /// Most adjustments in one AllocateInventory call.
    public var maxAdjustments: Int
    /// How often the sweeper writes down lapsed reservations. Expiry itself
    /// is exact without it: units are free at `expires_at` regardless.
    public var sweepInterval: Duration

    public init(
        defaultHoldSeconds: UInt32,
        maxHoldSeconds: UInt32,
        maxLifetimeSeconds: UInt32 = 14_400,
        defaultMaxUnitsPerSKU: UInt32,
        maxLines: Int,
        maxHeldReservationsPerAgent: Int = 1000,
        maxHeldUnitsPerAgent: Int64 = 10_000,
        maxAdjustments: Int,
        sweepInterval: Duration
    ) {
        self.defaultHoldSeconds = defaultHoldSeconds
        self.maxHoldSeconds = maxHoldSeconds
        self.maxLifetimeSeconds = maxLifetimeSeconds
        self.defaultMaxUnitsPerSKU = defaultMaxUnitsPerSKU
        self.maxLines = maxLines
        self.maxHeldReservationsPerAgent = maxHeldReservationsPerAgent
        self.maxHeldUnitsPerAgent = maxHeldUnitsPerAgent
        self.maxAdjustments = maxAdjustments
        self.sweepInterval = sweepInterval
    }

    /// 30-minute windows, at most 2 hours each and 4 hours in all, 100 units
    /// of a SKU per reservation, 1000 reservations and 10,000 units held per agent.
    public static var defaults: WarehouseConfiguration {
        WarehouseConfiguration(
            defaultHoldSeconds: 1800,
            maxHoldSeconds: 7200,
            defaultMaxUnitsPerSKU: 100,
            maxLines: 100,
            maxAdjustments: 10_000,
            sweepInterval: .seconds(1)
        )
    }
}
