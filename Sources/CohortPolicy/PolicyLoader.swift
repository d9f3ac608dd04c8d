import CohortCrypto
import CohortStorage
import Yams

/// Reads and validates a policy file. All validation lives here; every error names its field path.
public enum PolicyLoader {
    /// A loaded policy with its digest and the directory relative paths resolve against.
    public struct Loaded: Sendable {
        public let policy: Policy
        /// SHA-256 (hex) of the policy file's bytes, as recorded in the ledger.
        public let sha256: String
        /// The directory holding the policy file.
        public let baseDirectory: String

        public init(policy: Policy, sha256: String, baseDirectory: String) {
            self.policy = policy
            self.sha256 = sha256
            self.baseDirectory = baseDirectory
        }

        /// `path` resolved against the policy's directory when relative.
        public func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : baseDirectory + "/" + path
        }
    }

    /// Loads `path`, validates it, and checks that the files it names exist.
    public static func load(path: String) throws(PolicyError) -> Loaded {
        let bytes: [UInt8]
        do {
            bytes = try DurableFile.read(path)
        } catch {
            throw PolicyError(
                code: "policy.unreadable", field: "", message: "cannot read policy file: \(error.message)")
        }
        let policy = try parse(try text(of: bytes, file: path))
        let loaded = Loaded(
            policy: policy, sha256: SHA256.hexDigest(bytes), baseDirectory: DurableFile.parentDirectory(of: path))
        try checkFilesExist(loaded)
        return loaded
    }

    /// `bytes` as text, refusing what is not UTF-8 (replacing it silently would make the policy
    /// in force differ from the bytes the ledger's digest names) with the file, line and byte.
    public static func text(of bytes: [UInt8], file: String) throws(PolicyError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        // Find the first bad sequence: its offset is the bytes of the valid scalars before it.
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput, .error: break decoding
            }
        }
        let line = bytes[..<offset].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
        throw PolicyError(
            code: "policy.invalid_utf8", field: "",
            message: "\(file) line \(line) (byte \(offset + 1)) is not valid UTF-8; save the file as UTF-8")
    }

    /// Parses and validates policy text (no file checks).
    public static func parse(_ text: String) throws(PolicyError) -> Policy {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            // The parser's first line gives line, column and problem; the lines after it quote the
            // file, which may hold control characters, so they are left out and the rest escaped.
            let summary = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw PolicyError(
                code: "policy.syntax", field: "", message: "not valid YAML: \(PolicyError.shown(summary, limit: 500))")
        }
        var fields = try YAMLFields(root, path: "")
        let version = try fields.int("version")
        guard version == 1 else {
            throw PolicyError.invalid("version", "must be 1 (the only policy format), got \(version)")
        }
        let name = try fields.string("name")

        var coordinatorFields = try fields.section("coordinator")
        let coordinator = Policy.Coordinator(
            listen: try coordinatorFields.string("listen", default: "127.0.0.1:7443"),
            caCertificate: try coordinatorFields.string("ca_certificate"),
            certificate: try coordinatorFields.string("certificate"),
            privateKey: try coordinatorFields.string("private_key"),
            sealingKey: try coordinatorFields.string("sealing_key"),
            ledgerKey: try coordinatorFields.string("ledger_key")
        )
        try coordinatorFields.rejectUnknownKeys()

        var participants: [Policy.Participant] = []
        for (index, node) in try fields.list("participants").enumerated() {
            var entry = try YAMLFields(node, path: "participants[\(index)]")
            participants.append(
                Policy.Participant(name: try entry.string("name"), signingKey: try entry.string("signing_key")))
            try entry.rejectUnknownKeys()
        }

        var privacyFields = try fields.section("privacy")
        let unitText = try privacyFields.string("unit")
        guard let unit = Policy.PrivacyUnit(rawValue: unitText) else {
            throw PolicyError.invalid(
                "privacy.unit", "must be `record` or `participant`, got `\(PolicyError.shown(unitText))`")
        }
        let privacy = Policy.Privacy(
            unit: unit,
            samplingRate: try privacyFields.double("sampling_rate"),
            noiseMultiplier: try privacyFields.double("noise_multiplier"),
            clippingBound: try privacyFields.double("clipping_bound"),
            delta: try privacyFields.double("delta"),
            epsilonMax: try privacyFields.double("epsilon_max"),
            gridInflation: try privacyFields.double("grid_inflation", default: 1e-3)
        )
        try privacyFields.rejectUnknownKeys()

        var roundFields = try fields.section("rounds", optional: true)
        let deadlineSeconds = try roundFields.double("deadline_seconds", default: 60)
        let rounds = Policy.Rounds(
            count: try roundFields.int("count", default: 1),
            minParticipants: try roundFields.int("min_participants", default: 2),
            deadlineSeconds: deadlineSeconds,
            handshakeTimeoutSeconds: try roundFields.double("handshake_timeout_seconds", default: 10),
            idleTimeoutSeconds: try roundFields.double("idle_timeout_seconds", default: 300),
            evaluationTimeoutSeconds: try roundFields.double(
                "evaluation_timeout_seconds", default: min(deadlineSeconds, 10)),
            collectUntilDeadline: try roundFields.bool("collect_until_deadline", default: false)
        )
        try roundFields.rejectUnknownKeys()

        var modelFields = try fields.section("model")
        var tensors: [Policy.TensorShape] = []
        let kind = try modelFields.string("kind", default: "logistic_regression")
        let hidden = try modelFields.optionalIntList("hidden")
        let activation = try modelFields.optionalString("activation")
        let seed = try modelFields.optionalInt("seed")
        if let tensorNodes = try modelFields.optionalList("tensors") {
            for (index, node) in tensorNodes.enumerated() {
                var entry = try YAMLFields(node, path: "model.tensors[\(index)]")
                let name = try entry.string("name")
                guard let shape = try entry.optionalIntList("shape") else {
                    throw PolicyError(
                        code: "policy.missing_field", field: "model.tensors[\(index)].shape",
                        message: "is required (a list of whole numbers, e.g. [16, 30])")
                }
                tensors.append(Policy.TensorShape(name: name, shape: shape))
                try entry.rejectUnknownKeys()
            }
        }
        try checkModelKindFields(
            kind: kind, hidden: hidden, activation: activation, seed: seed, hasTensors: !tensors.isEmpty)
        let model = Policy.Model(
            kind: kind, hidden: hidden ?? [], activation: activation ?? "relu", seed: seed, tensors: tensors,
            initialModel: try modelFields.optionalString("initial_model"),
            version: try modelFields.string("version"),
            schema: try modelFields.string("schema"),
            serverLearningRate: try modelFields.double("server_learning_rate", default: 1),
            serverMomentum: try modelFields.double("server_momentum", default: 0),
            localEpochs: try modelFields.int("local_epochs", default: 1),
            localLearningRate: try modelFields.double("local_learning_rate", default: 0.1),
            batchSize: try modelFields.int("batch_size", default: 32)
        )
        try modelFields.rejectUnknownKeys()

        var limitFields = try fields.section("limits", optional: true)
        let limits = Policy.Limits(
            maxUpdateBytes: try limitFields.int("max_update_bytes", default: 64 << 20),
            maxControlBytes: try limitFields.int("max_control_bytes", default: 1 << 20)
        )
        try limitFields.rejectUnknownKeys()
        let api = try parseAPI(&fields)
        let governance = try parseGovernance(&fields, modelVersion: model.version)
        try fields.rejectUnknownKeys()

        let policy = Policy(
            version: version, name: name, coordinator: coordinator, participants: participants,
            privacy: privacy, rounds: rounds, model: model, limits: limits, api: api, governance: governance
        )
        try validate(policy)
        return policy
    }

    /// Range and consistency checks, each naming its field.
    public static func validate(_ policy: Policy) throws(PolicyError) {
        // Names reach logs, the ledger and alerts: one safe charset (docs/POLICY.md).
        guard isValidName(policy.name) else {
            throw PolicyError.invalid(
                "name",
                "must be 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-', got `\(PolicyError.shown(policy.name))`")
        }
        guard isValidName(policy.model.version) else {
            throw PolicyError.invalid(
                "model.version",
                "must be 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-', got `\(PolicyError.shown(policy.model.version))`"
            )
        }
        for (index, version) in policy.governance.approvedModelVersions.enumerated() where !isValidName(version) {
            throw PolicyError.invalid(
                "governance.approved_model_versions[\(index)]",
                "must be 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-', got `\(PolicyError.shown(version))`")
        }
        try checkHostPort(policy.coordinator.listen, field: "coordinator.listen")
        guard !policy.participants.isEmpty else {
            throw PolicyError.invalid("participants", "must name at least one participant")
        }
        var seen: Set<String> = []
        for (index, participant) in policy.participants.enumerated() {
            guard isValidName(participant.name) else {
                throw PolicyError.invalid(
                    "participants[\(index)].name",
                    "must be 1–64 characters from A–Z, a–z, 0–9, '.', '_' and '-', got `\(PolicyError.shown(participant.name))`"
                )
            }
            guard seen.insert(participant.name).inserted else {
                throw PolicyError.invalid("participants[\(index)].name", "`\(participant.name)` is listed twice")
            }
        }
        let p = policy.privacy
        guard p.samplingRate > 0, p.samplingRate <= 1 else {
            throw PolicyError.invalid("privacy.sampling_rate", "must lie in (0, 1], got \(p.samplingRate)")
        }
        guard p.noiseMultiplier > 0 else {
            throw PolicyError.invalid("privacy.noise_multiplier", "must be > 0, got \(p.noiseMultiplier)")
        }
        guard p.clippingBound > 0 else {
            throw PolicyError.invalid("privacy.clipping_bound", "must be > 0, got \(p.clippingBound)")
        }
        guard p.delta > 0, p.delta < 1 else {
            throw PolicyError.invalid("privacy.delta", "must lie in (0, 1), got \(p.delta)")
        }
        guard p.epsilonMax > 0 else {
            throw PolicyError.invalid("privacy.epsilon_max", "must be > 0, got \(p.epsilonMax)")
        }
        guard p.gridInflation > 0, p.gridInflation <= 0.1 else {
            throw PolicyError.invalid("privacy.grid_inflation", "must lie in (0, 0.1], got \(p.gridInflation)")
        }
        let r = policy.rounds
        guard r.count >= 1, r.count <= 1_000_000 else {
            throw PolicyError.invalid("rounds.count", "must lie in 1…1000000, got \(r.count)")
        }
        guard r.minParticipants >= 1, r.minParticipants <= policy.participants.count else {
            throw PolicyError.invalid(
                "rounds.min_participants",
                "must lie in 1…\(policy.participants.count) (the number of participants), got \(r.minParticipants)"
            )
        }
        for (field, value) in [
            ("rounds.deadline_seconds", r.deadlineSeconds),
            ("rounds.handshake_timeout_seconds", r.handshakeTimeoutSeconds),
            ("rounds.idle_timeout_seconds", r.idleTimeoutSeconds),
            ("rounds.evaluation_timeout_seconds", r.evaluationTimeoutSeconds),
        ] where !(value > 0 && value <= 86_400) {
            throw PolicyError.invalid(field, "must lie in (0, 86400] seconds, got \(value)")
        }
        let m = policy.model
        try validateModelArchitecture(m)
        guard m.serverLearningRate > 0 else {
            throw PolicyError.invalid("model.server_learning_rate", "must be > 0, got \(m.serverLearningRate)")
        }
        guard m.serverMomentum >= 0, m.serverMomentum < 1 else {
            throw PolicyError.invalid("model.server_momentum", "must lie in [0, 1), got \(m.serverMomentum)")
        }
        guard m.localEpochs >= 1, m.localEpochs <= 1000 else {
            throw PolicyError.invalid("model.local_epochs", "must lie in 1…1000, got \(m.localEpochs)")
        }
        guard m.localLearningRate > 0 else {
            throw PolicyError.invalid("model.local_learning_rate", "must be > 0, got \(m.localLearningRate)")
        }
        guard m.batchSize >= 1 else {
            throw PolicyError.invalid("model.batch_size", "must be ≥ 1, got \(m.batchSize)")
        }
        let l = policy.limits
        guard l.maxUpdateBytes >= 1024, l.maxUpdateBytes <= 1 << 30 else {
            throw PolicyError.invalid("limits.max_update_bytes", "must lie in 1024…1073741824, got \(l.maxUpdateBytes)")
        }
        guard l.maxControlBytes >= 1024, l.maxControlBytes <= 64 << 20 else {
            throw PolicyError.invalid("limits.max_control_bytes", "must lie in 1024…67108864, got \(l.maxControlBytes)")
        }
        try validateAPI(policy)
        try validateGovernance(policy)
    }

    public static func checkFilesExist(_ loaded: Loaded) throws(PolicyError) {
        let c = loaded.policy.coordinator
        var files = [
            ("coordinator.ca_certificate", c.caCertificate), ("coordinator.certificate", c.certificate),
            ("coordinator.private_key", c.privateKey), ("coordinator.sealing_key", c.sealingKey),
            ("coordinator.ledger_key", c.ledgerKey), ("model.schema", loaded.policy.model.schema),
        ]
        if let initial = loaded.policy.model.initialModel { files.append(("model.initial_model", initial)) }
        for (index, participant) in loaded.policy.participants.enumerated() {
            files.append(("participants[\(index)].signing_key", participant.signingKey))
        }
        for (field, path) in files {
            let resolved = loaded.resolve(path)
            guard DurableFile.exists(resolved) else {
                throw PolicyError(
                    code: "policy.missing_file", field: field,
                    message:
                        "file `\(resolved)` does not exist; create it (e.g. with `cohort certs issue`) or fix the path"
                )
            }
            guard !DurableFile.isDirectory(resolved) else {
                throw PolicyError(
                    code: "policy.not_a_file", field: field,
                    message: "`\(resolved)` is a directory; name the file inside it")
            }
        }
    }

    /// The model kinds a policy may name.
    public static let modelKinds = ["logistic_regression", "mlp", "external"]

    /// Which `model` fields go with which kind: `hidden`, `activation` and `seed` only with `mlp`
    /// (where `hidden` and `seed` are required), `tensors` only (and required) with `external`.
    static func checkModelKindFields(
        kind: String, hidden: [Int]?, activation: String?, seed: Int?, hasTensors: Bool
    ) throws(PolicyError) {
        guard modelKinds.contains(kind) else {
            throw PolicyError.invalid(
                "model.kind",
                "must be `logistic_regression` or `mlp` (built in) or `external` (your trainer), "
                    + "got `\(PolicyError.shown(kind))`")
        }
        if kind != "mlp" {
            for (field, present) in [
                ("hidden", hidden != nil), ("activation", activation != nil), ("seed", seed != nil),
            ] where present {
                throw PolicyError.invalid("model.\(field)", "applies to kind `mlp` only; remove it or set kind: mlp")
            }
        } else {
            guard hidden != nil else {
                throw PolicyError(
                    code: "policy.missing_field", field: "model.hidden",
                    message: "is required for kind `mlp` (hidden layer widths, e.g. [16])")
            }
            guard seed != nil else {
                throw PolicyError(
                    code: "policy.missing_field", field: "model.seed",
                    message: "is required for kind `mlp`: the initialisation seed, recorded in "
                        + "the policy so the starting model is fixed")
            }
        }
        if kind == "external" {
            guard hasTensors else {
                throw PolicyError(
                    code: "policy.missing_field", field: "model.tensors",
                    message: "is required for kind `external`: a list of {name, shape}, e.g. - "
                        + "{name: layers.0.weight, shape: [16, 30]}")
            }
        } else if hasTensors {
            throw PolicyError.invalid(
                "model.tensors",
                "applies to kind `external` only; built-in models have "
                    + "fixed tensors")
        }
    }

    /// Ranges of the model architecture fields, each naming its field.
    static func validateModelArchitecture(_ m: Policy.Model) throws(PolicyError) {
        try checkModelKindFields(
            kind: m.kind, hidden: m.kind == "mlp" ? m.hidden : nil, activation: m.kind == "mlp" ? m.activation : nil,
            seed: m.seed, hasTensors: !m.tensors.isEmpty)
        if m.kind == "mlp" {
            guard !m.hidden.isEmpty, m.hidden.count <= 8 else {
                throw PolicyError.invalid(
                    "model.hidden",
                    "must list 1…8 hidden layer widths, e.g. [16], got "
                        + "\(m.hidden.count)")
            }
            for (index, width) in m.hidden.enumerated() where !(1...4096).contains(width) {
                throw PolicyError.invalid("model.hidden[\(index)]", "must lie in 1…4096, got \(width)")
            }
            guard ["relu", "tanh"].contains(m.activation) else {
                throw PolicyError.invalid(
                    "model.activation",
                    "must be `relu` or `tanh`, got "
                        + "`\(PolicyError.shown(m.activation))`")
            }
            if let seed = m.seed, seed < 0 {
                throw PolicyError.invalid("model.seed", "must be a whole number ≥ 0, got \(seed)")
            }
        }
        var names: Set<String> = []
        var total = 0
        for (index, tensor) in m.tensors.enumerated() {
            guard isValidTensorName(tensor.name) else {
                throw PolicyError.invalid(
                    "model.tensors[\(index)].name",
                    "must be 1–128 characters from A–Z, a–z, 0–9, '.', '_' and '-', got "
                        + "`\(PolicyError.shown(tensor.name))`")
            }
            guard names.insert(tensor.name).inserted else {
                throw PolicyError.invalid("model.tensors[\(index)].name", "`\(tensor.name)` is listed twice")
            }
            guard tensor.shape.count <= 8 else {
                throw PolicyError.invalid(
                    "model.tensors[\(index)].shape",
                    "must have at most 8 dimensions, got "
                        + "\(tensor.shape.count)")
            }
            var count = 1
            for (axis, size) in tensor.shape.enumerated() {
                guard size >= 1, size <= 1 << 28 else {
                    throw PolicyError.invalid(
                        "model.tensors[\(index)].shape[\(axis)]",
                        "must lie in "
                            + "1…268435456, got \(size)")
                }
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow, product <= 1 << 28 else {
                    throw PolicyError.invalid("model.tensors[\(index)].shape", "holds more than 268435456 values")
                }
                count = product
            }
            total += count
            guard total <= 1 << 28 else {
                throw PolicyError.invalid("model.tensors", "hold more than 268435456 parameters in all")
            }
        }
    }

    static func isValidTensorName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 128
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
                    || c == 0x5F || c == 0x2D
            }
    }

    static func checkHostPort(_ text: String, field: String) throws(PolicyError) {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
            let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port)
        else {
            throw PolicyError.invalid(
                field, "must be HOST:PORT with a port in 0…65535, got `\(PolicyError.shown(text))`")
        }
    }

    /// Participant and file-safe names: 1–64 of A–Z a–z 0–9 . _ -
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
                    || c == 0x5F || c == 0x2D
            } && name != "." && name != ".."
    }
}
