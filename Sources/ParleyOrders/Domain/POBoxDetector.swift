/// Recognizes post-office boxes in address lines, for merchants that refuse to
/// ship to them.
///
/// A line is split into words of letters and digits (punctuation separates, so
/// `P.O.` is `P O`), upper-cased, and searched for: `PO BOX`, `P O BOX`,
/// `POBOX` + number, `P O B`, `POB` + number, `POST OFFICE BOX`, `POST BOX`, `POSTAL BOX`, `PO BAG`,
/// `LOCKED BAG`, French `CASE POSTALE`, `BOITE POSTALE`, `CP` + number, and a line
/// that starts with `BOX` + number. Words such as `Boxwood` or `Post Office Road`
/// do not match.
public enum POBoxDetector {
    /// True when `line` names a post-office box.
    public static func isPOBox(_ line: String) -> Bool {
        let words = line.uppercased().split(whereSeparator: { !($0.isASCIIDigit || $0.isASCIIUpperLetter) }).map(String.init)
        guard !words.isEmpty else { return false }
        func isNumber(_ index: Int) -> Bool { index < words.count && words[index].allSatisfy(\.isASCIIDigit) }
        if words[0] == "BOX", isNumber(1) { return true }
        let phrases: [[String]] = [
            ["PO", "BOX"], ["P", "O", "BOX"], ["P", "O", "B"], ["POST", "OFFICE", "BOX"],
            ["POST", "BOX"], ["POSTAL", "BOX"], ["PO", "BAG"], ["LOCKED", "BAG"], ["CASE", "POSTALE"], ["BOITE", "POSTALE"],
        ]
        for start in words.indices {
            for phrase in phrases where words[start...].starts(with: phrase) { return true }
            if ["POB", "POBOX", "CP"].contains(words[start]), isNumber(start + 1) { return true }
            if words[start] == "C", start + 1 < words.count, words[start + 1] == "P", isNumber(start + 2) { return true }
        }
        return false
    }
}
