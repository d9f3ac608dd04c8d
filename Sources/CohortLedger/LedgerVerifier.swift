import CohortCrypto
import CohortStorage
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Verifies a whole ledger file against the coordinator's public key.
///
/// Every complete line is checked for: valid JSON; byte equality with its RFC 8785 canonical
/// form; a well-formed envelope; `seq` contiguous from 0; `prev` equal to the SHA-256 of the
/// previous line; `time` non-decreasing; a genesis first whose key equals the given key; a valid
/// Ed25519 signature (every line, or the last one: see `SignatureCheck`); typed `data` for known kinds; round order (no release without a charge);
/// metric names and ranges; a `round.opened` plan at the ledger's δ, and every `round.charged`
/// equal to its round's plan; for every `round.charged`, an independent recomputation of the round
/// and cumulative ε from the recorded (q, σ, δ) with the entry's charge method (absent: v1),
/// compared at 1e-9 relative, never decreasing and never above the cap in force (compared
/// exactly); and a `round.refused`'s projection when it records its (q, σ, method). The first
/// failure is thrown, naming its 1-based line and seq (docs/LEDGER.md §6).
///
/// Per-line work (parsing, canonical check, hashing, signatures, typed decoding of `data`) runs
/// on all cores in chunks; the sequential checks follow chunk by chunk in file order, so the first
/// failing line is the one reported and memory stays bounded for large files.
public enum LedgerVerifier {
    /// Which signatures to check (docs/LEDGER.md §6.2). Every other check runs on every line in
    /// both modes, and both name the same first failing entry.
    public enum SignatureCheck: Sendable, Equatable {
        /// Every entry's signature, on all cores. Rejects, beyond `.lastEntryOnly`, a file in
        /// which the key holder itself wrote an entry with an invalid signature and signed later
        /// entries over it.
        case everyEntry
        /// Only the last complete entry's. Each signed entry commits to the SHA-256 of the whole
        /// previous line (its signature and `prev` included), and the chain is checked on every
        /// line, so one valid signature on the last entry authenticates every byte before it,
        /// given SHA-256's second-preimage resistance: anything changed without the key is
        /// detected. When a check fails, the lines up to the failing one are checked again with
        /// every signature, so the error names the same entry as `.everyEntry` would (an entry
        /// re-signed with another key is reported as `ledger.bad_signature` at that entry).
        case lastEntryOnly
    }

    /// Lines checked in parallel before the sequential pass catches up.
    static let chunkSize = 8192

    /// The outcome of a successful verification.
    public struct Result: Sendable {
        /// The recomputed summary.
        public let state: LedgerState
        /// The entries, when requested.
        public let entries: [LedgerEntry]
    }

    /// Verifies the ledger at `path`.
    /// - Parameters:
    ///   - publicKey: the coordinator's Ed25519 ledger public key (32 bytes).
    ///   - signatures: which signatures to check; `.everyEntry` unless the caller knows why not.
    ///   - keepEntries: return the parsed entries too (memory grows with the file).
    /// - Throws: `LedgerError` for the first failing line; `ledger.torn_tail` when every complete
    ///   line holds but the last line is incomplete (see `LedgerWriter.recover`).
    ///
    /// The file is read streaming, a batch of lines at a time (at most two batches in memory), with
    /// a maximum line length of `LedgerLineReader.maximumLineBytes` (8 MiB): a file that is not a
    /// ledger (`/dev/zero`, one huge line) fails with `ledger.line_too_long` naming the file, the
    /// line and the limit, after reading at most that much.
    public static func verify(
        file path: String, publicKey: [UInt8], signatures: SignatureCheck = .everyEntry, keepEntries: Bool = false
    ) throws(LedgerError) -> Result {
        do throws(LedgerError) {
            let (result, torn) = try verifyStreaming(
                file: path, publicKey: publicKey, verifyAll: signatures == .everyEntry, keepEntries: keepEntries)
            if let torn {
                throw LedgerError(
                    code: .tornTail,
                    message:
                        "the last line (\(torn.length) bytes at offset \(torn.offset)) has no trailing newline: a write was interrupted; "
                        + "the \(result.state.entryCount) complete entries before it verify. Run recovery (LedgerWriter.recover) to truncate it",
                    line: result.state.entryCount + 1
                )
            }
            return result
        } catch {
            // As `verifyPrefix`: with `.lastEntryOnly`, the lines up to the failing one are checked
            // again with every signature, so the error names the same first failing entry.
            guard signatures == .lastEntryOnly, error.code != .tornTail, error.code != .lineTooLong,
                let failing = error.line, failing >= 1
            else { throw error }
            _ = try verifyStreaming(
                file: path, publicKey: publicKey, verifyAll: true, keepEntries: false, lineLimit: failing)
            throw error
        }
    }

