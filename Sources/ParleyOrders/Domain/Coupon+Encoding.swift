/// The canonical coupon payload, version 1: the exact bytes an issuer signs.
///
/// UTF-8 text of eleven lines, each ending in `\n` (0x0A), in this order:
///
/// ```
/// parley-coupon/1
/// issuer=<id>
/// serial=<serial>
/// merchant=<merchant id or *>
/// skus=<sku>,<sku>,...                  (empty: no SKU scope)
/// item_classes=<class>,<class>,...      (empty: no class scope)
/// discount=percent:<basis points>  |  discount=amount:<minor units>:<CURRENCY>
/// min_order=<minor units>:<CURRENCY>    (empty: no minimum)
/// expires_at_ms=<Unix milliseconds>
/// holder=email:<lower-cased address>  |  holder=buyer:<id>  |  holder=   (unbound)
/// ```
///
/// - Every text value is percent-encoded: each byte outside `A-Z a-z 0-9 - . _ ~ @ +`
///   is written `%XX` with upper-case hex (so `,` `:` `=` and newlines never appear raw).
/// - List items are encoded first, then sorted by their encoded bytes, without duplicates.
/// - Integers are decimal ASCII, `-` only for negatives, no leading zeros or `+`.
/// - The e-mail holder is lower-cased (ASCII) before encoding.
///
/// The first line separates coupon signatures from every other Ed25519 use of the
/// same key. A decoder accepts a payload only if re-encoding what it read gives
/// the same bytes, so one coupon has exactly one payload.
///
/// The text form of a signed coupon is `base64url(payload) + "." + base64url(signature)`,
/// unpadded (RFC 4648 §5), the signature being Ed25519 over the payload bytes.
public enum CouponEncoding {
    /// The first line of every version-1 payload.
    public static let versionLine = "parley-coupon/1"
    /// The longest text form accepted, in bytes; longer input is refused unread.
    public static let maximumTextLength = 8_192

