import CohortAPITypes
import CohortLedger
import CohortModel

extension Coordinator {
    /// The export of a released model, for download over the operator API.
    /// - Throws: `ControlError` with the exporter's code: 404 for a round or approval that does
    ///   not exist, 500 for a missing or damaged checkpoint.
    /// `round` nil exports the latest approved model.
    public func exportModel(round: Int?, by principal: ControlPrincipal) async throws(ControlError) -> [UInt8] {
        let selection: ModelExporter.Selection = round.map { .round($0) } ?? .approved
        try authorize(principal, .readModel)
        // Reading the ledger and a checkpoint and encoding up to a gigabyte happen off the actor:
        // updates keep arriving while an operator downloads.
        let stateDirectory = configuration.stateDirectory
        let latestApprovedRound = ledger.state.latestApprovedRound
        let schema = schema
        let modelKind = configuration.policy.policy.model.kind
        let result: Result<[UInt8], ControlError>
        do {
            result = try await BlockingIO.read { () -> Result<[UInt8], ControlError> in
                let contents: LedgerReader.Contents
                do throws(LedgerError) {
                    contents = try LedgerReader.read(file: LedgerWriter.ledgerPath(stateDirectory: stateDirectory))
                } catch {
                    return .failure(
                        ControlError(
                            code: "control.ledger_unreadable", message: "cannot read the ledger: \(error.message)",
                            category: .internalFailure))
                }
                do throws(ModelError) {
                    let scan = ReleasedModels.scan(contents.entries)
                    let export = try ModelExporter.export(
                        stateDirectory: stateDirectory, released: scan.released, approvedRounds: scan.approved,
                        latestApprovedRound: latestApprovedRound, schema: schema, selection: selection,
                        modelKind: modelKind
                    )
                    return .success(try export.safetensors().encoded())
                } catch {
                    let notFound: Set<String> = ["export.no_approved_model", "export.unknown_round"]
                    return .failure(
                        ControlError(
                            code: error.code, message: error.message,
                            category: notFound.contains(error.code) ? .notFound : .internalFailure))
                }
            }
        } catch {
            throw ControlError(
                code: "control.storage", message: "the export failed: \(error)", category: .internalFailure)
        }
        return try result.get()
    }
}
