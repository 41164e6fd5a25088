import Foundation
import Logging
import ParleyClient
import ParleyDaemon
import ParleyPKI
import ParleyProtos
import ParleyTesting
import ParleyWarehouse
import ParleyWire
import Testing

@Suite("Warehouse over live mTLS")
struct WarehouseLiveTests {
    @Test("500 concurrent reservations for 100 units: never oversold, refusals tell the truth, the ledger balances")
    func concurrency() async throws {
        try await withTestDaemon { daemon in
            let merchant = try daemon.client("widgets", roles: [.merchant])
            var allocation = Parley_V1_AllocateInventoryRequest()
            var adjustment = Parley_V1_InventoryAdjustment()
            adjustment.sku = "widget"
            adjustment.delta = 100
            allocation.adjustments = [adjustment]
            _ = try await merchant.unary(WarehouseService.allocateInventory, allocation, as: Parley_V1_AllocateInventoryResponse.self)

            let agent = try daemon.client("acme-travel", roles: [.agent], connections: 4)
            let outcomes = try await withThrowingTaskGroup(of: (Int64, Parley_V1_ReserveInventoryResponse).self) { group in
                for index in 0..<500 {
                    group.addTask {
                        var request = Parley_V1_ReserveInventoryRequest()
                        var line = Parley_V1_ReservationLine()
                        line.merchant = "widgets"
                        line.sku = "widget"
                        line.quantity = Int64(index % 3 + 1)
                        request.lines = [line]
                        request.holdSeconds = 600
                        let response = try await agent.unary(
                            WarehouseService.reserveInventory,
                            request,
                            as: Parley_V1_ReserveInventoryResponse.self,
                            options: CallOptions(idempotencyKey: "reserve-\(index)")
                        )
                        return (line.quantity, response)
                    }
                }
                var all: [(Int64, Parley_V1_ReserveInventoryResponse)] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            var held: Int64 = 0
            var refusals: [(requested: Int64, free: Int64)] = []
            for (quantity, response) in outcomes {
                switch response.outcome {
                case .reservation(let reservation):
                    #expect(reservation.state == .held)
                    held += quantity
                case .shortage(let shortage):
                    let line = try #require(shortage.lines.first)
                    #expect(line.requested == quantity)
                    refusals.append((line.requested, line.free))
                case nil:
                    Issue.record("empty outcome")
                }
            }
            #expect(held <= 100)
            var request = Parley_V1_GetAvailabilityRequest()
            var ref = Parley_V1_SkuRef()
            ref.merchant = "widgets"
            ref.sku = "widget"
            request.items = [ref]
            let finalFree = try await agent.unary(WarehouseService.getAvailability, request, as: Parley_V1_GetAvailabilityResponse.self).items[0].free
            #expect(held + finalFree == 100)
            #expect(finalFree < 3, "500 requests for up to 3 units each should drain 100 units")
            for refusal in refusals {
                // Free only shrinks here, so a true report lies between what is left now and what was asked.
                #expect(refusal.free < refusal.requested)
                #expect(refusal.free >= finalFree)
            }
            let admin = try daemon.client("ops", roles: [.admin])
            let audit = try await admin.unary(WarehouseService.auditInventory, Parley_V1_AuditInventoryRequest(), as: Parley_V1_AuditInventoryResponse.self)
            #expect(audit.discrepancies.isEmpty, "\(audit.discrepancies)")
            #expect(audit.held == held)
            #expect(audit.allocated == 100)
            for client in [merchant, agent, admin] { await client.close() }
        }
    }

    @Test("over the wire: an agent may not allocate, and another agent's reservation is NOT_FOUND")
    func roles() async throws {
        try await withTestDaemon { daemon in
            let agent = try daemon.client("acme-travel", roles: [.agent])
            var allocation = Parley_V1_AllocateInventoryRequest()
            var adjustment = Parley_V1_InventoryAdjustment()
            adjustment.sku = "widget"
            adjustment.delta = 5
            allocation.adjustments = [adjustment]
            do {
                _ = try await agent.unary(WarehouseService.allocateInventory, allocation, as: Parley_V1_AllocateInventoryResponse.self)
                Issue.record("agents may not allocate")
            } catch let error as RPCError {
                #expect(error.code == .permissionDenied)
            }
            var get = Parley_V1_GetReservationRequest()
            get.id = "rsv_doesnotexist"
            do {
                _ = try await agent.unary(WarehouseService.getReservation, get, as: Parley_V1_Reservation.self)
                Issue.record("expected NOT_FOUND")
            } catch let error as RPCError {
                #expect(error.code == .notFound)
            }
            await agent.close()
        }
    }
}

@Suite("Demo data")
struct DemoDataTests {
    @Test("--demo stocks the demo merchant once, and never touches a database that has inventory")
    func demo() async throws {
        try await withTestDaemon { daemon in
            let logger = Logger(label: "test")
            #expect(try await DemoData.load(into: daemon.daemon, logger: logger))
            #expect(try await !DemoData.load(into: daemon.daemon, logger: logger))
            let admin = WarehouseCaller(principal: "ops", kinds: [.admin])
            let inventory = try await daemon.daemon.warehouse.inventory(caller: admin, skus: [])
            #expect(inventory.count == DemoData.stock.count)
            #expect(inventory.allSatisfy { $0.merchant == DemoData.merchant && $0.free > 0 })
        }
    }

