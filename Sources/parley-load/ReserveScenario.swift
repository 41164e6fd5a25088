import ParleyClient
import ParleyProtos
import ParleyWire

/// Reserve, then confirm or release (issue 3): the checkout path of the
/// virtual warehouse over `--skus` SKUs of one merchant, a few of them hot.
///
/// One operation — what the loop counts and times — is a pair of calls:
///
/// 1. `ReserveInventory` of 1–3 units of one SKU, held for 600 s. The SKU is
///    one of the first `--hot-skus` with probability `--hot-share`, otherwise
///    uniform over the rest. A shortage ends the operation as a `shortage`
///    error (the server answered OK; there was no stock).
/// 2. At once, `ConfirmReservation` of it with probability
///    `--confirm-share`, otherwise `ReleaseReservation`.
///
/// Every call carries an idempotency key: `<run-id>-<sequence>` for the
/// reservation (also its `reference`), with `-confirm` or `-release`
/// appended for the settlement; the run id is random per process. Choices
/// come from a ``SplitMix64`` seeded from the run id and the sequence
/// number, so workers share no state.
///
/// With `--ack-log`, each acknowledged reservation and settlement is
/// appended as soon as its reply arrives (see ``AckLog``).
///
/// ``prepare(client:options:)`` first tops every SKU up to `--units-per-sku`
/// free units (see there), so the run starts with known stock and repeated
/// runs against one daemon do not grow it without bound.
struct ReserveScenario: Scenario {
    static let name = "reserve"
    static let summary = """
        parley.v1.Warehouse/ReserveInventory of 1-3 units of one SKU, then ConfirmReservation or \
        ReleaseReservation of it, as one call; tops the SKUs up to --units-per-sku free units first \
        (options under RESERVE SCENARIO; --ack-log records what the server acknowledged)
        """

    // `WarehouseService`'s paths (ParleyWarehouse is not a dependency of this tool).
    static let allocateInventory = path("AllocateInventory")
    static let getAvailability = path("GetAvailability")
    static let reserveInventory = path("ReserveInventory")
    static let confirmReservation = path("ConfirmReservation")
    static let releaseReservation = path("ReleaseReservation")

    private static func path(_ method: String) -> MethodPath { MethodPath(service: "parley.v1.Warehouse", method: method) }

    let settings: ReserveSettings
    /// `sku-00000` …, the first `hotSkus` of them hot.
    let skus: [String]
    /// Random per process: prefixes every idempotency key.
    let runID: String
    /// Mixed into each call's seed so that runs differ.
    private let seed: UInt64
    private let ackLog: AckLog?

    init(options: ScenarioOptions) {
        settings = options.reserve
        skus = (0..<settings.skus).map(Self.skuName)
        var random = SystemRandomNumberGenerator()
        seed = random.next()
        runID = "load-" + String(random.next(), radix: 36)
        ackLog = options.ackLog
    }

    /// `sku-00042`: five digits, more past 99999.
    static func skuName(_ index: Int) -> String {
        let digits = String(index)
        return "sku-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }

    // MARK: Preparation

    /// Tops every SKU up to `--units-per-sku` free units for `--merchant`
    /// (see ``StockTopUp``). Prints one line on stderr.
    func prepare(client: ParleyClient, options: CallOptions) async throws {
        let started = ContinuousClock.now
        // Stock for 10,000 SKUs is one transaction per 1000: allow it more than a load call's deadline.
        var prepareOptions = options
        prepareOptions.timeout = max(options.timeout ?? .seconds(30), .seconds(60))
        let topUp = StockTopUp(merchant: settings.merchant, skus: skus, target: settings.unitsPerSku, scenario: Self.name, runID: runID)
        let result = try await topUp.run(client: client, options: prepareOptions)
        let elapsed = Latency.microseconds(.now - started)
        StandardError.write(
            "parley-load: reserve: merchant \(settings.merchant), \(settings.hotSkus) hot SKU(s): \(topUp.describe(result)) (\(result.lookups) GetAvailability call(s), \(Format.latency(elapsed)))\n"
        )
    }

    // MARK: One operation

    func call(client: ParleyClient, sequence: UInt64, options: CallOptions) async throws {
        var random = SplitMix64(seed: seed ^ sequence)
        let sku = skus[pickSKU(&random)]
        let quantity = Int64(random.next(upperBound: 3 as UInt64)) + 1
        let confirm = random.nextUnit() < settings.confirmShare
        let key = "\(runID)-\(sequence)"

        var line = Parley_V1_ReservationLine()
        line.merchant = settings.merchant
        line.sku = sku
        line.quantity = quantity
        var request = Parley_V1_ReserveInventoryRequest()
        request.lines = [line]
        request.holdSeconds = settings.holdSeconds
        request.reference = key
        var reserveOptions = options
        reserveOptions.idempotencyKey = key
        let response = try await client.unary(Self.reserveInventory, request, as: Parley_V1_ReserveInventoryResponse.self, options: reserveOptions)

        let reservation: Parley_V1_Reservation
        switch response.outcome {
        case .reservation(let held)?:
            reservation = held
        case .shortage(let shortage)?:
            let free = shortage.lines.first.map { "\($0.free)" } ?? "?"
            throw ShortageFailure("\(sku): \(quantity) unit(s) asked, \(free) free")
        case nil:
            throw ScenarioCheckFailure("ReserveInventory answered neither a reservation nor a shortage")
        }
        guard !reservation.id.isEmpty else { throw ScenarioCheckFailure("ReserveInventory answered a reservation without an id") }
        try ackLog?.append(.held, reservation.id)
        guard reservation.state == .held else {
            throw ScenarioCheckFailure("ReserveInventory answered reservation \(reservation.id) in state \(reservation.state), not HELD")
        }

        var settleOptions = options
        settleOptions.idempotencyKey = key + (confirm ? "-confirm" : "-release")
        let settled: Parley_V1_Reservation
        let expected: Parley_V1_ReservationState
        let event: AckLog.Event
        if confirm {
            var confirmation = Parley_V1_ConfirmReservationRequest()
            confirmation.id = reservation.id
            settled = try await client.unary(Self.confirmReservation, confirmation, as: Parley_V1_Reservation.self, options: settleOptions)
            (expected, event) = (.confirmed, .confirmed)
        } else {
            var release = Parley_V1_ReleaseReservationRequest()
            release.id = reservation.id
            settled = try await client.unary(Self.releaseReservation, release, as: Parley_V1_Reservation.self, options: settleOptions)
            (expected, event) = (.released, .released)
        }
        guard settled.id == reservation.id, settled.state == expected else {
            throw ScenarioCheckFailure(
                "\(confirm ? "ConfirmReservation" : "ReleaseReservation") of \(reservation.id) answered \(settled.id) in state \(settled.state)"
            )
        }
        try ackLog?.append(event, reservation.id)
    }

    /// A hot SKU (the first `hotSkus`) with probability `hotShare`, otherwise
    /// one of the rest; every SKU is hot when there is no rest, none when
    /// there are no hot ones.
    private func pickSKU(_ random: inout SplitMix64) -> Int {
        let hot = settings.hotSkus
        let rest = skus.count - hot
        let pickHot = rest == 0 || (hot > 0 && random.nextUnit() < settings.hotShare)
        return pickHot
            ? Int(random.next(upperBound: UInt64(hot)))
            : hot + Int(random.next(upperBound: UInt64(rest)))
    }
}

/// ReserveInventory answered with a shortage; counted as `shortage`, not as a server error.
struct ShortageFailure: Error, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
