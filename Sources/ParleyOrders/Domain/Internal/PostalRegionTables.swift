/// Which state or territory each US ZIP code's first three digits belong to,
/// after the USPS's list of 3-digit ZIP prefixes. Ranges are inclusive; a prefix
/// in no range is unassigned. `AA`, `AE`, `AP` are the military "states".
enum USZipPrefixTable {
    static let ranges: [(low: Int, high: Int, regions: Set<String>)] = [
        (5, 5, ["NY"]), (6, 7, ["PR"]), (8, 8, ["VI"]), (9, 9, ["PR"]),
        (10, 27, ["MA"]), (28, 29, ["RI"]), (30, 38, ["NH"]), (39, 49, ["ME"]),
        (50, 54, ["VT"]), (55, 55, ["MA"]), (56, 59, ["VT"]), (60, 69, ["CT"]),
        (70, 89, ["NJ"]), (90, 98, ["AE"]),
        (100, 149, ["NY"]), (150, 196, ["PA"]), (197, 199, ["DE"]),
        (200, 200, ["DC"]), (201, 201, ["VA"]), (202, 205, ["DC"]), (206, 219, ["MD"]),
        (220, 246, ["VA"]), (247, 268, ["WV"]), (270, 289, ["NC"]), (290, 299, ["SC"]),
        (300, 319, ["GA"]), (320, 339, ["FL"]), (340, 340, ["AA"]), (341, 349, ["FL"]),
        (350, 369, ["AL"]), (370, 385, ["TN"]), (386, 397, ["MS"]), (398, 399, ["GA"]),
        (400, 427, ["KY"]), (430, 459, ["OH"]), (460, 479, ["IN"]), (480, 499, ["MI"]),
        (500, 528, ["IA"]), (530, 549, ["WI"]), (550, 567, ["MN"]), (569, 569, ["DC"]),
        (570, 577, ["SD"]), (580, 588, ["ND"]), (590, 599, ["MT"]),
        (600, 629, ["IL"]), (630, 658, ["MO"]), (660, 679, ["KS"]), (680, 693, ["NE"]),
        (700, 715, ["LA"]), (716, 729, ["AR"]), (730, 731, ["OK"]), (733, 733, ["TX"]),
        (734, 749, ["OK"]), (750, 799, ["TX"]),
        (800, 816, ["CO"]), (820, 831, ["WY"]), (832, 838, ["ID"]), (840, 847, ["UT"]),
        (850, 865, ["AZ"]), (870, 884, ["NM"]), (885, 885, ["TX"]), (889, 898, ["NV"]),
        (900, 961, ["CA"]), (962, 966, ["AP"]), (967, 968, ["HI", "AS"]),
        (969, 969, ["GU", "MP", "FM", "MH", "PW"]),
        (970, 979, ["OR"]), (980, 994, ["WA"]), (995, 999, ["AK"]),
    ]

    /// Every code the US address check accepts as a region.
    static let knownRegions: Set<String> = ranges.reduce(into: Set<String>()) { $0.formUnion($1.regions) }

    /// The regions a ZIP's 3-digit prefix belongs to, or `nil` if unassigned.
    static func regions(forPrefix prefix: Int) -> Set<String>? {
        var low = 0, high = ranges.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let range = ranges[middle]
            if prefix < range.low { high = middle - 1 } else if prefix > range.high { low = middle + 1 } else { return range.regions }
        }
        return nil
    }
}

/// Which Canadian province or territory each postal code's first letter (its
/// postal district) belongs to. `X` serves both the Northwest Territories and Nunavut.
enum CanadianPostalDistrictTable {
    static let districts: [Character: Set<String>] = [
        "A": ["NL"], "B": ["NS"], "C": ["PE"], "E": ["NB"],
        "G": ["QC"], "H": ["QC"], "J": ["QC"],
        "K": ["ON"], "L": ["ON"], "M": ["ON"], "N": ["ON"], "P": ["ON"],
        "R": ["MB"], "S": ["SK"], "T": ["AB"], "V": ["BC"],
        "X": ["NT", "NU"], "Y": ["YT"],
    ]

    /// Every province and territory code.
    static let knownRegions: Set<String> = districts.values.reduce(into: Set<String>()) { $0.formUnion($1) }
}
