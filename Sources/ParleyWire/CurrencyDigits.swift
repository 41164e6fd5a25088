/// How many decimal digits an ISO 4217 currency's minor unit has, as a
/// `Money` on the wire counts it (`minor_units`): 0 for JPY, KRW and the
/// other currencies without a minor unit, 3 for BHD, JOD, KWD, OMR, TND,
/// IQD and LYD, 2 for every other. The daemon and the CLI read amounts with
/// this one table, so an amount is never shown with the wrong scale.
public enum CurrencyDigits {
    public static func minorUnitDigits(_ currency: String) -> Int {
        switch currency {
        case "JPY", "KRW", "CLP", "ISK", "VND", "XAF", "XOF", "UGX", "PYG": 0
        case "BHD", "JOD", "KWD", "OMR", "TND", "IQD", "LYD": 3
        default: 2
        }
    }
}
