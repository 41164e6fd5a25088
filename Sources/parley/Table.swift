/// A plain-text table for readable output: a header row, then one row per
/// record, each column padded to its widest cell. Numbers read best aligned
/// right (`.right`); the last left-aligned column is not padded, so lines
/// carry no trailing spaces.
struct Table {
    enum Alignment { case left, right }

    struct Column {
        let title: String
        let alignment: Alignment

        static func left(_ title: String) -> Column { Column(title: title, alignment: .left) }
        static func right(_ title: String) -> Column { Column(title: title, alignment: .right) }
    }

    private let columns: [Column]
    private var rows: [[String]] = []

    init(_ columns: Column...) { self.columns = columns }

    var isEmpty: Bool { rows.isEmpty }

    /// Adds a row; it must have one cell per column.
    mutating func append(_ cells: [String]) {
        precondition(cells.count == columns.count, "a row needs \(columns.count) cells, not \(cells.count)")
        rows.append(cells)
    }

    /// The table as lines, header first.
    func lines() -> [String] {
        let all = [columns.map { $0.title.uppercased() }] + rows
        let widths = columns.indices.map { index in all.map { $0[index].count }.max() ?? 0 }
        return all.map { cells in
            var line = ""
            for (index, cell) in cells.enumerated() {
                if index > 0 { line += "  " }
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                switch columns[index].alignment {
                case .left: line += index == columns.count - 1 ? cell : cell + padding
                case .right: line += padding + cell
                }
            }
            // An empty last cell leaves the padding of the one before it.
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    /// Prints the table to standard output.
    func print() {
        for line in lines() { Swift.print(line) }
    }
}
