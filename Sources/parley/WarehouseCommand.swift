import ArgumentParser
import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire
import SwiftProtobuf

extension Parley {
    /// `parley warehouse ...`: the virtual warehouse (`parley.v1.Warehouse`).
    /// Merchants allocate stock, agents hold it in time-limited reservations
    /// that they confirm or release, and the ledger can be audited.
    struct Warehouse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Allocate stock, check availability, hold and settle reservations, audit the ledger.",
            subcommands: [
                Allocate.self, Import.self, Availability.self, Reserve.self, Extend.self, Confirm.self, Release.self,
                Get.self, List.self, Inventory.self, Audit.self, Settings.self, VerifyAcks.self,
            ]
        )
    }
}

// MARK: - Allocation

extension Parley.Warehouse {
    /// `parley warehouse allocate --sku SKU --delta N`.
    struct Allocate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add units of a SKU (or remove free ones, with a negative --delta) and print its counters.",
            discussion: "Role merchant for your own stock; admin may name any --merchant."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var idempotency: IdempotencyOptions
        @Option(help: "The SKU.") var sku: String
        @Option(parsing: .unconditional, help: "Units to add; negative removes (at most the free units).") var delta: Int64
        @Option(help: "Why, recorded in the ledger.") var reason = ""
        @Option(help: "Whose stock (admin only); default: yours.") var merchant: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if let problem = nameProblem(sku, "--sku") { throw ValidationError(problem) }
            if let merchant, let problem = nameProblem(merchant, "--merchant") { throw ValidationError(problem) }
            if let problem = deltaProblem(delta, "--delta") { throw ValidationError(problem) }
            if reason.count > 256 { throw ValidationError("--reason is longer than 256 characters") }
        }

        func run() async throws {
            var adjustment = Parley_V1_InventoryAdjustment()
            adjustment.sku = sku
            adjustment.delta = delta
            adjustment.reason = reason
            var request = Parley_V1_AllocateInventoryRequest()
            request.merchant = merchant ?? ""
            request.adjustments = [adjustment]
            let response = try await call(
                "AllocateInventory", request, as: Parley_V1_AllocateInventoryResponse.self, connection, options: idempotency.callOptions
            )
            if json {
                try printJSON(response.inventory.map(JSON.Counters.init))
            } else {
                printCounters(response.inventory)
            }
        }
    }

    /// `parley warehouse import FILE.csv`: an ERP feed, checked whole, then
    /// applied in all-or-nothing batches with deterministic idempotency keys.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply an ERP feed: a CSV file of sku,delta[,reason] rows, in all-or-nothing batches.",
            discussion: """
                The header names the columns: sku and delta, optionally reason. Fields may be quoted \
                ("a, b" and "" for a quote); blank lines are skipped. Every row is checked before anything is sent.

                Each batch carries an idempotency key derived from the file's bytes and modification time, \
                --merchant, --batch and the batch's number, so running the same file again after a failure or a \
                crash applies only what did not go through, while a new export (a new file, even with the same \
                rows) applies in full. --run-id replaces the modification time when you need to choose.
                """
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The CSV file.") var file: String
        @Option(help: "Whose stock (admin only); default: yours.") var merchant: String?
        @Option(help: "Adjustments per AllocateInventory call (1...10000).") var batch = 1000
        @Option(name: .customLong("run-id"), help: "Names this import for its idempotency keys (default: the file's modification time).") var runID: String?
        @Flag(help: "Print the summary as JSON.") var json = false

        func validate() throws {
            if let merchant, let problem = nameProblem(merchant, "--merchant") { throw ValidationError(problem) }
            if !(1...10_000).contains(batch) { throw ValidationError("--batch must be 1...10000") }
        }

        func run() async throws {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: file))
            } catch {
                throw CLIError("cannot read \(file): \(error.localizedDescription)")
            }
            let rows = try Feed.rows(of: data, file: file)
            let batches = stride(from: 0, to: rows.count, by: batch).map { rows[$0..<min($0 + batch, rows.count)] }
            var hash = FNV1a64()
            hash.add(data)
            // The same file re-run after a crash keeps its keys; a new export of identical rows gets new ones.
            let modified = (try? FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            hash.add(Data("\u{0}\(merchant ?? "")\u{0}\(batch)\u{0}\(runID ?? String(format: "%.6f", modified))".utf8))
            let keyPrefix = "import-\(hash.hex)"

            var applied = 0
            var resolvedMerchant = merchant
            try await withClient(connection) { client in
                for (index, slice) in batches.enumerated() {
                    var request = Parley_V1_AllocateInventoryRequest()
                    request.merchant = merchant ?? ""
                    request.adjustments = slice.map(\.adjustment)
                    do {
                        let response = try await client.unary(
                            path("AllocateInventory"),
                            request,
                            as: Parley_V1_AllocateInventoryResponse.self,
                            options: CallOptions(idempotencyKey: "\(keyPrefix)-\(index + 1)")
                        )
                        if resolvedMerchant == nil { resolvedMerchant = response.inventory.first?.merchant }
                    } catch let error as RPCError {
                        throw CLIError(failureReport(error, batch: index, of: batches, applied: applied, total: rows.count))
                    }
                    applied += slice.count
                    printToStandardError("batch \(index + 1)/\(batches.count), \(applied)/\(rows.count) rows")
                }
            }

            let summary = JSON.ImportSummary(
                file: file,
                merchant: resolvedMerchant ?? "",
                rows: rows.count,
                skus: Set(rows.map(\.adjustment.sku)).count,
                batches: batches.count,
                batchSize: batch,
                idempotencyKeyPrefix: keyPrefix
            )
            if json {
                try printJSON(summary)
            } else {
                print(
                    "imported \(summary.rows) rows of \(file) for \(summary.merchant): "
                        + "\(summary.skus) SKUs touched, \(summary.batches) batch\(summary.batches == 1 ? "" : "es") of up to \(batch)"
                )
            }
        }

        /// What failed, what was applied, and what re-running the file will do.
        private func failureReport(
            _ error: RPCError, batch index: Int, of batches: [ArraySlice<Feed.Row>], applied: Int, total: Int
        ) -> String {
            let slice = batches[index]
            var lines = [
                "batch \(index + 1)/\(batches.count) failed (rows \(slice.startIndex + 1)-\(slice.endIndex), "
                    + "lines \(slice.first!.line)-\(slice.last!.line) of \(file)):"
            ]
            lines += explain(error, server: connection.server).split(separator: "\n").map { "  \($0)" }
            // The daemon names rows by their index in the batch: `adjustments[N].delta`.
            for violation in error.violations {
                guard violation.field.hasPrefix("adjustments["), let close = violation.field.firstIndex(of: "]"),
                    let offset = Int(violation.field.dropFirst("adjustments[".count)[..<close]), slice.indices.contains(slice.startIndex + offset)
                else { continue }
                lines.append("  \(violation.field.prefix(through: close)) is line \(slice[slice.startIndex + offset].line) of \(file)")
            }
            // A refusal means the batch did not run; any other failure may have come after it committed.
            let refused: Set<RPCError.Code> = [
                .invalidArgument, .notFound, .alreadyExists, .permissionDenied, .failedPrecondition, .outOfRange,
                .unimplemented, .unauthenticated,
            ]
            let earlier = index == 0 ? "" : "Batches 1-\(index) (\(applied) of \(total) rows) were applied; "
            if !refused.contains(error.code) {
                lines.append("\(earlier)batch \(index + 1) may or may not have been applied; later batches were not.")
                lines.append("Re-running the same file with the same --merchant and --batch is safe: batches already applied are not applied twice.")
            } else if index == 0 {
                lines.append("Nothing was applied. The daemon remembers this answer under the batch's idempotency key, "
                    + "so the unchanged file gets it again; correct the file and run it again.")
            } else {
                lines.append("\(earlier)nothing of batch \(index + 1) or later was.")
                lines.append("Re-running the same file is safe (applied batches are not applied twice), but the daemon "
                    + "remembers this answer under the batch's idempotency key, so the unchanged file stops here again. "
                    + "To correct the file, first delete its first \(applied) rows (through line \(batches[index - 1].last!.line)): "
                    + "an edited file gets new keys, and those rows would be applied again.")
            }
            return lines.joined(separator: "\n")
        }
    }

    /// The rows of an ERP feed, and the CSV reading behind them.
    enum Feed {
        /// One checked row: the file line it came from and what it asks for.
        struct Row {
            let line: Int
            let adjustment: Parley_V1_InventoryAdjustment
        }

        /// Reads and checks every row of `data`; the first problem is reported as `FILE:LINE: problem`.
        static func rows(of data: Data, file: String) throws -> [Row] {
            guard var text = String(data: data, encoding: .utf8) else { throw CLIError("\(file): not UTF-8 text") }
            if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
            let records = try CSV.records(in: text, file: file)
            guard let header = records.first else { throw CLIError("\(file): empty; the first line must be the header sku,delta[,reason]") }

            var columns: [String: Int] = [:]
            for (index, name) in header.fields.enumerated() {
                let column = name.trimmingCharacters(in: .whitespaces).lowercased()
                guard ["sku", "delta", "reason"].contains(column) else {
                    throw CLIError("\(file):\(header.line): unknown column '\(name)'; the header must be sku,delta[,reason]")
                }
                guard columns.updateValue(index, forKey: column) == nil else {
                    throw CLIError("\(file):\(header.line): column '\(column)' appears twice")
                }
            }
            guard let skuColumn = columns["sku"], let deltaColumn = columns["delta"] else {
                throw CLIError("\(file):\(header.line): the header must name the columns sku and delta (and optionally reason)")
            }
            let reasonColumn = columns["reason"]

            var rows: [Row] = []
            for record in records.dropFirst() {
                func problem(_ text: String) -> CLIError { CLIError("\(file):\(record.line): \(text)") }
                guard record.fields.count == header.fields.count else {
                    throw problem("expected \(header.fields.count) fields, found \(record.fields.count)")
                }
                let sku = record.fields[skuColumn].trimmingCharacters(in: .whitespaces)
                if let text = nameProblem(sku, "the sku") { throw problem(text) }
                let deltaText = record.fields[deltaColumn].trimmingCharacters(in: .whitespaces)
                guard let delta = Int64(deltaText) else { throw problem("the delta '\(deltaText)' is not a whole number") }
                if let text = deltaProblem(delta, "the delta") { throw problem(text) }
                let reason = reasonColumn.map { record.fields[$0].trimmingCharacters(in: .whitespaces) } ?? ""
                guard reason.count <= 256 else { throw problem("the reason is longer than 256 characters") }

                var adjustment = Parley_V1_InventoryAdjustment()
                adjustment.sku = sku
                adjustment.delta = delta
                adjustment.reason = reason
                rows.append(Row(line: record.line, adjustment: adjustment))
            }
            guard !rows.isEmpty else { throw CLIError("\(file): no rows after the header; nothing to import") }
            return rows
        }
    }

    /// RFC 4180 CSV: fields separated by commas, records by LF or CRLF;
    /// a quoted field may hold commas, line breaks and `""` for a quote.
    enum CSV {
        /// A record and the line it starts on (1-based).
        struct Record {
            let line: Int
            let fields: [String]
        }

        /// Every record of `text`, blank lines left out.
        static func records(in text: String, file: String) throws -> [Record] {
            var records: [Record] = []
            var fields: [String] = []
            var field = String.UnicodeScalarView()
            var line = 1
            var recordLine = 1
            var inQuotes = false
            var afterClosingQuote = false
            var recordHasQuotes = false

            var scalars = text.unicodeScalars.makeIterator()
            var pushedBack: Unicode.Scalar?
            func next() -> Unicode.Scalar? {
                if let scalar = pushedBack {
                    pushedBack = nil
                    return scalar
                }
                return scalars.next()
            }
            func endField() {
                fields.append(String(field))
                field = String.UnicodeScalarView()
                afterClosingQuote = false
            }
            func endRecord() {
                endField()
                let blank = !recordHasQuotes && fields.count == 1 && fields[0].allSatisfy(\.isWhitespace)
                if !blank { records.append(Record(line: recordLine, fields: fields)) }
                fields = []
                recordHasQuotes = false
            }

            while let scalar = next() {
                if inQuotes {
                    if scalar == "\"" {
                        let following = next()
                        if following == "\"" {
                            field.append("\"")
                        } else {
                            inQuotes = false
                            afterClosingQuote = true
                            pushedBack = following
                        }
                    } else {
                        if scalar == "\n" { line += 1 }
                        field.append(scalar)
                    }
                    continue
                }
                switch scalar {
                case ",":
                    endField()
                case "\r", "\n":
                    if scalar == "\r" {
                        let following = next()
                        if following != "\n" { pushedBack = following }
                    }
                    endRecord()
                    line += 1
                    recordLine = line
                case "\"":
                    // An opening quote may follow spaces only; a quote inside an unquoted field is an error.
                    guard !afterClosingQuote, field.allSatisfy({ $0 == " " || $0 == "\t" }) else {
                        throw CLIError("\(file):\(line): a quote inside a field; quote the whole field and write a quote as \"\"")
                    }
                    field = String.UnicodeScalarView()
                    inQuotes = true
                    recordHasQuotes = true
                default:
                    if afterClosingQuote {
                        guard scalar == " " || scalar == "\t" else {
                            throw CLIError("\(file):\(line): text after a closing quote; quote the whole field and write a quote as \"\"")
                        }
                    } else {
                        field.append(scalar)
                    }
                }
            }
            if inQuotes { throw CLIError("\(file):\(recordLine): a quoted field is never closed") }
            if !field.isEmpty || !fields.isEmpty || recordHasQuotes { endRecord() }
            return records
        }
    }

    /// FNV-1a, 64 bits: a stable, dependency-free fingerprint for deriving
    /// idempotency keys (not a cryptographic hash; the daemon still compares
    /// request digests, so a collision is refused, never silently replayed).
    struct FNV1a64 {
        private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

        mutating func add(_ bytes: Data) {
            for byte in bytes {
                value ^= UInt64(byte)
                value &*= 0x0000_0100_0000_01b3
            }
        }

        /// 16 lower-case hexadecimal digits.
        var hex: String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
    }
}

