import CohortCrypto
import CohortPrivacy
import CohortTesting
import Testing

@testable import CohortLedger

@Suite("Ledger append and verify")
struct LedgerRoundTripTests {
    @Test("entries written by the writer verify, and the state summarises them")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 3)
        try writer.append(
            RoundRefusedPayload(
                round: 4, gate: "budget", reason: "projected ε above the cap", projectedEpsilon: 9.5, epsilonMax: 8))
        try writer.append(
            EvaluationRecordedPayload(
                round: 3, participants: ["bank-a": ["accuracy": 0.91]], aggregate: ["accuracy": 0.9, "roc_auc": 0.95]))
        let written = writer.state

        let result = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true)
        #expect(result.state == written)
        #expect(result.entries.count == 15)
        #expect(result.state.entryCount == 15)
        #expect(result.state.lastSeq == 14)
        #expect(result.state.roundsCharged == 3)
        #expect(result.state.lastClosedRound == 3)
        #expect(result.state.lastModelSHA256 == SHA256.hexDigest(utf8: "model 3"))
        #expect(result.state.nextRound == 5)
        #expect(result.state.unfinishedRound == nil)
        #expect(result.state.lastHash == SHA256.hexDigest(Fixtures.lines(Fixtures.read(directory.ledgerPath)).last!))

        // The recomputed cumulative ε equals what CohortPrivacy gives for three identical rounds.
        let mechanism = try SubsampledGaussian(samplingRate: 0.05, noiseMultiplier: 1.2)
        var charged = ChargeAccountant()
        charged.compose(mechanism, rounds: 3)
        let reference = charged.epsilon(delta: Fixtures.delta)
        #expect(abs(result.state.cumulativeEpsilon - reference.epsilon) <= 1e-12 * reference.epsilon)
        #expect(
            abs(result.state.accountant.epsilon(delta: Fixtures.delta).epsilon - reference.epsilon) <= 1e-12
                * reference.epsilon)

        // Every line is canonical JSON ending in one newline; entries read back equal what was written.
        let bytes = Fixtures.read(directory.ledgerPath)
        #expect(bytes.last == UInt8(ascii: "\n"))
        for (index, line) in Fixtures.lines(bytes).enumerated() {
            #expect(try JSONParser.parse(line).canonicalBytes == line)
            #expect(result.entries[index].canonicalLine == line)
            // The fast signed-bytes splice equals the re-serialised form.
            #expect(
                line.withUnsafeBufferPointer { LedgerVerifier.signedBytes(ofCanonicalLine: $0) }
                    == result.entries[index].signedBytes)
        }
    }

    @Test("a reopened writer continues the chain")
    func reopen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        do {
            _ = try Fixtures.writeLedger(in: directory, key: key, rounds: 1)
        }
        let writer = try LedgerWriter.open(stateDirectory: directory.path, signingKey: key)
        #expect(writer.state.entryCount == 5)
        #expect(writer.state.nextRound == 2)
        try Fixtures.writeRound(2, to: writer)
        let state = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey).state
        #expect(state.entryCount == 9)
        #expect(state.roundsCharged == 2)
    }

    @Test("a second writer is locked out")
    func exclusive() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 1)
        let error = ledgerError { _ = try LedgerWriter.open(stateDirectory: directory.path, signingKey: key) }
        #expect(error?.code == .locked)
        let second = ledgerError {
            _ = try LedgerWriter.create(
                stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key))
        }
        #expect(second?.code == .locked)
        withExtendedLifetime(writer) {}
    }

    @Test("creating over an existing ledger is refused")
    func noOverwrite() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        do { _ = try Fixtures.writeLedger(in: directory, key: key, rounds: 0) }
        let error = ledgerError {
            _ = try LedgerWriter.create(
                stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key))
        }
        #expect(error?.code == .alreadyExists)
    }

    @Test("the writer refuses entries that would not verify, and writes nothing")
    func writerSelfChecks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 1)
        let before = Fixtures.read(directory.ledgerPath)

        // Releasing a model without a charge breaks the write-ahead rule.
        try writer.append(
            RoundOpenedPayload(
                round: 2, participantsSampled: 3, participantsEligible: 4, mechanism: "discrete-gaussian"))
        let afterOpen = Fixtures.read(directory.ledgerPath)
        #expect(
            ledgerError {
                try writer.append(
                    RoundClosedPayload(
                        round: 2, modelSHA256: SHA256.hexDigest(utf8: "m"), checkpoint: "c", metrics: [:]))
            }?.code == .roundOrder)
        // A charge with a wrong ε.
        var charge = Fixtures.charge(round: 2, state: writer.state)
        charge.cumulativeEpsilon *= 0.9
        #expect(ledgerError { try writer.append(charge) }?.code == .epsilonMismatch)
        // A second genesis.
        #expect(ledgerError { try writer.append(Fixtures.genesis(key: key)) }?.code == .badGenesis)
        // Non-finite numbers have no JSON form.
        #expect(ledgerError { try writer.append(kind: "note", data: ["x": .number(.nan)]) }?.code == .invalidEntry)
        #expect(Fixtures.read(directory.ledgerPath) == afterOpen)
        #expect(afterOpen.count > before.count)

        // An abort after no charge records charged: false; claiming otherwise is refused.
        #expect(
            ledgerError { try writer.append(RoundAbortedPayload(round: 2, reason: "x", charged: true)) }?.code
                == .roundOrder)
        try writer.append(RoundAbortedPayload(round: 2, reason: "operator abort", charged: false))
        #expect(
            try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey).state.unfinishedRound == nil
        )
    }

    @Test("a charged round that is aborted stays charged")
    func abortAfterCharge() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 1)
        try writer.append(
            RoundOpenedPayload(
                round: 2, participantsSampled: 3, participantsEligible: 4, mechanism: "discrete-gaussian"))
        try writer.append(Fixtures.charge(round: 2, state: writer.state))
        #expect(writer.state.unfinishedRound == 2)
        #expect(writer.state.unfinishedRoundCharged)
        try writer.append(RoundAbortedPayload(round: 2, reason: "post-aggregate gate failed", charged: true))
        let state = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey).state
        #expect(state.roundsCharged == 2)
        #expect(state.lastClosedRound == 1)
        #expect(state.unfinishedRound == nil)
    }

    @Test("unknown kinds verify by chain and signature and are reported")
    func unknownKinds() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 1)
        try writer.append(kind: "operator.note", data: ["text": "maintenance window", "round": 1])
        let result = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true)
        #expect(result.state.unknownKinds == ["operator.note": 1])
        #expect(
            try result.entries.last!.record()
                == .unknown(kind: "operator.note", data: ["text": "maintenance window", "round": 1]))
    }

    @Test("policy adoption changes the cap from that entry on")
    func policyAdoption() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        let writer = try Fixtures.writeLedger(in: directory, key: key, rounds: 1, epsilonMax: 8)
        try writer.append(
            PolicyAdoptedPayload(
                policySHA256: SHA256.hexDigest(utf8: "v2"), oldEpsilonMax: 8, newEpsilonMax: 10,
                operatorName: "ops@bank-a"))
        #expect(writer.state.epsilonMax == 10)
        #expect(
            ledgerError {
                try writer.append(
                    PolicyAdoptedPayload(
                        policySHA256: SHA256.hexDigest(utf8: "v3"), oldEpsilonMax: 8, newEpsilonMax: 12,
                        operatorName: "x"))
            }?.code == .badEntry)
        #expect(
            try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey).state.policySHA256
                == SHA256.hexDigest(utf8: "v2"))
    }

    @Test("timestamps: exact form only, and a clock that steps back does not break the ledger")
    func time() throws {
        #expect(LedgerTime("2026-11-29T14:00:00.123Z")?.millisecondsSinceEpoch == 1_795_960_800_123)
        #expect(LedgerTime(millisecondsSinceEpoch: 1_795_960_800_123).description == "2026-11-29T14:00:00.123Z")
        #expect(LedgerTime(millisecondsSinceEpoch: 951_782_400_000).description == "2000-02-29T00:00:00.000Z")
        for bad in [
            "2026-11-29T14:00:00Z", "2026-11-29T14:00:00.123+00:00", "2026-02-30T00:00:00.000Z",
            "2026-11-29t14:00:00.123z",
            "2026-11-29T24:00:00.000Z", "2026-11-29T14:00:60.000Z", "2026-13-01T00:00:00.000Z",
        ] {
            #expect(LedgerTime(bad) == nil, "\(bad)")
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let key = Fixtures.testKey()
        // Each reading is one second earlier than the last, as after an NTP step back.
        let clock = TestClock()
        let backwards: @Sendable () -> LedgerTime = {
            LedgerTime(millisecondsSinceEpoch: 2 * TestClock.start - clock.now().millisecondsSinceEpoch)
        }
        let writer = try LedgerWriter.create(
            stateDirectory: directory.path, signingKey: key, genesis: Fixtures.genesis(key: key), clock: backwards)
        try Fixtures.writeRound(1, to: writer)
        let result = try LedgerVerifier.verify(file: directory.ledgerPath, publicKey: key.publicKey, keepEntries: true)
        #expect(Set(result.entries.map(\.time)).count == 1)
    }
}
