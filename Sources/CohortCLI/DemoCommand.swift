import ArgumentParser
import CohortAPIClient
import CohortCrypto
import CohortLedger
import CohortModel
import CohortPrivacy
import CohortStorage
import CohortTransport
import Foundation

/// `cohort demo`: a real federated run on the shipped data, on this machine — certificates, a
/// coordinator process and participant processes over mutual TLS, the ledger, and the metrics.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a private federated training on the shipped data with local processes."
    )

    enum Dataset: String, ExpressibleByArgument, CaseIterable {
        case wdbc, credit
    }

    /// The built-in model the demo trains.
    enum ModelChoice: String, ExpressibleByArgument, CaseIterable {
        case logistic, mlp
    }

    @Option(help: "logistic: logistic regression; mlp: a one-hidden-layer perceptron (16 tanh units), both built in.")
    var model: ModelChoice = .logistic

    @Option(help: "mlp only: the initialisation seed written into the policy (model.seed).")
    var initSeed: UInt64 = 1

    @Option(help: "wdbc: 3 hospitals on Breast Cancer Wisconsin; credit: 4 banks on credit scoring.")
    var dataset: Dataset = .wdbc

    @Option(help: "Working directory for certificates, data splits, policy and state (recreated).")
    var workdir: String = "demo-state"

    @Option(help: "Directory holding the shipped data sets and schemas.")
    var dataDirectory: String = "Data"

    @Option(help: "Target ε at δ = 1e-5; the policy's epsilon_max.")
    var targetEpsilon: Double = 3

    @Flag(help: "Print one JSON summary at the end instead of the progress display.")
    var json = false

    @Flag(
        help: ArgumentHelp(
            "NOT PRIVATE: run the same federated training without clipping or noise, in process, as a baseline.",
            discussion:
                "Same data split, silos, participant holdouts, rounds and sampling rate as the DP demo; no coordinator, no ledger, no privacy guarantee. Only this demo flag can ask for it."
        ))
    var nonPrivate = false

    struct Setup {
        let csv: String
        let schema: String
        let silos: [String]
        let plan: DPFedSGDPlan
        /// The policy's model (its `kind` and, for an MLP, hidden widths, activation and seed).
        let architecture: ModelArchitecture
        let metric: String
        /// The evaluation gate's threshold on `metric` for promoting a model version to approved.
        let promotionThreshold: Double
    }

    var setup: Setup {
        let architecture: ModelArchitecture =
            switch model {
            case .logistic: .logisticRegression
            case .mlp: .mlp(hidden: DPFedSGDPlan.mlpDemoHidden, activation: .tanh, seed: initSeed)
            }
        switch dataset {
        case .wdbc:
            return Setup(
                csv: "breast_cancer_wdbc.csv", schema: "schemas/wdbc.json",
                silos: ["hospital-a", "hospital-b", "hospital-c"], plan: model == .mlp ? .wdbcMLPDemo : .wdbcDemo,
                architecture: architecture, metric: "accuracy", promotionThreshold: 0.9)
        case .credit:
            return Setup(
                csv: "credit_scoring.csv", schema: "schemas/credit.json",
                silos: ["bank-a", "bank-b", "bank-c", "bank-d"], plan: model == .mlp ? .creditMLPDemo : .creditDemo,
                architecture: architecture, metric: "roc_auc", promotionThreshold: 0.75)
        }
    }

    func run() async throws {
        let setup = self.setup
        let binaries = try DemoBinaries.locate()
        let work = absolute(workdir)
        if DurableFile.exists(work) { try FileManager.default.removeItem(atPath: work) }
        try DurableFile.createDirectory(work, mode: 0o700)
        say("== Cohort demo: \(dataset.rawValue), \(setup.silos.count) participants, working directory \(work)")

        // 1. Certificates: a consortium CA, the coordinator and one identity per silo.
        let ca = try CertificateAuthority.initCA(outDirectory: work + "/ca")
        let coordinatorIdentity = try ca.issue(
            role: .coordinator, name: "coordinator", outDirectory: work + "/coordinator",
            hosts: ["localhost", "127.0.0.1"])
        var identities: [String: IdentityFiles] = [:]
        for silo in setup.silos {
            identities[silo] = try ca.issue(role: .participant, name: silo, outDirectory: work + "/" + silo)
        }
        // An operator and an auditor for the control API (HTTPS, mutual TLS).
        let operatorIdentity = try ca.issue(role: .operator, name: "ops", outDirectory: work + "/ops")
        let auditorIdentity = try ca.issue(role: .auditor, name: "auditor", outDirectory: work + "/auditor")
        say(
            "certificates: CA, coordinator, \(setup.silos.count) participants, an operator and an auditor issued (TLS 1.3, mutual authentication)"
        )

        // 2. Data: a held-out test split never used in training, and a non-IID split of the rest.
        let schemaPath = absolute(dataDirectory) + "/" + setup.schema
        let schema = try FeatureSchema.load(path: schemaPath)
        let table = try CSVTable.read(path: absolute(dataDirectory) + "/" + setup.csv)
        let prepared = try schema.prepare(table)
        let labels = (0..<prepared.dataset.count).map { prepared.dataset.isPositive($0) }
        let split = try DataSplit.stratifiedTrainTest(labels: labels, testFraction: 0.2, seed: 2026)
        let silos = try DataSplit.dirichletLabelSkew(
            labels: labels, rows: split.train, silos: setup.silos.count, concentration: 1.0, minimumPerClass: 5, seed: 7
        )
        for (silo, rows) in zip(setup.silos, silos) {
            try table.selecting(rows: rows).write(path: work + "/\(silo)/data.csv")
        }
        let test = prepared.dataset.subset(split.test)
        say(
            "data: \(split.train.count) training records split non-IID across \(setup.silos.count) silos \(silos.map(\.count)); \(split.test.count) held-out test records"
        )

        if nonPrivate {
            try runNonPrivate(
                setup: setup, identities: identities, schemaPath: schemaPath, work: work, test: test,
                reference: try centralisedReference(
                    schema: schema, training: prepared.dataset.subset(split.train), test: test,
                    architecture: setup.architecture),
                featureCount: schema.encodedDimension)
            return
        }

        // 3. Policy: σ planned so the charged ε after the plan's rounds stays within the target;
        //    one extra round is scheduled to show the budget gate refusing it.
        let plan = try PrivacyCalculator.chargedNoiseMultiplier(
            targetEpsilon: targetEpsilon, delta: setup.plan.delta, samplingRate: setup.plan.samplingRate,
            rounds: setup.plan.rounds)
        let policyPath = work + "/policy.yaml"
        // Governance: every gate at its default except the promotion threshold. The alert hook,
        // which appends each alert to alerts.jsonl, is the coordinator host's configuration
        // (--alert-command / --alert-argument below), not the policy's.
        let alertsPath = work + "/alerts.jsonl"
        let hookPath = work + "/alert-hook.sh"
        try
            "#!/bin/sh\n# Receives one governance alert as JSON on stdin; appends it to the file named by $1.\ncat >> \"$1\"\necho >> \"$1\"\n"
            .write(toFile: hookPath, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: hookPath)
        let governance = """
            api:
              listen: 127.0.0.1:0
              operators: [\(operatorIdentity.name)]
              auditors: [\(auditorIdentity.name)]
            governance:
              data_quality:
                min_rows: 20
                min_per_class: 5
              evaluation:
                min_\(setup.metric): \(setup.promotionThreshold)

            """
        try DemoPolicy.yaml(
            name: "\(dataset.rawValue)-demo", coordinator: coordinatorIdentity,
            participants: setup.silos.map { identities[$0]! },
            schema: schemaPath, plan: setup.plan, noiseMultiplier: plan.noiseMultiplier, epsilonMax: targetEpsilon,
            governance: governance,
            architecture: setup.architecture
        ).write(toFile: policyPath, atomically: true, encoding: .utf8)
        say(
            "policy: record-level DP, q = \(setup.plan.samplingRate), C = \(setup.plan.clippingBound), σ = \(format(plan.noiseMultiplier)), δ = \(setup.plan.delta), epsilon_max = \(targetEpsilon), \(setup.plan.rounds + 1) rounds scheduled"
        )

        // 4. Processes: the coordinator, then the participants.
        let state = work + "/state"
        let portFile = work + "/coordinator.port"
        let apiPortFile = work + "/api.port"
        var processes = DemoProcesses()
        defer { processes.terminateAll() }
        try processes.start(
            binaries.coordinator,
            [
                "--policy", policyPath, "--state", state, "--port", "0", "--port-file", portFile, "--api-port-file",
                apiPortFile, "--quorum-wait", "30",
                "--alert-command", hookPath, "--alert-argument", alertsPath,
            ], log: work + "/coordinator.log")
        let port = try await waitForPort(portFile, coordinator: processes)
        for silo in setup.silos {
            try processes.start(
                binaries.participant,
                [
                    "--coordinator", "127.0.0.1:\(port)", "--identity", work + "/" + silo, "--name", silo,
                    "--data", work + "/\(silo)/data.csv", "--schema", schemaPath,
                ], log: work + "/\(silo)/participant.log")
        }
        say("processes: coordinator on 127.0.0.1:\(port), \(setup.silos.count) participants started")

        // 5. Watch the ledger like an auditor: each closed round's checkpoint is evaluated on the test split.
        let watcher = LedgerWatcher(
            path: LedgerWriter.ledgerPath(stateDirectory: state), checkpoints: state + "/checkpoints")
        var last: DemoRound?
        var refusals: [String] = []
        var auditorLooked = false
        while processes.isRunning(0) || watcher.hasUnread {
            for event in try watcher.poll() {
                switch event {
                case .closed(let round, let contributors, let epsilon, let checkpoint):
                    let saved = try ModelCheckpoint(safetensors: SafetensorsFile.read(path: checkpoint)).model
                    let metrics = try BuiltInModel(
                        architecture: setup.architecture, featureCount: test.dimension, parameters: saved.parameters
                    ).evaluate(test)
                    last = DemoRound(round: round, contributors: contributors, epsilon: epsilon, metrics: metrics)
                    if round == 10 && !auditorLooked && !json {
                        auditorLooked = true
                        await showAuditorView(apiPortFile: apiPortFile, auditor: auditorIdentity)
                    }
                    if !json {
                        print(
                            String(
                                format:
                                    "round %3d · %d participants · ε spent %.3f / %.1f · test accuracy %.3f · ROC AUC %.3f",
                                round, contributors, epsilon, targetEpsilon, metrics.accuracy, metrics.rocAUC ?? .nan)
                                + (watcher.promoted.contains(round) ? " · approved" : ""))
                    }
                case .refused(let round, let gate, let reason):
                    refusals.append("round \(round) refused by the \(gate) gate: \(reason)")
                    say("round \(round) refused by the \(gate) gate: \(reason)")
                case .aborted(let round, let reason):
                    say("round \(round) aborted: \(reason)")
                case .gateFailed(let round, let gate, let reason):
                    say("round \(round): \(gate) gate failed: \(reason)")
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let coordinatorStatus = processes.wait(0)
        try await Task.sleep(for: .milliseconds(300))
        processes.terminateAll()
        guard coordinatorStatus == 0, let final = last else {
            throw CleanExit.message(
                "the coordinator exited with status \(coordinatorStatus); see \(work)/coordinator.log")
        }

        // 6. Reference: the same model trained centrally, without privacy, on the same training split.
        let reference = try centralisedReference(
            schema: schema, training: prepared.dataset.subset(split.train), test: test, architecture: setup.architecture
        )

        // 7. The auditor's check of the ledger.
        let publicKey = try KeyFile.readPublic(kind: .ed25519Public, from: coordinatorIdentity.ed25519PublicKey)
        let verified = try LedgerVerifier.verify(
            file: LedgerWriter.ledgerPath(stateDirectory: state), publicKey: publicKey
        ).state

        let alerts = ((try? String(contentsOfFile: alertsPath, encoding: .utf8)) ?? "").split(separator: "\n").count
        let gates = watcher.gateCounts.mapValues { ["passed": $0.passed, "failed": $0.failed] }
        let governanceSummary = DemoGovernance(gates: gates, approvedRounds: watcher.promoted.sorted(), alerts: alerts)
        let summary = DemoSummary(
            dataset: dataset.rawValue, model: setup.architecture.kind,
            parameters: try setup.architecture.layout(featureCount: test.dimension).parameterCount,
            participants: setup.silos.count, rounds: final.round,
            epsilon: final.epsilon, epsilonMax: targetEpsilon, delta: setup.plan.delta,
            noiseMultiplier: plan.noiseMultiplier,
            federated: final.metrics, centralisedReference: reference, refusals: refusals,
            ledgerEntries: verified.entryCount, ledgerVerified: true, governance: governanceSummary, workdir: work
        )
        if json {
            try CLIOutput.printJSON(summary)
        } else {
            print("")
            print("final test metrics on \(test.count) held-out records")
            print("  metric       federated, DP (ε ≤ \(targetEpsilon))   centralised, no DP")
            for (label, a, b) in [
                ("accuracy", final.metrics.accuracy, reference.accuracy),
                ("precision", final.metrics.precision, reference.precision),
                ("recall", final.metrics.recall, reference.recall), ("F1", final.metrics.f1, reference.f1),
                ("ROC AUC", final.metrics.rocAUC ?? .nan, reference.rocAUC ?? .nan),
            ] {
                print(
                    "  " + label.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + String(format: " %.3f", a).padding(toLength: 26, withPad: " ", startingAt: 0)
                        + String(format: " %.3f", b))
            }
            // The participants' own holdouts, as operators see them: the coordinator's evaluation
            // store (exact metrics of un-protected holdout data; the ledger only commits to them).
            let store = EvaluationStore.path(stateDirectory: state)
            if let holdout = try? EvaluationStore.read(path: store).last?.record, !holdout.metrics.isEmpty {
                print(
                    "participants' holdouts (\(holdout.participants) participants, "
                        + String(
                            format: "%.0f records): accuracy %.3f · ROC AUC %.3f", holdout.metrics["count"] ?? 0,
                            holdout.metrics["accuracy"] ?? .nan, holdout.metrics["roc_auc"] ?? .nan)
                        + "; exact, from the evaluation store \(store), for operators only")
            }
            print(
                String(
                    format: "privacy: ε = %.3f at δ = %g (cap %.1f), charged for the discrete Gaussian as implemented",
                    final.epsilon, setup.plan.delta, targetEpsilon))
            print(
                "ledger: \(verified.entryCount) entries in \(state)/ledger.jsonl; chain, signatures and every ε verified"
            )
            print(
                "governance: "
                    + gates.keys.sorted().map { "\($0) \(gates[$0]!["passed"]!)✓/\(gates[$0]!["failed"]!)✗" }.joined(
                        separator: ", "))
            let approved = watcher.promoted.sorted()
            print(
                "approved model versions (\(setup.metric) ≥ \(setup.promotionThreshold) on the participants' holdouts, risk ≤ max): "
                    + (approved.isEmpty ? "none" : "\(approved.count) rounds, latest round \(approved.last!)")
                    + "; alerts delivered to the hook: \(alerts) (\(alertsPath))")
        }
    }

    func say(_ line: String) { if !json { print(line) } }

    /// The same model trained centrally, without privacy, on the demo's whole training split.
    func centralisedReference(
        schema: FeatureSchema, training: EncodedDataset, test: EncodedDataset,
        architecture: ModelArchitecture = .logisticRegression
    ) throws -> BinaryClassificationMetrics {
        var generator = SeededGenerator(seed: 1)
        if case .mlp(let hidden, let activation, let seed) = architecture {
            var central = try MultilayerPerceptron(
                featureCount: schema.encodedDimension, hidden: hidden, activation: activation,
                parameters: try architecture.initialParameters(featureCount: schema.encodedDimension))
            _ = seed
            try LocalTraining.train(
                &central, on: training,
                configuration: LocalTrainingConfiguration(epochs: 50, batchSize: 32, learningRate: 0.1),
                using: &generator)
            return try central.evaluate(test)
        }
        var central = LogisticRegression(featureCount: schema.encodedDimension)
        try LocalTraining.train(
            &central, on: training,
            configuration: LocalTrainingConfiguration(epochs: 200, batchSize: 32, learningRate: 0.1), using: &generator)
        return try central.evaluate(test)
    }

    /// Reads the coordinator's status and metrics through the control API, as the auditor would
    /// with `cohort round status` or curl, and prints what a reader needs to try it.
    func showAuditorView(apiPortFile: String, auditor: IdentityFiles) async {
        guard let text = try? String(contentsOfFile: apiPortFile, encoding: .utf8), let port = Int(text) else { return }
        do {
            let client = try ControlClient(
                baseURL: "https://127.0.0.1:\(port)", tls: TLSConfigurationFactory(identity: auditor))
            let status = try await client.status()
            let metrics = try await client.metrics()
            let closed =
                metrics.split(separator: "\n").first { $0.hasPrefix("cohort_rounds_total") && $0.contains("closed") }
                ?? ""
            say(
                "  auditor via the API (https://127.0.0.1:\(port)/v1/status): state \(status.state.rawValue), "
                    + "ε spent \(format(status.budget.epsilonSpent)) of \(format(status.budget.epsilonMax)), "
                    + "\(status.participants.filter(\.connected).count) participants connected; /metrics: \(closed)")
            say(
                "  (while it runs: cohort round status --api https://127.0.0.1:\(port) --ca \(auditor.caCertificate) "
                    + "--cert \(auditor.certificate) --key \(auditor.privateKey))")
        } catch {
            say("  the control API did not answer: \(error)")
        }
    }

    func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    func format(_ value: Double) -> String { String(format: "%.4f", value) }

    func waitForPort(_ path: String, coordinator: DemoProcesses) async throws -> Int {
        for _ in 0..<600 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), let port = Int(text) { return port }
            guard coordinator.isRunning(0) else {
                throw CleanExit.message("the coordinator did not start; see its log")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CleanExit.message("the coordinator did not report its port within 30 s")
    }
}