// MARK: - Availability and reservations

extension Parley.Warehouse {
    /// `parley warehouse availability MERCHANT:SKU...`.
    struct Availability: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Free units of SKUs right now (roles agent, merchant).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Items as MERCHANT:SKU.") var items: [String]
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if items.isEmpty { throw ValidationError("give at least one MERCHANT:SKU") }
            for item in items { _ = try ItemRef(item, withQuantity: false) }
        }

        func run() async throws {
            var request = Parley_V1_GetAvailabilityRequest()
            request.items = try items.map { text in
                let item = try ItemRef(text, withQuantity: false)
                var ref = Parley_V1_SkuRef()
                ref.merchant = item.merchant
                ref.sku = item.sku
                return ref
            }
            let response = try await call("GetAvailability", request, as: Parley_V1_GetAvailabilityResponse.self, connection)
            if json {
                try printJSON(response.items.map(JSON.Availability.init))
                return
            }
            var table = Table(.left("merchant"), .left("sku"), .right("free"))
            for item in response.items { table.append([item.merchant, item.sku, item.known ? "\(item.free)" : "unknown"]) }
            table.print()
        }
    }

    /// `parley warehouse reserve MERCHANT:SKU:QTY...`: exit code 2 on a shortage.
    struct Reserve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hold units of one or more SKUs, every line or none (role agent).",
            discussion: "Exits with code 2 when some line cannot be held; nothing is held then."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var idempotency: IdempotencyOptions
        @Argument(help: "Lines as MERCHANT:SKU:QTY.") var lines: [String]
        @Option(help: "How long to hold, in seconds; default: the merchants' window (30 minutes unless configured).") var holdSeconds: UInt32?
        @Option(help: "Your reference (an order id), echoed back.") var reference = ""
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if lines.isEmpty { throw ValidationError("give at least one MERCHANT:SKU:QTY") }
            for line in lines { _ = try ItemRef(line, withQuantity: true) }
            if holdSeconds == 0 { throw ValidationError("--hold-seconds must be positive; leave it out for the merchants' window") }
            if reference.count > 128 { throw ValidationError("--reference is longer than 128 characters") }
        }

        func run() async throws {
            var request = Parley_V1_ReserveInventoryRequest()
            request.lines = try lines.map { text in
                let item = try ItemRef(text, withQuantity: true)
                var line = Parley_V1_ReservationLine()
                line.merchant = item.merchant
                line.sku = item.sku
                line.quantity = item.quantity ?? 0
                return line
            }
            request.holdSeconds = holdSeconds ?? 0
            request.reference = reference
            let response = try await call(
                "ReserveInventory", request, as: Parley_V1_ReserveInventoryResponse.self, connection, options: idempotency.callOptions
            )
            switch response.outcome {
            case .reservation(let reservation):
                if json {
                    try printJSON(JSON.ReserveOutcome(outcome: "reserved", reservation: JSON.Reservation(reservation), shortage: nil))
                } else {
                    printReservation(reservation)
                }
            case .shortage(let shortage):
                if json {
                    try printJSON(JSON.ReserveOutcome(outcome: "shortage", reservation: nil, shortage: shortage.lines.map(JSON.ShortageLine.init)))
                } else {
                    print("could not hold \(shortage.lines.count) of \(lines.count) lines, so nothing was held:")
                    var table = Table(.right("line"), .left("merchant"), .left("sku"), .right("requested"), .right("free"))
                    for line in shortage.lines {
                        table.append(["\(line.line + 1)", line.merchant, line.sku, "\(line.requested)", "\(line.free)"])
                    }
                    table.print()
                }
                throw ExitCode(2)
            case nil:
                throw CLIError("the daemon answered with neither a reservation nor a shortage")
            }
        }
    }

    /// `parley warehouse extend ID`.
    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a held reservation's expiry (its owner).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var idempotency: IdempotencyOptions
        @Argument(help: "The reservation id.") var id: String
        @Option(help: "The new window, counted from now, in seconds; default: the merchants' window.") var holdSeconds: UInt32?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if id.isEmpty { throw ValidationError("the reservation id is empty") }
            if holdSeconds == 0 { throw ValidationError("--hold-seconds must be positive; leave it out for the merchants' window") }
        }

        func run() async throws {
            var request = Parley_V1_ExtendReservationRequest()
            request.id = id
            request.holdSeconds = holdSeconds ?? 0
            let reservation = try await call(
                "ExtendReservation", request, as: Parley_V1_Reservation.self, connection, options: idempotency.callOptions
            )
            try showReservation(reservation, json: json)
        }
    }

    /// What every single-reservation command takes: where, which, how to print.
    struct ReservationTarget: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The reservation id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if id.isEmpty { throw ValidationError("the reservation id is empty") }
        }

        func show(_ reservation: Parley_V1_Reservation) throws {
            try showReservation(reservation, json: json)
        }
    }

    /// `parley warehouse confirm ID`.
    struct Confirm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn a held reservation's units into sold ones (its owner).")
        @OptionGroup var target: ReservationTarget
        @OptionGroup var idempotency: IdempotencyOptions

        func run() async throws {
            var request = Parley_V1_ConfirmReservationRequest()
            request.id = target.id
            try await target.show(call("ConfirmReservation", request, as: Parley_V1_Reservation.self, target.connection, options: idempotency.callOptions))
        }
    }

    /// `parley warehouse release ID`.
    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Free a held reservation's units (its owner).")
        @OptionGroup var target: ReservationTarget
        @OptionGroup var idempotency: IdempotencyOptions

        func run() async throws {
            var request = Parley_V1_ReleaseReservationRequest()
            request.id = target.id
            try await target.show(call("ReleaseReservation", request, as: Parley_V1_Reservation.self, target.connection, options: idempotency.callOptions))
        }
    }

    /// `parley warehouse get ID`.
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one reservation (its owner, a merchant it holds stock of, or admin).")
        @OptionGroup var target: ReservationTarget

        func run() async throws {
            var request = Parley_V1_GetReservationRequest()
            request.id = target.id
            try await target.show(call("GetReservation", request, as: Parley_V1_Reservation.self, target.connection))
        }
    }

    /// `parley warehouse list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List reservations, newest first: an agent's own, or those on a merchant's stock."
        )
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only reservations in this state (held, confirmed, released, expired).") var state: StateFilter?
        @Option(help: "At most this many (1...1000; default 100).") var limit: UInt32?
        @Flag(help: "Print JSON.") var json = false

        enum StateFilter: String, CaseIterable, ExpressibleByArgument {
            case held, confirmed, released, expired

            var wire: Parley_V1_ReservationState {
                switch self {
                case .held: .held
                case .confirmed: .confirmed
                case .released: .released
                case .expired: .expired
                }
            }
        }

        func validate() throws {
            if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be 1...1000") }
        }

        func run() async throws {
            var request = Parley_V1_ListReservationsRequest()
            request.state = state?.wire ?? .unspecified
            request.limit = limit ?? 0
            let response = try await call("ListReservations", request, as: Parley_V1_ListReservationsResponse.self, connection)
            if json {
                try printJSON(response.reservations.map(JSON.Reservation.init))
                return
            }
            if response.reservations.isEmpty {
                print("no reservations")
                return
            }
            let now = nowMilliseconds()
            var table = Table(.left("id"), .left("owner"), .left("state"), .left("lines"), .left("expires"))
            for reservation in response.reservations {
                var lines = reservation.lines.prefix(3).map { "\($0.merchant):\($0.sku) x\($0.quantity)" }.joined(separator: ", ")
                if reservation.lines.count > 3 { lines += ", +\(reservation.lines.count - 3) more" }
                table.append([reservation.id, reservation.owner, stateName(reservation.state), lines, expiry(of: reservation, now: now)])
            }
            table.print()
        }
    }
}

