import CohortErrors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed file operation, with the path, the operation and the system's reason.
public struct StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable code, e.g. `storage.no_space`, `storage.io`, `storage.permissions`.
    public let code: String
    /// What was wrong, where, and what to do.
    public let message: String
    /// The path involved.
    public let path: String
    /// The errno value, when the failure came from a system call.
    public let errno: Int32?

    public init(code: String, message: String, path: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
    }

    public var description: String { "\(code): \(message)" }

    /// Builds an error from the current `errno` after `operation` failed on `path`.
    static func system(_ operation: String, path: String, errno err: Int32) -> StorageError {
        let reason = String(cString: strerror(err))
        switch err {
        case ENOSPC, EDQUOT:
            return StorageError(
                code: "storage.no_space",
                message: "\(operation) \(path) failed: \(reason); free space on that file system and retry",
                path: path, errno: err
            )
        case EACCES, EPERM, EROFS:
            return StorageError(
                code: "storage.permission_denied",
                message:
                    "\(operation) \(path) failed: \(reason); check the owner and mode of the file and its directory",
                path: path, errno: err
            )
        case ENOENT:
            return StorageError(
                code: "storage.not_found",
                message: "\(operation) \(path) failed: \(reason); check the path",
                path: path, errno: err
            )
        default:
            return StorageError(
                code: "storage.io", message: "\(operation) \(path) failed: \(reason); check the disk and the path",
                path: path, errno: err
            )
        }
    }
}

extension StorageError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .internalFailure }
}
