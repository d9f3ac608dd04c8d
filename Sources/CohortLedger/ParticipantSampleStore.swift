import CohortCrypto
import CohortStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Participant unit: a hiding commitment to a set of participant names (the round's Poisson
/// sample, or the contributors among it), which the ledger records instead of the names.
///
/// commitment = SHA-256(salt ‖ name₁ ‖ 0x0A ‖ name₂ ‖ 0x0A ‖ …) in lowercase hex, with the names
/// sorted by their UTF-8 bytes and `salt` 32 bytes from the CSPRNG, fresh for every commitment.
/// Names never contain a line feed (policy names are printable), so the encoding is unambiguous.
/// Without the salt the commitment reveals nothing about the set (a reader cannot test guesses);
/// with the salt and the list, kept by the coordinator in `ParticipantSampleStore`, anyone can
/// recompute it.
public struct ParticipantSampleCommitment: Sendable, Equatable {
    /// Which set: `sampled` (written in `round.opened`) or `contributors` (in `round.charged`).
    public enum SetName: String, Sendable, Equatable {
        case sampled, contributors
    }

    public var round: Int
    public var set: SetName
    /// The salt, 32 bytes.
    public var salt: [UInt8]
    /// The names, sorted by their UTF-8 bytes.
    public var participants: [String]
    /// Contributors only: SHA-256 (hex) of each contributor's signed update, as the record unit's
    /// `update_digests`.
    public var updateDigests: [String: String]

    /// A commitment to `participants` under a fresh salt.
    public init(round: Int, set: SetName, participants: some Sequence<String>, updateDigests: [String: String] = [:]) {
        self.init(
            round: round, set: set, salt: SecureRandom.bytes(32), participants: participants,
            updateDigests: updateDigests)
    }

    public init(
        round: Int, set: SetName, salt: [UInt8], participants: some Sequence<String>,
        updateDigests: [String: String] = [:]
    ) {
        self.round = round
        self.set = set
        self.salt = salt
        self.participants = participants.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        self.updateDigests = updateDigests
    }

    /// The commitment the ledger records.
    public var commitment: String { Self.commitment(salt: salt, participants: participants) }

    /// SHA-256(salt ‖ each name sorted by UTF-8 bytes, followed by 0x0A), hex.
    public static func commitment(salt: [UInt8], participants: [String]) -> String {
        var message = salt
        for name in participants.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            message += Array(name.utf8)
            message.append(0x0A)
        }
        return SHA256.hexDigest(message)
    }

    /// The store line: canonical JSON with the commitment, the salt (hex) and the names.
    public var line: [UInt8] {
        var members: [String: JSONValue] = [
            "round": .integer(round), "set": .string(set.rawValue), "salt": .string(Hex.encode(salt)),
            "participants": .array(participants.map { .string($0) }), "commitment": .string(commitment),
        ]
        if !updateDigests.isEmpty { members["update_digests"] = .object(updateDigests.mapValues { .string($0) }) }
        return CanonicalJSON.serialize(.object(members))
    }

    /// Decodes a store line and checks that its commitment is the one its salt and names give.
    public init(line: [UInt8], path: String, number: Int) throws(LedgerError) {
        func fail(_ what: String) -> LedgerError {
            LedgerError(code: .badStore, message: "\(path) line \(number): \(what)", line: number)
        }
        let value: JSONValue
        do { value = try JSONParser.parse(line) } catch { throw fail("not JSON (\(error))") }
        guard let round = value["round"]?.intValue, round >= 1,
            let set = value["set"]?.stringValue.flatMap(SetName.init(rawValue:)),
            let saltHex = value["salt"]?.stringValue, let salt = Hex.decode(saltHex), salt.count == 32,
            let names = value["participants"]?.arrayValue, let recorded = value["commitment"]?.stringValue
        else { throw fail("not a sample commitment (round, set, salt of 32 bytes in hex, participants, commitment)") }
        var participants: [String] = []
        for name in names {
            guard let name = name.stringValue else { throw fail("participants must be strings") }
            participants.append(name)
        }
        var digests: [String: String] = [:]
        for (name, digest) in value["update_digests"]?.objectValue ?? [:] {
            guard let digest = digest.stringValue else { throw fail("update_digests.\(name) must be a string") }
            digests[name] = digest
        }
        self.init(round: round, set: set, salt: salt, participants: participants, updateDigests: digests)
        guard commitment == recorded else {
            throw LedgerError(
                code: .commitmentMismatch,
                message: "\(path) line \(number): the salt and names give \(commitment), "
                    + "the line records \(recorded)", line: number)
        }
    }
}

/// `<state directory>/participant-samples.jsonl`, mode 0600: each participant-unit round's
/// commitments with their salts and names, appended and fsynced before the ledger entry that
/// carries the commitment. Kept by the coordinator; never published with the ledger.
public enum ParticipantSampleStore {
    /// The store's file name in the state directory.
    public static let fileName = "participant-samples.jsonl"
    /// Owner read and write only: the file reveals who was sampled.
    public static let mode: mode_t = 0o600