    @Test("--demo sets up the demo merchant for Orders: its sample order, with its sample coupon, quotes ACCEPTABLE")
    func demoOrders() async throws {
        try await withTestDaemon { daemon in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-demo-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            let logger = Logger(label: "test")
            let loaded = try #require(try await DemoData.load(into: daemon.daemon, logger: logger, filesDirectory: directory))
            #expect(try await DemoData.load(into: daemon.daemon, logger: logger, filesDirectory: directory) == nil)
            let couponFile = try #require(loaded.couponFile)
            let orderFile = try #require(loaded.orderFile)
            #expect(try String(contentsOf: couponFile, encoding: .utf8) == loaded.coupon + "\n")
            #expect(try String(contentsOf: orderFile, encoding: .utf8) == DemoData.orderJSON(coupon: loaded.coupon) + "\n")

            let agent = try daemon.client("travel", roles: [.agent])
            let negotiate = MethodPath(service: "parley.v1.Orders", method: "Negotiate")
            let quoted = try await agent.unary(negotiate, DemoData.order(coupon: loaded.coupon), as: Parley_V1_OrderAcceptanceResponse.self)
            #expect(quoted.status == .acceptable, "\(quoted.amendments)")
            #expect(quoted.order.couponsApplied == [DemoData.couponSerial])
            #expect(quoted.order.discount.minorUnits == -((quoted.order.subtotal.minorUnits + 5) / 10))  // 10%, half up
            #expect(quoted.order.shipping.service == "ground")

            // The hazardous fuel may not fly: by air alone there is no way to ship it.
            var byAir = DemoData.order()
            byAir.shippingMethods[0].service = "next-day-air"
            let refused = try await agent.unary(negotiate, byAir, as: Parley_V1_OrderAcceptanceResponse.self)
            #expect(refused.status != .acceptable)
            await agent.close()
        }
    }
}

@Suite("Warehouse idempotency")
struct WarehouseIdempotencyTests {
    @Test("a retried reservation returns the same reservation and holds the units once")
    func retriedReservation() async throws {
        try await withTestDaemon { daemon in
            let merchant = try daemon.client("widgets", roles: [.merchant])
            var allocation = Parley_V1_AllocateInventoryRequest()
            var adjustment = Parley_V1_InventoryAdjustment()
            adjustment.sku = "widget"
            adjustment.delta = 10
            allocation.adjustments = [adjustment]
            _ = try await merchant.unary(WarehouseService.allocateInventory, allocation, as: Parley_V1_AllocateInventoryResponse.self, options: CallOptions(idempotencyKey: "stock-1"))
            // The same allocation retried adds nothing.
            let again = try await merchant.unary(WarehouseService.allocateInventory, allocation, as: Parley_V1_AllocateInventoryResponse.self, options: CallOptions(idempotencyKey: "stock-1"))
            #expect(again.inventory.first?.allocated == 10)

            let agent = try daemon.client("acme-travel", roles: [.agent])
            var request = Parley_V1_ReserveInventoryRequest()
            var line = Parley_V1_ReservationLine()
            line.merchant = "widgets"
            line.sku = "widget"
            line.quantity = 4
            request.lines = [line]
            let first = try await agent.unary(WarehouseService.reserveInventory, request, as: Parley_V1_ReserveInventoryResponse.self, options: CallOptions(idempotencyKey: "order-7"))
            let retry = try await agent.unary(WarehouseService.reserveInventory, request, as: Parley_V1_ReserveInventoryResponse.self, options: CallOptions(idempotencyKey: "order-7"))
            #expect(first == retry)
            var confirm = Parley_V1_ConfirmReservationRequest()
            confirm.id = first.reservation.id
            let confirmed = try await agent.unary(WarehouseService.confirmReservation, confirm, as: Parley_V1_Reservation.self, options: CallOptions(idempotencyKey: "confirm-7"))
            let confirmedAgain = try await agent.unary(WarehouseService.confirmReservation, confirm, as: Parley_V1_Reservation.self, options: CallOptions(idempotencyKey: "confirm-7"))
            #expect(confirmed == confirmedAgain)
            #expect(confirmed.state == .confirmed)
            let inventory = try await merchant.unary(WarehouseService.getInventory, Parley_V1_GetInventoryRequest(), as: Parley_V1_GetInventoryResponse.self)
            #expect(inventory.inventory.first?.sold == 4)
            #expect(inventory.inventory.first?.free == 6)

            // A shortage is an answer too: retried after more stock came, the
            // same key answers the same shortage, and nothing is held.
            line.quantity = 7
            request.lines = [line]
            let short = try await agent.unary(WarehouseService.reserveInventory, request, as: Parley_V1_ReserveInventoryResponse.self, options: CallOptions(idempotencyKey: "order-8"))
            #expect(short.shortage.lines.first?.free == 6)
            adjustment.delta = 5
            allocation.adjustments = [adjustment]
            _ = try await merchant.unary(WarehouseService.allocateInventory, allocation, as: Parley_V1_AllocateInventoryResponse.self, options: CallOptions(idempotencyKey: "stock-2"))
            let shortAgain = try await agent.unary(WarehouseService.reserveInventory, request, as: Parley_V1_ReserveInventoryResponse.self, options: CallOptions(idempotencyKey: "order-8"))
            #expect(shortAgain == short)
            let after = try await merchant.unary(WarehouseService.getInventory, Parley_V1_GetInventoryRequest(), as: Parley_V1_GetInventoryResponse.self)
            #expect(after.inventory.first?.free == 11 && after.inventory.first?.held == 0)
            await merchant.close()
            await agent.close()
        }
    }
}
