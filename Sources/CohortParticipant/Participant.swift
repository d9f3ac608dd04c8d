import CohortCrypto
import CohortErrors
import CohortModel
import CohortTransport
import Foundation
import Logging

/// What a participant needs to take part.
public struct ParticipantConfiguration: Sendable {
    /// Coordinator host and port.
    public var host: String
    public var port: Int
    /// The identity directory (`<name>.pem`, `<name>.key.pem`, `<name>.ed25519.key`, `ca.pem`).
    public var identity: IdentityFiles
    /// The local CSV and the feature schema it must satisfy.
    public var dataPath: String
    public var schemaPath: String
    /// The label column the operator expects; checked against the schema's when given.
    public var expectedLabel: String?
    /// An external trainer command (see `ExternalTrainer`); nil trains the policy's built-in model.
    public var trainerCommand: String?
    /// Whether the trainer implements the evaluate hook (`COHORT_TASK=evaluate`, docs/TRAINER.md):
    /// then it scores the holdout for every evaluation request. Without it, a built-in model is
    /// evaluated by the participant itself and an external model is not evaluated.
    public var trainerEvaluates: Bool = false
    /// Fraction of local records kept out of training for federated evaluation. Default 0.2.
    public var holdoutFraction: Double
    /// The secret key file of the holdout PRF (`KeyFile` kind `.holdoutSecret`, mode 0600); nil
    /// means `identity.holdoutKey` (`<identity directory>/<name>.holdout.key`). Created from the
    /// CSPRNG when absent, then reused, so the split stays the same across runs.
    public var holdoutKeyPath: String?
    /// TESTS ONLY: rewrites the update before it is sealed (e.g. scales or flips it), so tests
    /// can play a poisoned silo against the anomaly gate. SPI, with no command-line option.
    @_spi(CohortTesting) public var updateTransform: (@Sendable (_ round: UInt64, _ values: [Float]) -> [Float])?
    /// Reconnection after a lost or refused connection. Default ``ReconnectPolicy/never`` (the run
    /// ends with the connection); `cohort-participant` reconnects by default.
    public var reconnect: ReconnectPolicy = .never
    /// The clock reconnection delays are measured on (tests inject their own).
    public var clock: any Clock<Duration> = ContinuousClock()

    public init(
        host: String, port: Int, identity: IdentityFiles, dataPath: String, schemaPath: String,
        expectedLabel: String? = nil,
        trainerCommand: String? = nil, holdoutFraction: Double = 0.2, holdoutKeyPath: String? = nil
    ) {
        self.host = host
        self.port = port
        self.identity = identity
        self.dataPath = dataPath
        self.schemaPath = schemaPath
        self.expectedLabel = expectedLabel
        self.trainerCommand = trainerCommand
        self.holdoutFraction = holdoutFraction
        self.holdoutKeyPath = holdoutKeyPath
    }

    /// The holdout key file in use: ``holdoutKeyPath`` or the identity's default.
    public var resolvedHoldoutKeyPath: String { holdoutKeyPath ?? identity.holdoutKey }
}

/// A participant's local data, validated, encoded and split into training records and a local
/// holdout that is never trained on.
public struct LocalData: Sendable {
    /// The attestation sent to the coordinator; its `trainingRows` is `train.count`.
    public let attestation: DataQualityAttestation
    /// The training split: the only records record-level training samples from.
    public let train: EncodedDataset
    /// The local holdout: what the participant evaluates candidate models on.
    public let holdout: EncodedDataset
    /// Row indices (0-based, in file order, header excluded) of both parts.
    public let split: TrainTestSplit
}

/// The silo-local secret key of the holdout PRF (`KeyedPRF`).
public enum HoldoutKey {
    /// Reads the key at `path`, or creates it from the CSPRNG (mode 0600) when no file is there
    /// and logs that it did (the path, never the key).
    /// - Throws: `crypto.key_permissions` when group or others may access the file,
    ///   `crypto.key_format` / `crypto.key_kind` for a file that is not a holdout key, with the
    ///   path and what to do; never the key's bytes.
    public static func loadOrCreate(path: String, logger: Logger) throws -> KeyedPRF {
        do {
            if !FileManager.default.fileExists(atPath: path) {
                let key = KeyedPRF.generateKey()
                try KeyFile.writeSecret(key, kind: .holdoutSecret, to: path)
                logger.notice(
                    "created a new holdout key; it decides which local records are held out of training — keep it with this participant's identity",
                    metadata: ["cohort.holdout_key": "\(path)"])
            }
            return try KeyedPRF(key: KeyFile.readSecret(kind: .holdoutSecret, from: path))
        } catch let error as CryptoError {
            throw ParticipantError(code: error.code, message: "holdout key: \(error.message)")
        }
    }
}