    /// The store's path for `stateDirectory`.
    public static func path(stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    /// Appends `commitment` durably and returns the commitment string for the ledger.
    @discardableResult
    public static func append(
        _ commitment: ParticipantSampleCommitment, stateDirectory: String
    ) throws(StorageError) -> String {
        try DurableFile.appendLine(commitment.line, to: path(stateDirectory: stateDirectory), mode: mode)
        return commitment.commitment
    }

    /// Every commitment in the store at `path`, each checked against its salt and names.
    public static func read(path: String) throws(LedgerError) -> [ParticipantSampleCommitment] {
        let bytes: [UInt8]
        do { bytes = try DurableFile.read(path) } catch {
            throw LedgerError(code: .io, message: "cannot read the participant-sample store: \(error.message)")
        }
        guard !bytes.isEmpty else { return [] }
        guard bytes.last == 0x0A else {
            throw LedgerError(
                code: .badStore, message: "\(path): the last line has no line feed (an interrupted append)")
        }
        var result: [ParticipantSampleCommitment] = []
        for (index, line) in bytes.dropLast().split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            result.append(try ParticipantSampleCommitment(line: Array(line), path: path, number: index + 1))
        }
        return result
    }

    /// What `check` compared, and what the store says the ledger withholds.
    public struct CheckResult: Sendable, Equatable {
        /// Ledger commitments (`sample_commitment`, `contributors_commitment`) that matched a line.
        public let commitmentsChecked: Int
        /// Per committed round: how many participants were sampled and how many contributed
        /// (0 when the round ended before its charge). Operator-only facts: the ledger withholds them.
        public let counts: [Int: SampleSize]
    }

    /// A round's sample size and its number of contributors, as the store records them.
    public struct SampleSize: Sendable, Equatable {
        /// Participants the round's Poisson sample drew.
        public let sampled: Int
        /// Of them, those whose update entered the aggregate.
        public let contributors: Int
    }

    /// Checks every participant-unit commitment in `entries` (a verified ledger's entries)
    /// against the store at `path`: each `sample_commitment` of a `round.opened` must be a
    /// `sampled` line of that round with that commitment, each `contributors_commitment` of a
    /// `round.charged` a `contributors` line of that round, whose names are among the sampled ones
    /// and whose update digests name exactly its contributors; counts an older ledger recorded at a
    /// round's end must equal the store's. Each line's own commitment was checked when read.
    public static func check(path: String, against entries: [LedgerEntry]) throws(LedgerError) -> CheckResult {
        let lines = try read(path: path)
        var byCommitment: [String: ParticipantSampleCommitment] = [:]
        for line in lines { byCommitment[line.commitment] = line }
        var sampled: [Int: ParticipantSampleCommitment] = [:]
        var contributors: [Int: ParticipantSampleCommitment] = [:]
        var checked = 0
        for (index, entry) in entries.enumerated() {
            let record: LedgerRecord
            do { record = try entry.record() } catch {
                throw LedgerError(code: error.code, message: error.message, line: index + 1, seq: entry.seq)
            }
            func fail(_ round: Int, _ what: String) -> LedgerError {
                LedgerError(
                    code: .commitmentMismatch, message: "\(entry.kind) of round \(round): \(what) (\(path))",
                    line: index + 1, seq: entry.seq)
            }
            func line(
                _ commitment: String, round: Int, set: ParticipantSampleCommitment.SetName
            ) throws(LedgerError)
                -> ParticipantSampleCommitment
            {
                guard let stored = byCommitment[commitment] else {
                    throw fail(
                        round,
                        "no line of the participant-sample store has the commitment \(commitment): "
                            + "the store was altered, truncated or is another coordinator's")
                }
                guard stored.round == round, stored.set == set else {
                    throw fail(round, "the committed line is the \(stored.set.rawValue) set of round \(stored.round)")
                }
                return stored
            }
            func checkRecordedCounts(round: Int, sampled recorded: Int?, contributed: Int?) throws(LedgerError) {
                guard let recorded, let contributed, let drawn = sampled[round] else { return }
                let stored = contributors[round]?.participants.count ?? 0
                guard recorded == drawn.participants.count, contributed == stored else {
                    throw fail(
                        round,
                        "the entry records \(recorded) sampled and \(contributed) contributed, "
                            + "the store \(drawn.participants.count) and \(stored)")
                }
            }
            switch record {
            case .roundOpened(let opened):
                guard let commitment = opened.sampleCommitment else { continue }
                sampled[opened.round] = try line(commitment, round: opened.round, set: .sampled)
                checked += 1
            case .roundCharged(let charged):
                guard let commitment = charged.contributorsCommitment else { continue }
                let stored = try line(commitment, round: charged.round, set: .contributors)
                guard let drawn = sampled[charged.round], Set(stored.participants).isSubset(of: drawn.participants)
                else {
                    throw fail(charged.round, "the contributors are not among the participants sampled for the round")
                }
                guard Set(stored.updateDigests.keys) == Set(stored.participants) else {
                    throw fail(charged.round, "the update digests do not name exactly the contributors")
                }
                contributors[charged.round] = stored
                checked += 1
            case .roundClosed(let closed):
                try checkRecordedCounts(
                    round: closed.round, sampled: closed.participantsSampled, contributed: closed.contributorsCount)
            case .roundAborted(let aborted):
                try checkRecordedCounts(
                    round: aborted.round, sampled: aborted.participantsSampled, contributed: aborted.contributorsCount)
            default:
                continue
            }
        }
        var counts: [Int: SampleSize] = [:]
        for (round, drawn) in sampled {
            counts[round] = SampleSize(
                sampled: drawn.participants.count, contributors: contributors[round]?.participants.count ?? 0)
        }
        return CheckResult(commitmentsChecked: checked, counts: counts)
    }
}