    /// The canonical payload bytes of `coupon` (after ``Coupon/validate()``).
    public static func payload(_ coupon: Coupon) throws(OrdersError) -> [UInt8] {
        try coupon.validate()
        func list(_ values: Set<String>) -> String {
            values.map(PercentEncoding.encode).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.joined(separator: ",")
        }
        func money(_ value: Money) -> String { "\(value.minorUnits):\(value.currency.rawValue)" }
        let discount = switch coupon.discount {
        case .percent(let basisPoints): "percent:\(basisPoints)"
        case .amount(let amount): "amount:" + money(amount)
        }
        let holder = switch coupon.holder {
        case nil: ""
        case .email(let email): "email:" + PercentEncoding.encode(asciiLowercased(email))
        case .buyer(let buyer): "buyer:" + PercentEncoding.encode(buyer)
        }
        let lines = [
            versionLine,
            "issuer=" + PercentEncoding.encode(coupon.issuer),
            "serial=" + PercentEncoding.encode(coupon.serial),
            "merchant=" + PercentEncoding.encode(coupon.merchant),
            "skus=" + list(coupon.skus),
            "item_classes=" + list(coupon.itemClasses),
            "discount=" + discount,
            "min_order=" + (coupon.minimumOrder.map(money) ?? ""),
            "expires_at_ms=\(coupon.expiresAtMilliseconds)",
            "holder=" + holder,
        ]
        return Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// Reads a canonical payload; throws `INVALID_ARGUMENT` naming the field for
    /// anything malformed or not canonical.
    public static func coupon(fromPayload payload: [UInt8]) throws(OrdersError) -> Coupon {
        guard let text = String(validating: payload, as: UTF8.self) else { throw malformed("payload", "not UTF-8") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.last == "" else { throw malformed("payload", "must end with a newline") }
        lines.removeLast()
        let names = ["issuer", "serial", "merchant", "skus", "item_classes", "discount", "min_order", "expires_at_ms", "holder"]
        guard lines.count == names.count + 1, lines[0] == versionLine else { throw malformed("payload", "not a \(versionLine) payload") }
        var fields = [String: Substring]()
        for (name, line) in zip(names, lines.dropFirst()) {
            guard line.hasPrefix(name + "=") else { throw malformed(name, "expected field '\(name)'") }
            fields[name] = line.dropFirst(name.count + 1)
        }
        func decoded(_ name: String) throws(OrdersError) -> String {
            guard let value = PercentEncoding.decode(fields[name]!) else { throw malformed(name, "bad percent-encoding") }
            return value
        }
        func list(_ name: String) throws(OrdersError) -> Set<String> {
            let raw = fields[name]!
            guard !raw.isEmpty else { return [] }
            var values = Set<String>()
            for item in raw.split(separator: ",", omittingEmptySubsequences: false) {
                guard let value = PercentEncoding.decode(item) else { throw malformed(name, "bad percent-encoding") }
                values.insert(value)
            }
            return values
        }
        func money(_ raw: Substring, _ name: String) throws(OrdersError) -> Money {
            let parts = raw.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let minor = Int64(parts[0]), let currency = CurrencyCode(rawValue: String(parts[1])) else {
                throw malformed(name, "expected <minor units>:<CURRENCY>")
            }
            return Money(minorUnits: minor, currency: currency)
        }

        let discountField = fields["discount"]!
        let discount: CouponDiscount
        if discountField.hasPrefix("percent:"), let basisPoints = Int64(discountField.dropFirst("percent:".count)) {
            discount = .percent(basisPoints: basisPoints)
        } else if discountField.hasPrefix("amount:") {
            discount = .amount(try money(discountField.dropFirst("amount:".count), "discount"))
        } else {
            throw malformed("discount", "expected percent:<bp> or amount:<minor>:<CURRENCY>")
        }
        let minimumField = fields["min_order"]!
        let minimum: Money? = minimumField.isEmpty ? nil : try money(minimumField, "min_order")
        guard let expires = Int64(fields["expires_at_ms"]!) else { throw malformed("expires_at_ms", "expected an integer") }
        let holderField = fields["holder"]!
        let holder: CouponHolder?
        if holderField.isEmpty {
            holder = nil
        } else if holderField.hasPrefix("email:"), let email = PercentEncoding.decode(holderField.dropFirst(6)) {
            holder = .email(email)
        } else if holderField.hasPrefix("buyer:"), let buyer = PercentEncoding.decode(holderField.dropFirst(6)) {
            holder = .buyer(buyer)
        } else {
            throw malformed("holder", "expected email:<address>, buyer:<id> or nothing")
        }

        let coupon = Coupon(
            issuer: try decoded("issuer"), serial: try decoded("serial"), merchant: try decoded("merchant"),
            skus: try list("skus"), itemClasses: try list("item_classes"),
            discount: discount, minimumOrder: minimum, expiresAtMilliseconds: expires, holder: holder
        )
        let canonical: [UInt8]
        do throws(OrdersError) { canonical = try self.payload(coupon) } catch { throw .invalid(error.field ?? "coupon.payload", "malformed coupon: \(error.message)") }
        guard canonical == payload else { throw malformed("payload", "not in canonical form") }
        return coupon
    }

    /// Splits a text form into payload and signature bytes.
    static func split(_ text: String) throws(OrdersError) -> (payload: [UInt8], signature: [UInt8]) {
        guard text.utf8.count <= maximumTextLength else { throw malformed("text", "longer than \(maximumTextLength) bytes") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decode(parts[0]), let signature = Base64URL.decode(parts[1]) else {
            throw malformed("text", "expected base64url(payload).base64url(signature)")
        }
        guard signature.count == 64 else { throw malformed("signature", "an Ed25519 signature is 64 bytes") }
        return (payload, signature)
    }

    /// The text form of signed payload bytes.
    static func text(payload: [UInt8], signature: some Collection<UInt8>) -> String {
        Base64URL.encode(payload) + "." + Base64URL.encode(signature)
    }

    static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    private static func malformed(_ field: String, _ message: String) -> OrdersError {
        .invalid("coupon.\(field)", "malformed coupon: \(message)")
    }
}
