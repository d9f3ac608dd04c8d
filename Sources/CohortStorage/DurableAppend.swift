#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension DurableFile {
    /// Appends `line` and a line feed to `path` and returns once both are on stable storage.
    ///
    /// The file is created with `mode` when absent (its directory is then fsynced too) and must
    /// already have exactly `mode` otherwise: an append-only store of data the coordinator alone
    /// may read (e.g. 0600) is never widened or written through looser permissions. A failed
    /// write is truncated back to the previous length, so no partial line is left behind.
    public static func appendLine(_ line: [UInt8], to path: String, mode: mode_t) throws(StorageError) {
        let created = !exists(path)
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system("opening", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("inspecting", path: path, errno: errno) }
        if created {
            // open(2) filters the mode through the umask; set it exactly.
            guard fchmod(fd, mode) == 0 else { throw .system("setting the mode of", path: path, errno: errno) }
        } else if info.st_mode & 0o7777 != mode {
            throw StorageError(
                code: "storage.permissions",
                message: "\(path) has mode \(String(info.st_mode & 0o7777, radix: 8)), not \(String(mode, radix: 8)); "
                    + "restore it (chmod \(String(mode, radix: 8))) before the coordinator appends to it",
                path: path)
        }
        // A crash mid-append can leave a line without its line feed; the next line must not be
        // glued to it, so the fragment (never acknowledged) goes first.
        let length = try cutUnterminatedTail(fd: fd, size: info.st_size, path: path)
        do throws(StorageError) {
            try writeAll(fd: fd, bytes: line + [0x0A], path: path)
            guard fsync(fd) == 0 else { throw StorageError.system("syncing", path: path, errno: errno) }
        } catch {
            _ = ftruncate(fd, length)
            throw error
        }
        if created { try syncDirectory(containing: path) }
    }

    /// Cuts an unterminated last line (what an append interrupted by a crash leaves) from the
    /// line store at `path` and fsyncs the file; returns the number of bytes cut (0 when the
    /// store is absent, empty or ends with a line feed). Readers of append-only stores call this
    /// at start-up, before they trust the store, so a torn tail costs its own line only.
    @discardableResult
    public static func cutUnterminatedLastLine(_ path: String) throws(StorageError) -> Int64 {
        guard exists(path) else { return 0 }
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .system("opening", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system("inspecting", path: path, errno: errno) }
        let kept = try cutUnterminatedTail(fd: fd, size: info.st_size, path: path)
        return Int64(info.st_size - kept)
    }

    /// Truncates the file open as `fd` (of `size` bytes) after its last line feed when it does
    /// not end with one, fsyncs, and returns the new size.
    private static func cutUnterminatedTail(fd: Int32, size: off_t, path: String) throws(StorageError) -> off_t {
        guard size > 0 else { return 0 }
        var chunk = [UInt8](repeating: 0, count: 4096)
        var end = size
        var lastByteChecked = false
        while end > 0 {
            let start = max(0, end - off_t(chunk.count))
            let count = Int(end - start)
            let read = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, start) }
            guard read == count else { throw .system("reading", path: path, errno: errno) }
            if !lastByteChecked {
                if chunk[count - 1] == 0x0A { return size }
                lastByteChecked = true
            }
            if let newline = chunk[..<count].lastIndex(of: 0x0A) {
                return try truncate(fd: fd, to: start + off_t(newline) + 1, path: path)
            }
            end = start
        }
        return try truncate(fd: fd, to: 0, path: path)
    }

    private static func truncate(fd: Int32, to length: off_t, path: String) throws(StorageError) -> off_t {
        guard ftruncate(fd, length) == 0 else { throw .system("truncating", path: path, errno: errno) }
        guard fsync(fd) == 0 else { throw .system("syncing", path: path, errno: errno) }
        return length
    }
}
