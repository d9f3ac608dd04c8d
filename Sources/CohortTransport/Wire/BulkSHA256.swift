import CohortCrypto
import Crypto

/// SHA-256 of multi-megabyte buffers: sealed updates and checkpoints.
///
/// The same function as `CohortCrypto.SHA256` (libsodium), computed by BoringSSL's assembly
/// through swift-crypto, which this module already links for TLS. libsodium's SHA-256 is portable
/// C (about 50–120 MB/s on the benchmark machine); BoringSSL uses the CPU's SHA extensions or
/// AVX2 where present. Every round hashes each 4 MB update on the participant and on the
/// coordinator, so the portable code alone cost more than the whole round's target time.
/// Digests are identical (the tests compare both implementations). The ledger verifier hashes its
/// lines through swift-crypto too (`CohortLedger.LineHash`), for the same reason at 100,000 lines.
public enum BulkSHA256 {
    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { digest($0) }
    }

    /// The 32-byte digest of the bytes in `bytes`.
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: bytes))
    }

    /// The lowercase hexadecimal digest of `bytes`.
    public static func hexDigest(_ bytes: [UInt8]) -> String {
        Hex.encode(digest(bytes))
    }
}