// MARK: - Inventory, audit, settings

extension Parley.Warehouse {
    /// `parley warehouse inventory [SKU...]`.
    struct Inventory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Per-SKU counters: your stock (merchant) or everyone's (admin).")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Only these SKUs (of your own stock); default: every SKU you can see.") var skus: [String] = []
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            for sku in skus { if let problem = nameProblem(sku, "SKU '\(sku)'") { throw ValidationError(problem) } }
        }

        func run() async throws {
            var request = Parley_V1_GetInventoryRequest()
            request.skus = skus
            let response = try await call("GetInventory", request, as: Parley_V1_GetInventoryResponse.self, connection)
            if json {
                try printJSON(response.inventory.map(JSON.Counters.init))
            } else if response.inventory.isEmpty {
                print(skus.isEmpty ? "no inventory" : "none of these SKUs has inventory")
            } else {
                printCounters(response.inventory)
            }
        }
    }

    /// `parley warehouse audit`: exit code 3 when the ledger does not balance.
    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check allocated = free + held + sold against the ledger (merchant: own stock; admin: all).",
            discussion: "Exits with code 3 when there are discrepancies."
        )
        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let response = try await call(
                "AuditInventory", Parley_V1_AuditInventoryRequest(), as: Parley_V1_AuditInventoryResponse.self, connection
            )
            let balances = response.discrepancies.isEmpty
            if json {
                try printJSON(JSON.Audit(response))
            } else {
                let summary: [(String, String)] = [
                    ("SKUs checked", "\(response.skus)"),
                    ("ledger entries", "\(response.ledgerEntries)"),
                    ("allocated", "\(response.allocated)"),
                    ("held", "\(response.held)"),
                    ("sold", "\(response.sold)"),
                    ("free", "\(response.free)"),
                ]
                for (label, value) in summary { print("\(label.padding(toLength: 16, withPad: " ", startingAt: 0))\(value)") }
                if balances {
                    print("ledger balances")
                } else {
                    let count = response.discrepancies.count
                    print("ledger does not balance: \(count) discrepanc\(count == 1 ? "y" : "ies")")
                    var table = Table(.left("merchant"), .left("sku"), .left("problem"))
                    for item in response.discrepancies { table.append([item.merchant, item.sku, item.problem]) }
                    table.print()
                }
            }
            if !balances { throw ExitCode(3) }
        }
    }

    /// `parley warehouse settings`: with no flag, shows the current settings.
    struct Settings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or change your reservation settings (role merchant).",
            discussion: "Without flags, prints the current settings and changes nothing."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var idempotency: IdempotencyOptions
        @Option(help: "The reservation window when a reservation asks for none, in seconds.") var defaultHoldSeconds: UInt32?
        @Option(help: "Most units of one SKU in one reservation (anti-hoarding).") var maxUnitsPerSku: UInt32?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            if defaultHoldSeconds == 0 { throw ValidationError("--default-hold-seconds must be positive; leave it out to keep it") }
            if maxUnitsPerSku == 0 { throw ValidationError("--max-units-per-sku must be positive; leave it out to keep it") }
        }

        func run() async throws {
            var request = Parley_V1_UpdateWarehouseSettingsRequest()
            request.defaultHoldSeconds = defaultHoldSeconds ?? 0
            request.maxUnitsPerSku = maxUnitsPerSku ?? 0
            let settings = try await call(
                "UpdateWarehouseSettings", request, as: Parley_V1_WarehouseSettings.self, connection, options: idempotency.callOptions
            )
            if json {
                try printJSON(JSON.Settings(settings))
                return
            }
            let changed = defaultHoldSeconds != nil || maxUnitsPerSku != nil
            print("\(changed ? "updated the" : "the") warehouse settings of \(settings.merchant):")
            print("  default hold   \(settings.defaultHoldSeconds) s (\(formatUptime(UInt64(settings.defaultHoldSeconds) * 1000)))")
            print("  max units/SKU  \(settings.maxUnitsPerSku)")
        }
    }
}

