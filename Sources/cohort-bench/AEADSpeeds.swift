import CohortBenchSupport
import CohortCrypto
import Foundation

/// libsodium's AEADs on this CPU, on one model-sized message, single-threaded: what choosing
/// the update envelope's cipher is based on (docs/PERFORMANCE.md, "AEAD"). The sealed box
/// (X25519 + XSalsa20-Poly1305) is timed alongside, as whole seal and open operations.
struct AEADSpeeds {
    /// Median seconds to encrypt and to decrypt, by algorithm; nil when unavailable on this CPU.
    var seconds: [(name: String, encrypt: Double, decrypt: Double)?]

    static func measure(bytes: Int) -> AEADSpeeds {
        let message = [UInt8](repeating: 0x5A, count: bytes)
        var rows: [(name: String, encrypt: Double, decrypt: Double)?] = []
        for algorithm in AEADAlgorithm.allCases {
            guard algorithm.isAvailable else {
                rows.append(nil)
                continue
            }
            let key = [UInt8](repeating: 7, count: algorithm.keyLength)
            let nonce = [UInt8](repeating: 1, count: algorithm.nonceLength)
            // Outputs allocated and touched once, outside the timing: the ciphers, not page faults.
            var sealed = [UInt8](repeating: 0, count: bytes + algorithm.tagLength)
            var opened = [UInt8](repeating: 0, count: bytes)
            let encrypt = Measure.best(repetitions: 9) {
                message.withUnsafeBytes { m in
                    key.withUnsafeBytes { k in
                        nonce.withUnsafeBytes { n in
                            sealed.withUnsafeMutableBytes { c in try! algorithm.seal(m, key: k, nonce: n, into: c) }
                        }
                    }
                }
            }
            let decrypt = Measure.best(repetitions: 9) {
                sealed.withUnsafeBytes { c in
                    key.withUnsafeBytes { k in
                        nonce.withUnsafeBytes { n in
                            opened.withUnsafeMutableBytes { m in try! algorithm.open(c, key: k, nonce: n, into: m) }
                        }
                    }
                }
            }
            precondition(opened == message, "\(algorithm.rawValue) did not round-trip")
            rows.append((algorithm.rawValue, encrypt, decrypt))
        }
        let recipient = SealedBox.KeyPair.generate()
        var box = [UInt8](repeating: 0, count: bytes + SealedBox.overhead)
        let seal = Measure.best(repetitions: 9) {
            message.withUnsafeBytes { m in
                box.withUnsafeMutableBytes { c in try! SealedBox.seal(m, to: recipient.publicKey, into: c) }
            }
        }
        var opened = [UInt8](repeating: 0, count: bytes)
        let open = Measure.best(repetitions: 9) {
            box.withUnsafeBytes { c in opened.withUnsafeMutableBytes { m in try! recipient.open(c, into: m) } }
        }
        rows.append(("sealed_box_in_use", seal, open))
        return AEADSpeeds(seconds: rows)
    }

    /// One JSON object: seconds and GB/s per algorithm and direction.
    func figures(bytes: Int) -> [String: Any] {
        var table: [String: Any] = [:]
        for (algorithm, row) in zip(AEADAlgorithm.allCases.map(\.rawValue) + ["sealed_box_in_use"], seconds) {
            guard let row else {
                table[algorithm] = "unavailable on this CPU"
                continue
            }
            table[row.name] = [
                "encrypt_seconds": row.encrypt, "decrypt_seconds": row.decrypt,
                "encrypt_gb_per_s": Double(bytes) / row.encrypt / 1e9,
                "decrypt_gb_per_s": Double(bytes) / row.decrypt / 1e9,
            ]
        }
        return [
            "benchmark": "aead_speeds", "message_bytes": bytes, "threads": 1, "algorithms": table,
            "note":
                "libsodium \(AEADAlgorithm.libraryVersion); each figure the fastest of 9 passes (the least disturbed "
                + "by other load on a shared machine) over one message in buffers "
                + "touched beforehand; sealed_box_in_use is the current update envelope, key agreement included",
        ]
    }
}
