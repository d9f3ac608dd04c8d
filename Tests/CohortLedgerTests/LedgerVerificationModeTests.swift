import CohortCrypto
import CohortTesting
import Testing

@testable import CohortLedger

/// The two signature modes, the parallel pass and the fast paths of verification.
@Suite("Ledger verification modes")
struct LedgerVerificationModeTests {
    static func verify(
        _ bytes: [UInt8], key: [UInt8], signatures: LedgerVerifier.SignatureCheck,
        chunkSize: Int = LedgerVerifier.chunkSize
    ) -> LedgerError? {
        ledgerError {
            _ = try LedgerVerifier.verifyPrefix(
                bytes: bytes, publicKey: key, signatures: signatures, keepEntries: false, chunkSize: chunkSize)
        }
    }

    /// How one line is to be damaged by `rebuild`.
    enum Damage {
        /// Signed with another key.
        case otherKey
        /// A space after the opening brace: valid JSON, not canonical.
        case notCanonical
    }

    /// Re-signs and re-chains every line from the first damaged one with `key`, except that the
    /// damaged lines get their damage; the chain stays intact, so only per-line checks can fail.
    static func rebuild(_ lines: [[UInt8]], key: Ed25519.KeyPair, damage: [Int: Damage]) throws -> [[UInt8]] {
        let other = Ed25519.KeyPair.generate()
        var result = lines
        guard let first = damage.keys.min() else { return lines }
        var prev = first == 0 ? LedgerEntry.genesisPrev : LineHash.hex(lines[first - 1])
        for position in first..<lines.count {
            let entry = try LedgerEntry(json: JSONParser.parse(lines[position]))
            let signer = damage[position] == .otherKey ? other : key
            var line = LedgerEntry.signed(
                seq: entry.seq, time: entry.time, kind: entry.kind, prev: prev, data: entry.data, key: signer
            ).canonicalLine
            if damage[position] == .notCanonical { line.insert(UInt8(ascii: " "), at: 1) }
            result[position] = line
            prev = LineHash.hex(line)
        }
        return result
    }

    static let key = Ed25519.KeyPair.generate()
    /// 3,000 entries: with chunks of 256 lines, 12 chunks, each split between the workers.
    static let lines = Fixtures.lines(LedgerBenchmark.syntheticLedger(entries: 3000, key: key))

    @Test("every mode and chunk size verifies the intact ledger")
    func intact() {
        let bytes = Fixtures.join(Self.lines)
        for chunk in [1, 7, 256, LedgerVerifier.chunkSize] {
            for mode in [LedgerVerifier.SignatureCheck.everyEntry, .lastEntryOnly] {
                #expect(Self.verify(bytes, key: Self.key.publicKey, signatures: mode, chunkSize: chunk) == nil)
            }
        }
    }