// MARK: - Shared pieces

extension Parley.Warehouse {
    /// `--idempotency-key` for mutating calls: a fresh key unless one is
    /// given, so repeating a command with the same key runs it at most once.
    struct IdempotencyOptions: ParsableArguments {
        @Option(name: .customLong("idempotency-key"), help: "Send this idempotency key (to retry safely); default: a fresh one.")
        var key: String?

        func validate() throws {
            if key?.isEmpty == true { throw ValidationError("--idempotency-key must not be empty") }
        }

        var callOptions: CallOptions { CallOptions(idempotencyKey: key ?? CallOptions.newIdempotencyKey()) }
    }

    /// A `MERCHANT:SKU` or `MERCHANT:SKU:QTY` argument, parsed strictly:
    /// exactly two or three `:`-separated parts, no empty part, and a
    /// positive whole quantity.
    struct ItemRef {
        let merchant: String
        let sku: String
        let quantity: Int64?

        init(_ text: String, withQuantity: Bool) throws {
            let form = withQuantity ? "MERCHANT:SKU:QTY" : "MERCHANT:SKU"
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == (withQuantity ? 3 : 2) else {
                throw ValidationError("'\(text)' is not \(form): expected \(withQuantity ? 3 : 2) parts separated by ':', found \(parts.count)")
            }
            if let problem = nameProblem(parts[0], "the merchant") { throw ValidationError("'\(text)': \(problem)") }
            if let problem = nameProblem(parts[1], "the SKU") { throw ValidationError("'\(text)': \(problem)") }
            merchant = parts[0]
            sku = parts[1]
            if withQuantity {
                guard let quantity = Int64(parts[2]), quantity > 0 else {
                    throw ValidationError("'\(text)': the quantity '\(parts[2])' must be a positive whole number")
                }
                self.quantity = quantity
            } else {
                quantity = nil
            }
        }
    }

