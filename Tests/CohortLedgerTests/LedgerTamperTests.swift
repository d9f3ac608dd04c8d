import CohortCrypto
import CohortPrivacy
import CohortTesting
import Testing

@testable import CohortLedger

/// Every kind of damage is detected, and the error names the entry at fault.
@Suite("Ledger tamper detection")
struct LedgerTamperTests {
    /// A verified ledger of 3 rounds (13 lines) and its lines.
    static func ledger() throws -> (TemporaryDirectory, Ed25519.KeyPair, [[UInt8]]) {
        let directory = try TemporaryDirectory()
        let key = Fixtures.testKey()
        _ = try Fixtures.writeLedger(in: directory, key: key, rounds: 3)
        return (directory, key, Fixtures.lines(Fixtures.read(directory.ledgerPath)))
    }

    static func verify(
        _ bytes: [UInt8], key: [UInt8], signatures: LedgerVerifier.SignatureCheck = .everyEntry
    ) -> LedgerError? {
        ledgerError { _ = try LedgerVerifier.verify(bytes: bytes, publicKey: key, signatures: signatures) }
    }

    @Test("the untouched ledger verifies")
    func intact() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        #expect(lines.count == 13)
        #expect(Self.verify(Fixtures.join(lines), key: key.publicKey) == nil)
    }

    @Test("flipping any single bit-0 of any byte of the charge entry is caught at that entry")
    func flippedByte() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        let target = 7  // 0-based index of round 2's round.charged (line 8)
        #expect(lines[target].count > 500)
        var codes: Set<String> = []
        for position in lines[target].indices {
            var damaged = lines
            damaged[target][position] ^= 0x01
            guard let error = Self.verify(Fixtures.join(damaged), key: key.publicKey) else {
                Issue.record("flip at byte \(position) not detected")
                continue
            }
            #expect(error.line == target + 1, "byte \(position): \(error)")
            codes.insert(error.code.rawValue)
        }
        // The flips land in strings, numbers, structure and the signature, so several checks fire.
        #expect(codes.contains("ledger.bad_signature"))
        #expect(codes.contains("ledger.bad_json"))
        #expect(codes.contains("ledger.not_canonical") || codes.contains("ledger.bad_entry"))
    }

    @Test("a deleted line is caught at the line that follows it")
    func deletedLine() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        var damaged = lines
        damaged.remove(at: 5)
        let error = try #require(Self.verify(Fixtures.join(damaged), key: key.publicKey))
        #expect(error.code == .sequenceGap)
        #expect(error.line == 6)
        #expect(error.seq == 6)
        #expect(error.message.contains("expected seq 5"))
    }

    @Test("a deleted last line is not detectable by chaining alone, but the file still verifies as a shorter prefix")
    func deletedLastLine() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        // Documented limitation (docs/LEDGER.md): truncation at a line boundary leaves a valid
        // prefix; the coordinator's state (last seq and hash) or a published head detects it.
        let state = try LedgerVerifier.verify(bytes: Fixtures.join(Array(lines.dropLast())), publicKey: key.publicKey)
            .state
        #expect(state.entryCount == 12)
    }

    @Test("two swapped lines are caught at the first of them")
    func swappedLines() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        var damaged = lines
        damaged.swapAt(6, 7)
        let error = try #require(Self.verify(Fixtures.join(damaged), key: key.publicKey))
        #expect(error.code == .sequenceGap)
        #expect(error.line == 7)
        #expect(error.seq == 7)
    }

    @Test("a truncated file is reported as a torn tail naming the incomplete line")
    func truncated() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        var bytes = Fixtures.join(lines)
        bytes.removeLast(40)
        let error = try #require(Self.verify(bytes, key: key.publicKey))
        #expect(error.code == .tornTail)
        #expect(error.line == 13)
        // Cutting into an earlier line leaves a torn line 13 that is not JSON: still a torn tail,
        // because the final line has no newline; the complete lines before it verify.
        let cut = Array(Fixtures.join(Array(lines.prefix(5))) + lines[5].prefix(100))
        let early = try #require(Self.verify(cut, key: key.publicKey))
        #expect(early.code == .tornTail)
        #expect(early.line == 6)
    }

    @Test("an entry re-signed with another key is caught at that entry")
    func resignedWithAnotherKey() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        let other = Ed25519.KeyPair.generate()
        // Only the signature changes (same content and prev); the next line's prev then breaks too.
        let damaged = try Fixtures.resign(lines, from: 4, key: other, rechain: false)
        let error = try #require(Self.verify(Fixtures.join(damaged), key: key.publicKey))
        #expect(error.code == .badSignature)
        #expect(error.line == 5)
        #expect(error.seq == 4)
        // With only the last signature checked, the changed signature bytes break the chain at the
        // next line; the re-check with every signature then names the re-signed entry itself.
        let anchored = try #require(Self.verify(Fixtures.join(damaged), key: key.publicKey, signatures: .lastEntryOnly))
        #expect(anchored.code == .badSignature)
        #expect(anchored.line == 5)
        #expect(anchored.seq == 4)
        // And an attacker re-signing everything from there on with their key fails at the same entry,
        // in both modes (in last-signature mode the last signature fails first).
        let rechained = try Fixtures.resign(lines, from: 4, key: other)
        #expect(Self.verify(Fixtures.join(rechained), key: key.publicKey)?.line == 5)
        let rechainedAnchored = Self.verify(Fixtures.join(rechained), key: key.publicKey, signatures: .lastEntryOnly)
        #expect(rechainedAnchored?.code == .badSignature)
        #expect(rechainedAnchored?.line == 5)
    }

    @Test("an edited ε, re-signed and re-chained with the right key, is caught by the recomputation")
    func editedEpsilon() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        let target = 7  // round 2's charge
        let damaged = try Fixtures.resign(lines, from: target, key: key) { data in
            data["cumulative_epsilon"] = .number(data["cumulative_epsilon"]!.doubleValue! * (1 - 1e-6))
        }
        let error = try #require(Self.verify(Fixtures.join(damaged), key: key.publicKey))
        #expect(error.code == .epsilonMismatch)
        #expect(error.line == target + 1)
        #expect(error.seq == target)
        #expect(error.message.contains("cumulative_epsilon"))

        // Likewise a lowered round ε, or a σ raised after the fact (the ε no longer follows from it).
        let round = try Fixtures.resign(lines, from: target, key: key) { data in data["round_epsilon"] = 0.001 }
        #expect(Self.verify(Fixtures.join(round), key: key.publicKey)?.code == .epsilonMismatch)
        let sigma = try Fixtures.resign(lines, from: target, key: key) { data in data["noise_multiplier"] = 5 }
        #expect(Self.verify(Fixtures.join(sigma), key: key.publicKey)?.line == target + 1)
        // An understated sensitivity is caught before the ε check.
        let sensitivity = try Fixtures.resign(lines, from: target, key: key) { data in data["sensitivity"] = 1 }
        #expect(Self.verify(Fixtures.join(sensitivity), key: key.publicKey)?.code == .sensitivityMismatch)
        // Tiny floating-point differences (well below 1e-9 relative) are accepted.
        let tiny = try Fixtures.resign(lines, from: target, key: key) { data in
            data["cumulative_epsilon"] = .number(data["cumulative_epsilon"]!.doubleValue!.nextUp)
        }
        #expect(Self.verify(Fixtures.join(tiny), key: key.publicKey) == nil)
    }

    @Test("a reformatted but equivalent line is rejected as non-canonical")
    func reformatted() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        var damaged = lines
        damaged[3] = Array(String(decoding: lines[3], as: UTF8.self).replacingAll(",", with: ", ").utf8)
        let error = try #require(Self.verify(Fixtures.join(damaged), key: key.publicKey))
        #expect(error.code == .notCanonical)
        #expect(error.line == 4)
        #expect(error.seq == 3)
    }

    @Test("the wrong public key is reported as such at the genesis entry")
    func wrongKey() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        let other = Ed25519.KeyPair.generate()
        let error = try #require(Self.verify(Fixtures.join(lines), key: other.publicKey))
        #expect(error.code == .wrongKey)
        #expect(error.line == 1)
        #expect(error.seq == 0)
        _ = key
    }

    @Test("key files: the right file verifies, another key's file is the wrong key, another kind is refused")
    func keyFiles() throws {
        let (directory, key, _) = try Self.ledger()
        defer { directory.remove() }
        let right = directory.path + "/ledger.pub"
        let wrong = directory.path + "/other.pub"
        let sealing = directory.path + "/sealing.pub"
        try KeyFile.writePublic(key.publicKey, kind: .ed25519Public, to: right)
        try KeyFile.writePublic(Ed25519.KeyPair.generate().publicKey, kind: .ed25519Public, to: wrong)
        try KeyFile.writePublic(Array(repeating: 7, count: 32), kind: .x25519Public, to: sealing)
        let rightKey = try KeyFile.readPublic(kind: .ed25519Public, from: right)
        #expect(try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: rightKey).state.entryCount == 13)
        let wrongKey = try KeyFile.readPublic(kind: .ed25519Public, from: wrong)
        #expect(
            ledgerError { _ = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: wrongKey) }?.code
                == .wrongKey)
        #expect(throws: CryptoError.self) { try KeyFile.readPublic(kind: .ed25519Public, from: sealing) }
        #expect(
            String(decoding: Fixtures.read(right), as: UTF8.self)
                == "cohort-key v1 ed25519-public \(Base64.encode(key.publicKey))\n")
    }

    @Test("a charge beyond epsilon_max is refused by the writer and caught by the verifier")
    func budgetExceeded() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        // One round at q = 0.05, σ = 1.2 costs about ε ≈ 1.4 at δ = 1e-5: the cap allows two rounds.
        var charged = ChargeAccountant()
        charged.compose(try SubsampledGaussian(samplingRate: 0.05, noiseMultiplier: 1.2), rounds: 2)
        let two = charged.epsilon(delta: Fixtures.delta).epsilon
        let cap = two * 1.01
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 2, epsilonMax: cap)
        try writer.append(
            RoundOpenedPayload(
                round: 3, participantsSampled: 3, participantsEligible: 4, mechanism: "discrete-gaussian"))
        let refused = ledgerError { try writer.append(Fixtures.charge(round: 3, state: writer.state)) }
        #expect(refused?.code == .budgetExceeded)

        // A coordinator that ignored its gate (signed with the right key, ε honestly computed).
        var lines = Fixtures.lines(Fixtures.read(directory.ledgerPath))
        let forged = LedgerEntry.signed(
            seq: lines.count, time: LedgerTime(millisecondsSinceEpoch: TestClock.start + 100_000),
            kind: RoundChargedPayload.kind,
            prev: SHA256.hexDigest(lines.last!), data: Fixtures.charge(round: 3, state: writer.state).data, key: key
        )
        lines.append(forged.canonicalLine)
        let error = try #require(Self.verify(Fixtures.join(lines), key: key.publicKey))
        #expect(error.code == .budgetExceeded)
        #expect(error.line == lines.count)
        #expect(error.seq == lines.count - 1)
    }

    @Test("a first entry that is not genesis, and a second genesis, are refused")
    func genesisRules() throws {
        let key = Fixtures.testKey()
        let noGenesis = Fixtures.forge(
            [
                (
                    "round.opened",
                    RoundOpenedPayload(round: 1, participantsSampled: 1, participantsEligible: 1, mechanism: "m").data
                )
            ], key: key)
        #expect(Self.verify(noGenesis, key: key.publicKey)?.code == .badGenesis)
        let genesis = Fixtures.genesis(key: key).data
        let twice = Fixtures.forge([("genesis", genesis), ("genesis", genesis)], key: key)
        let error = Self.verify(twice, key: key.publicKey)
        #expect(error?.code == .badGenesis)
        #expect(error?.line == 2)
        var unsupported = Fixtures.genesis(key: key)
        unsupported.accountant = "prv-accountant"
        #expect(
            Self.verify(Fixtures.forge([("genesis", unsupported.data)], key: key), key: key.publicKey)?.code
                == .badGenesis)
        #expect(Self.verify([], key: key.publicKey)?.code == .empty)
    }

    @Test("time going backwards is caught")
    func timeRegressed() throws {
        let (directory, key, lines) = try Self.ledger()
        defer { directory.remove() }
        var damaged = lines
        let entry = try LedgerEntry(json: JSONParser.parse(lines[6]))
        let earlier = LedgerEntry.signed(
            seq: entry.seq, time: LedgerTime(millisecondsSinceEpoch: entry.time.millisecondsSinceEpoch - 60_000),
            kind: entry.kind,
            prev: entry.prev, data: entry.data, key: key
        )
        damaged[6] = earlier.canonicalLine
        damaged = try Fixtures.resign(damaged, from: 7, key: key)
        let error = try #require(Self.verify(Fixtures.join(damaged), key: key.publicKey))
        #expect(error.code == .timeRegressed)
        #expect(error.line == 7)
    }

    @Test("damage deep in a ledger larger than one parallel chunk is named exactly")
    func largeLedger() throws {
        let key = Ed25519.KeyPair.generate()
        let count = LedgerVerifier.chunkSize + 1500
        let bytes = LedgerBenchmark.syntheticLedger(entries: count, key: key)
        #expect(try LedgerVerifier.verify(bytes: bytes, publicKey: key.publicKey).state.entryCount == count)
        var lines = Fixtures.lines(bytes)
        let target = LedgerVerifier.chunkSize + 700
        lines[target] = Array(String(decoding: lines[target], as: UTF8.self).replacingAll("1", with: "2").utf8)
        let error = try #require(Self.verify(Fixtures.join(lines), key: key.publicKey))
        #expect(error.line == target + 1)
    }
}
