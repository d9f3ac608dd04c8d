#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash-safe file primitives over POSIX calls: every function returns only after the data is
/// on stable storage (fsync of the file and, where a name changes, of its directory).
public enum DurableFile {
    /// Writes `bytes` to `path` atomically: a temporary sibling is written, fsync'd and renamed
    /// over `path`, then the directory is fsync'd. A crash leaves either the old or the new file.
    /// - Parameter mode: permission bits for the new file (e.g. `0o600` for keys).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(StorageError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system("creating", path: temporary, errno: errno) }
        do throws(StorageError) {
            // Mode is applied explicitly because open(2) filters it through the umask.
            guard fchmod(fd, mode) == 0 else {
                throw StorageError.system("setting the mode of", path: temporary, errno: errno)
            }
            try writeAll(fd: fd, bytes: bytes, path: temporary)
            guard fsync(fd) == 0 else { throw StorageError.system("syncing", path: temporary, errno: errno) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let err = errno
            unlink(temporary)
            throw .system("renaming into place", path: path, errno: err)
        }
        try syncDirectory(containing: path)
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(fd: Int32, bytes: [UInt8], path: String) throws(StorageError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + offset, bytes.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("writing", path: path, errno: errno)
            }
            offset += written
        }
    }

    /// fsyncs the directory that contains `path`, making a created or renamed name durable.
    public static func syncDirectory(containing path: String) throws(StorageError) {
        let directory = parentDirectory(of: path)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("opening directory", path: directory, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .system("syncing directory", path: directory, errno: errno) }
    }

    /// Reads the whole file at `path`.
    public static func read(_ path: String) throws(StorageError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system("opening", path: path, errno: errno) }
        defer { close(fd) }
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { SystemCall.read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("reading", path: path, errno: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    /// The permission bits of the file at `path`.
    public static func permissions(of path: String) throws(StorageError) -> mode_t {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .system("inspecting", path: path, errno: errno) }
        return info.st_mode & 0o7777
    }

    /// Whether a file or directory exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Whether `path` is a directory (following symbolic links).
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Creates `path` and missing parents with `mode`; succeeds if it already exists.
    public static func createDirectory(_ path: String, mode: mode_t = 0o755) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw .system("creating directory", path: prefix, errno: errno)
            }
            prefix += "/"
        }
    }

    /// The directory part of `path` ("." when there is none).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}
