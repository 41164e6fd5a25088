import Crypto
import Foundation
import ParleyProtos
import ParleyWarehouse

/// A quote id: what Negotiate promised, signed by the server so that Capture
/// can trust it without a stored row. `q1.<payload>.<mac>` in base64url, the
/// payload binding the agent, merchant, order id and lines to the quote's
/// expiry and its reservation (if inventory was held on quote), the MAC an
/// HMAC-SHA256 under a server secret (`orders_secret` `quote_key`).
struct QuoteToken: Sendable, Hashable {
    var agent: String
    var merchant: String
    var orderID: String
    /// SHA-256 (first 16 bytes, hex) of the lines' SKUs and quantities.
    var linesDigest: String
    var expiresAtMilliseconds: Int64
    var reservationID: String
    /// The held lines (for the inventory plug-in at capture).
    var holds: [ReservationLineRequest]

    static let prefix = "q1."

    /// The digest of a request's lines, in order.
    static func linesDigest(_ lines: [Parley_V1_OrderLineRequest]) -> String {
        var hasher = SHA256()
        for line in lines {
            // Length-prefixed, so that no two line lists hash the same bytes.
            let sku = Array(line.sku.utf8)
            withUnsafeBytes(of: Int64(sku.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: sku)
            withUnsafeBytes(of: line.quantity.littleEndian) { hasher.update(bufferPointer: $0) }
        }
        return Hex.encode(hasher.finalize().prefix(16))
    }

    func encoded(key: SymmetricKey) -> String {
        let fields = [agent, merchant, orderID, linesDigest, String(expiresAtMilliseconds), reservationID]
            + holds.map { "\($0.sku)\u{1E}\($0.quantity)" }
        let payload = Array(fields.joined(separator: "\u{1F}").utf8)
        let mac = HMAC<SHA256>.authenticationCode(for: payload, using: key)
        return Self.prefix + Base64URL.encode(payload) + "." + Base64URL.encode(Array(mac))
    }

    /// The token `text` stands for, if the server signed it; nil otherwise.
    static func decode(_ text: String, key: SymmetricKey) -> QuoteToken? {
        guard text.hasPrefix(prefix) else { return nil }
        let parts = text.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URL.decode(parts[0]), let mac = Base64URL.decode(parts[1]),
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: payload, using: key)
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 6, let expires = Int64(fields[4]) else { return nil }
        var holds: [ReservationLineRequest] = []
        for field in fields.dropFirst(6) {
            let pair = field.split(separator: "\u{1E}")
            guard pair.count == 2, let quantity = Int64(pair[1]) else { return nil }
            holds.append(ReservationLineRequest(merchant: fields[1], sku: String(pair[0]), quantity: quantity))
        }
        return QuoteToken(
            agent: fields[0], merchant: fields[1], orderID: fields[2], linesDigest: fields[3],
            expiresAtMilliseconds: expires, reservationID: fields[5], holds: holds
        )
    }
}
