import CohortStorage

/// A parsed CSV file: a header and records of optional cells (`nil` = empty cell = missing).
///
/// The table keeps the physical line on which each record starts, so every later validation
/// error can name the file, line and column of the offending cell.
public struct CSVTable: Sendable, Equatable {
    /// The file the table came from (the path given to the reader, or a caller-chosen name).
    public let source: String
    /// Column names from the first record.
    public let header: [String]
    /// Records after the header; each has exactly `header.count` cells.
    public let rows: [[String?]]
    /// The 1-based physical line on which each record starts (parallel to `rows`).
    public let lineNumbers: [Int]

    /// A table from already-split cells. Every row must have `header.count` cells.
    public init(source: String, header: [String], rows: [[String?]], lineNumbers: [Int]? = nil) {
        precondition(rows.allSatisfy { $0.count == header.count }, "every row needs one cell per header column")
        self.source = source
        self.header = header
        self.rows = rows
        // Header on line 1, one record per line: the numbering of a file written by `CSVWriter`.
        self.lineNumbers = lineNumbers ?? rows.indices.map { $0 + 2 }
        precondition(self.lineNumbers.count == rows.count)
    }

    /// The index of the column named `name`, if present.
    public func columnIndex(named name: String) -> Int? {
        header.firstIndex(of: name)
    }

    /// The location of cell (`row`, `column`) for error messages.
    public func location(row: Int, column: Int) -> FileLocation {
        FileLocation(file: source, line: lineNumbers[row], column: column + 1, columnName: header[column])
    }

    /// A table holding only the records at `indices`, in that order (for splits).
    public func selecting(rows indices: [Int], source newSource: String? = nil) -> CSVTable {
        CSVTable(
            source: newSource ?? source,
            header: header,
            rows: indices.map { rows[$0] },
            lineNumbers: newSource == nil ? indices.map { lineNumbers[$0] } : nil
        )
    }

    /// Reads and parses the CSV file at `path` (see `CSVReader`), streaming (`CSVStream`): the
    /// file's bytes are never held whole, only the table.
    public static func read(path: String) throws(ModelError) -> CSVTable {
        var stream = try CSVStream(path: path)
        var rows: [[String?]] = []
        var lines: [Int] = []
        while let (cells, line) = try stream.next() {
            rows.append(cells)
            lines.append(line)
        }
        return CSVTable(source: path, header: stream.header, rows: rows, lineNumbers: lines)
    }

    /// Writes the table to `path` atomically (temporary file, fsync, rename) as RFC 4180 CSV.
    public func write(path: String) throws(ModelError) {
        do {
            try DurableFile.writeAtomically(Array(CSVWriter.encode(self).utf8), to: path)
        } catch {
            throw ModelError(
                code: "csv.unwritable_file", message: "cannot write the CSV file \(path): \(error.message)")
        }
    }
}