/// A silo: loads and validates its data, joins the coordinator, trains on invitation, and sends
/// sealed, signed updates. Raw records never leave this process.
public struct Participant: Sendable {
    public let configuration: ParticipantConfiguration
    let logger: Logger
    /// Stops the run from another task (SIGTERM in `cohort-participant`); see ``ParticipantStop``.
    public let stop = ParticipantStop()

    public init(configuration: ParticipantConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Rounds this participant sent an update for.
    public struct Summary: Sendable {
        public var roundsContributed: [Int] = []
        public var refusals: [String] = []
    }

    /// Loads, validates and encodes the local CSV and splits it: each record is held out when
    /// the keyed PRF of its raw cells is below ``ParticipantConfiguration/holdoutFraction``
    /// (`FeatureSchema.prepare(csvPath:keyedHoldout:testFraction:)`), under the key at
    /// ``ParticipantConfiguration/resolvedHoldoutKeyPath`` (created on first use). Adding or
    /// removing one record of the file changes the membership of that record only.
    public static func loadLocalData(configuration: ParticipantConfiguration, logger: Logger) throws -> LocalData {
        let schema = try FeatureSchema.load(path: configuration.schemaPath)
        if let label = configuration.expectedLabel, label != schema.label.column {
            throw ParticipantError(
                code: "participant.label_mismatch",
                message:
                    "--label \(label) does not match the schema's label column `\(schema.label.column)`; use the consortium's schema"
            )
        }
        let prf = try HoldoutKey.loadOrCreate(path: configuration.resolvedHoldoutKeyPath, logger: logger)
        let (prepared, split) = try schema.prepare(
            csvPath: configuration.dataPath, keyedHoldout: prf, testFraction: configuration.holdoutFraction)
        // No records: nothing to train or attest; say so here instead of joining to sit out every round.
        guard prepared.dataset.count > 0 else {
            throw ParticipantError(
                code: "participant.no_records",
                message:
                    "\(configuration.dataPath) holds a header but no records; a participant needs at least one record to train"
            )
        }
        // A local holdout, never trained on, answers the coordinator's evaluation requests.
        // Its metrics leave the silo in aggregate form only, and are not covered by the DP guarantee.
        return LocalData(
            attestation: prepared.attestation, train: prepared.dataset.subset(split.train),
            holdout: prepared.dataset.subset(split.test), split: split)
    }

    /// Joins and serves until the coordinator says goodbye, ``stop`` is requested, or the
    /// connection ends — with ``ParticipantConfiguration/reconnect``, until reconnecting gives up
    /// (`participant.gave_up`).
    public func run() async throws -> Summary {
        let local = try Self.loadLocalData(configuration: configuration, logger: logger)
        let data = local.train
        let holdout = local.holdout
        logger.info(
            "local data split",
            metadata: [
                "cohort.records": "\(local.split.train.count + local.split.test.count)",
                "cohort.training_records": "\(data.count)",
                "cohort.holdout_records": "\(holdout.count)",
            ])
        let signingKey = try Ed25519.KeyPair(
            secretKey: KeyFile.readSecret(kind: .ed25519Secret, from: configuration.identity.ed25519SecretKey))
        var trainer: ExternalTrainer?
        if let command = configuration.trainerCommand {
            let work = FileManager.default.temporaryDirectory.appendingPathComponent(
                "cohort-trainer-\(UUID().uuidString)"
            ).path
            trainer = ExternalTrainer(command: command, workDirectory: work, evaluates: configuration.trainerEvaluates)
            try trainer?.prepare(data: data, holdout: holdout)
        }
        defer { if let trainer { try? FileManager.default.removeItem(atPath: trainer.workDirectory) } }
        let tls = try TLSConfigurationFactory(identity: configuration.identity)
        var summary = Summary()
        var failures = 0
        while !stop.isRequested {
            var welcomed = false
            let end: SessionEnd
            do {
                end = try await session(
                    tls: tls, local: local, signingKey: signingKey, trainer: trainer, summary: &summary,
                    welcomed: &welcomed)
            } catch let error as ParticipantError {
                // A refusal by the coordinator or a local failure: final, reconnecting cannot help.
                if stop.isRequested { break }
                throw error
            } catch {
                // The connection failed (refused, reset, TLS): a coordinator restarting, or gone.
                if stop.isRequested { break }
                guard configuration.reconnect.maximumAttempts > 0 else { throw error }
                end = .lost("\(error)")
            }
            guard case .lost(let reason) = end, configuration.reconnect.maximumAttempts > 0, !stop.isRequested else {
                break
            }
            failures = welcomed ? 1 : failures + 1
            let unitRandom = Double.random(in: 0...1)
            guard let delay = configuration.reconnect.delay(afterFailures: failures, unitRandom: unitRandom) else {
                throw ParticipantError(
                    code: "participant.gave_up",
                    message: "no session with the coordinator at \(configuration.host):\(configuration.port) after "
                        + "\(failures) failed connection attempts (last: \(reason)); check that it runs and "
                        + "that this participant's certificate is accepted, then start the participant again")
            }
            logger.notice(
                "no session with the coordinator; reconnecting",
                metadata: [
                    "cohort.reason": "\(reason)", "cohort.attempt": "\(failures)", "cohort.delay": "\(delay)",
                ])
            guard await stop.wait(delay, on: configuration.clock) else { break }
        }
        return summary
    }

    /// How one session ended.
    enum SessionEnd {
        /// The coordinator said goodbye, or this participant was stopped.
        case finished
        /// The connection closed without a goodbye (a coordinator that crashed or restarted).
        case lost(String)
    }

    /// One connection: hello, attestation, then rounds until the coordinator says goodbye or the
    /// connection ends. `welcomed` is set once the coordinator answered the hello.
    private func session(
        tls: TLSConfigurationFactory, local: LocalData, signingKey: Ed25519.KeyPair, trainer: ExternalTrainer?,
        summary: inout Summary, welcomed: inout Bool
    ) async throws -> SessionEnd {
        let data = local.train
        let holdout = local.holdout
        let connection = try await FrameClient.connect(
            host: configuration.host, port: configuration.port, tls: tls.makeClientConfiguration(),
            serverHostname: configuration.host == "127.0.0.1" ? "localhost" : configuration.host, logger: logger
        )
        let name = configuration.identity.name
        return try await connection.executeThenClose { connection in
            let outbound = connection.outbound
            guard stop.attach(outbound) else { return .finished }
            defer { _ = stop.attach(nil) }
            var frames = connection.inbound.makeAsyncIterator()
            try await outbound.send(Hello(participantName: name))
            guard let welcomeFrame = try await frames.next() else {
                return .lost("the coordinator closed the connection before welcome")
            }
            let welcome = try welcomeFrame.decode(Welcome.self)
            welcomed = true
            // The model's size is checked against this data once the first invitation names the
            // architecture (an MLP's d is not the feature count + 1).
            let encoder = JSONEncoder()
            try await outbound.send(Attestation(json: Array(try encoder.encode(local.attestation))))
            var sampler = PoissonSampler()
            var heldModel = HeldModel()
            // The model the coordinator trains, from the latest invitation; nil until one arrives.
            var architecture: ModelArchitecture?
            var trainerChecks = TrainerChecks()
            // The coordinator's evaluation window, from the latest invitation (nil: not sent).
            var evaluationWindow: Duration?
            while let frame = try await frames.next() {
                let type = frame.type
                switch type {
                case .roundInvite:
                    // The frame (the whole model when sent in full) is let go before training.
                    let invite = try (consume frame).decode(RoundInvite.self)
                    let parameters: TrainingParameters
                    do throws(WireError) {
                        parameters = try TrainingParameters.decode(invite.trainingParameters)
                    } catch {
                        // A coordinator this participant cannot follow: final, reconnecting would
                        // only read the same parameters again.
                        throw ParticipantError(
                            code: error.code,
                            message: "round \(invite.round)'s invitation: \(error.message)")
                    }
                    let globalModel = try heldModel.model(for: invite)
                    let roundArchitecture = parameters.model ?? .logisticRegression
                    try Self.checkModelSize(
                        roundArchitecture, featureCount: data.dimension,
                        coordinatorDimension: Int(welcome.model.dimension))
                    architecture = roundArchitecture
                    evaluationWindow = parameters.evaluationTimeoutSeconds.map { .seconds($0) }
                    let values: [Float]
                    if let trainer {
                        let layout = try roundArchitecture.layout(featureCount: data.dimension)
                        let deadline = Self.localDeadline(wallMillis: invite.deadlineMillis)
                        let output: ExternalTrainer.Output
                        do {
                            output = try await stop.cancellingOnStop { [globalModel, round = invite.round] in
                                try await trainer.train(
                                    round: round, globalModel: globalModel, layout: layout,
                                    architecture: roundArchitecture, parameters: parameters, deadline: deadline)
                            }
                        } catch let error as ParticipantError where error.code == "participant.trainer_timeout" {
                            // The coordinator closes the round without this update; later rounds still come.
                            logger.warning(
                                "the trainer missed the round's deadline and was stopped; the update is skipped",
                                metadata: [
                                    "cohort.round": "\(invite.round)", "cohort.trainer": "\(trainer.command)",
                                    "cohort.message": "\(error.message)",
                                ])
                            continue
                        } catch let error as ParticipantError where error.code == "participant.trainer_stopped" {
                            if stop.isRequested { return .finished }
                            throw error
                        }
                        switch parameters.unit {
                        case .record:
                            if let batchSize = output.batchSize {
                                try trainerChecks.check(
                                    update: output.values, batchSize: batchSize, records: data.count,
                                    samplingRate: parameters.samplingRate, clippingBound: parameters.clippingBound)
                            } else {
                                logger.warning(
                                    """
                                    the trainer speaks contract 1 and reports no batch size: its sampling and \
                                    clipping are unchecked; migrate it to contract 2 (docs/TRAINER.md)
                                    """)
                            }
                        case .participant:
                            // The coordinator clips the whole delta; nothing of the trainer's to check.
                            break
                        }
                        values = output.values
                    } else {
                        let model = try BuiltInModel(
                            architecture: roundArchitecture, featureCount: data.dimension, parameters: globalModel)
                        switch parameters.unit {
                        case .record:
                            values = try model.clippedGradientSum(
                                data: data, samplingRate: parameters.samplingRate,
                                clippingBound: parameters.clippingBound, sampler: &sampler)
                        case .participant:
                            // Participant unit: the coordinator clips the whole delta, so the
                            // minibatch order needs no secure randomness.
                            var generator = SystemRandomNumberGenerator()
                            values = try model.modelDelta(
                                on: data,
                                configuration: LocalTrainingConfiguration(
                                    epochs: parameters.localEpochs, batchSize: parameters.batchSize,
                                    learningRate: parameters.localLearningRate),
                                using: &generator)
                        }
                    }
                    // Sealed straight into the frame's buffer; the values and plaintext are
                    // released before the frame goes out.
                    let frame = try { () throws -> Frame in
                        let sent = configuration.updateTransform?(invite.round, values) ?? values
                        let plaintext = UpdatePlaintext.encode(
                            round: invite.round, records: UInt32(data.count), values: sent)
                        return try plaintext.withUnsafeBytes { bytes in
                            try Update.sealedFrame(
                                round: invite.round, roundNonce: invite.roundNonce, participantName: name,
                                plaintext: bytes,
                                to: welcome.coordinatorSealingKey, signingKey: signingKey)
                        }
                    }()
                    // Stopped while training: the update is not sent (the goodbye already was).
                    if stop.isRequested { return .finished }
                    try await outbound.send(frame)
                    summary.roundsContributed.append(Int(invite.round))
                case .evaluateRequest:
                    // The candidate is usually the next round's global model, which the
                    // invitation then names instead of carrying. It replaces the held one, in place.
                    let request = try heldModel.hold(evaluateRequestIn: frame)
                    // The candidate is evaluated as the model it is: reading an MLP's vector as a
                    // logistic regression would report a meaningless accuracy to the gate.
                    guard let architecture else {
                        logger.notice(
                            "evaluation request before any invitation named the model; not evaluated",
                            metadata: ["cohort.round": "\(request.round)"])
                        continue
                    }
                    var accumulator = MetricsAccumulator()
                    if let trainer, trainer.evaluates {
                        let logits: [Double]
                        let layout = try architecture.layout(featureCount: holdout.dimension)
                        let candidate = request.model
                        let deadline = ContinuousClock.now + (evaluationWindow ?? Self.defaultEvaluationWindow)
                        do {
                            logits = try await stop.cancellingOnStop {
                                try await trainer.evaluate(
                                    round: request.round, candidate: candidate, layout: layout,
                                    holdoutCount: holdout.count, deadline: deadline)
                            }
                        } catch let error as ParticipantError where error.code == "participant.trainer_stopped" {
                            if stop.isRequested { return .finished }
                            throw error
                        } catch let error as ParticipantError
                            where error.code == "participant.trainer_output"
                            || error.code == "participant.trainer_failed"
                            || error.code == "participant.trainer_timeout"
                        {
                            // Evaluation is optional for the round: a hook that fails costs this
                            // evaluation only, never the participant's later rounds.
                            logger.warning(
                                "the evaluate hook failed; this candidate is not evaluated here",
                                metadata: [
                                    "cohort.round": "\(request.round)", "cohort.code": "\(error.code)",
                                    "cohort.message": "\(error.message)",
                                ])
                            continue
                        }
                        for (index, z) in logits.enumerated() {
                            accumulator.add(logit: z, isPositive: holdout.isPositive(index))
                        }
                    } else if architecture.isBuiltIn {
                        let model = try BuiltInModel(
                            architecture: architecture, featureCount: holdout.dimension, parameters: request.model)
                        accumulator = try model.accumulator(holdout)
                    } else {
                        logger.notice(
                            "the model is external and this participant's trainer has no evaluate hook; not evaluated",
                            metadata: ["cohort.round": "\(request.round)"])
                        continue
                    }
                    try await outbound.send(
                        EvaluationResult(round: request.round, json: Array(try JSONEncoder().encode(accumulator))))
                case .updateAck, .roundResult:
                    continue
                case .error:
                    let error = try frame.decode(WireError.self)
                    summary.refusals.append(error.code)
                    logger.notice(
                        "coordinator refused",
                        metadata: ["cohort.code": "\(error.code)", "cohort.message": "\(error.message)"])
                    // Ineligibility, a refused attestation or any error that ends the connection
                    // is final: waiting would never lead to a round.
                    if error.code == WireError.Code.participantIneligible
                        || error.code == WireError.Code.attestationInvalid
                        || error.closesConnection
                    {
                        throw ParticipantError(
                            code: error.code, message: "the coordinator refused this participant: \(error.message)")
                    }
                case .bye:
                    return .finished
                default:
                    continue
                }
            }
            return stop.isRequested ? .finished : .lost("the coordinator closed the connection")
        }
    }
}

extension Participant {
    /// How long an evaluate hook may run when the coordinator does not say (an older
    /// coordinator, whose window was at most 10 s unless its policy raised it).
    static let defaultEvaluationWindow: Duration = .seconds(600)