    /// The streaming pass of ``verify(file:publicKey:signatures:keepEntries:)``: batches of lines
    /// checked on all cores, applied in file order. With `verifyAll` false only the last complete
    /// line's signature is checked: a batch is checked only once the next one has been read, so
    /// the last line is known. `lineLimit` stops after that many lines (and reports no torn tail).
    static func verifyStreaming(
        file path: String, publicKey: [UInt8], verifyAll: Bool, keepEntries: Bool, lineLimit: Int? = nil,
        chunkSize: Int = chunkSize
    ) throws(LedgerError) -> (Result, tornTail: TornTail?) {
        var reader = try LedgerLineReader(path: path)
        defer { reader.closeFile() }
        var checker = LedgerChecker(publicKey: publicKey)
        var entries: [LedgerEntry] = []
        func next(_ reader: inout LedgerLineReader) throws(LedgerError) -> LedgerLineReader.Batch? {
            let left = lineLimit.map { $0 - reader.linesDelivered } ?? chunkSize
            guard left > 0 else { return nil }
            return try reader.nextBatch(maxLines: min(chunkSize, left))
        }
        var current = try next(&reader)
        guard current != nil else {
            let torn = reader.tornTail
            throw LedgerError(
                code: torn == nil ? .empty : .tornTail,
                message: torn == nil
                    ? "the ledger holds no entries; it must start with a genesis entry"
                    : "the ledger's only line is incomplete (no trailing newline): the genesis write was interrupted; recreate the ledger",
                line: 1
            )
        }
        while let batch = current {
            let following = try next(&reader)
            let lastIndex = following == nil ? batch.firstIndex + batch.ranges.count - 1 : -1
            let checked = checkLines(
                bytes: batch.bytes, ranges: batch.ranges, indices: 0..<batch.ranges.count, publicKey: publicKey,
                keepData: keepEntries,
                lineOffset: batch.firstIndex, verifySignature: { verifyAll || batch.firstIndex + $0 == lastIndex }
            )
            for (offset, outcome) in checked.enumerated() {
                let line = try outcome.get()
                try checker.apply(line, number: batch.firstIndex + offset + 1)
                if keepEntries { entries.append(line.entry) }
            }
            current = following
        }
        let torn = lineLimit == nil ? reader.tornTail.map { TornTail(offset: $0.offset, length: $0.length) } : nil
        return (Result(state: checker.state, entries: entries), torn)
    }

    /// Verifies ledger content held in memory.
    public static func verify(
        bytes: [UInt8], publicKey: [UInt8], signatures: SignatureCheck = .everyEntry, keepEntries: Bool = false
    ) throws(LedgerError) -> Result {
        let outcome = try verifyPrefix(
            bytes: bytes, publicKey: publicKey, signatures: signatures, keepEntries: keepEntries)
        if let torn = outcome.tornTail {
            throw LedgerError(
                code: .tornTail,
                message:
                    "the last line (\(torn.length) bytes at offset \(torn.offset)) has no trailing newline: a write was interrupted; "
                    + "the \(outcome.result.state.entryCount) complete entries before it verify. Run recovery (LedgerWriter.recover) to truncate it",
                line: outcome.result.state.entryCount + 1
            )
        }
        return outcome.result
    }

    /// An incomplete final line.
    struct TornTail: Sendable, Equatable {
        let offset: Int
        let length: Int
    }

    /// Verifies every complete line and reports an incomplete last line instead of failing on it.
    ///
    /// With `.lastEntryOnly`, a failure is not reported as first found: the lines up to the failing
    /// one are checked again with every signature, so that the error names the same first failing
    /// entry as `.everyEntry` would (an entry re-signed with another key is then reported as
    /// `ledger.bad_signature` at that entry, not as a broken chain at the next one).
    static func verifyPrefix(
        bytes: [UInt8], publicKey: [UInt8], signatures: SignatureCheck, keepEntries: Bool, chunkSize: Int = chunkSize
    ) throws(LedgerError) -> (result: Result, tornTail: TornTail?, checker: LedgerChecker) {
        let lines = lineRanges(bytes)
        let tornTail: TornTail? = lines.torn.map { TornTail(offset: $0.lowerBound, length: $0.count) }
        guard !lines.complete.isEmpty else {
            throw LedgerError(
                code: tornTail == nil ? .empty : .tornTail,
                message: tornTail == nil
                    ? "the ledger holds no entries; it must start with a genesis entry"
                    : "the ledger's only line is incomplete (no trailing newline): the genesis write was interrupted; recreate the ledger",
                line: 1
            )
        }
        let lastIndex = lines.complete.count - 1
        do {
            let (result, checker) = try checkInOrder(
                bytes: bytes, ranges: lines.complete, publicKey: publicKey, keepEntries: keepEntries,
                chunkSize: chunkSize,
                verifySignature: { signatures == .everyEntry || $0 == lastIndex }
            )
            return (result, tornTail, checker)
        } catch {
            guard signatures == .lastEntryOnly, let failing = error.line, failing >= 1, failing <= lines.complete.count
            else { throw error }
            // Every check of the anchored pass is also a check of the exhaustive one, so the
            // exhaustive pass over the same lines fails too, at this line or at an earlier entry
            // whose signature does not verify.
            _ = try checkInOrder(
                bytes: bytes, ranges: Array(lines.complete[..<failing]), publicKey: publicKey, keepEntries: false,
                chunkSize: chunkSize, verifySignature: { _ in true }
            )
            throw error
        }
    }

