import ParleyPKI
import ParleyProtos
import ParleyServer
import ParleyWire
import SwiftProtobuf

/// `parley.v1.Warehouse`: the warehouse's methods on the wire.
public struct WarehouseService: RegistrableService {
    static func path(_ method: String) -> MethodPath { MethodPath(service: "parley.v1.Warehouse", method: method) }
    public static let allocateInventory = path("AllocateInventory")
    public static let getAvailability = path("GetAvailability")
    public static let reserveInventory = path("ReserveInventory")
    public static let extendReservation = path("ExtendReservation")
    public static let confirmReservation = path("ConfirmReservation")
    public static let releaseReservation = path("ReleaseReservation")
    public static let getReservation = path("GetReservation")
    public static let listReservations = path("ListReservations")
    public static let getInventory = path("GetInventory")
    public static let auditInventory = path("AuditInventory")
    public static let updateWarehouseSettings = path("UpdateWarehouseSettings")

    let warehouse: Warehouse

    public init(warehouse: Warehouse) { self.warehouse = warehouse }

    public func registerMethods(with router: inout Router) {
        let warehouse = self.warehouse
        router.registerUnary(Self.allocateInventory, roles: [.merchant, .admin], mutating: true) {
            (request: Parley_V1_AllocateInventoryRequest, context: CallContext) -> Parley_V1_AllocateInventoryResponse in
            let caller = Self.caller(context)
            let merchant = request.merchant.isEmpty ? context.peer.principal : request.merchant
            let counters = try await warehouse.allocate(
                merchant: merchant,
                adjustments: request.adjustments.map { InventoryAdjustmentRequest(sku: $0.sku, delta: $0.delta, reason: $0.reason) },
                caller: caller,
                onCommit: context.outcomeRecorder { (counters: [SkuCounters]) in Self.allocated(counters) }
            )
            return Self.allocated(counters)
        }
        router.registerUnary(Self.getAvailability, roles: [.agent, .merchant, .admin]) {
            (request: Parley_V1_GetAvailabilityRequest, _: CallContext) -> Parley_V1_GetAvailabilityResponse in
            let items = try await warehouse.availability(request.items.map { (merchant: $0.merchant, sku: $0.sku) })
            var response = Parley_V1_GetAvailabilityResponse()
            response.items = items.map { item in
                var availability = Parley_V1_Availability()
                availability.merchant = item.merchant
                availability.sku = item.sku
                availability.known = item.known
                availability.free = item.free
                return availability
            }
            return response
        }
        router.registerUnary(Self.reserveInventory, roles: [.agent], mutating: true) {
            (request: Parley_V1_ReserveInventoryRequest, context: CallContext) -> Parley_V1_ReserveInventoryResponse in
            // Either answer is committed as the call's idempotent outcome in
            // the reservation's own transaction.
            let outcome = try await warehouse.reserve(
                owner: context.peer.principal,
                lines: request.lines.map { ReservationLineRequest(merchant: $0.merchant, sku: $0.sku, quantity: $0.quantity) },
                holdSeconds: request.holdSeconds,
                reference: request.reference,
                onShortage: context.outcomeRecorder { (lines: [LineShortage]) in Self.shortage(lines) },
                onCommit: context.outcomeRecorder { (record: ReservationRecord) in Self.reserved(record) }
            )
            switch outcome {
            case .reserved(let record): return Self.reserved(record)
            case .shortage(let lines): return Self.shortage(lines)
            }
        }
        router.registerUnary(Self.extendReservation, roles: [.agent], mutating: true) {
            (request: Parley_V1_ExtendReservationRequest, context: CallContext) -> Parley_V1_Reservation in
            Self.wire(
                try await warehouse.extend(
                    id: request.id,
                    holdSeconds: request.holdSeconds,
                    caller: Self.caller(context),
                    onCommit: context.outcomeRecorder { (record: ReservationRecord) in Self.wire(record) }
                )
            )
        }
        router.registerUnary(Self.confirmReservation, roles: [.agent], mutating: true) {
            (request: Parley_V1_ConfirmReservationRequest, context: CallContext) -> Parley_V1_Reservation in
            Self.wire(try await warehouse.confirm(id: request.id, caller: Self.caller(context), onCommit: context.outcomeRecorder { (record: ReservationRecord) in Self.wire(record) }))
        }
        router.registerUnary(Self.releaseReservation, roles: [.agent], mutating: true) {
            (request: Parley_V1_ReleaseReservationRequest, context: CallContext) -> Parley_V1_Reservation in
            Self.wire(try await warehouse.release(id: request.id, caller: Self.caller(context), onCommit: context.outcomeRecorder { (record: ReservationRecord) in Self.wire(record) }))
        }
        router.registerUnary(Self.getReservation, roles: [.agent, .merchant, .admin]) {
            (request: Parley_V1_GetReservationRequest, context: CallContext) -> Parley_V1_Reservation in
            Self.wire(try await warehouse.reservation(id: request.id, caller: Self.caller(context)))
        }
        router.registerUnary(Self.listReservations, roles: [.agent, .merchant, .admin]) {
            (request: Parley_V1_ListReservationsRequest, context: CallContext) -> Parley_V1_ListReservationsResponse in
            guard request.limit <= 1000 else { throw RPCError.invalidArgument(field: "limit", "at most 1000") }
            let records = try await warehouse.reservations(
                caller: Self.caller(context),
                state: Self.domain(request.state),
                limit: request.limit == 0 ? 100 : Int(request.limit)
            )
            var response = Parley_V1_ListReservationsResponse()
            response.reservations = records.map(Self.wire)
            return response
        }
        router.registerUnary(Self.getInventory, roles: [.merchant, .admin]) {
            (request: Parley_V1_GetInventoryRequest, context: CallContext) -> Parley_V1_GetInventoryResponse in
            var response = Parley_V1_GetInventoryResponse()
            response.inventory = try await warehouse.inventory(caller: Self.caller(context), skus: request.skus).map(Self.wire)
            return response
        }
        router.registerUnary(Self.auditInventory, roles: [.merchant, .admin]) {
            (_: Parley_V1_AuditInventoryRequest, context: CallContext) -> Parley_V1_AuditInventoryResponse in
            let audit = try await warehouse.audit(caller: Self.caller(context))
            var response = Parley_V1_AuditInventoryResponse()
            response.skus = UInt64(audit.skus)
            response.ledgerEntries = UInt64(audit.ledgerEntries)
            response.allocated = audit.allocated
            response.held = audit.held
            response.sold = audit.sold
            response.free = audit.free
            response.discrepancies = audit.discrepancies.map { item in
                var wire = Parley_V1_AuditDiscrepancy()
                wire.merchant = item.merchant
                wire.sku = item.sku
                wire.problem = item.problem
                return wire
            }
            return response
        }
        router.registerUnary(Self.updateWarehouseSettings, roles: [.merchant], mutating: true) {
            (request: Parley_V1_UpdateWarehouseSettingsRequest, context: CallContext) -> Parley_V1_WarehouseSettings in
            let settings = try await warehouse.updateSettings(
                merchant: context.peer.principal,
                defaultHoldSeconds: request.defaultHoldSeconds,
                maxUnitsPerSKU: request.maxUnitsPerSku
            )
            var response = Parley_V1_WarehouseSettings()
            response.merchant = settings.merchant
            response.defaultHoldSeconds = settings.defaultHoldSeconds
            response.maxUnitsPerSku = settings.maxUnitsPerSKU
            return response
        }
    }