    /// The deepest deadline a peer may set: the policy bounds `rounds.deadline_seconds` by 86 400 s,
    /// so a farther one is a wrong clock, and the trainer is bounded by this instead.
    static let maximumDeadlineMillis: UInt64 = 86_400_000

    /// The invitation's wall-clock deadline (`deadlineMillis`, Unix milliseconds, read from the
    /// coordinator) on this process's monotonic clock: the time left by this machine's wall clock,
    /// 0 when it passed, at most ``maximumDeadlineMillis``.
    static func localDeadline(
        wallMillis: UInt64, nowMillis: UInt64 = UInt64(max(0, Date().timeIntervalSince1970 * 1000)),
        now: ContinuousClock.Instant = .now
    ) -> ContinuousClock.Instant {
        let left = wallMillis > nowMillis ? min(wallMillis - nowMillis, maximumDeadlineMillis) : 0
        return now + .milliseconds(Int64(left))
    }

    /// Checks that the coordinator's model size d matches `architecture` on this data's
    /// `featureCount` encoded features (a different schema or model would otherwise train garbage).
    /// - Throws: `participant.schema_mismatch` with both sizes.
    static func checkModelSize(_ architecture: ModelArchitecture, featureCount: Int, coordinatorDimension: Int) throws {
        let expected = try architecture.layout(featureCount: featureCount).parameterCount
        guard expected == coordinatorDimension else {
            throw ParticipantError(
                code: "participant.schema_mismatch",
                message: "the coordinator's model has \(coordinatorDimension) parameters; a "
                    + "\(architecture.kind) model on this data "
                    + "(\(featureCount) encoded features) has \(expected); check that both use the same schema "
                    + "and model")
        }
    }
}

public struct ParticipantError: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(message) [\(code)]" }
}

extension ParticipantError: CohortError {
    public var errorCode: String { code }
    public var errorMessage: String { message }
    public var category: CohortErrorCategory { .invalidInput }
}