    @Test("the parallel pass reports the first failing entry when later workers and chunks fail too")
    func firstFailureAcrossChunks() throws {
        // Line numbers are 1-based: index 1800 is line 1801, in chunk 7 (lines 1793–2048);
        // 2950 is in the last chunk; 1830 is later in the same chunk and worker slice; 1000 is an
        // earlier chunk, in the second worker's half of it.
        let cases: [([Int: Damage], Int, LedgerError.Code)] = [
            ([1800: .otherKey, 2950: .otherKey, 1830: .notCanonical], 1801, .badSignature),
            ([1800: .notCanonical, 2950: .otherKey, 1830: .otherKey], 1801, .notCanonical),
            ([1800: .otherKey, 2950: .notCanonical, 1000: .otherKey], 1001, .badSignature),
            ([2950: .otherKey, 1000: .notCanonical], 1001, .notCanonical),
        ]
        for (damage, line, code) in cases {
            let bytes = Fixtures.join(try Self.rebuild(Self.lines, key: Self.key, damage: damage))
            for chunk in [256, 1000, LedgerVerifier.chunkSize] {
                let error = try #require(
                    Self.verify(bytes, key: Self.key.publicKey, signatures: .everyEntry, chunkSize: chunk))
                #expect(error.line == line, "chunk \(chunk): \(error)")
                #expect(error.code == code, "chunk \(chunk): \(error)")
                #expect(error.seq == line - 1)
            }
        }
    }

    @Test(
        "last-signature mode accepts an invalid inner signature that a later valid signature covers, and says so in its contract"
    )
    func anchoredCoversInnerSignatures() throws {
        // Only the key holder can produce this file: every line after the bad signature is signed
        // with the ledger key over a chain that includes the bad signature's bytes.
        let bytes = Fixtures.join(try Self.rebuild(Self.lines, key: Self.key, damage: [1500: .otherKey]))
        #expect(Self.verify(bytes, key: Self.key.publicKey, signatures: .lastEntryOnly) == nil)
        #expect(Self.verify(bytes, key: Self.key.publicKey, signatures: .everyEntry)?.line == 1501)
        // Re-signed with the other key up to the end: the last signature fails, and the report
        // names the first entry whose signature fails, as the exhaustive mode does.
        let tail = Dictionary(uniqueKeysWithValues: (1500..<Self.lines.count).map { ($0, Damage.otherKey) })
        let forged = Fixtures.join(try Self.rebuild(Self.lines, key: Self.key, damage: tail))
        let error = try #require(
            Self.verify(forged, key: Self.key.publicKey, signatures: .lastEntryOnly, chunkSize: 256))
        #expect(error.code == .badSignature)
        #expect(error.line == 1501)
    }

    @Test("both modes report the same first failing entry for every kind of tampering")
    func modesAgreeOnTampering() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        _ = try Fixtures.writeLedger(in: directory, key: key, rounds: 3)
        let lines = Fixtures.lines(Fixtures.read(directory.ledgerPath))
        var variants: [(String, [UInt8])] = []
        for position in lines[7].indices {
            var damaged = lines
            damaged[7][position] ^= 0x01
            variants.append(("flip \(position)", Fixtures.join(damaged)))
        }
        var deleted = lines
        deleted.remove(at: 5)
        variants.append(("deleted", Fixtures.join(deleted)))
        var swapped = lines
        swapped.swapAt(6, 7)
        variants.append(("swapped", Fixtures.join(swapped)))
        variants.append(("truncated", Array(Fixtures.join(lines).dropLast(40))))
        let other = Ed25519.KeyPair.generate()
        variants.append(("re-signed", Fixtures.join(try Fixtures.resign(lines, from: 4, key: other, rechain: false))))
        variants.append(("re-signed and re-chained", Fixtures.join(try Fixtures.resign(lines, from: 4, key: other))))
        variants.append(
            (
                "edited ε",
                Fixtures.join(
                    try Fixtures.resign(lines, from: 7, key: key) { data in
                        data["cumulative_epsilon"] = .number(data["cumulative_epsilon"]!.doubleValue! * (1 + 1e-6))
                    })
            ))
        for (name, bytes) in variants {
            let all = try #require(
                ledgerError {
                    _ = try LedgerVerifier.verify(bytes: bytes, publicKey: key.publicKey, signatures: .everyEntry)
                }, "\(name)")
            let last = try #require(
                ledgerError {
                    _ = try LedgerVerifier.verify(bytes: bytes, publicKey: key.publicKey, signatures: .lastEntryOnly)
                }, "\(name)")
            #expect(all.code == last.code, "\(name): \(all) vs \(last)")
            #expect(all.line == last.line, "\(name): \(all) vs \(last)")
            #expect(all.seq == last.seq, "\(name)")
        }
    }

    @Test("the line hash equals libsodium's SHA-256 at every length around the block boundaries")
    func lineHashMatchesLibsodium() {
        var bytes: [UInt8] = []
        for length in 0..<300 {
            #expect(LineHash.hex(bytes) == SHA256.hexDigest(bytes), "length \(length)")
            bytes.append(UInt8(truncatingIfNeeded: length &* 31 &+ 7))
        }
        let line = Self.lines[3]
        #expect(LineHash.hex(line) == SHA256.hexDigest(line))
    }

    @Test("the signature decoder accepts exactly the canonical Base64 of 64 bytes")
    func signatureDecoder() {
        for round in 0..<200 {
            let bytes = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ round &* 101) }
            let text = Base64.encode(bytes)
            #expect(LedgerEntry.decodeSignature(text) == bytes)
            var chars = Array(text.utf8)
            // Every single-character change must be rejected or decode to what libsodium's
            // decode-then-re-encode check accepts.
            for position in [0, 41, 84, 85, 86, 87] {
                for replacement in Array("A+/=Bz9 Q".utf8) where replacement != chars[position] {
                    let original = chars[position]
                    chars[position] = replacement
                    let mutated = String(decoding: chars, as: UTF8.self)
                    let reference = Base64.decode(mutated).flatMap {
                        $0.count == 64 && Base64.encode($0) == mutated ? $0 : nil
                    }
                    #expect(LedgerEntry.decodeSignature(mutated) == reference, "\(mutated)")
                    chars[position] = original
                }
            }
        }
        #expect(LedgerEntry.decodeSignature("") == nil)
        #expect(LedgerEntry.decodeSignature(Base64.encode(Array(repeating: 1, count: 63))) == nil)
        #expect(LedgerEntry.decodeSignature(Base64.encode(Array(repeating: 1, count: 65))) == nil)
    }
}
