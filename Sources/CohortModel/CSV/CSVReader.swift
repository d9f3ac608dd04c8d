#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An RFC 4180 CSV parser.
///
/// Accepted: fields separated by commas; records ended by CRLF, LF or end of file; fields
/// enclosed in double quotes may contain commas, CR, LF and doubled quotes (`""` → `"`). A UTF-8
/// byte-order mark at the start is skipped. Lines that are entirely empty are skipped (a trailing
/// newline, or blank lines an editor left), which RFC 4180 leaves undefined.
///
/// An empty cell — unquoted or `""` — is a missing value (`nil`). Cells are otherwise kept
/// verbatim; the schema layer decides about surrounding spaces.
///
/// Rejected, each with the file, line and column: a quote inside an unquoted field, a character
/// other than a separator after a closing quote, an unterminated quoted field, a record whose
/// field count differs from the header's, duplicate or empty header names, invalid UTF-8, a NUL byte.
public enum CSVReader {
    /// Parses `text`; `source` names it in errors.
    public static func parse(text: String, source: String) throws(ModelError) -> CSVTable {
        try parse(Array(text.utf8), source: source)
    }

    /// Parses UTF-8 `bytes`; `source` names them in errors.
    public static func parse(_ bytes: [UInt8], source: String) throws(ModelError) -> CSVTable {
        var parser = Parser(bytes: bytes, source: source)
        let header = try validateHeader(parser.nextRecord(), source: source)
        var rows: [[String?]] = []
        var lines: [Int] = []
        while let (cells, line) = try parser.nextRecord() {
            try checkFieldCount(cells, header: header, line: line, source: source)
            rows.append(cells)
            lines.append(line)
        }
        return CSVTable(source: source, header: header, rows: rows, lineNumbers: lines)
    }

    /// The header names of the first record: present, non-empty and distinct.
    static func validateHeader(_ record: ([String?], Int)?, source: String) throws(ModelError) -> [String] {
        guard let (headerCells, headerLine) = record else {
            throw ModelError(
                code: "csv.empty_file",
                message: "the file has no header row; a CSV data file starts with one line of column names",
                location: FileLocation(file: source, line: 1)
            )
        }
        var header: [String] = []
        var seen: Set<String> = []
        for (index, cell) in headerCells.enumerated() {
            guard let name = cell, !name.isEmpty else {
                throw ModelError(
                    code: "csv.empty_column_name",
                    message: "header column \(index + 1) has no name; give every column a name",
                    location: FileLocation(file: source, line: headerLine, column: index + 1)
                )
            }
            guard seen.insert(name).inserted else {
                throw ModelError(
                    code: "csv.duplicate_column",
                    message: "column name '\(name)' appears twice in the header; rename or remove one of them",
                    location: FileLocation(file: source, line: headerLine, column: index + 1, columnName: name)
                )
            }
            header.append(name)
        }
        return header
    }

    static func checkFieldCount(_ cells: [String?], header: [String], line: Int, source: String) throws(ModelError) {
        guard cells.count == header.count else {
            throw ModelError(
                code: "csv.field_count_mismatch",
                message: "the record has \(cells.count) fields but the header has \(header.count); "
                    + "check for an unquoted comma or a missing separator on that line",
                location: FileLocation(file: source, line: line)
            )
        }
    }

    /// Parses one block of complete records (a piece of a file cut at a record boundary).
    static func records(
        in block: [UInt8], source: String, firstLine: Int, skipBOM: Bool
    ) throws(ModelError) -> (records: [([String?], Int)], nextLine: Int) {
        var parser = Parser(bytes: block, source: source, line: firstLine, skipBOM: skipBOM)
        var records: [([String?], Int)] = []
        while let record = try parser.nextRecord() { records.append(record) }
        return (records, parser.line)
    }

    /// A byte-level state machine over the whole input.
    private struct Parser {
        let bytes: [UInt8]
        let source: String
        var position = 0
        var line = 1

        static let quote = UInt8(ascii: "\"")
        static let comma = UInt8(ascii: ",")
        static let cr = UInt8(ascii: "\r")
        static let lf = UInt8(ascii: "\n")

        init(bytes: [UInt8], source: String, line: Int = 1, skipBOM: Bool = true) {
            self.bytes = bytes
            self.source = source
            self.line = line
            if skipBOM && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
        }

