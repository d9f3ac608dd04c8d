import CohortBenchSupport
import CohortCrypto
import CohortTransport
import Crypto
import Foundation

/// The cryptography one round cannot do without, timed alone in this process: what the round's
/// time cannot go below on this machine however well everything else overlaps.
///
/// Per contribution: the participant seals its update to the coordinator (libsodium sealed box),
/// hashes the sealed bytes for its signature (SHA-256) and TLS-encrypts them (AES-128-GCM, the
/// suite TLS 1.3 negotiates here); the coordinator TLS-decrypts, hashes and opens them. Per
/// invited participant the global model crosses TLS once (encrypt + decrypt). Each operation is
/// timed on one model-sized buffer, single-threaded; the sum over a round is divided by the cores.
/// Left out: kernel copies, page faults, framing, clipping and summing, the ledger, evaluation.
struct CryptoFloor {
    let sealSeconds: Double
    let openSeconds: Double
    let sha256Seconds: Double
    let aesGCMEncryptSeconds: Double
    let aesGCMDecryptSeconds: Double

    static func measure(parameters: Int) throws -> CryptoFloor {
        let plaintext = [UInt8](repeating: 0x5A, count: UpdatePlaintext.headerLength + parameters * 4)
        let recipient = SealedBox.KeyPair.generate()
        // Outputs allocated (and touched) once, outside the timing: the floor counts the
        // cryptography, not page faults.
        var sealed = [UInt8](repeating: 0, count: plaintext.count + SealedBox.overhead)
        let seal = Measure.median(repetitions: 5) {
            plaintext.withUnsafeBytes { message in
                sealed.withUnsafeMutableBytes { output in
                    try! SealedBox.seal(message, to: recipient.publicKey, into: output)
                }
            }
        }
        var opened = [UInt8](repeating: 0, count: plaintext.count)
        let open = Measure.median(repetitions: 5) {
            sealed.withUnsafeBytes { box in
                opened.withUnsafeMutableBytes { output in try! recipient.open(box, into: output) }
            }
        }
        precondition(opened == plaintext, "the sealed box did not round-trip")
        var digest: [UInt8] = []
        let sha = Measure.median(repetitions: 5) { digest = BulkSHA256.digest(sealed) }
        // TLS 1.3 between BoringSSL peers with AES hardware negotiates TLS_AES_128_GCM_SHA256.
        let key = SymmetricKey(size: .bits128)
        var box: AES.GCM.SealedBox?
        let encrypt = Measure.median(repetitions: 5) { box = try! AES.GCM.seal(sealed, using: key) }
        var decrypted = Data()
        let decrypt = Measure.median(repetitions: 5) { decrypted = try! AES.GCM.open(box!, using: key) }
        precondition(decrypted.count == sealed.count, "AES-GCM did not round-trip")
        Measure.consume(digest)
        return CryptoFloor(
            sealSeconds: seal, openSeconds: open, sha256Seconds: sha, aesGCMEncryptSeconds: encrypt,
            aesGCMDecryptSeconds: decrypt)
    }

    /// One pass of AES-GCM over a model-sized buffer. Encryption and decryption are the same
    /// work (CTR keystream and GHASH); swift-crypto's API allocates the output, which the timing
    /// of one direction includes more than the other, so the faster of the two is taken for both.
    var aesGCMSeconds: Double { min(aesGCMEncryptSeconds, aesGCMDecryptSeconds) }

    /// CPU seconds of cryptography in one round with `participants` contributions.
    func roundCPUSeconds(participants: Int) -> Double {
        let perUpdate = sealSeconds + sha256Seconds + 2 * aesGCMSeconds + sha256Seconds + openSeconds
        let perModel = 2 * aesGCMSeconds
        return Double(participants) * (perUpdate + perModel)
    }

    /// Median latency of appending a short line to a file in `directory` and fsyncing it: one
    /// durable ledger step. A round has four in sequence (opening, charge, gate decisions, close).
    static func fsyncSeconds(directory: String) throws -> Double {
        let path = directory + "/fsync-probe"
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else {
            throw BenchError("cannot create \(path)")
        }
        defer {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: path)
        }
        let line = Data(repeating: 0x61, count: 300) + Data("\n".utf8)
        return Measure.median(repetitions: 7) {
            try! handle.write(contentsOf: line)
            try! handle.synchronize()
        }
    }
}
