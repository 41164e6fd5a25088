import ArgumentParser
import Foundation
import ParleyClient
import ParleyProtos
import ParleyWire
import SwiftProtobuf

/// Reads a protobuf message from a file in JSON, or YAML by its extension
/// (see ``MessageFile``), naming the file in errors.
func readMessage<M: SwiftProtobuf.Message>(_ type: M.Type, from path: String, yaml: Bool = false) throws -> M {
    try MessageFile(path: path, yaml: yaml).read(type)
}

/// Prints a message as JSON (proto field names).
func printMessageJSON(_ message: some SwiftProtobuf.Message) throws {
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    print(try message.jsonString(options: options))
}

/// `12.34 USD`, with the currency's own number of minor digits (``CurrencyDigits``).
func formatMoney(_ money: Parley_V1_Money) -> String {
    let digits = CurrencyDigits.minorUnitDigits(money.currency)
    let sign = money.minorUnits < 0 ? "-" : ""
    let magnitude = money.minorUnits.magnitude
    guard digits > 0 else { return "\(sign)\(magnitude) \(money.currency)" }
    let scale = UInt64(pow(10, Double(digits)))
    let fraction = String(magnitude % scale)
    return "\(sign)\(magnitude / scale).\(String(repeating: "0", count: digits - fraction.count) + fraction) \(money.currency)"
}

extension Parley {
    /// `parley merchant ...`: a merchant's configuration (role merchant).
    struct Merchant: AsyncParsableCommand {
        static func method(_ name: String) -> MethodPath { MethodPath(service: "parley.v1.Merchant", method: name) }
        static let configuration = CommandConfiguration(
            abstract: "A merchant's configuration: shipping, tax, payment, plug-ins, fraud rules, coupon issuers.",
            subcommands: [Apply.self, Show.self]
        )

        struct Apply: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Validate and apply a configuration (a MerchantConfiguration in JSON, or YAML of the same shape)."
            )
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The configuration file: .json, .yaml or .yml; - reads standard input.") var file: String
            @Flag(help: "Read the file (or standard input) as YAML whatever its name.") var yaml = false
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                var request = Parley_V1_ApplyConfigurationRequest()
                request.configuration = try readMessage(Parley_V1_MerchantConfiguration.self, from: file, yaml: yaml)
                let applied = try await withClient(connection) { client in
                    try await client.unary(
                        Merchant.method("ApplyConfiguration"),
                        request,
                        as: Parley_V1_MerchantConfiguration.self,
                        options: CallOptions(idempotencyKey: CallOptions.newIdempotencyKey())
                    )
                }
                if json { return try printMessageJSON(applied) }
                print(
                    "applied the configuration of \(applied.merchant): \(applied.currency), \(applied.shipping.services.count) shipping services, "
                        + "\(applied.tax.rules.isEmpty ? "sample tax tables" : "\(applied.tax.rules.count) tax rules"), "
                        + "\(applied.acceptedPaymentKinds.count) payment kinds, \(applied.fraudRules.count) fraud rules, "
                        + "\(applied.couponIssuers.count) coupon issuers"
                )
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print the configuration in force (JSON).")
            @OptionGroup var connection: ConnectionOptions
            @Option(help: "The merchant (admin only; default: the caller).") var merchant = ""

