import CohortStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Key files: one line `cohort-key v1 <kind> <base64>`.
///
/// Secret keys are written with mode 0600 (atomically, fsync'd) and refused on read when the group
/// or others may read or write them, as ssh does: a key that others could have read must be
/// treated as leaked, not silently used.
public enum KeyFile {
    /// What a key file holds; part of the file's header so a wrong file is caught by name.
    public enum Kind: String, Sendable, CaseIterable {
        case ed25519Secret = "ed25519-secret"
        case ed25519Public = "ed25519-public"
        case x25519Secret = "x25519-secret"
        case x25519Public = "x25519-public"
        /// A participant's key for ``KeyedPRF``, which decides each record's holdout membership.
        case holdoutSecret = "holdout-prf-secret"

        /// Whether this kind must be kept private (mode 0600).
        public var isSecret: Bool { self == .ed25519Secret || self == .x25519Secret || self == .holdoutSecret }

        var length: Int {
            switch self {
            case .ed25519Secret: Ed25519.secretKeyLength
            case .ed25519Public: Ed25519.publicKeyLength
            case .x25519Secret: SealedBox.secretKeyLength
            case .x25519Public: SealedBox.publicKeyLength
            case .holdoutSecret: KeyedPRF.keyLength
            }
        }
    }

    private static let magic = "cohort-key"
    private static let version = "v1"

    /// Writes a secret key with mode 0600.
    public static func writeSecret(_ key: SecureBytes, kind: Kind, to path: String) throws {
        precondition(kind.isSecret, "writeSecret needs a secret kind")
        var line = Array("\(magic) \(version) \(kind.rawValue) ".utf8)
        key.withUnsafeBytes { line += Array(Base64.encode(Array($0)).utf8) }
        line.append(UInt8(ascii: "\n"))
        defer { Sodium.memzero(&line, count: line.count) }
        try DurableFile.writeAtomically(line, to: path, mode: 0o600)
    }

    /// Writes a public key (mode 0644).
    public static func writePublic(_ key: [UInt8], kind: Kind, to path: String) throws {
        precondition(!kind.isSecret, "writePublic needs a public kind")
        let line = "\(magic) \(version) \(kind.rawValue) \(Base64.encode(key))\n"
        try DurableFile.writeAtomically(Array(line.utf8), to: path, mode: 0o644)
    }

    /// Reads a secret key, refusing files that group or others can access.
    public static func readSecret(kind: Kind, from path: String) throws -> SecureBytes {
        precondition(kind.isSecret, "readSecret needs a secret kind")
        let mode = try DurableFile.permissions(of: path)
        guard mode & 0o077 == 0 else {
            throw CryptoError(
                code: "crypto.key_permissions",
                message:
                    "secret key file \(path) has mode \(String(mode, radix: 8)), readable or writable by group or others; "
                    + "run `chmod 600 \(path)` if it was never exposed, otherwise issue a new key"
            )
        }
        var bytes = try DurableFile.read(path)
        defer { Sodium.memzero(&bytes, count: bytes.count) }
        var decoded = try decode(bytes, kind: kind, path: path)
        defer { Sodium.memzero(&decoded, count: decoded.count) }
        return SecureBytes(copying: decoded)
    }

    /// Reads a public key.
    public static func readPublic(kind: Kind, from path: String) throws -> [UInt8] {
        precondition(!kind.isSecret, "readPublic needs a public kind")
        return try decode(try DurableFile.read(path), kind: kind, path: path)
    }

    private static func decode(_ bytes: [UInt8], kind: Kind, path: String) throws(CryptoError) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 4, fields[0] == magic, fields[1] == version else {
            throw CryptoError(
                code: "crypto.key_format",
                message: "\(path) is not a Cohort key file (expected `\(magic) \(version) <kind> <base64>`)"
            )
        }
        guard fields[2] == kind.rawValue else {
            throw CryptoError(
                code: "crypto.key_kind",
                message:
                    "\(path) holds a \(fields[2]) key where an \(kind.rawValue) key was expected; pass the right file"
            )
        }
        guard let key = Base64.decode(String(fields[3])), key.count == kind.length else {
            throw CryptoError(
                code: "crypto.key_format",
                message: "\(path): the \(kind.rawValue) key is not valid Base64 of \(kind.length) bytes"
            )
        }
        return key
    }
}
