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
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode)
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
        let length = info.st_size
        do throws(StorageError) {
            try writeAll(fd: fd, bytes: line + [0x0A], path: path)
            guard fsync(fd) == 0 else { throw StorageError.system("syncing", path: path, errno: errno) }
        } catch {
            _ = ftruncate(fd, length)
            throw error
        }
        if created { try syncDirectory(containing: path) }
    }
}