        /// The next non-empty record and the line it starts on, or nil at end of input.
        mutating func nextRecord() throws(ModelError) -> ([String?], Int)? {
            // Skip blank lines.
            while position < bytes.count {
                if bytes[position] == Self.lf {
                    position += 1
                    line += 1
                } else if bytes[position] == Self.cr, position + 1 < bytes.count, bytes[position + 1] == Self.lf {
                    position += 2
                    line += 1
                } else {
                    break
                }
            }
            guard position < bytes.count else { return nil }
            let startLine = line
            var cells: [String?] = []
            while true {
                let column = cells.count + 1
                let cell = try nextField(recordLine: startLine, column: column)
                cells.append(cell)
                if position >= bytes.count { return (cells, startLine) }
                let byte = bytes[position]
                if byte == Self.comma {
                    position += 1
                    // A trailing comma at end of input still opens one (empty) field.
                    if position >= bytes.count {
                        cells.append(nil)
                        return (cells, startLine)
                    }
                    continue
                }
                if byte == Self.lf {
                    position += 1
                    line += 1
                    return (cells, startLine)
                }
                if byte == Self.cr, position + 1 < bytes.count, bytes[position + 1] == Self.lf {
                    position += 2
                    line += 1
                    return (cells, startLine)
                }
                if byte == Self.cr, position + 1 == bytes.count {
                    position += 1
                    return (cells, startLine)
                }
                // Only reachable after a closing quote: unquoted fields stop at separators only.
                throw ModelError(
                    code: "csv.text_after_closing_quote",
                    message: "a quoted field must end right after its closing quote, found more text; "
                        + "write a literal quote inside a quoted field as two quotes (\"\")",
                    location: FileLocation(file: source, line: line, column: column)
                )
            }
        }

        /// Reads one field, leaving `position` on the separator, line end or end of input.
        mutating func nextField(recordLine: Int, column: Int) throws(ModelError) -> String? {
            if position < bytes.count, bytes[position] == Self.quote {
                let openingLine = line
                position += 1
                var content: [UInt8] = []
                while true {
                    guard position < bytes.count else {
                        throw ModelError(
                            code: "csv.unterminated_quote",
                            message: "a quoted field opened here is never closed; add the closing quote",
                            location: FileLocation(file: source, line: openingLine, column: column)
                        )
                    }
                    let byte = bytes[position]
                    if byte == Self.quote {
                        if position + 1 < bytes.count, bytes[position + 1] == Self.quote {
                            content.append(Self.quote)
                            position += 2
                            continue
                        }
                        position += 1
                        break
                    }
                    if byte == Self.lf { line += 1 }
                    content.append(byte)
                    position += 1
                }
                return try decode(content, column: column)
            }
            let start = position
            while position < bytes.count {
                let byte = bytes[position]
                if byte == Self.comma || byte == Self.lf { break }
                if byte == Self.cr, position + 1 >= bytes.count || bytes[position + 1] == Self.lf { break }
                if byte == Self.quote {
                    throw ModelError(
                        code: "csv.quote_in_unquoted_field",
                        message: "a double quote appears inside a field that does not start with one; "
                            + "enclose the whole field in quotes and double the inner quote (\"\")",
                        location: FileLocation(file: source, line: line, column: column)
                    )
                }
                position += 1
            }
            return try decode(bytes[start..<position], column: column)
        }

        func decode(_ content: some Collection<UInt8>, column: Int) throws(ModelError) -> String? {
            if content.isEmpty { return nil }
            // A NUL would end the cell early for C-string number parsing (`20<NUL>57` read as 20).
            guard !content.contains(0) else {
                throw ModelError(
                    code: "csv.nul_byte",
                    message:
                        "the field contains a NUL byte; CSV data files are text: remove it or re-export the file as UTF-8 text",
                    location: FileLocation(file: source, line: line, column: column)
                )
            }
            guard let text = String(validating: content, as: UTF8.self) else {
                throw ModelError(
                    code: "csv.invalid_utf8",
                    message: "the field is not valid UTF-8; re-export the file as UTF-8",
                    location: FileLocation(file: source, line: line, column: column)
                )
            }
            return text
        }
    }
}

/// Reads a CSV file record by record, streaming: the file is read 1 MiB at a time and cut at
/// record boundaries (a newline outside quotes), so memory holds one block of records, never the
/// file. A record (a line, or a quoted field spanning lines) longer than ``maximumRecordBytes``
/// is refused (`csv.record_too_long`, with the file and the line it starts on). The records and
/// errors are those of ``CSVReader/parse(_:source:)``.
public struct CSVStream {
    /// The longest record accepted: 1 MiB (docs/MODEL.md).
    public static let maximumRecordBytes = 1 << 20
    static let readSize = 1 << 20

    /// The file's path, as given.
    public let source: String
    /// The header's column names.
    public private(set) var header: [String] = []
    let maximumRecordBytes: Int
    private var descriptor: Int32
    /// Read and not yet parsed.
    private var buffer: [UInt8] = []
    /// How far `buffer` was scanned for record boundaries, and whether that point is inside quotes.
    private var scanned = 0
    private var inQuotes = false
    /// The end (after its newline) of the last complete record in `buffer`; 0 when none.
    private var boundary = 0
    private var atEnd = false
    private var firstBlock = true
    /// The line on which `buffer` starts.
    private var nextLine = 1
    private var queue: [([String?], Int)] = []
    private var queueIndex = 0

