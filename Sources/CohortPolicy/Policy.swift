/// The consortium's policy: who may take part, the privacy mechanism and budget, the round
/// schedule, the model and the limits. Loaded from one YAML file and validated in one place
/// (`PolicyLoader`); its SHA-256 is recorded in the ledger.
///
/// Every field has a documented default except those a consortium must decide itself
/// (participants, privacy budget, certificates); see docs/POLICY.md.
public struct Policy: Sendable, Equatable, Codable {
    /// Format version; only 1 exists.
    public var version: Int
    /// A name for the consortium and run, shown in logs and the ledger.
    public var name: String
    public var coordinator: Coordinator
    public var participants: [Participant]
    public var privacy: Privacy
    public var rounds: Rounds
    public var model: Model
    public var limits: Limits
    /// The operator and auditor API; `nil` when the policy has no `api` section (no API is served).
    public var api: API?
    /// Governance gates: approved model versions, data quality, anomaly screening, risk score,
    /// evaluation thresholds and alerts. Always present; every field has a default (see
    /// docs/GOVERNANCE.md).
    public var governance: Governance

    /// Where the coordinator listens and which files hold its identity.
    public struct Coordinator: Sendable, Equatable, Codable {
        /// Participant port, `HOST:PORT` (mutual TLS). Default `127.0.0.1:7443`.
        public var listen: String
        /// The consortium CA certificate (PEM).
        public var caCertificate: String
        /// The coordinator's TLS certificate and key (PEM).
        public var certificate: String
        public var privateKey: String
        /// The X25519 secret key updates are sealed to.
        public var sealingKey: String
        /// The Ed25519 secret key that signs the ledger.
        public var ledgerKey: String

        enum CodingKeys: String, CodingKey {
            case listen
            case caCertificate = "ca_certificate"
            case certificate
            case privateKey = "private_key"
            case sealingKey = "sealing_key"
            case ledgerKey = "ledger_key"
        }
    }

    /// A participant allowed to connect: its certificate's name and its update-signing key.
    public struct Participant: Sendable, Equatable, Codable {
        public var name: String
        /// Path of the participant's Ed25519 public key file (`cohort-key v1 ed25519-public …`).
        public var signingKey: String

        enum CodingKeys: String, CodingKey {
            case name
            case signingKey = "signing_key"
        }
    }

    /// The unit whose contribution is protected.
    public enum PrivacyUnit: String, Sendable, Equatable, Codable, CaseIterable {
        /// Each record of every silo (DP-FedSGD).
        case record
        /// A whole silo's contribution (DP-FedAvg).
        case participant
    }

    /// The mechanism and the budget.
    public struct Privacy: Sendable, Equatable, Codable {
        public var unit: PrivacyUnit
        /// Poisson sampling rate q ∈ (0, 1].
        public var samplingRate: Double
        /// Noise multiplier σ > 0, relative to the post-quantisation sensitivity.
        public var noiseMultiplier: Double
        /// L2 clipping bound C > 0.
        public var clippingBound: Double
        /// δ ∈ (0, 1), at most 1/(10·N) for the N protected units by convention (warned otherwise).
        public var delta: Double
        /// The cap on cumulative ε at δ.
        public var epsilonMax: Double
        /// Relative growth of the sensitivity allowed by quantisation (grid step γ = this·C/√d). Default 1e-3.
        public var gridInflation: Double

        enum CodingKeys: String, CodingKey {
            case unit
            case samplingRate = "sampling_rate"
            case noiseMultiplier = "noise_multiplier"
            case clippingBound = "clipping_bound"
            case delta
            case epsilonMax = "epsilon_max"
            case gridInflation = "grid_inflation"
        }
    }

    /// The schedule.
    public struct Rounds: Sendable, Equatable, Codable {
        /// Rounds to run. Default 1.
        public var count: Int
        /// Fewest contributors for a round to complete. Default 2.
        public var minParticipants: Int
        /// Seconds from a round's invitation to its deadline. Default 60.
        public var deadlineSeconds: Double
        /// Seconds allowed for a TLS handshake. Default 10.
        public var handshakeTimeoutSeconds: Double
        /// Seconds a connection may stay silent. Default 300.
        public var idleTimeoutSeconds: Double
        /// Seconds the coordinator waits for the participants' evaluations of a new model.
        /// Default min(`deadlineSeconds`, 10); an external trainer's evaluate hook that starts a
        /// heavy runtime (PyTorch's import alone takes seconds) may need more.
        public var evaluationTimeoutSeconds: Double
        /// Whether collection always runs until the deadline, even when every invited participant
        /// has answered. Default false. With the participant unit, a round that ends once its
        /// sampled participants have answered takes a time that depends on the secret sample
        /// (ledger timestamps, round durations); true makes every round's collection last exactly
        /// `deadlineSeconds` (docs/PRIVACY.md, "Timing").
        public var collectUntilDeadline: Bool

