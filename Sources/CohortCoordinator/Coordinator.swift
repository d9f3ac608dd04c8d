import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import Foundation
import CoreMetrics
import Logging
import NIOSSL

/// Settings of a coordinator run that are not policy: where state lives and test overrides.
public struct CoordinatorConfiguration: Sendable {
    /// The loaded, validated policy.
    public var policy: PolicyLoader.Loaded
    /// State directory: `ledger.jsonl`, `checkpoints/`.
    public var stateDirectory: String
    /// Overrides the policy's listen port (0 = any free port); nil keeps the policy's.
    public var portOverride: Int?
    /// Seconds to wait for a quorum of connected participants before a round is refused. Default 60.
    public var quorumWaitSeconds: Double
    /// Model dimension for benchmarks with synthetic updates; nil derives it from the schema
    /// (encoded features + bias), which is what every real run does.
    public var modelDimension: Int?
    /// BENCHMARK ONLY: when true, no noise is drawn and the aggregate is released as if every
    /// noise sample were 0, so `cohort-bench round --no-noise` can time a round without the
    /// discrete-Gaussian draw. Such a release is NOT differentially private and the ledger's
    /// charges no longer describe it. It is SPI (`@_spi(CohortBenchmark) import`), not an init
    /// parameter, has no policy key and no `cohort-coordinator` option, so no real deployment
    /// can reach it by configuration.
    @_spi(CohortBenchmark) public var benchmarkSkipsNoise = false
    /// Where metrics go (e.g. a `PrometheusMetricsFactory`); nil uses the process-wide
    /// `MetricsSystem.factory`, which is a no-op unless the process bootstrapped one.
    public var metricsFactory: (any MetricsFactory)?
    /// Receives every alert (gate failure, anomaly). Where alerts go is configuration of the
    /// host (`cohort-coordinator --alert-command` / `--alert-webhook`), never of the policy, which
    /// the operator API can replace. Called off the actor; must not block.
    public var alertSink: (@Sendable (GovernanceAlert) -> Void)?

    public init(
        policy: PolicyLoader.Loaded, stateDirectory: String, portOverride: Int? = nil, quorumWaitSeconds: Double = 60,
        modelDimension: Int? = nil
    ) {
        self.policy = policy
        self.stateDirectory = stateDirectory
        self.portOverride = portOverride
        self.quorumWaitSeconds = quorumWaitSeconds
        self.modelDimension = modelDimension
    }
}

/// How a round ended.
public enum RoundOutcome: Sendable, Equatable {
    case closed(round: Int, contributors: [String], roundEpsilon: Double, cumulativeEpsilon: Double)
    case refused(round: Int, gate: String, reason: String)
    case aborted(round: Int, reason: String, charged: Bool)
}

/// An error that stops the coordinator, with a stable code and what to do.
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(message) [\(code)]" }
}

