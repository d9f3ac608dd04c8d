import CohortCrypto
import CohortGovernance
import CohortLedger
import CohortModel
import CohortPolicy
import CohortPrivacy
import CohortStorage
import CohortTransport
import CoreMetrics
import Foundation
import Logging
import NIOSSL

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
    var model: ModelParameters {
        didSet { modelDigestCache = nil }
    }
    /// ``ModelDigest`` of `model`, computed on first use after each change.
    private var modelDigestCache: [UInt8]?
    var optimizer: ServerOptimizer
    /// Participants' sessions, membership and fan-out.
    var gateway: ParticipantGateway
    typealias Session = ParticipantGateway.Session
    /// Whether the δ guidance warning was logged (once per run).
    /// The protected-unit count N the δ guidance was last warned about for, so a round warns
    /// again only when N changes.
    var deltaGuidanceWarnedFor: Int?
    var round: ActiveRound?
    /// The last round whose collection its deadline ended, until the next round opens: an update
    /// for it that arrives later is told `round.deadline_passed` (its silo is too slow), not
    /// `round.not_open`.
    var deadlinePassedRound: Int?
    /// Rounds being driven now (`runRound` in progress); `stop` lets a driver end its round.
    var driving = 0
    var server: FrameServer?
    /// Noise for the next round, drawn while the current one collects updates.
    var pendingNoise: (distribution: DiscreteGaussian, draw: Task<[Int64], Never>)?
    /// The running sum of the last aggregated round, reused (zeroed) by the next one instead of a
    /// fresh model-sized allocation every round.
    var spareSum: [Double]?
    /// Suspended participants and why (persisted in `suspended.json`).
    var suspended: [String: String] = [:]
    /// Rounds requested by `runRounds` for this run and not yet started (not persisted).
    var localQueuedRounds = 0
    /// Rounds operators requested and not yet started, persisted in `queue.json` so that they
    /// survive a restart.
    var operatorQueuedRounds = 0
    /// The number of the operator-queued round taken from the queue and being run, until the
    /// round has ended (recorded in `queue.json` as `taken_round`).
    var operatorRoundInFlight: Int?
    /// Every round requested and not yet started.
    var queuedRounds: Int { localQueuedRounds + operatorQueuedRounds }
    /// An operator paused: no new round starts.
    var paused = false
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
    /// The benchmark's per-phase timing (``CoordinatorConfiguration/phaseProfile``); nil in production.
    nonisolated let profile: RoundPhaseProfile?
    /// Where the ledger, checkpoints, adopted policies, suspensions and the round queue live.
    let stateDirectory: StateDirectory
    /// Every deadline and wait is measured on this clock.
    let clock: CoordinatorClock
    /// Tasks waiting for a change or a deadline.
    var waiters = ChangeWaiters()
    /// The actor runs on a serial queue of its own, so its blocking fsyncs stay off the cooperative pool.
    nonisolated let executor = CoordinatorExecutor()

    /// The actor's executor (see ``CoordinatorExecutor``).
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// ``ModelDigest`` of the current global model.
    func currentModelDigest() -> [UInt8] {
        if let modelDigestCache { return modelDigestCache }
        let digest = ModelDigest.of(model.parameters)
        modelDigestCache = digest
        return digest
    }

    /// Opens (or creates) the ledger, verifies it, and restores the model from the last checkpoint.
    ///
    /// Every start-up check of the policy in force — keys (and their 0600 mode), the TLS
    /// identity, the schema, the grid and the noise sampler's range — runs before a new ledger's
    /// genesis entry is written: a policy that cannot run must leave no ledger behind, or the
    /// corrected policy would then be refused as a different policy than the ledger's.
    public init(configuration: CoordinatorConfiguration, logger: Logger) throws {
        self.logger = logger
        metrics = CoordinatorMetrics(factory: configuration.metricsFactory ?? MetricsSystem.factory)
        let fileLoaded = configuration.policy
        // The ledger key cannot change while a ledger exists (PolicyChange), so the file's is the one in force.
        let ledgerKey = try Self.startupCheck("coordinator.ledger_key") {
            try Ed25519.KeyPair(
                secretKey: KeyFile.readSecret(
                    kind: .ed25519Secret, from: fileLoaded.resolve(fileLoaded.policy.coordinator.ledgerKey)))
        }
        let ledgerPath = LedgerWriter.ledgerPath(stateDirectory: configuration.stateDirectory)
        var existing: LedgerWriter?
        if DurableFile.exists(ledgerPath) {
            let report = try LedgerWriter.recover(
                stateDirectory: configuration.stateDirectory, publicKey: ledgerKey.publicKey)
            if report.truncatedAt != nil {
                logger.warning("ledger recovery", metadata: ["cohort.recovery": "\(report.summary)"])
            }
            existing = try LedgerWriter.open(stateDirectory: configuration.stateDirectory, signingKey: ledgerKey)
        }
        var effective = configuration
        if let existing {
            effective.policy = try StateDirectory.policyInForce(
                ledger: existing, file: fileLoaded, stateDirectory: configuration.stateDirectory, logger: logger)
        }
        self.configuration = effective
        Self.warnAboutGuaranteeTradingOptions(effective.policy.policy, logger: logger)
        Self.warnAboutDelta(effective.policy.policy, logger: logger)
        let loaded = effective.policy
        let policy = loaded.policy
        // coordinator.* cannot change while a ledger exists, so the TLS identity is the file's too.
        do {
            tls = try TLSConfigurationFactory(
                caCertificatePath: loaded.resolve(policy.coordinator.caCertificate),
                certificatePath: loaded.resolve(policy.coordinator.certificate),
                privateKeyPath: loaded.resolve(policy.coordinator.privateKey))
        } catch {
            throw CoordinatorError(
                code: error.code, message: "coordinator.private_key / coordinator.certificate: \(error.message)")
        }
        sealingKey = try Self.startupCheck("coordinator.sealing_key") {
            try SealedBox.KeyPair(
                secretKey: KeyFile.readSecret(kind: .x25519Secret, from: loaded.resolve(policy.coordinator.sealingKey)))
        }
        var keys: [String: [UInt8]] = [:]
        for (index, participant) in policy.participants.enumerated() {
            keys[participant.name] = try Self.startupCheck("participants[\(index)].signing_key") {
                try KeyFile.readPublic(kind: .ed25519Public, from: loaded.resolve(participant.signingKey))
            }
        }
        signingKeys = keys
        gateway = ParticipantGateway(members: Set(policy.participants.map(\.name)))
        let loadedSchema = try Self.startupCheck("model.schema") {
            try FeatureSchema.load(path: loaded.resolve(policy.model.schema))
        }
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
            try FixedPointGrid(
                clippingBound: policy.privacy.clippingBound, dimension: modelDimension,
                inflation: policy.privacy.gridInflation)
        }
        grid = roundGrid
        // Fails early (before any round, and before a new ledger exists) when σ on this grid is
        // outside the sampler's range.
        _ = try Self.startupCheck("privacy.noise_multiplier") {
            try roundGrid.noise(
                noiseMultiplier: policy.privacy.noiseMultiplier, clippingBound: policy.privacy.clippingBound,
                dimension: modelDimension)
        }
        let directory = StateDirectory(configuration.stateDirectory)
        stateDirectory = directory
        clock = configuration.clock
        try directory.create()
        let writer =
            try existing
            ?? LedgerWriter.create(
                stateDirectory: configuration.stateDirectory, signingKey: ledgerKey,
                genesis: GenesisPayload(
                    ledgerPublicKey: ledgerKey.publicKey, policySHA256: fileLoaded.sha256,
                    epsilonMax: fileLoaded.policy.privacy.epsilonMax, delta: fileLoaded.policy.privacy.delta,
                    initialModelSHA256: start.initialModelSHA256
                )
            )
        if configuration.benchmarkSkipsNoise {
            logger.critical(
                "benchmark mode: aggregates are released WITHOUT noise; this run is not differentially private")
        }
        // A crash mid-append leaves a store line without its line feed. The entry it belonged to
        // was never written (each store line goes first), so the fragment is cut, not read.
        try directory.cutTornStoreLines(logger: logger)
        // A round left open by a crash ends here, before anything else: aborted, and charged if
        // its charge had become durable (the write-ahead rule keeps that charge for good).
        try StateDirectory.abortUnfinishedRound(
            in: writer, reason: "the coordinator stopped during the round and restarted",
            stateDirectory: configuration.stateDirectory, logger: logger)
        var restoredOptimizer = try ServerOptimizer(
            learningRate: policy.model.serverLearningRate, momentum: policy.model.serverMomentum)
        var restoredModel = try ModelParameters(parameters: start.parameters)
        if let last = writer.state.lastClosedRound, let digest = writer.state.lastModelSHA256 {
            let path = directory.checkpointPath(round: last)
            let bytes = try DurableFile.read(path)
            guard SHA256.hexDigest(bytes) == digest else {
                throw CoordinatorError(
                    code: "coordinator.checkpoint_mismatch",
                    message:
                        "checkpoint \(path) does not match the digest the ledger recorded for round \(last); restore it from backup"
                )
            }
            let checkpoint = try ModelCheckpoint(safetensors: SafetensorsFile.decode(bytes, source: path))
            restoredModel = checkpoint.model
            if let saved = checkpoint.optimizer { restoredOptimizer = saved }
        }
        optimizer = restoredOptimizer
        model = restoredModel
        ledger = writer
        suspended = try directory.loadSuspensions()
        // Rounds operators queued before a stop or crash run when serving resumes, unless an
        // operator had paused: a restart must not undo a pause.
        let restoredQueue = try directory.loadOperatorQueue()
        operatorQueuedRounds = restoredQueue.queuedRounds
        paused = restoredQueue.paused
        // A round taken from the queue that never reached the ledger (the stop came before it
        // opened, e.g. during its quorum wait) is queued again; one the ledger shows has ended
        // (closed, or aborted just above) and is not run twice.
        if let taken = restoredQueue.takenRound, writer.state.nextRound <= taken {
            operatorQueuedRounds += 1
            logger.notice(
                "an operator-queued round taken before the stop never opened; it is queued again",
                metadata: ["cohort.round": "\(taken)"])
        }
        if restoredQueue.paused {
            logger.notice(
                "paused by an operator before the restart; no round starts until one resumes",
                metadata: [
                    "cohort.queued_rounds": "\(restoredQueue.queuedRounds)"
                ])
        } else if restoredQueue.queuedRounds > 0 {
            logger.notice(
                "operator-queued rounds resume", metadata: ["cohort.queued_rounds": "\(restoredQueue.queuedRounds)"])
        }
        // As many updates are opened at once as there are cores to open them; more would only
        // hold more plaintext.
        profile = configuration.phaseProfile
        plaintextPool = PlaintextPool(
            byteCount: UpdatePlaintext.headerLength + modelDimension * 4,
            limit: max(2, ProcessInfo.processInfo.activeProcessorCount))
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
            throw CoordinatorError(
                code: error.code, message: "\(field): \(error.message); the policy cannot start, fix it")
        } catch let error as StorageError {
            throw CoordinatorError(code: error.code, message: "\(field): \(error.message)")
        }
    }

    /// The state of the ledger, for status displays.
    public var ledgerState: LedgerState { ledger.state }

    /// The current global model parameters.
    public var globalModel: [Float] { model.parameters }

    /// Names of participants connected and attested.
    public var connectedParticipants: [String] { gateway.sessions.keys.sorted() }
}