    /// The JSON shapes of `--json`, field for field the responses (times in Unix milliseconds).
    enum JSON {
        struct Counters: Codable {
            let merchant: String
            let sku: String
            let allocated: Int64
            let held: Int64
            let sold: Int64
            let free: Int64

            init(_ wire: Parley_V1_SkuInventory) {
                merchant = wire.merchant
                sku = wire.sku
                allocated = wire.allocated
                held = wire.held
                sold = wire.sold
                free = wire.free
            }
        }

        struct Line: Codable {
            let merchant: String
            let sku: String
            let quantity: Int64
        }

        struct Reservation: Codable {
            let id: String
            let owner: String
            let reference: String
            let state: String
            let lines: [Line]
            let createdAtMs: Int64
            let expiresAtMs: Int64
            /// 0 while held.
            let closedAtMs: Int64

            init(_ wire: Parley_V1_Reservation) {
                id = wire.id
                owner = wire.owner
                reference = wire.reference
                state = stateName(wire.state)
                lines = wire.lines.map { Line(merchant: $0.merchant, sku: $0.sku, quantity: $0.quantity) }
                createdAtMs = wire.createdAtMs
                expiresAtMs = wire.expiresAtMs
                closedAtMs = wire.closedAtMs
            }
        }

        struct ShortageLine: Codable {
            /// Index into the request's lines, from 0.
            let lineIndex: UInt32
            let merchant: String
            let sku: String
            let requested: Int64
            let free: Int64

