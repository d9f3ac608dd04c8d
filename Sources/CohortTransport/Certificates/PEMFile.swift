import CohortCrypto
import CohortStorage
import Foundation

/// Reading and writing PEM files, with the same permission rules as `KeyFile`: private keys are
/// written 0600 and refused on read when group or others can access them.
enum PEMFile {
    static func writePublic(_ pem: String, to path: String) throws(TransportError) {
        do {
            try DurableFile.writeAtomically(Array(pem.utf8), to: path, mode: 0o644)
        } catch {
            throw TransportError(code: "certs.io", message: "cannot write \(path): \(error)")
        }
    }

    static func writeSecret(_ pem: String, to path: String) throws(TransportError) {
        var bytes = Array(pem.utf8)
        defer { Sodium.memzero(&bytes, count: bytes.count) }
        do {
            try DurableFile.writeAtomically(bytes, to: path, mode: 0o600)
        } catch {
            throw TransportError(code: "certs.io", message: "cannot write \(path): \(error)")
        }
    }

    static func read(_ path: String) throws(TransportError) -> String {
        do {
            return String(decoding: try DurableFile.read(path), as: UTF8.self)
        } catch {
            throw TransportError(code: "certs.io", message: "cannot read \(path): \(error)")
        }
    }

    static func readSecret(_ path: String) throws(TransportError) -> String {
        let mode: mode_t
        do {
            mode = try DurableFile.permissions(of: path)
        } catch {
            throw TransportError(code: "certs.io", message: "cannot read \(path): \(error)")
        }
        guard mode & 0o077 == 0 else {
            throw TransportError(
                code: "certs.key_permissions",
                message: "private key \(path) has mode \(String(mode, radix: 8)), accessible by group or others; "
                    + "run `chmod 600 \(path)` if it was never exposed, otherwise issue a new certificate"
            )
        }
        return try read(path)
    }

    /// Renames `source` over `destination` (atomic on one file system) and syncs the directory.
    static func move(_ source: String, to destination: String) throws(TransportError) {
        guard rename(source, destination) == 0 else {
            throw TransportError(
                code: "certs.io",
                message: "cannot move \(source) to \(destination): \(String(cString: strerror(errno)))")
        }
        do {
            try DurableFile.syncDirectory(containing: destination)
        } catch {
            throw TransportError(code: "certs.io", message: "cannot sync the directory of \(destination): \(error)")
        }
    }

    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    /// Creates `directory` (and parents) with mode 0700 when missing: it will hold private keys.
    static func makeDirectory(_ directory: String) throws(TransportError) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory,
                withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw TransportError(code: "certs.io", message: "cannot create directory \(directory): \(error)")
        }
    }
}