    /// Opens `path` and reads its header.
    public init(path: String, maximumRecordBytes: Int = CSVStream.maximumRecordBytes) throws(ModelError) {
        source = path
        self.maximumRecordBytes = maximumRecordBytes
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ModelError(
                code: "csv.unreadable_file", message: "cannot read the CSV file: \(String(cString: strerror(errno)))",
                location: FileLocation(file: path, line: 0))
        }
        do {
            header = try CSVReader.validateHeader(nextRecord(), source: path)
        } catch {
            closeFile()
            throw error
        }
    }

    /// Closes the file (also done at the end of the records or on an error).
    public mutating func closeFile() {
        if descriptor >= 0 { _ = close(descriptor) }
        descriptor = -1
    }

    /// The next record and the line it starts on; nil after the last. Each record has one cell per header column.
    public mutating func next() throws(ModelError) -> (cells: [String?], line: Int)? {
        guard let (cells, line) = try nextRecord() else { return nil }
        try CSVReader.checkFieldCount(cells, header: header, line: line, source: source)
        return (cells, line)
    }

    private mutating func nextRecord() throws(ModelError) -> ([String?], Int)? {
        do {
            while queueIndex >= queue.count {
                queue.removeAll(keepingCapacity: true)
                queueIndex = 0
                let block: [UInt8]
                if boundary > 0 {
                    block = Array(buffer[..<boundary])
                    buffer.removeFirst(boundary)
                    scanned -= boundary
                    boundary = 0
                } else if atEnd {
                    guard !buffer.isEmpty else {
                        closeFile()
                        return nil
                    }
                    block = buffer
                    buffer = []
                    scanned = 0
                } else {
                    try fill()
                    continue
                }
                let parsed = try CSVReader.records(in: block, source: source, firstLine: nextLine, skipBOM: firstBlock)
                firstBlock = false
                queue = parsed.records
                nextLine = parsed.nextLine
            }
        } catch {
            closeFile()
            throw error
        }
        defer { queueIndex += 1 }
        return queue[queueIndex]
    }

    /// Reads once and finds the last record boundary; refuses a record over the limit.
    private mutating func fill() throws(ModelError) {
        guard descriptor >= 0 else {
            atEnd = true
            return
        }
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Self.readSize))
        var count = 0
        var failure: Int32 = 0
        let descriptor = descriptor
        buffer.withUnsafeMutableBufferPointer { bytes in
            while true {
                let result = read(descriptor, bytes.baseAddress! + old, Self.readSize)
                if result < 0 && errno == EINTR { continue }
                if result < 0 { failure = errno } else { count = result }
                break
            }
        }
        buffer.removeLast(Self.readSize - count)
        if failure != 0 {
            throw ModelError(
                code: "csv.unreadable_file", message: "cannot read the CSV file: \(String(cString: strerror(failure)))",
                location: FileLocation(file: source, line: nextLine))
        }
        if count == 0 { atEnd = true }
        for index in scanned..<buffer.count {
            let byte = buffer[index]
            if byte == 0x22 {
                inQuotes.toggle()
            } else if byte == 0x0A && !inQuotes {
                boundary = index + 1
            }
        }
        scanned = buffer.count
        if buffer.count - boundary > maximumRecordBytes {
            // The overlong record starts at `boundary`, after the complete records still in the
            // buffer: name its line, not the buffer's first.
            let line = nextLine + buffer[..<boundary].reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
            throw ModelError(
                code: "csv.record_too_long",
                message: "a record (line) is longer than the limit of \(maximumRecordBytes) bytes; "
                    + "this is not tabular data the schema describes, or a quote is never closed",
                location: FileLocation(file: source, line: line))
        }
    }
}

/// Writes RFC 4180 CSV: CRLF-free (LF line ends, as the demo data), fields quoted only when they
/// contain a comma, quote, CR or LF, or leading/trailing spaces; `nil` cells written empty.
public enum CSVWriter {
    /// The CSV text of `table`, header first.
    public static func encode(_ table: CSVTable) -> String {
        var out = table.header.map(field).joined(separator: ",") + "\n"
        for row in table.rows {
            out += row.map { $0.map(field) ?? "" }.joined(separator: ",")
            out += "\n"
        }
        return out
    }

    /// One field, quoted when needed.
    public static func field(_ value: String) -> String {
        let needsQuotes =
            value.utf8.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }
            || value.first == " " || value.last == " "
        guard needsQuotes else { return value }
        return "\"" + value.replacingAll("\"", with: "\"\"") + "\""
    }
}

extension String {
    /// Replaces every occurrence of `target` (without Foundation).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        out.reserveCapacity(count)
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}