            func run() async throws {
                var request = Parley_V1_GetConfigurationRequest()
                request.merchant = merchant
                let configuration = try await withClient(connection) { client in
                    try await client.unary(
                        Merchant.method("GetConfiguration"),
                        request,
                        as: Parley_V1_MerchantConfiguration.self
                    )
                }
                try printMessageJSON(configuration)
            }
        }
    }

    /// `parley catalog ...`: a merchant's catalog.
    struct Catalog: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A merchant's catalog.", subcommands: [Import.self])

        struct Import: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Add or replace catalog items from a CSV file, 1000 items per call.",
                discussion: """
                    Columns (a header row is required, in this order): sku, title, item_class, \
                    unit_price_minor, currency, weight_grams, hazmat_class, tax_category, \
                    max_quantity_per_order, payment_kinds, price_tiers. payment_kinds is a list \
                    separated by ';' (card;purchase_order; empty = any); price_tiers is \
                    'min_quantity:unit_price_minor' separated by ';'. Quote a field that contains a comma. \
                    Each batch is sent with its own idempotency key: re-running the same file is safe.
                    """
            )
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The CSV file.") var file: String

            func run() async throws {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CLIError("cannot read \(file)") }
                let items = try Self.parse(text, file: file)
                guard !items.isEmpty else { throw CLIError("\(file) has no items") }
                var imported = 0
                var size: Int64 = 0
                try await withClient(connection) { client in
                    for (batch, start) in stride(from: 0, to: items.count, by: 1000).enumerated() {
                        var request = Parley_V1_ImportCatalogRequest()
                        request.items = Array(items[start..<min(start + 1000, items.count)])
                        // The key depends on the batch's content, so a re-run replays it.
                        var digest = Parley.Warehouse.FNV1a64()
                        digest.add(try request.serializedData())
                        let response = try await client.unary(
                            Merchant.method("ImportCatalog"),
                            request,
                            as: Parley_V1_ImportCatalogResponse.self,
                            options: CallOptions(idempotencyKey: "catalog-import-\(batch)-\(digest.hex)")
                        )
                        imported += Int(response.imported)
                        size = response.catalogSize
                        FileHandle.standardError.write(Data("imported \(imported)/\(items.count)\r".utf8))
                    }
                }
                FileHandle.standardError.write(Data("\n".utf8))
                print("imported \(imported) items; the catalog has \(size)")
            }

            static func parse(_ text: String, file: String) throws -> [Parley_V1_CatalogItem] {
                var text = text
                if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
                // The warehouse feed's CSV reader: quoted fields, and each record's own line number.
                let records = try Parley.Warehouse.CSV.records(in: text, file: file)
                guard let header = records.first else { return [] }
                let expected = "sku,title,item_class,unit_price_minor,currency,weight_grams,hazmat_class,tax_category,max_quantity_per_order,payment_kinds,price_tiers"
                guard header.fields.map({ $0.trimmingCharacters(in: .whitespaces) }).joined(separator: ",") == expected else {
                    throw CLIError("\(file):\(header.line): the header must be \(expected)")
                }
                let kinds: [String: Parley_V1_PaymentKind] = [
                    "card": .card, "gift_certificate": .giftCertificate, "prepaid_account": .prepaidAccount, "purchase_order": .purchaseOrder,
                ]
                return try records.dropFirst().map { record in
                    let line = record.line
                    let cells = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
                    guard cells.count == 11 else { throw CLIError("\(file):\(line): 11 columns expected, found \(cells.count)") }
                    func integer(_ index: Int, _ name: String) throws -> Int64 {
                        if cells[index].isEmpty { return 0 }
                        guard let value = Int64(cells[index]) else { throw CLIError("\(file):\(line): \(name) '\(cells[index])' is not a whole number") }
                        return value
                    }
                    var item = Parley_V1_CatalogItem()
                    item.sku = cells[0]
                    item.title = cells[1]
                    item.itemClass = cells[2]
                    item.unitPrice.minorUnits = try integer(3, "unit_price_minor")
                    item.unitPrice.currency = cells[4]
                    item.weightGrams = try integer(5, "weight_grams")
                    item.hazmatClass = cells[6]
                    item.taxCategory = cells[7]
                    item.maxQuantityPerOrder = try integer(8, "max_quantity_per_order")
                    item.paymentKinds = try cells[9].split(separator: ";").map { name in
                        guard let kind = kinds[String(name)] else { throw CLIError("\(file):\(line): unknown payment kind '\(name)'") }
                        return kind
                    }
                    item.priceTiers = try cells[10].split(separator: ";").map { tier in
                        let parts = tier.split(separator: ":")
                        guard parts.count == 2, let quantity = Int64(parts[0]), let price = Int64(parts[1]) else {
                            throw CLIError("\(file):\(line): a price tier is min_quantity:unit_price_minor, not '\(tier)'")
                        }
                        var wire = Parley_V1_PriceTier()
                        wire.minQuantity = quantity
                        wire.unitPrice.minorUnits = price
                        wire.unitPrice.currency = cells[4]
                        return wire
                    }
                    return item
                }
            }
        }
    }
}
