import CohortCrypto
import CohortStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The only writer of a ledger: appends signed entries to `<state>/ledger.jsonl`, each with one
/// write(2) and an fsync before `append` returns.
///
/// - Exclusive: holds an `flock` on the file for its lifetime, so a second coordinator on the
///   same state directory fails with `ledger.locked` instead of interleaving entries.
/// - Self-checking: every entry passes the verifier's sequential checks (chain, round order, the
///   ε recomputation, the budget cap) before it is written, so the writer cannot produce a ledger
///   that fails verification.
/// - Failure-atomic: when a write fails (ENOSPC, EIO…) the file is truncated back to its previous
///   length and a `LedgerError` is thrown; after a failed fsync the writer refuses further
///   appends (`ledger.writer_poisoned`), since the kernel may have dropped the data: restart.
///
/// Not `Sendable`: one owner (the coordinator's ledger actor) performs all appends.
public final class LedgerWriter {
    /// The ledger's file name inside a state directory.
    public static let fileName = "ledger.jsonl"

    /// Path of the ledger file.
    public let path: String
    /// The summary after the last appended entry.
    public var state: LedgerState { checker.state }

    private var fd: Int32
    private let key: Ed25519.KeyPair
    private let clock: @Sendable () -> LedgerTime
    private var checker: LedgerChecker
    private var length: off_t
    private var poisoned: LedgerError?

    private init(
        path: String, fd: Int32, key: Ed25519.KeyPair, clock: @escaping @Sendable () -> LedgerTime,
        checker: LedgerChecker, length: off_t
    ) {
        self.path = path
        self.fd = fd
        self.key = key
        self.clock = clock
        self.checker = checker
        self.length = length
    }

    deinit {
        // Closing the descriptor releases the flock.
        if fd >= 0 { SystemCall.close(fd) }
    }

    /// Closes the file and releases its lock now rather than when the writer is freed; every
    /// later append fails with `ledger.writer_poisoned`.
    public func close() {
        guard fd >= 0 else { return }
        SystemCall.close(fd)
        fd = -1
        poisoned = LedgerError(code: .writerPoisoned, message: "the ledger writer for \(path) was closed")
    }

    /// The ledger path for a state directory.
    public static func ledgerPath(stateDirectory: String) -> String {
        stateDirectory.hasSuffix("/") ? stateDirectory + fileName : stateDirectory + "/" + fileName
    }