    /// Runs the per-line checks chunk by chunk on all cores and the sequential checks over their
    /// outcomes in file order, so the first failing line is the one reported whichever worker or
    /// chunk found a failure first.
    static func checkInOrder(
        bytes: [UInt8], ranges: [Range<Int>], publicKey: [UInt8], keepEntries: Bool, chunkSize: Int,
        verifySignature: (Int) -> Bool
    ) throws(LedgerError) -> (Result, LedgerChecker) {
        var checker = LedgerChecker(publicKey: publicKey)
        var entries: [LedgerEntry] = []
        var chunkStart = 0
        while chunkStart < ranges.count {
            let chunkEnd = min(chunkStart + max(1, chunkSize), ranges.count)
            let checked = checkLines(
                bytes: bytes, ranges: ranges, indices: chunkStart..<chunkEnd, publicKey: publicKey,
                keepData: keepEntries,
                verifySignature: verifySignature
            )
            for (offset, outcome) in checked.enumerated() {
                let line = try outcome.get()
                try checker.apply(line, number: chunkStart + offset + 1)
                if keepEntries { entries.append(line.entry) }
            }
            chunkStart = chunkEnd
        }
        return (Result(state: checker.state, entries: entries), checker)
    }

    /// Complete lines (without their newline) and an incomplete final line, if any.
    static func lineRanges(_ bytes: [UInt8]) -> (complete: [Range<Int>], torn: Range<Int>?) {
        var ranges: [Range<Int>] = []
        var start = 0
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            while start < buffer.count {
                guard let found = memchr(base + start, 0x0A, buffer.count - start) else { break }
                let end = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
                ranges.append(start..<end)
                start = end + 1
            }
        }
        return (ranges, start < bytes.count ? start..<bytes.count : nil)
    }

    /// Runs the per-line checks for `indices` on all cores.
    static func checkLines(
        bytes: [UInt8], ranges: [Range<Int>], indices: Range<Int>, publicKey: [UInt8], keepData: Bool = true,
        lineOffset: Int = 0,
        verifySignature: (Int) -> Bool
    ) -> [Swift.Result<CheckedLine, LedgerError>] {
        let count = indices.count
        let wantSignature = indices.map(verifySignature)
        return Array(unsafeUninitializedCapacity: count) { results, initialized in
            bytes.withUnsafeBufferPointer { buffer in
                let shared = SharedBuffers(input: buffer, output: results)
                let workers = max(1, min(processorCount, count / 64))
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    // Contiguous slices per worker: each writes only its own result slots.
                    let from = count * worker / workers
                    let to = count * (worker + 1) / workers
                    for position in from..<to {
                        let index = indices.lowerBound + position
                        let outcome = checkLine(
                            shared.input, range: ranges[index], number: lineOffset + index + 1, publicKey: publicKey,
                            verifySignature: wantSignature[position], keepData: keepData
                        )
                        (shared.output.baseAddress! + position).initialize(to: outcome)
                    }
                }
            }
            initialized = count
        }
    }

    static let processorCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Parses one line and checks what needs no other line. Without `keepData` the entry's
    /// `data` is released here, on the worker, once the typed record is decoded from it.
    static func checkLine(
        _ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>, number: Int, publicKey: [UInt8], verifySignature: Bool,
        keepData: Bool = true
    ) -> Swift.Result<CheckedLine, LedgerError> {
        let line = UnsafeBufferPointer(rebasing: buffer[range])
        let json: JSONValue
        let isCanonical: Bool
        do {
            (json, isCanonical) = try JSONParser.parseNotingCanonicalForm(buffer: line)
        } catch {
            return .failure(LedgerError(code: .badJSON, message: "not valid JSON: \(error)", line: number))
        }
        let seq = json["seq"]?.intValue
        guard isCanonical else {
            let canonical = CanonicalJSON.serialize(json)
            let difference =
                zip(canonical, line).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset
                ?? min(canonical.count, line.count)
            return .failure(
                LedgerError(
                    code: .notCanonical,
                    message:
                        "valid JSON but not RFC 8785 canonical (first difference at byte \(difference)); entries must never be reformatted or edited",
                    line: number, seq: seq
                ))
        }
        var entry: LedgerEntry
        do {
            entry = try LedgerEntry(json: json)
        } catch {
            return .failure(LedgerError(code: error.code, message: error.message, line: number, seq: seq))
        }
        let hash = LineHash.hex(UnsafeRawBufferPointer(line))
        var valid: Bool? = nil
        if verifySignature {
            valid = Ed25519.verify(
                signature: entry.signature, message: signedBytes(ofCanonicalLine: line), publicKey: publicKey)
        }
        let record = CheckedLine.decode(entry)
        if !keepData {
            entry = LedgerEntry(
                version: entry.version, seq: entry.seq, time: entry.time, kind: entry.kind, prev: entry.prev,
                data: .null,
                signature: entry.signature
            )
        }
        return .success(CheckedLine(entry: entry, hash: hash, signatureValid: valid, record: record))
    }

    /// The signed bytes of a canonical line: the line with its top-level `,"sig":"…"` member cut
    /// out. Canonical order puts the envelope members after `data` as `…,"seq":N,"sig":"…","time":"…","v":1}`,
    /// and the tail after `sig` (time and v) cannot contain that pattern, so the last occurrence is
    /// the top-level member. Equal to `LedgerEntry.signedBytes`, without re-serializing.
    static func signedBytes(ofCanonicalLine line: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let pattern = Array(#","sig":""#.utf8)
        var start = line.count - pattern.count
        while start >= 0 {
            if line[start] == pattern[0],
                UnsafeBufferPointer(rebasing: line[start..<start + pattern.count]).elementsEqual(pattern)
            {
                break
            }
            start -= 1
        }
        guard start >= 0 else { return Array(line) }
        var end = start + pattern.count
        while end < line.count, line[end] != UInt8(ascii: "\"") { end += 1 }
        var message = [UInt8]()
        message.reserveCapacity(line.count)
        message.append(contentsOf: UnsafeBufferPointer(rebasing: line[..<start]))
        message.append(contentsOf: UnsafeBufferPointer(rebasing: line[min(end + 1, line.count)...]))
        return message
    }

    /// The whole ledger file, read streaming with the line-length limit of `LedgerLineReader`
    /// (a file that is not a ledger fails with `ledger.line_too_long` instead of filling memory).
    static func readLedger(_ path: String) throws(LedgerError) -> [UInt8] {
        var reader = try LedgerLineReader(path: path)
        defer { reader.closeFile() }
        var bytes: [UInt8] = []
        while let batch = try reader.nextBatch(maxLines: chunkSize) { bytes += batch.bytes }
        // A final line without its newline is part of the file; the caller reports it.
        return bytes + reader.pendingTail
    }
}