            init(_ wire: Parley_V1_LineShortage) {
                lineIndex = wire.line
                merchant = wire.merchant
                sku = wire.sku
                requested = wire.requested
                free = wire.free
            }
        }

        /// `outcome` is `reserved` (with `reservation`) or `shortage` (with `shortage`).
        struct ReserveOutcome: Codable {
            let outcome: String
            let reservation: Reservation?
            let shortage: [ShortageLine]?
        }

        struct Availability: Codable {
            let merchant: String
            let sku: String
            let known: Bool
            /// Absent when the SKU is unknown.
            let free: Int64?

            init(_ wire: Parley_V1_Availability) {
                merchant = wire.merchant
                sku = wire.sku
                known = wire.known
                free = wire.known ? wire.free : nil
            }
        }

        struct Discrepancy: Codable {
            let merchant: String
            let sku: String
            let problem: String
        }

        struct Audit: Codable {
            let balances: Bool
            let skus: UInt64
            let ledgerEntries: UInt64
            let allocated: Int64
            let held: Int64
            let sold: Int64
            let free: Int64
            let discrepancies: [Discrepancy]

            init(_ wire: Parley_V1_AuditInventoryResponse) {
                balances = wire.discrepancies.isEmpty
                skus = wire.skus
                ledgerEntries = wire.ledgerEntries
                allocated = wire.allocated
                held = wire.held
                sold = wire.sold
                free = wire.free
                discrepancies = wire.discrepancies.map { Discrepancy(merchant: $0.merchant, sku: $0.sku, problem: $0.problem) }
            }
        }