        enum CodingKeys: String, CodingKey {
            case count
            case minParticipants = "min_participants"
            case deadlineSeconds = "deadline_seconds"
            case handshakeTimeoutSeconds = "handshake_timeout_seconds"
            case idleTimeoutSeconds = "idle_timeout_seconds"
            case evaluationTimeoutSeconds = "evaluation_timeout_seconds"
            case collectUntilDeadline = "collect_until_deadline"
        }
    }

    /// One named tensor of an `external` model.
    public struct TensorShape: Sendable, Equatable, Codable {
        /// Its name, as in the safetensors files the trainer reads and writes.
        public var name: String
        /// Its dimensions, each ≥ 1.
        public var shape: [Int]

        public init(name: String, shape: [Int]) {
            self.name = name
            self.shape = shape
        }
    }

    /// The model and its training parameters.
    public struct Model: Sendable, Equatable, Codable {
        /// Model family: `logistic_regression` (default) or `mlp`, both built in, or `external`
        /// (a silo-side trainer trains and evaluates it; docs/TRAINER.md).
        public var kind: String
        /// `mlp` only: hidden layer widths, e.g. [16]. Required for `mlp`.
        public var hidden: [Int]
        /// `mlp` only: `relu` (default) or `tanh`.
        public var activation: String
        /// `mlp` only: the seed of the initialisation (recorded here, so the policy digest fixes
        /// the starting model). Required for `mlp`.
        public var seed: Int?
        /// `external` only: the model's tensors, in flat-vector order. Required for `external`.
        public var tensors: [TensorShape]
        /// Optional safetensors file with the starting model (the policy's tensor names and
        /// shapes); its SHA-256 goes into the genesis entry. Absent: zeros for logistic regression
        /// and external models, the seeded initialisation for `mlp`.
        public var initialModel: String?
        /// Approved model version label; rounds run only for an approved version.
        public var version: String
        /// Path of the feature schema (JSON) every participant validates its data against.
        public var schema: String
        /// Server learning rate applied to the noised mean update. Default 1.
        public var serverLearningRate: Double
        /// Server momentum in [0, 1) applied to the noised update (post-processing). Default 0.
        public var serverMomentum: Double
        /// Local epochs per round (participant unit). Default 1.
        public var localEpochs: Int
        /// Local learning rate (participant unit). Default 0.1.
        public var localLearningRate: Double
        /// Local minibatch size (participant unit). Default 32.
        public var batchSize: Int

        public init(
            kind: String, hidden: [Int] = [], activation: String = "relu", seed: Int? = nil,
            tensors: [TensorShape] = [],
            initialModel: String? = nil, version: String, schema: String, serverLearningRate: Double,
            serverMomentum: Double, localEpochs: Int, localLearningRate: Double, batchSize: Int
        ) {
            self.kind = kind
            self.hidden = hidden
            self.activation = activation
            self.seed = seed
            self.tensors = tensors
            self.initialModel = initialModel
            self.version = version
            self.schema = schema
            self.serverLearningRate = serverLearningRate
            self.serverMomentum = serverMomentum
            self.localEpochs = localEpochs
            self.localLearningRate = localLearningRate
            self.batchSize = batchSize
        }

        enum CodingKeys: String, CodingKey {
            case kind, version, schema, hidden, activation, seed, tensors
            case initialModel = "initial_model"
            case serverLearningRate = "server_learning_rate"
            case serverMomentum = "server_momentum"
            case localEpochs = "local_epochs"
            case localLearningRate = "local_learning_rate"
            case batchSize = "batch_size"
        }
    }

    /// Size limits on the wire.
    public struct Limits: Sendable, Equatable, Codable {
        /// Largest update frame in bytes. Default 64 MiB.
        public var maxUpdateBytes: Int
        /// Largest control frame (hello, attestation, evaluation) in bytes. Default 1 MiB.
        public var maxControlBytes: Int

        enum CodingKeys: String, CodingKey {
            case maxUpdateBytes = "max_update_bytes"
            case maxControlBytes = "max_control_bytes"
        }
    }
}
