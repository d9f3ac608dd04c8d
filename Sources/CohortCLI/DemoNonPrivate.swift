import CohortModel
import CohortParticipant
import CohortTransport
import Foundation
import Logging

/// `cohort demo --non-private`: the demo's federated protocol WITHOUT differential privacy, in
/// one process, as the baseline that shows what privacy costs. It is a demo flag only: the
/// coordinator, the participant and the policy have no way to ask for it, and it writes no
/// ledger and no policy.
///
/// Faithful to a record-level DP-FedSGD run of the demo except for the privacy mechanism: the same
/// data split and silo files, each silo loaded by the participant's own
/// `Participant.loadLocalData` (keyed holdout under its key file; only the training split is
/// sampled), the same rounds, the same Poisson sampling rate q from the CSPRNG
/// (`PoissonSampler`), the same division by q·N with N the silos' training records, and the same
/// server optimiser (learning rate, momentum) — but per-record gradients are NOT clipped and NO
/// noise is added.
struct NonPrivateSimulation {
    let plan: DPFedSGDPlan
    let silos: [EncodedDataset]

    /// Trains from the architecture's start (zeros, or the seeded MLP), as the coordinator starts.
    func run(
        architecture: ModelArchitecture, featureCount: Int, afterRound: (Int, BuiltInModel) throws -> Void
    ) throws -> BuiltInModel {
        let start = try architecture.initialParameters(featureCount: featureCount)
        // The coordinator steps the flat vector (`ModelParameters`) whatever the architecture.
        var parameters = try ModelParameters(parameters: start)
        var model = try BuiltInModel(architecture: architecture, featureCount: featureCount, parameters: start)
        var optimizer = try ServerOptimizer(learningRate: plan.serverLearningRate, momentum: plan.serverMomentum)
        var samplers = silos.map { _ in PoissonSampler() }
        let trainingRecords = silos.reduce(0) { $0 + $1.count }
        for round in 1...plan.rounds {
            var total = [Double](repeating: 0, count: start.count)
            for (index, silo) in silos.enumerated() {
                let sample = try samplers[index].sample(count: silo.count, rate: plan.samplingRate)
                // Each silo sends a float32 sum, as a participant does.
                for (j, value) in try model.gradientSum(data: silo, indices: sample).enumerated() {
                    total[j] += Double(value)
                }
            }
            try optimizer.applyNoisedGradientSum(
                total.map { Float($0) }, expectedBatchSize: plan.samplingRate * Double(trainingRecords), to: &parameters
            )
            model = try BuiltInModel(
                architecture: architecture, featureCount: featureCount, parameters: parameters.parameters)
            try afterRound(round, model)
        }
        return model
    }
}

/// The summary `cohort demo --non-private --json` prints.
struct NonPrivateDemoSummary: Encodable {
    let warning = "NOT PRIVATE: no clipping, no noise, no privacy guarantee; a baseline for comparison only"
    let isPrivate = false
    let dataset: String
    /// The model's kind (`logistic_regression` or `mlp`).
    let model: String
    let participants: Int
    let rounds: Int
    let samplingRate: Double
    let trainingRecords: Int
    let federated: BinaryClassificationMetrics
    let centralisedReference: BinaryClassificationMetrics
    let workdir: String

    enum CodingKeys: String, CodingKey {
        case warning, dataset, model, participants, rounds, federated, workdir
        case isPrivate = "private"
        case samplingRate = "sampling_rate"
        case trainingRecords = "training_records"
        case centralisedReference = "centralised_reference"
    }
}

extension DemoCommand {
    static let nonPrivateBanner = """
        ************************************************************************
        *  NOT PRIVATE — cohort demo --non-private                             *
        *  Same data, rounds and sampling rate as the DP demo, but gradients   *
        *  are NOT clipped and NO noise is added: there is no privacy          *
        *  guarantee and no ledger. A baseline for comparison only.            *
        ************************************************************************
        """

    /// Runs ``NonPrivateSimulation`` over the silo files the demo wrote, and prints the result.
    func runNonPrivate(
        setup: Setup, identities: [String: IdentityFiles], schemaPath: String, work: String,
        test: EncodedDataset, reference: BinaryClassificationMetrics, featureCount: Int
    ) throws {
        if json { CLIOutput.printError(Self.nonPrivateBanner) } else { print(Self.nonPrivateBanner) }
        var logger = Logger(label: "cohort.demo.non-private")
        logger.logLevel = .warning
        var silos: [EncodedDataset] = []
        for silo in setup.silos {
            let local = try Participant.loadLocalData(
                configuration: ParticipantConfiguration(
                    host: "127.0.0.1", port: 0, identity: identities[silo]!, dataPath: work + "/\(silo)/data.csv",
                    schemaPath: schemaPath),
                logger: logger)
            silos.append(local.train)
        }
        let trainingRecords = silos.reduce(0) { $0 + $1.count }
        say(
            "NOT PRIVATE: \(setup.silos.count) silos, \(trainingRecords) training records (participant holdouts excluded), "
                + "q = \(setup.plan.samplingRate), \(setup.plan.rounds) rounds, no clipping, no noise")
        let simulation = NonPrivateSimulation(plan: setup.plan, silos: silos)
        let final = try simulation.run(architecture: setup.architecture, featureCount: featureCount) { round, model in
            guard !json, round % 10 == 0 || round == setup.plan.rounds else { return }
            let metrics = try model.evaluate(test)
            print(
                String(
                    format: "round %3d · NOT PRIVATE · test accuracy %.3f · ROC AUC %.3f", round, metrics.accuracy,
                    metrics.rocAUC ?? .nan))
        }
        let metrics = try final.evaluate(test)
        if json {
            try CLIOutput.printJSON(
                NonPrivateDemoSummary(
                    dataset: dataset.rawValue, model: setup.architecture.kind, participants: setup.silos.count,
                    rounds: setup.plan.rounds, samplingRate: setup.plan.samplingRate,
                    trainingRecords: trainingRecords, federated: metrics, centralisedReference: reference, workdir: work
                ))
        } else {
            print("")
            print("final test metrics on \(test.count) held-out records — NOT PRIVATE")
            print(
                String(
                    format: "  federated, no clipping, no noise: accuracy %.3f, ROC AUC %.3f", metrics.accuracy,
                    metrics.rocAUC ?? .nan))
            print(
                String(
                    format: "  centralised, no DP:               accuracy %.3f, ROC AUC %.3f", reference.accuracy,
                    reference.rocAUC ?? .nan))
            print("NOT PRIVATE: this run has no privacy guarantee.")
        }
    }
}