        struct Settings: Codable {
            let merchant: String
            let defaultHoldSeconds: UInt32
            let maxUnitsPerSku: UInt32

            init(_ wire: Parley_V1_WarehouseSettings) {
                merchant = wire.merchant
                defaultHoldSeconds = wire.defaultHoldSeconds
                maxUnitsPerSku = wire.maxUnitsPerSku
            }
        }

        struct ImportSummary: Codable {
            let file: String
            let merchant: String
            let rows: Int
            let skus: Int
            let batches: Int
            let batchSize: Int
            /// Batch N was sent with the key `<prefix>-N`.
            let idempotencyKeyPrefix: String
        }
    }
}

// MARK: - Helpers

/// A `parley.v1.Warehouse` method (the parley target does not link ParleyWarehouse).
private func path(_ method: String) -> MethodPath { MethodPath(service: "parley.v1.Warehouse", method: method) }

/// One unary call to `parley.v1.Warehouse` on a fresh client.
private func call<Request: SwiftProtobuf.Message & Sendable, Response: SwiftProtobuf.Message & Sendable>(
    _ method: String,
    _ request: Request,
    as response: Response.Type,
    _ connection: ConnectionOptions,
    options: CallOptions = .defaults
) async throws -> Response {
    try await withClient(connection) { client in
        try await client.unary(path(method), request, as: response, options: options)
    }
}

