import Crypto

/// SHA-256 of ledger lines: the chain hash of §4 of docs/LEDGER.md.
///
/// The same function as `CohortCrypto.SHA256` (libsodium), computed by BoringSSL through
/// swift-crypto, which uses the CPU's SHA extensions or AVX2 where present. Verification hashes
/// every line of the file (about 90 MB for 100,000 entries), and libsodium's portable C runs at
/// roughly a tenth of that speed on the benchmark machine. swift-crypto is not a networking
/// module; CohortLedger still imports nothing networked. Tests compare both implementations.
enum LineHash {
    /// The lowercase hexadecimal SHA-256 of `bytes`.
    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        let digest = Crypto.SHA256.hash(data: bytes)
        return digest.withUnsafeBytes { raw in
            String(unsafeUninitializedCapacity: 64) { out in
                for (index, byte) in raw.enumerated() {
                    out[2 * index] = hexDigits[Int(byte >> 4)]
                    out[2 * index + 1] = hexDigits[Int(byte & 0x0F)]
                }
                return 64
            }
        }
    }

    /// The lowercase hexadecimal SHA-256 of `bytes`.
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex($0) }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