    /// Creates a new ledger in `stateDirectory` and writes its genesis entry.
    ///
    /// The file and its directory are fsync'd, so the new name survives a crash. An existing empty
    /// file (a creation interrupted before genesis) is reused; a non-empty one is refused.
    /// - Parameters:
    ///   - signingKey: the coordinator's Ed25519 ledger key; must match `genesis.ledgerPublicKey`.
    ///   - clock: the time source (tests pass a fixed one).
    public static func create(
        stateDirectory: String, signingKey: Ed25519.KeyPair, genesis: GenesisPayload,
        clock: @escaping @Sendable () -> LedgerTime = { LedgerTime.now() }
    ) throws(LedgerError) -> LedgerWriter {
        guard genesis.ledgerPublicKey == signingKey.publicKey else {
            throw LedgerError(
                code: .wrongKey, message: "genesis.ledger_public_key must be the signing key's public key")
        }
        do {
            try DurableFile.createDirectory(stateDirectory)
        } catch {
            throw storageError(error.errno ?? EIO, "creating the state directory", path: stateDirectory)
        }
        let path = ledgerPath(stateDirectory: stateDirectory)
        let fd = SystemCall.open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw storageError(errno, "creating", path: path) }
        do throws(LedgerError) {
            try lock(fd, path: path)
            let size = try fileSize(fd, path: path)
            guard size == 0 else {
                throw LedgerError(
                    code: .alreadyExists,
                    message: "a ledger already exists at \(path); open it instead, or move it away to start a new one"
                )
            }
            guard fsync(fd) == 0 else { throw storageError(errno, "syncing", path: path) }
            do {
                try DurableFile.syncDirectory(containing: path)
            } catch {
                throw storageError(error.errno ?? EIO, "syncing the directory of", path: path)
            }
        } catch {
            SystemCall.close(fd)
            throw error
        }
        let writer = LedgerWriter(
            path: path, fd: fd, key: signingKey, clock: clock, checker: LedgerChecker(publicKey: signingKey.publicKey),
            length: 0)
        try writer.append(genesis)
        return writer
    }

    /// Opens an existing ledger for appending, after verifying it completely with the signing
    /// key's public half.
    /// - Throws: `ledger.not_found`, `ledger.locked`, `ledger.torn_tail` (run `recover` first), or
    ///   any verification error.
    public static func open(
        stateDirectory: String, signingKey: Ed25519.KeyPair, signatures: LedgerVerifier.SignatureCheck = .everyEntry,
        clock: @escaping @Sendable () -> LedgerTime = { LedgerTime.now() }
    ) throws(LedgerError) -> LedgerWriter {
        let path = ledgerPath(stateDirectory: stateDirectory)
        let fd = SystemCall.open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT {
                throw LedgerError(
                    code: .notFound, message: "no ledger at \(path); create one with a genesis entry first")
            }
            throw storageError(err, "opening", path: path)
        }
        do throws(LedgerError) {
            try lock(fd, path: path)
            let bytes = try readAll(fd, path: path)
            let outcome = try LedgerVerifier.verifyPrefix(
                bytes: bytes, publicKey: signingKey.publicKey, signatures: signatures, keepEntries: false)
            if let torn = outcome.tornTail {
                throw LedgerError(
                    code: .tornTail,
                    message:
                        "the last line of \(path) (\(torn.length) bytes) is incomplete, from an interrupted write; run recovery to truncate it, then open again",
                    line: outcome.result.state.entryCount + 1
                )
            }
            return LedgerWriter(
                path: path, fd: fd, key: signingKey, clock: clock, checker: outcome.checker, length: off_t(bytes.count))
        } catch {
            SystemCall.close(fd)
            throw error
        }
    }

    /// Appends a typed entry. See `append(kind:data:)`.
    @discardableResult
    public func append(_ payload: some LedgerPayload) throws(LedgerError) -> LedgerEntry {
        try append(kind: type(of: payload).kind, data: payload.data)
    }

    /// Signs and appends one entry; returns after it is on stable storage.
    ///
    /// The entry's time is the clock's, or the previous entry's if the clock stepped back (an NTP
    /// correction must not make the ledger fail its time check).
    /// - Throws: the verification error the entry would cause (nothing written);
    ///   `ledger.storage_full` or `ledger.io` when the write or sync fails (file unchanged).
    @discardableResult
    public func append(kind: String, data: JSONValue) throws(LedgerError) -> LedgerEntry {
        if let poisoned { throw poisoned }
        guard case .object = data, data.isFiniteEverywhere, !kind.isEmpty else {
            throw LedgerError(
                code: .invalidEntry,
                message: "an entry needs a non-empty kind and a data object with finite numbers only")
        }
        let state = checker.state
        let entry = LedgerEntry.signed(
            seq: state.entryCount, time: max(clock(), state.lastTime), kind: kind, prev: state.lastHash, data: data,
            key: key
        )
        var line = entry.canonicalLine
        let hash = LineHash.hex(line)
        var next = checker
        do {
            try next.apply(CheckedLine(entry: entry, hash: hash, signatureValid: true), number: state.entryCount + 1)
        } catch {
            throw LedgerError(code: error.code, message: "refusing to append \(kind): \(error.message)", seq: entry.seq)
        }
        line.append(UInt8(ascii: "\n"))
        try writeLine(line)
        checker = next
        return entry
    }

    /// Signs and appends several entries with one write and one fsync: all become durable
    /// together or none does. For records that need no ordering against an outside effect among
    /// themselves (e.g. a round's gate decisions before its opening entry).
    /// - Throws: as `append(kind:data:)`; nothing is written when any entry would fail verification.
    @discardableResult
    public func appendAll(_ payloads: [any LedgerPayload]) throws(LedgerError) -> [LedgerEntry] {
        if let poisoned { throw poisoned }
        var next = checker
        var bytes: [UInt8] = []
        var entries: [LedgerEntry] = []
        for payload in payloads {
            let kind = type(of: payload).kind
            let data = payload.data
            guard case .object = data, data.isFiniteEverywhere else {
                throw LedgerError(
                    code: .invalidEntry, message: "an entry needs a data object with finite numbers only (\(kind))")
            }
            let state = next.state
            let entry = LedgerEntry.signed(
                seq: state.entryCount, time: max(clock(), state.lastTime), kind: kind, prev: state.lastHash, data: data,
                key: key
            )
            let line = entry.canonicalLine
            do {
                try next.apply(
                    CheckedLine(entry: entry, hash: SHA256.hexDigest(line), signatureValid: true),
                    number: state.entryCount + 1)
            } catch {
                throw LedgerError(
                    code: error.code, message: "refusing to append \(kind): \(error.message)", seq: entry.seq)
            }
            bytes += line
            bytes.append(UInt8(ascii: "\n"))
            entries.append(entry)
        }
        guard !entries.isEmpty else { return [] }
        try writeLine(bytes)
        checker = next
        return entries
    }

    /// One write(2) of the whole line, then fsync; on any failure the file returns to `length`.
    private func writeLine(_ line: [UInt8]) throws(LedgerError) {
        var written: Int
        repeat {
            written = line.withUnsafeBytes { SystemCall.write(fd, $0.baseAddress!, $0.count) }
        } while written < 0 && errno == EINTR
        if written != line.count {
            // A short write happens when the disk fills mid-line; report it as ENOSPC.
            let err = written < 0 ? errno : ENOSPC
            try rollBack(after: err, operation: "writing")
        }
        guard fsync(fd) == 0 else {
            let err = errno
            // After a failed fsync the page cache may no longer hold what was written (Linux drops
            // dirty pages on writeback errors), so this process can no longer know what is on
            // disk: undo what it can and stop appending until a restart re-verifies the file.
            _ = ftruncate(fd, length)
            let error = Self.storageError(err, "syncing", path: path)
            poisoned = LedgerError(
                code: .writerPoisoned,
                message:
                    "an earlier fsync of \(path) failed (\(error.code)); restart the coordinator so it re-verifies the ledger"
            )
            throw error
        }
        length += off_t(line.count)
    }

    private func rollBack(after err: Int32, operation: String) throws(LedgerError) -> Never {
        let error = Self.storageError(err, operation, path: path)
        guard ftruncate(fd, length) == 0, fsync(fd) == 0 else {
            poisoned = LedgerError(
                code: .writerPoisoned,
                message: "a failed write to \(path) could not be undone; restart the coordinator and run recovery"
            )
            throw poisoned!
        }
        throw error
    }

    /// What `recover` did.
    public struct RecoveryReport: Sendable, Equatable {
        /// Offset at which the file was truncated (its new length), or nil when nothing was removed.
        public let truncatedAt: Int?
        /// The bytes removed: the incomplete final line (ledger content, never secret).
        public let removed: [UInt8]
        /// Complete, verified entries kept.
        public let entriesKept: Int

        /// A one-line account for logs.
        public var summary: String {
            guard let truncatedAt else { return "ledger intact: \(entriesKept) entries, nothing removed" }
            return
                "removed an incomplete final line of \(removed.count) bytes at offset \(truncatedAt); \(entriesKept) verified entries kept"
        }
    }

    /// Truncates an incomplete final line left by a crash mid-write, and nothing else.
    ///
    /// The complete lines must all verify under `publicKey`; any other damage throws and leaves
    /// the file untouched, because only an interrupted append is safe to undo (it was never
    /// acknowledged, so nothing was released on its strength).
    public static func recover(stateDirectory: String, publicKey: [UInt8]) throws(LedgerError) -> RecoveryReport {
        let path = ledgerPath(stateDirectory: stateDirectory)
        let fd = SystemCall.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT { throw LedgerError(code: .notFound, message: "no ledger at \(path)") }
            throw storageError(err, "opening", path: path)
        }
        defer { SystemCall.close(fd) }
        try lock(fd, path: path)
        let bytes = try readAll(fd, path: path)
        let lines = LedgerVerifier.lineRanges(bytes)
        let keep: Int
        let entriesKept: Int
        if lines.complete.isEmpty {
            // Only an interrupted genesis (or nothing): the ledger returns to empty.
            guard let torn = lines.torn else { return RecoveryReport(truncatedAt: nil, removed: [], entriesKept: 0) }
            keep = torn.lowerBound
            entriesKept = 0
        } else {
            let outcome = try LedgerVerifier.verifyPrefix(
                bytes: bytes, publicKey: publicKey, signatures: .everyEntry, keepEntries: false)
            entriesKept = outcome.result.state.entryCount
            guard let torn = outcome.tornTail else {
                return RecoveryReport(truncatedAt: nil, removed: [], entriesKept: entriesKept)
            }
            keep = torn.offset
        }
        guard ftruncate(fd, off_t(keep)) == 0 else { throw storageError(errno, "truncating", path: path) }
        guard fsync(fd) == 0 else { throw storageError(errno, "syncing", path: path) }
        return RecoveryReport(truncatedAt: keep, removed: Array(bytes[keep...]), entriesKept: entriesKept)
    }

    private static func lock(_ fd: Int32, path: String) throws(LedgerError) {
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let err = errno
            if err == EWOULDBLOCK {
                throw LedgerError(
                    code: .locked,
                    message:
                        "another process holds the lock on \(path) (a running coordinator?); stop it before starting another on this state directory"
                )
            }
            throw storageError(err, "locking", path: path)
        }
    }

    private static func fileSize(_ fd: Int32, path: String) throws(LedgerError) -> off_t {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw storageError(errno, "inspecting", path: path) }
        return info.st_size
    }

    private static func readAll(_ fd: Int32, path: String) throws(LedgerError) -> [UInt8] {
        let size = Int(try fileSize(fd, path: path))
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        while offset < size {
            let count = bytes.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + offset, size - offset, off_t(offset))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw storageError(errno, "reading", path: path)
            }
            if count == 0 { break }
            offset += count
        }
        return Array(bytes[0..<offset])
    }

    static func storageError(_ err: Int32, _ operation: String, path: String) -> LedgerError {
        let reason = String(cString: strerror(err))
        switch err {
        case ENOSPC, EDQUOT:
            return LedgerError(
                code: .storageFull,
                message: "\(operation) \(path) failed: \(reason). Nothing was written and the ledger is unchanged; "
                    + "free space on that file system, then retry (the round cannot proceed until its entry is written)"
            )
        default:
            return LedgerError(
                code: .io,
                message:
                    "\(operation) \(path) failed: \(reason); the ledger is unchanged. Check the disk and permissions")
        }
    }
}