/// Why `value` cannot be a merchant or SKU name (the daemon's rules), or nil.
private func nameProblem(_ value: String, _ what: String) -> String? {
    if value.isEmpty { return "\(what) is empty" }
    if value.utf8.count > 128 { return "\(what) is longer than 128 bytes" }
    if value.contains(where: { $0.isNewline || $0 == "\u{0}" }) { return "\(what) contains a line break or NUL" }
    if value.first!.isWhitespace || value.last!.isWhitespace { return "\(what) '\(value)' starts or ends with a space" }
    return nil
}

/// Why `delta` cannot be an adjustment (the daemon's rules), or nil.
private func deltaProblem(_ delta: Int64, _ what: String) -> String? {
    if delta == 0 { return "\(what) is 0; give units to add (positive) or remove (negative)" }
    if delta.magnitude > 1_000_000_000 { return "\(what) \(delta) is more than 1000000000 units at once" }
    return nil
}

private func stateName(_ state: Parley_V1_ReservationState) -> String {
    switch state {
    case .held: "held"
    case .confirmed: "confirmed"
    case .released: "released"
    case .expired: "expired"
    case .unspecified: "unspecified"
    case .UNRECOGNIZED(let value): "state \(value)"
    }
}

private func nowMilliseconds() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

/// `2025-01-31T12:00:00Z`.
func iso8601(_ milliseconds: Int64) -> String {
    Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000).formatted(.iso8601)
}

/// `in 29m59s` or `3m2s ago`.
private func relative(_ milliseconds: Int64, now: Int64) -> String {
    milliseconds >= now ? "in \(formatUptime(UInt64(milliseconds - now)))" : "\(formatUptime(UInt64(now - milliseconds))) ago"
}

/// When a reservation expires: with the time left while it is held.
private func expiry(of reservation: Parley_V1_Reservation, now: Int64) -> String {
    let time = iso8601(reservation.expiresAtMs)
    return reservation.state == .held ? "\(time) (\(relative(reservation.expiresAtMs, now: now)))" : time
}

/// Prints a reservation as JSON or readably.
private func showReservation(_ reservation: Parley_V1_Reservation, json: Bool) throws {
    if json {
        try printJSON(Parley.Warehouse.JSON.Reservation(reservation))
    } else {
        printReservation(reservation)
    }
}

/// Prints a reservation: id and state, owner, reference, times, lines.
private func printReservation(_ reservation: Parley_V1_Reservation) {
    let now = nowMilliseconds()
    print("reservation \(reservation.id)  \(stateName(reservation.state))")
    var fields: [(String, String)] = [("owner", reservation.owner)]
    if !reservation.reference.isEmpty { fields.append(("reference", reservation.reference)) }
    fields.append(("created", iso8601(reservation.createdAtMs)))
    fields.append(("expires", expiry(of: reservation, now: now)))
    if reservation.closedAtMs != 0 { fields.append(("closed", iso8601(reservation.closedAtMs))) }
    for (label, value) in fields { print("  \(label.padding(toLength: 10, withPad: " ", startingAt: 0)) \(value)") }
    var table = Table(.left("merchant"), .left("sku"), .right("quantity"))
    for line in reservation.lines { table.append([line.merchant, line.sku, "\(line.quantity)"]) }
    for line in table.lines() { print("  \(line)") }
}

/// Prints per-SKU counters as a table.
private func printCounters(_ inventory: [Parley_V1_SkuInventory]) {
    var table = Table(.left("merchant"), .left("sku"), .right("allocated"), .right("held"), .right("sold"), .right("free"))
    for item in inventory {
        table.append([item.merchant, item.sku, "\(item.allocated)", "\(item.held)", "\(item.sold)", "\(item.free)"])
    }
    table.print()
}

/// Progress and notes for the operator, on standard error.
func printToStandardError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