    static func shortage(_ lines: [LineShortage]) -> Parley_V1_ReserveInventoryResponse {
        var shortage = Parley_V1_Shortage()
        shortage.lines = lines.map { line in
            var wire = Parley_V1_LineShortage()
            wire.line = UInt32(line.line)
            wire.merchant = line.merchant
            wire.sku = line.sku
            wire.requested = line.requested
            wire.free = line.free
            return wire
        }
        var response = Parley_V1_ReserveInventoryResponse()
        response.shortage = shortage
        return response
    }

    static func reserved(_ record: ReservationRecord) -> Parley_V1_ReserveInventoryResponse {
        var response = Parley_V1_ReserveInventoryResponse()
        response.reservation = wire(record)
        return response
    }

    static func allocated(_ counters: [SkuCounters]) -> Parley_V1_AllocateInventoryResponse {
        var response = Parley_V1_AllocateInventoryResponse()
        response.inventory = counters.map(wire)
        return response
    }

    static func caller(_ context: CallContext) -> WarehouseCaller {
        var kinds = Set<WarehouseCaller.Kind>()
        if context.peer.roles.contains(.agent) { kinds.insert(.agent) }
        if context.peer.roles.contains(.merchant) { kinds.insert(.merchant) }
        if context.peer.roles.contains(.admin) { kinds.insert(.admin) }
        return WarehouseCaller(principal: context.peer.principal, kinds: kinds)
    }

    static func wire(_ counters: SkuCounters) -> Parley_V1_SkuInventory {
        var wire = Parley_V1_SkuInventory()
        wire.merchant = counters.merchant
        wire.sku = counters.sku
        wire.allocated = counters.allocated
        wire.held = counters.held
        wire.sold = counters.sold
        wire.free = counters.free
        return wire
    }

    static func wire(_ record: ReservationRecord) -> Parley_V1_Reservation {
        var wire = Parley_V1_Reservation()
        wire.id = record.id
        wire.owner = record.owner
        wire.reference = record.reference
        wire.state = switch record.state {
        case .held: .held
        case .confirmed: .confirmed
        case .released: .released
        case .expired: .expired
        }
        wire.lines = record.lines.map { line in
            var wireLine = Parley_V1_ReservationLine()
            wireLine.merchant = line.merchant
            wireLine.sku = line.sku
            wireLine.quantity = line.quantity
            return wireLine
        }
        wire.createdAtMs = record.createdAtMilliseconds
        wire.expiresAtMs = record.expiresAtMilliseconds
        wire.closedAtMs = record.closedAtMilliseconds
        return wire
    }

    static func domain(_ state: Parley_V1_ReservationState) -> ReservationState? {
        switch state {
        case .held: .held
        case .confirmed: .confirmed
        case .released: .released
        case .expired: .expired
        default: nil
        }
    }
}