/// The coordinator: accepts participants over mutual TLS, runs rounds, charges the ledger
/// before any noised aggregate exists, and releases the new global model as a checkpoint.
public actor Coordinator {
    /// Mutable only through `adoptPolicy`, which replaces the policy in force.
    var configuration: CoordinatorConfiguration
    let logger: Logger
    let ledger: LedgerWriter
    let sealingKey: SealedBox.KeyPair
    /// The coordinator's TLS identity from the policy (its private key checked for mode 0600),
    /// loaded at start-up, before any ledger is created; serve with `tls.makeServerConfiguration()`.
    public nonisolated let tls: TLSConfigurationFactory
    var signingKeys: [String: [UInt8]]
    let schema: FeatureSchema
    /// `schema.digest()`, which the data-quality gate compares attestations with.
    let schemaDigest: String
    /// The previous released global update (in the space updates live in), for direction screening.
    var previousUpdate: [Float]?
    let dimension: Int
    /// The policy's model: architecture, tensor layout (d = its parameter count) and start.
    let modelStart: ModelStart
    let grid: FixedPointGrid
    var model: LogisticRegression {
        didSet { modelDigestCache = nil }
    }
    /// ``ModelDigest`` of `model`, computed on first use after each change.
    private var modelDigestCache: [UInt8]?
    var optimizer: ServerOptimizer
    var sessions: [String: Session] = [:]
    /// Whether the δ guidance warning was logged (once per run).
    var deltaGuidanceWarned = false
    /// The last session id handed out (ids tell a replaced session from its successor).
    var nextSessionID: UInt64 = 0
    /// Who the participant port admits: the participants of the policy in force.
    let membership: LiveMembership
    var round: ActiveRound?
    var server: FrameServer?
    /// Noise for the next round, drawn while the current one collects updates.
    var pendingNoise: (distribution: DiscreteGaussian, draw: Task<[Int64], Never>)?
    /// Suspended participants and why (persisted in `suspended.json`).
    var suspended: [String: String] = [:]
    /// Rounds requested (by an operator or `runRounds`) and not yet started.
    var queuedRounds = 0
    /// An operator paused: no new round starts.
    var paused = false
    /// Set by an operator's abort; the collecting round ends at its next check.
    var abortRequest: String?
    /// Whether a loop is running queued rounds.
    var runningQueue = false
    var lastRound: RoundSummary?
    /// Rounds in which the anomaly gate flagged each participant.
    var flaggedRounds: [String: [Int]] = [:]
    /// The latest round whose released model passed the promotion gates (from the ledger).
    var latestApprovedRound: Int? { ledger.state.latestApprovedRound }
    /// Aggregate evaluation metrics of the last closed round.
    var lastClosedMetrics: [String: Double] = [:]
    let metrics: CoordinatorMetrics
    /// Plaintext buffers for updates opened in their connection's task, off this actor.
    let plaintextPool: PlaintextPool

    struct Session {
        /// Assigned by `register`.
        var id: UInt64 = 0
        let writer: FrameWriter
        let sessionNonce: [UInt8]
        /// The data-quality attestation the participant sent when it joined.
        let attestation: DataQualityAttestation
        /// The participant's training rows: its share of the public N (zero-out adjacency). A
        /// participant that does not report them (older versions) counts all its rows.
        var trainingRows: Int { attestation.trainingRows ?? attestation.rows }
        /// The holdout rows its evaluations may count at most.
        var holdoutRows: Int { attestation.rows - (attestation.trainingRows ?? 0) }
        /// ``ModelDigest`` of the last model sent to this participant in full (an evaluation
        /// request or a full invitation): an invitation to train that model refers to it.
        var heldModelDigest: [UInt8]?
    }

    /// Sends `frame`, which carries the model `digest` names (in full or by reference), to
    /// `name`, and records what that participant now holds; false when it could not be sent.
    func send(_ frame: Frame, to name: String, holding digest: [UInt8]) async -> Bool {
        guard let writer = sessions[name]?.writer else { return false }
        do {
            try await writer.send(frame)
            sessions[name]?.heldModelDigest = digest
            return true
        } catch {
            sessions[name]?.heldModelDigest = nil
            return false
        }
    }

    /// ``ModelDigest`` of the current global model.
    func currentModelDigest() -> [UInt8] {
        if let modelDigestCache { return modelDigestCache }
        let digest = ModelDigest.of(model.parameters)
        modelDigestCache = digest
        return digest
    }

    final class ActiveRound {
        let number: Int
        let nonce: [UInt8]
        let invited: Set<String>
        /// Everything the mechanism depends on, frozen when the round opened.
        let plan: RoundPlan
        var machine = RoundStateMachine()
        let aggregator: StreamingAggregator
        var digests: [String: String] = [:]
        var answered: Set<String> = []
        /// Participants that passed the round's pre-round gates (not suspended, not excluded).
        var eligible: Set<String> = []
        /// Participants asked to evaluate the released model; only their results count.
        var evaluationsAsked: Set<String> = []
        /// Federated evaluation of the released model, by participant.
        var evaluations: [String: MetricsAccumulator] = [:]
        var closingMetrics: [String: Double] = [:]
        /// SHA-256 (hex) of the checkpoint file of the released model, once it is durable.
        var checkpointSHA256: String?
        /// Per-update check results, ledgered as the `update_checks` gate decision.
        var checks = UpdateChecksRecord()
        var checksRecorded = false
        /// Training rows and label counts each invited participant attested, fixed at invitation.
        var records: [String: Int] = [:]
        var labelCounts: [String: LabelCounts] = [:]
        /// The noised mean, applied to the model only once the anomaly gate passes.
        var noisedMean: [Float]?
        /// Whether the released model passed the promotion gates (risk, evaluation).
        var promoted = false
        let openedAtMillis = Int64(Date().timeIntervalSince1970 * 1000)
        init(number: Int, nonce: [UInt8], invited: Set<String>, plan: RoundPlan, aggregator: StreamingAggregator) {
            self.number = number
            self.plan = plan
            self.nonce = nonce
            self.invited = invited
            self.aggregator = aggregator
        }
    }

    /// Opens (or creates) the ledger, verifies it, and restores the model from the last checkpoint.
    ///
    /// Every start-up check of the policy in force — keys (and their 0600 mode), the TLS
    /// identity, the schema, the grid and the noise sampler's range — runs before a new ledger's
    /// genesis entry is written: a policy that cannot run must leave no ledger behind, or the
    /// corrected policy would then be refused as a different policy than the ledger's.
    public init(configuration: CoordinatorConfiguration, logger: Logger) throws {
        LargeAllocations.returnLargeBuffersToTheSystem()
        self.logger = logger
        metrics = CoordinatorMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        let fileLoaded = configuration.policy
        // The ledger key cannot change while a ledger exists (PolicyChange), so the file's is the one in force.
        let ledgerKey = try Self.startupCheck("coordinator.ledger_key") {
            try Ed25519.KeyPair(secretKey: KeyFile.readSecret(kind: .ed25519Secret, from: fileLoaded.resolve(fileLoaded.policy.coordinator.ledgerKey)))
        }
        let ledgerPath = LedgerWriter.ledgerPath(stateDirectory: configuration.stateDirectory)
        var existing: LedgerWriter?
        if DurableFile.exists(ledgerPath) {
            let report = try LedgerWriter.recover(stateDirectory: configuration.stateDirectory, publicKey: ledgerKey.publicKey)
            if report.truncatedAt != nil { logger.warning("ledger recovery", metadata: ["cohort.recovery": "\(report.summary)"]) }
            existing = try LedgerWriter.open(stateDirectory: configuration.stateDirectory, signingKey: ledgerKey)
        }
        var effective = configuration
        if let existing {
            effective.policy = try Self.policyInForce(ledger: existing, file: fileLoaded, stateDirectory: configuration.stateDirectory, logger: logger)
        }
        self.configuration = effective
        Self.warnAboutGuaranteeTradingOptions(effective.policy.policy, logger: logger)
        let loaded = effective.policy
        let policy = loaded.policy
        // coordinator.* cannot change while a ledger exists, so the TLS identity is the file's too.
        do {
            tls = try TLSConfigurationFactory(
                caCertificatePath: loaded.resolve(policy.coordinator.caCertificate),
                certificatePath: loaded.resolve(policy.coordinator.certificate),
                privateKeyPath: loaded.resolve(policy.coordinator.privateKey))
        } catch {
            throw CoordinatorError(code: error.code, message: "coordinator.private_key / coordinator.certificate: \(error.message)")
        }
        sealingKey = try Self.startupCheck("coordinator.sealing_key") {
            try SealedBox.KeyPair(secretKey: KeyFile.readSecret(kind: .x25519Secret, from: loaded.resolve(policy.coordinator.sealingKey)))
        }
        var keys: [String: [UInt8]] = [:]
        for (index, participant) in policy.participants.enumerated() {
            keys[participant.name] = try Self.startupCheck("participants[\(index)].signing_key") {
                try KeyFile.readPublic(kind: .ed25519Public, from: loaded.resolve(participant.signingKey))
            }
        }
        signingKeys = keys
        membership = LiveMembership(Set(policy.participants.map(\.name)))
        let loadedSchema = try Self.startupCheck("model.schema") { try FeatureSchema.load(path: loaded.resolve(policy.model.schema)) }
        schema = loadedSchema
        schemaDigest = try Self.startupCheck("model.schema") { try loadedSchema.digest() }
        let start = try Self.startupCheck("model") {
            try configuration.modelDimension.map { try ModelStart(benchmarkDimension: $0) }
                ?? ModelStart(policy: fileLoaded, featureCount: loadedSchema.encodedDimension)
        }
        modelStart = start
        let modelDimension = start.layout.parameterCount
        dimension = modelDimension
        let roundGrid = try Self.startupCheck("privacy.grid_inflation") {
            try FixedPointGrid(clippingBound: policy.privacy.clippingBound, dimension: modelDimension, inflation: policy.privacy.gridInflation)
        }
        grid = roundGrid
        // Fails early (before any round, and before a new ledger exists) when σ on this grid is
        // outside the sampler's range.
        _ = try Self.startupCheck("privacy.noise_multiplier") {
            try roundGrid.noise(
                noiseMultiplier: policy.privacy.noiseMultiplier, clippingBound: policy.privacy.clippingBound, dimension: modelDimension)
        }
        try DurableFile.createDirectory(configuration.stateDirectory, mode: 0o700)
        try DurableFile.createDirectory(configuration.stateDirectory + "/checkpoints", mode: 0o700)
        let writer = try existing ?? LedgerWriter.create(
            stateDirectory: configuration.stateDirectory, signingKey: ledgerKey,
            genesis: GenesisPayload(
                ledgerPublicKey: ledgerKey.publicKey, policySHA256: fileLoaded.sha256,
                epsilonMax: fileLoaded.policy.privacy.epsilonMax, delta: fileLoaded.policy.privacy.delta,
                initialModelSHA256: start.initialModelSHA256
            )
        )
        if configuration.benchmarkSkipsNoise {
            logger.critical("benchmark mode: aggregates are released WITHOUT noise; this run is not differentially private")
        }
        // A round left open by a crash ends here, before anything else: aborted, and charged if
        // its charge had become durable (the write-ahead rule keeps that charge for good).
        try Self.abortUnfinishedRound(in: writer, reason: "the coordinator stopped during the round and restarted", logger: logger)
        var restoredOptimizer = try ServerOptimizer(learningRate: policy.model.serverLearningRate, momentum: policy.model.serverMomentum)
        var restoredModel = try LogisticRegression(parameters: start.parameters)
        if let last = writer.state.lastClosedRound, let digest = writer.state.lastModelSHA256 {
            let path = Self.checkpointPath(stateDirectory: configuration.stateDirectory, round: last)
            let bytes = try DurableFile.read(path)
            guard SHA256.hexDigest(bytes) == digest else {
                throw CoordinatorError(
                    code: "coordinator.checkpoint_mismatch",
                    message: "checkpoint \(path) does not match the digest the ledger recorded for round \(last); restore it from backup"
                )
            }
            let checkpoint = try ModelCheckpoint(safetensors: SafetensorsFile.decode(bytes, source: path))
            restoredModel = checkpoint.model
            if let saved = checkpoint.optimizer { restoredOptimizer = saved }
        }
        optimizer = restoredOptimizer
        model = restoredModel
        ledger = writer
        suspended = try Self.loadSuspensions(stateDirectory: configuration.stateDirectory)
        // As many updates are opened at once as there are cores to open them; more would only
        // hold more plaintext.
        plaintextPool = PlaintextPool(
            byteCount: UpdatePlaintext.headerLength + modelDimension * 4, limit: max(2, ProcessInfo.processInfo.activeProcessorCount))
    }

    /// Runs one start-up check, naming the policy field it concerns in the error it throws; the
    /// underlying error's stable code is kept.
    static func startupCheck<T>(_ field: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CryptoError {
            throw CoordinatorError(code: error.code, message: "\(field): \(error.message)")
        } catch let error as ModelError {
            throw CoordinatorError(code: error.code, message: "\(field): \(error.message)")
        } catch let error as PrivacyError {
            throw CoordinatorError(code: error.code, message: "\(field): \(error.message); the policy cannot start, fix it")
        } catch let error as StorageError {
            throw CoordinatorError(code: error.code, message: "\(field): \(error.message)")
        }
    }

    /// The policy the ledger says is in force: the file's when their digests agree; else, when the
    /// file is an earlier policy of this ledger (e.g. the one it was created with), the one an
    /// operator adopted since through the control API (kept in `policies/<sha256>.yaml`). Any
    /// other file is refused: a policy changes only through a signed `policy.adopted` entry.
    static func policyInForce(
        ledger: LedgerWriter, file: PolicyLoader.Loaded, stateDirectory: String, logger: Logger
    ) throws -> PolicyLoader.Loaded {
        let inForce = ledger.state.policySHA256
        guard inForce != file.sha256 else { return file }
        let stored = adoptedPolicyPath(stateDirectory: stateDirectory, sha256: inForce)
        guard ledger.state.recordedPolicies.contains(file.sha256), DurableFile.exists(stored) else {
            throw CoordinatorError(
                code: "coordinator.policy_mismatch",
                message: "the policy file's SHA-256 \(file.sha256) is not the policy in force in the ledger (\(inForce)); "
                    + "start with the policy this state directory was run with, and change it through the operator API "
                    + "(`cohort policy adopt FILE`) so the change is a signed ledger entry")
        }
        let bytes = try DurableFile.read(stored)
        guard SHA256.hexDigest(bytes) == inForce else {
            throw CoordinatorError(
                code: "coordinator.policy_mismatch",
                message: "\(stored) does not hash to the policy in force (\(inForce)); restore it from backup")
        }
        let adopted = PolicyLoader.Loaded(
            policy: try PolicyLoader.parse(PolicyLoader.text(of: bytes, file: stored)), sha256: inForce, baseDirectory: file.baseDirectory)
        try PolicyLoader.checkFilesExist(adopted)
        logger.notice("using the adopted policy in force", metadata: ["cohort.policy": "\(stored)", "cohort.policy_file_ignored": "\(file.sha256)"])
        return adopted
    }

    /// Records the abort of a round the ledger still shows open (neither closed nor aborted): one
    /// a crash interrupted, or one whose abort could not be written when a storage failure ended
    /// it. `charged` is what the ledger says: a charge that became durable stays charged.
    static func abortUnfinishedRound(in writer: LedgerWriter, reason: String, logger: Logger) throws {
        guard let unfinished = writer.state.unfinishedRound else { return }
        _ = try writer.append(RoundAbortedPayload(round: unfinished, reason: reason, charged: writer.state.unfinishedRoundCharged))
        logger.notice("unfinished round aborted", metadata: ["cohort.round": "\(unfinished)", "cohort.reason": "\(reason)"])
    }

    static func checkpointPath(stateDirectory: String, round: Int) -> String {
        stateDirectory + "/checkpoints/" + checkpointName(round: round)
    }

    static func checkpointName(round: Int) -> String {
        let digits = String(round)
        return "round-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".safetensors"
    }

    /// The state of the ledger, for status displays.
    public var ledgerState: LedgerState { ledger.state }

    /// The current global model parameters.
    public var globalModel: [Float] { model.parameters }

    /// Names of participants connected and attested.
    public var connectedParticipants: [String] { sessions.keys.sorted() }

    // MARK: - Serving

    /// Binds the participant port and serves connections until `stop()`.
    public func start(tls: TLSConfiguration) async throws -> Int {
        let policy = configuration.policy.policy
        let host = String(policy.coordinator.listen[..<policy.coordinator.listen.lastIndex(of: ":")!])
        let port = configuration.portOverride ?? Int(policy.coordinator.listen[policy.coordinator.listen.index(after: policy.coordinator.listen.lastIndex(of: ":")!)...])!
        let limits = FrameLimits(maxTensorBytes: UInt32(policy.limits.maxUpdateBytes))
        let server = try await FrameServer.bind(
            configuration: FrameServerConfiguration(
                host: host, port: port,
                handshakeTimeout: .milliseconds(Int64(policy.rounds.handshakeTimeoutSeconds * 1000)),
                idleTimeout: .milliseconds(Int64(policy.rounds.idleTimeoutSeconds * 1000)),
                limits: limits,
                partialFrameBudget: Self.partialFrameBudget(limits: limits, participants: policy.participants.count)
            ),
            tls: tls,
            allowList: membership.allowList,
            logger: logger
        )
        self.server = server
        // The server task holds the actor until `stop()` closes the listener.
        Task { [self] in
            try? await server.run { connection in
                await self.serve(connection)
            }
        }
        return server.port
    }

    /// Bytes of large frames that may be arriving at once over all connections: one largest
    /// update from every participant the policy names, plus one more for a reconnect overlapping
    /// its old session. Each identity holds at most one session, so honest rounds never reach it.
    static func partialFrameBudget(limits: FrameLimits, participants: Int) -> Int {
        (participants + 1) * Int(limits[.update])
    }

    /// Stops serving (as `stop`) and closes the ledger, releasing its lock, so another
    /// coordinator may open the state directory in this process. The coordinator cannot run
    /// rounds afterwards.
    public func shutdown(reason: String = "coordinator shut down") async {
        await stop(reason: reason)
        ledger.close()
    }

    /// Closes the listener. A round in progress is aborted (and stays charged if updates arrived).
    public func stop(reason: String = "training finished") async {
        if let active = round, active.machine.state != .closed {
            _ = try? await finish(active, event: .abort(reason: reason))
        }
        // Say goodbye so participants end cleanly instead of seeing a dropped connection.
        for (_, session) in sessions {
            try? await session.writer.send(Bye(reason: reason))
            session.writer.finish()
        }
        sessions.removeAll()
        await server?.close()
        server = nil
    }

    /// Serves one participant connection. Runs in the connection's task, not on the actor: frames
    /// are received and updates hashed, verified, opened and clipped here, several connections at
    /// once, and only session changes and the addition to the round's sum go through the actor.
    nonisolated func serve(_ connection: FrameConnection) async {
        let name = connection.peer.name
        var log = logger
        log[metadataKey: "cohort.participant"] = "\(name)"
        var sessionID: UInt64?
        do {
            var frames = connection.inbound.makeAsyncIterator()
            guard let helloFrame = try await frames.next() else { return }
            let hello: Hello
            do {
                hello = try helloFrame.decode(Hello.self)
            } catch {
                log.notice("hello refused", metadata: ["cohort.code": "\(error.code)"])
                try await connection.outbound.send(error: WireError(code: error.code, message: error.message, closesConnection: true))
                return
            }
            guard hello.participantName == name else {
                try await connection.outbound.send(error: WireError(
                    code: WireError.Code.nameMismatch,
                    message: "hello names `\(PeerText.sanitized(hello.participantName, maxLength: 64))` but the certificate names `\(name)`",
                    closesConnection: true))
                return
            }
            connection.admission.advance(to: .awaitingAttestation)
            let nonce = SecureRandom.bytes(Welcome.nonceLength)
            try await connection.outbound.send(Welcome(
                coordinatorSealingKey: sealingKey.publicKey, sessionNonce: nonce, model: ModelSpec(dimension: UInt32(dimension))))
            guard let attestationFrame = try await frames.next() else { return }
            let attestation: DataQualityAttestation
            switch readAttestation(attestationFrame) {
            case .success(let valid): attestation = valid
            case .failure(let error):
                log.notice("attestation refused", metadata: ["cohort.code": "\(error.code)"])
                try await connection.outbound.send(error: error)
                return
            }
            connection.admission.advance(to: .session)
            guard let id = await register(name: name, session: Session(writer: connection.outbound, sessionNonce: nonce, attestation: attestation)) else {
                try await connection.outbound.send(error: WireError(
                    code: WireError.Code.removedFromPolicy,
                    message: "the policy in force no longer names \(name); ask the consortium to add it again", closesConnection: true))
                return
            }
            sessionID = id
            log.info("participant joined", metadata: ["cohort.records": "\(attestation.rows)"])
            receiving: while let frame = try await frames.next() {
                switch frame.type {
                case .update:
                    let update: ReceivedUpdate
                    do {
                        update = try frame.decode(ReceivedUpdate.self)
                    } catch {
                        // Framing is intact but the payload is not an update: say so and close.
                        log.notice("update refused", metadata: ["cohort.code": "\(error.code)"])
                        metrics.updateRefused(code: error.code)
                        try await connection.outbound.send(error: WireError(code: error.code, message: error.message, closesConnection: true))
                        break receiving
                    }
                    let reply = await receive(update, from: name)
                    switch reply {
                    case .success(let ack): try await connection.outbound.send(ack)
                    case .failure(let error):
                        log.notice("update refused", metadata: ["cohort.code": "\(error.code)"])
                        metrics.updateRefused(code: error.code)
                        try await connection.outbound.send(error: error)
                    }
                case .evaluationResult:
                    let result: EvaluationResult
                    do {
                        result = try frame.decode(EvaluationResult.self)
                    } catch {
                        try await connection.outbound.send(error: WireError(
                            code: WireError.Code.evaluationInvalid, message: error.message, closesConnection: false))
                        continue
                    }
                    if let refusal = await acceptEvaluation(result, from: name) {
                        log.notice("evaluation refused", metadata: ["cohort.code": "\(refusal.code)"])
                        try await connection.outbound.send(error: refusal)
                    }
                case .bye:
                    if let sessionID { await unregister(name: name, id: sessionID) }
                    return
                default:
                    try await connection.outbound.send(error: WireError(
                        code: WireError.Code.unexpectedFrame, message: "a \(frame.type) frame is not expected from a participant here",
                        closesConnection: false))
                }
            }
        } catch {
            log.notice("participant connection ended", metadata: ["cohort.reason": "\(error)"])
        }
        if let sessionID { await unregister(name: name, id: sessionID) }
    }

    /// Per-update checks, then streaming aggregation; records the result for the round's
    /// `update_checks` decision. Returns the ack or the error to send.
    ///
    /// Runs in the connection's task. The checks that need the round (sender, round, nonce,
    /// sampling) run on the actor first; the SHA-256, the signature, opening the sealed box, the
    /// plaintext checks and clipping then run here, in a plaintext buffer from the pool (zeroed
    /// before it goes back); the actor finally adds the prepared values to the sum of the round
    /// that admitted them, if it still collects. Checks, their order and their codes are those of
    /// a single pass on the actor.
    nonisolated func receive(_ update: ReceivedUpdate, from name: String) async -> Result<UpdateAck, WireError> {
        let admission: Admission
        switch await admit(update, from: name) {
        case .failure(let error): return .failure(error)
        case .success(let admitted): admission = admitted
        }
        // Hashed once: the signature check and the ledger's update digest both need it.
        let sealedDigest = update.sealedDigest
        guard update.hasValidSignature(publicKey: admission.signingKey, sealedDigest: sealedDigest) else {
            return await refuseUpdate(name, WireError(code: WireError.Code.badSignature,
                message: "the update's signature does not verify under \(name)'s registered signing key", closesConnection: false))
        }
        if let duplicate = admission.duplicate {
            return await refuseUpdate(name, WireError(code: duplicate.code, message: duplicate.message, closesConnection: false))
        }
        let buffer = await plaintextPool.acquire()
        let result: Result<UpdateAck, WireError>
        do {
            let prepared = try update.withSealedBytes { sealed throws(UpdateRejection) in
                try admission.preparer.prepare(sealed: sealed, round: update.round, sealingKey: sealingKey, into: buffer.bytes)
            }
            result = await commit(prepared, update: update, sealedDigest: sealedDigest, from: name)
        } catch {
            result = await refuseUpdate(name, WireError(code: error.code, message: error.message, closesConnection: false))
        }
        buffer.zero()
        await plaintextPool.release(buffer)
        return result
    }

    /// What the actor's first pass over an update hands to the connection's task.
    struct Admission: Sendable {
        let signingKey: [UInt8]
        let preparer: UpdatePreparer
        /// Set when the sender already contributed: refused after the signature check, as before.
        let duplicate: UpdateRejection?
    }

    /// The checks of an update that need the round: sender, an open round, its number and nonce,
    /// sampling, a registered key. Records a refusal.
    func admit(_ update: ReceivedUpdate, from name: String) -> Result<Admission, WireError> {
        guard update.participantName == name else {
            return recordRefusal(name, WireError(code: WireError.Code.badSignature,
                message: "update names `\(PeerText.sanitized(update.participantName, maxLength: 64))` but was sent by `\(name)`",
                closesConnection: false))
        }
        guard let active = round, active.machine.state == .collecting else {
            return recordRefusal(name, WireError(code: WireError.Code.roundNotOpen, message: "no round is collecting updates", closesConnection: false))
        }
        guard update.round == UInt64(active.number), update.roundNonce == active.nonce else {
            return recordRefusal(name, WireError(code: WireError.Code.replayed,
                message: "update is for round \(update.round), not the open round \(active.number), or carries a stale nonce", closesConnection: false))
        }
        guard active.invited.contains(name) else {
            return recordRefusal(name, WireError(code: WireError.Code.roundNotOpen, message: "\(name) was not sampled for round \(active.number)", closesConnection: false))
        }
        guard let key = signingKeys[name] else {
            return recordRefusal(name, WireError(code: WireError.Code.badSignature,
                message: "the update's signature does not verify under \(name)'s registered signing key", closesConnection: false))
        }
        var duplicate: UpdateRejection?
        do { try active.aggregator.checkNotDuplicate(name, round: UInt64(active.number)) } catch { duplicate = error }
        return .success(Admission(signingKey: key, preparer: active.aggregator.preparer, duplicate: duplicate))
    }

    /// Adds an opened, checked, clipped update to the sum of the round it was admitted to.
    func commit(_ prepared: PreparedUpdate, update: ReceivedUpdate, sealedDigest: [UInt8], from name: String) -> Result<UpdateAck, WireError> {
        // The round may have ended while the update was being opened.
        guard let active = round, active.machine.state == .collecting else {
            return recordRefusal(name, WireError(code: WireError.Code.roundNotOpen, message: "no round is collecting updates", closesConnection: false))
        }
        guard update.round == UInt64(active.number), update.roundNonce == active.nonce else {
            return recordRefusal(name, WireError(code: WireError.Code.replayed,
                message: "update is for round \(update.round), not the open round \(active.number), or carries a stale nonce", closesConnection: false))
        }
        do {
            let norm = try active.aggregator.accumulate(
                prepared, participant: name, round: UInt64(active.number), maximumNorm: updateNormBound(for: name, in: active))
            metrics.updateNorm(norm)
        } catch {
            return recordRefusal(name, WireError(code: error.code, message: error.message, closesConnection: false))
        }
        let digest = SHA256.hexDigest(update.signature + sealedDigest)
        active.digests[name] = digest
        active.answered.insert(name)
        _ = try? active.machine.handle(.updateAccepted(participant: name))
        active.checks.accept(name)
        return .success(UpdateAck(round: update.round, updateDigest: Hex.decode(digest) ?? []))
    }

    /// Records a refusal found off the actor.
    func refuseUpdate(_ name: String, _ error: WireError) -> Result<UpdateAck, WireError> {
        recordRefusal(name, error)
    }

    /// Records a refused update for the round's `update_checks` decision, when the sender was
    /// sampled for the collecting round.
    func recordRefusal<Success>(_ name: String, _ error: WireError) -> Result<Success, WireError> {
        if let active = round, active.machine.state == .collecting, active.invited.contains(name) {
            active.checks.refuse(name, code: error.code)
            // The sender is dropped from the round: collection no longer waits for it.
            active.answered.insert(name)
        }
        return .failure(error)
    }

    func receiveEvaluation(_ accumulator: MetricsAccumulator, round number: Int, from name: String) {
        guard let active = round, active.number == number, active.machine.state == .aggregated,
            active.evaluationsAsked.contains(name)
        else { return }
        active.evaluations[name] = accumulator
    }

    /// Asks every connected participant to evaluate the new model on its holdout and merges what
    /// arrives before `timeout`.
    func federatedEvaluation(_ active: ActiveRound, timeout: Double) async throws -> (aggregate: [String: Double], byParticipant: [String: [String: Double]]) {
        // Encoded once and shared, like the invitation: one frame per participant would copy the model each time.
        let candidateDigest = currentModelDigest()
        let request = Frame(EvaluateRequest(round: UInt64(active.number), modelDigest: candidateDigest, model: model.parameters))
        // Only participants still eligible for this round see the candidate: suspended, excluded
        // and removed ones receive no model and their self-reported counts never reach the gate.
        active.evaluationsAsked = Set(sessions.keys.filter { name in
            active.eligible.contains(name) && membership.contains(name) && suspended[name] == nil
        })
        for name in active.evaluationsAsked.sorted() { _ = await send(request, to: name, holding: candidateDigest) }
        let until = Date().addingTimeInterval(timeout)
        while Date() < until && active.evaluations.count < active.evaluationsAsked.filter({ sessions[$0] != nil }).count {
            try await Task.sleep(for: .milliseconds(1))
        }
        // Each evaluation was validated on arrival; one that still cannot be merged is left out.
        let (merged, byParticipant) = mergeEvaluations(active)
        return (byParticipant.isEmpty ? [:] : Self.summary(merged.metrics()), byParticipant)
    }

    static func summary(_ metrics: BinaryClassificationMetrics) -> [String: Double] {
        var values = ["count": Double(metrics.count), "accuracy": metrics.accuracy, "precision": metrics.precision,
                      "recall": metrics.recall, "f1": metrics.f1]
        if let auc = metrics.rocAUC { values["roc_auc"] = auc }
        return values
    }

    // MARK: - Rounds

    /// Runs `count` rounds (or the policy's count) one after another, then returns.
    ///
    /// The rounds go through the same queue operators fill with `requestRounds`, so a pause or an
    /// abort from the control API applies to them too.
    public func runRounds(_ count: Int? = nil, progress: (@Sendable (RoundOutcome) -> Void)? = nil) async throws -> [RoundOutcome] {
        // Give every participant named in the policy a moment to join before the first round, so
        // a run does not start with just a quorum because one silo connected a little later.
        let everyone = configuration.policy.policy.participants.count
        let joinUntil = Date().addingTimeInterval(min(configuration.quorumWaitSeconds, 10))
        while sessions.count < everyone && Date() < joinUntil {
            try await Task.sleep(for: .milliseconds(20))
        }
        queuedRounds += count ?? configuration.policy.policy.rounds.count
        return try await drainQueue(progress: progress)
    }

    /// Serves operator requests until the task is cancelled: runs queued rounds whenever there
    /// are some and the coordinator is not paused.
    public func serveRequests(progress: (@Sendable (RoundOutcome) -> Void)? = nil) async throws {
        while true {
            try Task.checkCancellation()
            if queuedRounds > 0 && !paused && !runningQueue {
                try await drainQueueSurvivingRoundErrors(progress: progress)
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Runs queued rounds one after another until the queue is empty; waits while paused.
    func drainQueue(progress: (@Sendable (RoundOutcome) -> Void)?) async throws -> [RoundOutcome] {
        runningQueue = true
        defer { runningQueue = false }
        var outcomes: [RoundOutcome] = []
        while queuedRounds > 0 {
            if paused {
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            queuedRounds -= 1
            let started = Date()
            let outcome = try await runRound()
            recordMetrics(of: outcome, seconds: Date().timeIntervalSince(started))
            outcomes.append(outcome)
            lastRound = summary(of: outcome)
            progress?(outcome)
            // A budget refusal ends the run: the next round would be refused for the same reason.
            if case .refused(_, "budget", _) = outcome { queuedRounds = 0 }
        }
        return outcomes
    }


    /// Runs one round through every state, writing the ledger at each durable step.
    public func runRound() async throws -> RoundOutcome {
        let policy = configuration.policy.policy
        // An earlier round whose abort could not be written (its storage failure also hit the
        // abort entry) is still open in the ledger, which accepts no new round until it ends.
        if round == nil {
            try Self.abortUnfinishedRound(in: ledger, reason: "ended earlier by a failure (e.g. a full disk) when its abort could not be written", logger: logger)
        }
        let number = ledger.state.nextRound
        // `policy` is the policy in force as this round opens: the plan below freezes it, and an
        // adoption from here on applies to the next round.
        let mechanism = try SubsampledGaussian(samplingRate: policy.privacy.samplingRate, noiseMultiplier: policy.privacy.noiseMultiplier)
        // The budget projection uses the ledger's own history and arithmetic, with the charge
        // method the plan will record.
        let projected = try ledger.state.projectedCharge(mechanism: mechanism, delta: policy.privacy.delta, method: .current)
            .cumulativeEpsilon
        let eligible: [String]
        let preRoundDecisions: [GateOutcome]
        switch try await preRoundGates(round: number, projected: projected) {
        case .refused(let outcome): return outcome
        case .passed(let names, let decisions):
            eligible = names
            preRoundDecisions = decisions
        }
        // Checked sum of the attested training rows (each bounded where decoded; the pre-round
        // gates left out whoever would push the noise out of range): the public N, never derived
        // back from a Double.
        let trainingRows = policy.privacy.unit == .record ? attestedRecords(of: eligible) : 0
        let plan = try RoundPlan(
            privacy: policy.privacy, dimension: dimension, eligibleParticipants: eligible.count, trainingRows: trainingRows)
        if plan.deltaExceedsGuidance && !deltaGuidanceWarned {
            deltaGuidanceWarned = true
            logger.warning("privacy.delta is above 1/(10·N) for the records this round protects; lower it", metadata: [
                "cohort.delta": "\(plan.record.delta)", "cohort.records": "\(plan.record.records)",
            ])
        }
        // Sampling: participants (participant unit) with the CSPRNG; every connected silo samples
        // its own records (record unit).
        let invited: [String]
        switch plan.unit {
        case .participant: invited = eligible.filter { _ in SecureRandom.bernoulli(plan.samplingRate) }
        case .record: invited = eligible
        }
        let nonce = SecureRandom.bytes(32)
        let active = ActiveRound(
            number: number, nonce: nonce, invited: Set(invited), plan: plan,
            aggregator: StreamingAggregator(
                dimension: dimension, clippingBound: plan.unit == .participant ? plan.clippingBound : nil, reference: previousUpdate)
        )
        active.eligible = Set(eligible)
        for name in invited {
            active.records[name] = sessions[name]?.trainingRows
            active.labelCounts[name] = sessions[name]?.attestation.labelCounts
        }
        _ = try active.machine.handle(.gatesPassed)
        // The gate decisions and the opening become durable together, before any invitation.
        _ = try ledger.appendAll(preRoundDecisions.map { $0.payload(round: number) } + [
            RoundOpenedPayload(
                round: number, participantsSampled: invited.count, participantsEligible: eligible.count,
                mechanism: "poisson-subsampled-discrete-gaussian", plan: plan.record)
        ])
        // Only a round whose opening is durable becomes the active one: if the append failed, no
        // round exists to accept updates or to abort later.
        round = active
        if pendingNoise?.distribution != plan.noise {
            pendingNoise = (plan.noise, drawNoise(plan.noise))
        }
        let parameters = TrainingParameters(
            unit: plan.unit.rawValue, samplingRate: plan.samplingRate, clippingBound: plan.clippingBound,
            localEpochs: policy.model.localEpochs, localLearningRate: policy.model.localLearningRate, batchSize: policy.model.batchSize,
            model: modelStart.architecture
        )
        let deadline = Date().addingTimeInterval(policy.rounds.deadlineSeconds)
        // Encoded once per form and shared: every participant gets the same bytes, and a frame per
        // participant would copy the whole global model each time. A participant holding the
        // model (the candidate it evaluated last round) gets it by reference.
        let modelDigest = currentModelDigest()
        let deadlineMillis = UInt64(deadline.timeIntervalSince1970 * 1000)
        let trainingParameters = parameters.encoded()
        func inviteFrame(carrying globalModel: [Float]) -> Frame {
            Frame(RoundInvite(
                round: UInt64(number), roundNonce: nonce, deadlineMillis: deadlineMillis, modelDigest: modelDigest,
                globalModel: globalModel, trainingParameters: trainingParameters))
        }
        let referenceFrame = inviteFrame(carrying: [])
        var fullFrame: Frame?
        _ = try active.machine.handle(.invitationsSent)
        for name in invited {
            guard let session = sessions[name] else { continue }
            let frame: Frame
            if session.heldModelDigest == modelDigest {
                frame = referenceFrame
            } else {
                frame = fullFrame ?? inviteFrame(carrying: model.parameters)
                fullFrame = frame
            }
            if !(await send(frame, to: name, holding: modelDigest)) {
                logger.notice("invitation not delivered", metadata: ["cohort.participant": "\(name)"])
            }
        }
        // Collect until every invited participant answered or left, or the deadline passed.
        while Date() < deadline {
            if let reason = abortRequest {
                abortRequest = nil
                return try await finish(active, event: .abort(reason: reason))
            }
            let pending = active.invited.subtracting(active.answered).filter { sessions[$0] != nil }
            if pending.isEmpty || active.machine.state != .collecting { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        guard active.machine.state == .collecting else {
            return .aborted(round: number, reason: "round ended early", charged: active.machine.charged)
        }
        return try await finish(active, event: .collectionEnded(contributors: active.aggregator.count, minimum: policy.rounds.minParticipants))
    }

    /// Drives the state machine from the end of collection to closed or aborted.
    ///
    /// When a step throws (a ledger append or the checkpoint write failing, typically on a full
    /// disk), the round ends as aborted through `endFailedRound` and the error is rethrown with its code.
    func finish(_ active: ActiveRound, event: RoundStateMachine.Event) async throws -> RoundOutcome {
        // The model the last closed round released, which is also what a restart would load.
        let modelBefore = model
        let optimizerBefore = optimizer
        do {
            return try await drive(active, event: event)
        } catch {
            throw endFailedRound(active, error: error, modelBefore: modelBefore, optimizerBefore: optimizerBefore)
        }
    }

    func drive(_ active: ActiveRound, event: RoundStateMachine.Event) async throws -> RoundOutcome {
        let policy = configuration.policy.policy
        var action = try active.machine.handle(event)
        var roundEpsilon = 0.0
        var chargeWritten = false
        while true {
            switch action {
            case .writeCharge:
                roundEpsilon = try writeCharge(active)
                chargeWritten = true
                action = try active.machine.handle(.chargeDurable)
            case .computeNoisedAggregate:
                let noise = await takeNoise(active.plan.noise)
                active.noisedMean = try active.aggregator.noisedMean(grid: active.plan.grid, noise: noise, denominator: active.plan.denominator)
                action = try active.machine.handle(.aggregated)
            case .runPostAggregateChecksAndRelease:
                let anomaly = try screenAnomalies(active)
                if !anomaly.outcome.passed && policy.governance.anomaly.action == .discardRound {
                    _ = try ledger.append(anomaly.outcome.payload(round: active.number))
                    action = try active.machine.handle(.abort(reason: "the anomaly gate discarded the aggregate: \(anomaly.outcome.reason)"))
                    continue
                }
                try applyUpdate(active.noisedMean!, unit: active.plan.unit)
                // The checkpoint is written (encoded, hashed, fsynced) while participants evaluate
                // the candidate; the close below waits for it, so nothing is released before it is durable.
                let checkpoint = writeCheckpoint(active)
                do {
                    try await promotionGates(active, anomaly: anomaly, evaluationTimeout: min(policy.rounds.deadlineSeconds, 10))
                } catch {
                    // The round ends unreleased: its checkpoint must not outlive it.
                    if case .success = await checkpoint.result {
                        try? FileManager.default.removeItem(atPath: Self.checkpointPath(stateDirectory: configuration.stateDirectory, round: active.number))
                    }
                    throw error
                }
                active.checkpointSHA256 = try await checkpoint.value
                action = try active.machine.handle(.released)
            case .writeClose:
                try writeClose(active)
                previousUpdate = active.noisedMean
                lastClosedMetrics = active.closingMetrics
                action = try active.machine.handle(.closeDurable)
            case .abort(let reason, let charged):
                if charged && !chargeWritten && !active.machine.contributors.isEmpty {
                    roundEpsilon = try writeCharge(active)
                }
                if !active.checksRecorded && active.machine.state != .open {
                    _ = try? ledger.append(active.checks.outcome.payload(round: active.number))
                    active.checksRecorded = true
                }
                _ = try? ledger.append(RoundAbortedPayload(round: active.number, reason: reason, charged: charged))
                logger.notice("round aborted", metadata: ["cohort.round": "\(active.number)", "cohort.reason": "\(reason)"])
                round = nil
                return .aborted(round: active.number, reason: reason, charged: charged)
            case .none:
                round = nil
                return .closed(round: active.number, contributors: active.machine.contributors,
                               roundEpsilon: roundEpsilon, cumulativeEpsilon: ledger.state.cumulativeEpsilon)
            case .sendInvitations, .refuse:
                throw CoordinatorError(code: "coordinator.internal", message: "unexpected round action \(action)")
            }
        }
    }

    /// Ends a round that a failed step interrupted and returns the error to report.
    ///
    /// Nothing derived from the round's updates has left the coordinator: the charge precedes the
    /// aggregate, and the release is the close (checkpoint, then `round.closed`), which did not
    /// happen. So the in-memory model goes back to the last released one (an aggregate applied
    /// before a failed close must not reach the next round's invitations), the round is cleared
    /// so nothing more is accepted for it, and its abort is recorded if the ledger still takes
    /// entries, with `charged` as the ledger says: a charge that became durable stays charged,
    /// and one that did not was never used. If the abort cannot be written either, the round stays
    /// open in the ledger and is aborted before the next round opens, or by the next start.
    func endFailedRound(_ active: ActiveRound, error: any Error, modelBefore: LogisticRegression, optimizerBefore: ServerOptimizer) -> CoordinatorError {
        let code = Self.code(of: error)
        round = nil
        // A round whose close is durable released its model; nothing after that step throws.
        guard ledger.state.lastClosedRound != active.number else {
            return CoordinatorError(code: code, message: "round \(active.number) closed, then failed: \(error)")
        }
        model = modelBefore
        optimizer = optimizerBefore
        let reason = "aborted before release: \(error)"
        _ = try? active.machine.handle(.abort(reason: reason))
        let charged = ledger.state.unfinishedRound == active.number && ledger.state.unfinishedRoundCharged
        var recorded = false
        if ledger.state.unfinishedRound == active.number {
            recorded = (try? ledger.append(RoundAbortedPayload(round: active.number, reason: reason, charged: charged))) != nil
        }
        logger.error("round failed", metadata: [
            "cohort.round": "\(active.number)", "cohort.code": "\(code)", "cohort.charged": "\(charged)", "cohort.abort_recorded": "\(recorded)",
        ])
        return CoordinatorError(
            code: code,
            message: "round \(active.number) was aborted before any release (\(charged ? "its charge is durable and stays" : "it was not charged"); "
                + (recorded ? "the abort is in the ledger" : "the abort could not be written yet and is recorded before the next round")
                + "): \(error)"
        )
    }

    /// The stable code of an error from a round step.
    static func code(of error: any Error) -> String {
        switch error {
        case let error as LedgerError: error.code.rawValue
        case let error as StorageError: error.code
        case let error as CoordinatorError: error.code
        default: "coordinator.round_failed"
        }
    }

    /// Writes and fsyncs the round's charge. Only after this returns may the noised aggregate exist.
    func writeCharge(_ active: ActiveRound) throws -> Double {
        // The round's frozen plan, never the policy in force: what is charged is what was sampled
        // and drawn. The values are those the verifier recomputes from the ledger's own state.
        let charge = try ledger.state.projectedCharge(plan: active.plan.record)
        // The per-update decisions and the charge become durable together (one fsync).
        let checks = active.checks.outcome
        if !checks.passed { raiseAlert(kind: "gate_failed", round: active.number, gate: checks.gate, reason: checks.reason, participants: []) }
        _ = try ledger.appendAll([checks.payload(round: active.number), RoundChargedPayload(
            round: active.number, plan: active.plan.record, projected: charge,
            contributors: active.machine.contributors.sorted(), updateDigests: active.digests)])
        active.checksRecorded = true
        return charge.roundEpsilon
    }

    func applyUpdate(_ mean: [Float], unit: PrivacyUnit) throws {
        switch unit {
        case .record:
            // The noised sum over the expected batch is a gradient estimate: descend along it.
            try optimizer.applyNoisedGradientSum(mean, expectedBatchSize: 1, to: &model)
        case .participant:
            // The noised mean is a model delta: move along it.
            try optimizer.applyAverageDelta(mean, to: &model)
        }
    }

    /// Writes the checkpoint of the model `active` released, off the actor (temporary file, fsync,
    /// rename); the task's value is the file's SHA-256 in hexadecimal, for the close entry.
    func writeCheckpoint(_ active: ActiveRound) -> Task<String, any Error> {
        let checkpoint: ModelCheckpoint
        do {
            checkpoint = ModelCheckpoint(
                round: active.number, model: model, optimizer: optimizer, schemaDigest: try schema.digest(), layout: modelStart.layout)
        } catch {
            return Task { throw error }
        }
        let path = Self.checkpointPath(stateDirectory: configuration.stateDirectory, round: active.number)
        return Task.detached {
            let bytes = try checkpoint.safetensors().encoded()
            try DurableFile.writeAtomically(bytes, to: path, mode: 0o600)
            return BulkSHA256.hexDigest(bytes)
        }
    }

    func writeClose(_ active: ActiveRound) throws {
        guard let checkpointSHA256 = active.checkpointSHA256 else {
            throw CoordinatorError(code: "coordinator.internal", message: "round \(active.number) reached its close without a checkpoint")
        }
        _ = try ledger.append(RoundClosedPayload(
            round: active.number, modelSHA256: checkpointSHA256, checkpoint: Self.checkpointName(round: active.number),
            metrics: active.closingMetrics))
        let result = RoundResult(round: UInt64(active.number), json: Array(#"{"outcome":"closed"}"#.utf8))
        for name in active.invited {
            guard let writer = sessions[name]?.writer else { continue }
            Task { try? await writer.send(result) }
        }
    }


    /// Draws one noise vector off the actor, so it is ready while updates arrive.
    func drawNoise(_ distribution: DiscreteGaussian) -> Task<[Int64], Never> {
        let count = dimension
        // Only the benchmark-only `benchmarkSkipsNoise` draws nothing: zeros keep the aggregation
        // path (quantise, add, dequantise) identical, so only the draw is left out.
        if configuration.benchmarkSkipsNoise { return Task { [Int64](repeating: 0, count: count) } }
        return Task.detached(priority: .utility) {
            var sampler = DiscreteGaussianSampler(distribution)
            return sampler.samples(count)
        }
    }

    /// The pre-drawn noise if it has the right distribution (else a fresh draw), and starts the
    /// draw for the next round.
    func takeNoise(_ distribution: DiscreteGaussian) async -> [Int64] {
        let task = pendingNoise?.distribution == distribution ? pendingNoise!.draw : drawNoise(distribution)
        let noise = await task.value
        pendingNoise = (distribution, drawNoise(distribution))
        return noise
    }
}
