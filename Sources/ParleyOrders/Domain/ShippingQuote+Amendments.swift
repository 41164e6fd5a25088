extension ShippingQuote {
    /// The amendments for the order acceptance response.
    ///
    /// - When a method was chosen, each more preferred method the client listed that
    ///   was refused gets a notice at `methodsPath[i]` with its reasons.
    /// - When none was, one blocking amendment at `methodsPath` whose code is the
    ///   first refusal of the client's first method (`SHIPPING_HAZMAT`,
    ///   `SATURDAY_UNAVAILABLE`, `SHIPPING_UNAVAILABLE`) and whose menu is
    ///   ``alternatives``: each replaces `methodsPath[0]` with the method id and,
    ///   when the day differs, `deliveryPath` with the new day as `YYYY-MM-DD` (UTC).
    /// - When nothing at all can ship the order, `NOT_SHIPPABLE` with the explanation.
    public func amendments(methodsPath: String = "shipping_methods", deliveryPath: String = "requested_delivery_ms") -> [Amendment] {
        if let chosen {
            var notices = [Amendment]()
            // The client's methods before the chosen one were refused.
            for (index, quote) in requested.enumerated() {
                guard quote.charge == nil else { break }
                notices.append(Amendment(
                    path: "\(methodsPath)[\(index)]",
                    code: quote.refusals.first?.code ?? .shippingUnavailable,
                    message: quote.refusals.map(\.message).joined(separator: "; ") + "; \(chosen.description) chosen instead",
                    isBlocking: false
                ))
            }
            return notices
        }
        guard !alternatives.isEmpty else {
            return [Amendment(path: methodsPath, code: .notShippable, message: explanation)]
        }
        let firstRefusal = requested.first?.refusals.first
        let menu = alternatives.map { option in
            var replacements = [Amendment.Replacement(path: "\(methodsPath)[0]", value: .text(option.method.id))]
            if let day = option.deliveryMilliseconds, day != requestedDeliveryMilliseconds {
                replacements.append(.init(path: deliveryPath, value: .text(Weekday.isoDate(unixMilliseconds: day))))
            }
            return Amendment.Alternative(description: option.description, replacements: replacements, priceDifference: option.priceDifference)
        }
        let message = requested.isEmpty
            ? "no shipping method was given"
            : requested.flatMap(\.refusals).map(\.message).uniqued().joined(separator: "; ")
        return [Amendment(
            path: methodsPath,
            code: firstRefusal?.code ?? .shippingUnavailable,
            message: message,
            alternatives: menu
        )]
    }
}

extension Array where Element: Hashable {
    /// The elements in order, without repeats.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
