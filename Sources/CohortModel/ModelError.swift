import CohortErrors

/// A failure of the data, schema, model or file-format layer.
///
/// `code` is stable and machine-readable (`csv.*`, `schema.*`, `data.*`, `model.*`,
/// `safetensors.*`); `message` says what was wrong, where (file, line, column when there is one)
/// and what to do. Messages never quote a value read from a data file — they name its location
/// and what was expected instead — so a participant's logs and error frames cannot leak records.
public struct ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable machine-readable code, e.g. `schema.unknown_category`.
    public let code: String
    /// What was wrong, where, and what to do.
    public let message: String
    /// Where in a file the problem was found, when it was found in one.
    public let location: FileLocation?

    /// An error with a code, a message and an optional location.
    public init(code: String, message: String, location: FileLocation? = nil) {
        self.code = code
        self.message = message
        self.location = location
    }

    public var description: String {
        if let location { return "\(location): \(message) [\(code)]" }
        return "\(message) [\(code)]"
    }
}

/// A position in a text file: 1-based line and column, with the column's header name when known.
public struct FileLocation: Equatable, Sendable, Codable, CustomStringConvertible {
    /// The file's path as given to the reader (or a caller-chosen name for in-memory text).
    public let file: String
    /// 1-based physical line on which the record or field starts.
    public let line: Int
    /// 1-based field index within the record, when the problem concerns one field.
    public let column: Int?
    /// The header name of that column, when known.
    public let columnName: String?

    public init(file: String, line: Int, column: Int? = nil, columnName: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.columnName = columnName
    }

    public var description: String {
        var text = "\(file):\(line)"
        if let column { text += ":\(column)" }
        if let columnName { text += " (column '\(columnName)')" }
        return text
    }
}

extension ModelError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