/// The input and output buffers of one parallel pass.
private struct SharedBuffers: @unchecked Sendable {
    // @unchecked Sendable: `input` is only read; `output` slots are written by exactly one
    // worker each (disjoint index ranges), and read only after concurrentPerform returns.
    let input: UnsafeBufferPointer<UInt8>
    let output: UnsafeMutableBufferPointer<Swift.Result<CheckedLine, LedgerError>>
}

/// Reads a ledger without verifying signatures or budgets: for display and export of files that
/// may be damaged. Lines that cannot be read are reported next to the entries that can.
public enum LedgerReader {
    /// The readable entries and the problems found, in file order.
    public struct Contents: Sendable {
        public let entries: [LedgerEntry]
        /// Per-line problems (bad JSON, non-canonical, malformed envelope, torn tail).
        public let problems: [LedgerError]
    }

    /// Reads the ledger at `path`.
    public static func read(file path: String) throws(LedgerError) -> Contents {
        try read(bytes: LedgerVerifier.readLedger(path))
    }

    /// Reads ledger content from memory.
    public static func read(bytes: [UInt8]) -> Contents {
        let lines = LedgerVerifier.lineRanges(bytes)
        var entries: [LedgerEntry] = []
        var problems: [LedgerError] = []
        let checked = LedgerVerifier.checkLines(
            bytes: bytes, ranges: lines.complete, indices: 0..<lines.complete.count, publicKey: [],
            verifySignature: { _ in false }
        )
        for outcome in checked {
            switch outcome {
            case .success(let line): entries.append(line.entry)
            case .failure(let error): problems.append(error)
            }
        }
        if let torn = lines.torn {
            problems.append(
                LedgerError(
                    code: .tornTail,
                    message: "the last line (\(torn.count) bytes) has no trailing newline: an interrupted write",
                    line: lines.complete.count + 1
                ))
        }
        return Contents(entries: entries, problems: problems)
    }
}
