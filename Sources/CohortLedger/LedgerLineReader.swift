#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a ledger file in batches of complete lines, streaming, with a maximum line length, so a
/// file that is not a ledger (`/dev/zero`, a multi-gigabyte line) fails fast with the file, the
/// line and the limit instead of being read into memory whole.
///
/// A batch holds at most `maxLines` lines and, beyond its first line, about `targetBytes` bytes;
/// the verifier keeps at most two batches in memory (docs/LEDGER.md, "Limits").
struct LedgerLineReader {
    /// The longest line (entry) a ledger may hold: 8 MiB. Entries the coordinator writes are far
    /// smaller (a charge with 10,000 contributors' digests is about 1 MiB).
    static let maximumLineBytes = 8 << 20
    /// Bytes asked of each `read(2)`.
    static let readSize = 1 << 20

    struct Batch {
        /// The bytes of the batch's lines, each followed by its newline.
        let bytes: [UInt8]
        /// Each line's range in `bytes`, without its newline.
        let ranges: [Range<Int>]
        /// The 0-based index of the batch's first line in the file.
        let firstIndex: Int
    }

    let path: String
    let maximumLineBytes: Int
    private var descriptor: Int32
    /// Read but not yet delivered: the start of a line whose newline has not been read yet,
    /// possibly followed by further complete lines.
    private var pending: [UInt8] = []
    /// How far `pending` has been searched for newlines.
    private var scanned = 0
    /// Newline offsets found in `pending`.
    private var newlines: [Int] = []
    private var atEnd = false
    /// Lines delivered so far.
    private(set) var linesDelivered = 0
    /// Bytes delivered so far (complete lines with their newlines).
    private(set) var bytesDelivered = 0

    init(path: String, maximumLineBytes: Int = LedgerLineReader.maximumLineBytes) throws(LedgerError) {
        self.path = path
        self.maximumLineBytes = maximumLineBytes
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw LedgerError(
                code: code == ENOENT ? .notFound : .io,
                message: "cannot read the ledger: \(path): \(String(cString: strerror(code)))")
        }
    }

    /// Closes the file; further batches are nil.
    mutating func closeFile() {
        if descriptor >= 0 { _ = close(descriptor) }
        descriptor = -1
    }

    /// The next batch of complete lines, or nil at the end of the file (see ``tornTail``).
    /// - Throws: `ledger.line_too_long` when a line exceeds ``maximumLineBytes`` (naming the file,
    ///   the line and the limit); `ledger.io` when a read fails.
    mutating func nextBatch(maxLines: Int, targetBytes: Int = 64 << 20) throws(LedgerError) -> Batch? {
        while newlines.count < max(1, maxLines) && !atEnd && (newlines.isEmpty || (newlines.last! + 1) < targetBytes) {
            try fill()
        }
        guard !newlines.isEmpty else { return nil }
        let take = min(newlines.count, max(1, maxLines))
        let end = newlines[take - 1] + 1
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(take)
        var start = 0
        for index in 0..<take {
            ranges.append(start..<newlines[index])
            start = newlines[index] + 1
        }
        let bytes = Array(pending[..<end])
        pending.removeFirst(end)
        newlines = newlines.dropFirst(take).map { $0 - end }
        scanned -= end
        let batch = Batch(bytes: bytes, ranges: ranges, firstIndex: linesDelivered)
        linesDelivered += take
        bytesDelivered += end
        return batch
    }

    /// At the end of the file, the bytes of a final line without its newline (empty otherwise).
    var pendingTail: [UInt8] { atEnd ? pending : [] }

    /// At the end of the file, the offset and length of a final line without its newline.
    var tornTail: (offset: Int, length: Int)? {
        atEnd && !pending.isEmpty ? (bytesDelivered, pending.count) : nil
    }

    /// Reads once and indexes the new newlines; enforces the line length on the unterminated tail.
    private mutating func fill() throws(LedgerError) {
        guard descriptor >= 0 else {
            atEnd = true
            return
        }
        let old = pending.count
        var readCount = 0
        var failure: Int32 = 0
        pending.append(contentsOf: repeatElement(0, count: Self.readSize))
        pending.withUnsafeMutableBufferPointer { buffer in
            while true {
                let result = read(descriptor, buffer.baseAddress! + old, Self.readSize)
                if result < 0 && errno == EINTR { continue }
                if result < 0 { failure = errno } else { readCount = result }
                break
            }
        }
        pending.removeLast(Self.readSize - readCount)
        if failure != 0 {
            throw LedgerError(
                code: .io, message: "cannot read the ledger: \(path): \(String(cString: strerror(failure)))")
        }
        if readCount == 0 { atEnd = true }
        // Index the new newlines, checking each line's length as its end is found.
        var tooLong: Int?
        pending.withUnsafeBufferPointer { buffer in
            var position = scanned
            while position < buffer.count {
                guard let found = memchr(buffer.baseAddress! + position, 0x0A, buffer.count - position) else { break }
                let offset = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - buffer.baseAddress!
                let lineStart = newlines.last.map { $0 + 1 } ?? 0
                if offset - lineStart > maximumLineBytes, tooLong == nil { tooLong = linesDelivered + newlines.count }
                newlines.append(offset)
                position = offset + 1
            }
        }
        scanned = pending.count
        // The open line (no newline yet) may not grow past the limit either: `/dev/zero` stops here.
        if tooLong == nil, pending.count - (newlines.last.map { $0 + 1 } ?? 0) > maximumLineBytes {
            tooLong = linesDelivered + newlines.count
        }
        if let index = tooLong {
            throw LedgerError(
                code: .lineTooLong,
                message: "\(path): line \(index + 1) is longer than the limit of \(maximumLineBytes) bytes "
                    + "(no newline within it); this is not a Cohort ledger, whose entries are single lines far below the limit",
                line: index + 1)
        }
    }
}
