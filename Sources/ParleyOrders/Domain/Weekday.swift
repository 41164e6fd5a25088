/// A day of the week, computed in UTC from Unix milliseconds.
public enum Weekday: Int, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    case sunday = 0, monday, tuesday, wednesday, thursday, friday, saturday

    /// Milliseconds in one UTC day.
    public static let millisecondsPerDay: Int64 = 86_400_000

    /// The UTC weekday of the instant `unixMilliseconds` (negative values are
    /// before 1970 and work too). 1970-01-01 was a Thursday.
    public init(unixMilliseconds: Int64) {
        let day = Self.dayNumber(unixMilliseconds)
        let index = ((day + 4) % 7 + 7) % 7
        self = Weekday(rawValue: Int(index))!
    }

    /// Whole UTC days since 1970-01-01, rounding towards the past.
    static func dayNumber(_ unixMilliseconds: Int64) -> Int64 {
        let (quotient, remainder) = unixMilliseconds.quotientAndRemainder(dividingBy: millisecondsPerDay)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// Monday to Friday.
    public static let workdays: Set<Weekday> = [.monday, .tuesday, .wednesday, .thursday, .friday]
    /// Every day.
    public static let everyDay: Set<Weekday> = Set(allCases)

    /// The English name, lower-case: `saturday`.
    public var description: String {
        switch self {
        case .sunday: "sunday"
        case .monday: "monday"
        case .tuesday: "tuesday"
        case .wednesday: "wednesday"
        case .thursday: "thursday"
        case .friday: "friday"
        case .saturday: "saturday"
        }
    }

    /// The English name, capitalized: `Saturday`.
    public var name: String { description.prefix(1).uppercased() + description.dropFirst() }

    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension Weekday {
    /// The UTC calendar date of `unixMilliseconds` as `YYYY-MM-DD` (proleptic Gregorian).
    public static func isoDate(unixMilliseconds: Int64) -> String {
        // Howard Hinnant's days-to-civil algorithm.
        let z = dayNumber(unixMilliseconds) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value.magnitude)
            return (value < 0 ? "-" : "") + String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }
}
