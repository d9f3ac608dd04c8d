import CohortAPITypes
import CohortLedger
import CohortModel

extension Coordinator {
    /// The export of a released model, for download over the operator API.
    /// - Throws: `ControlError` with the exporter's code: 404 for a round or approval that does
    ///   not exist, 500 for a missing or damaged checkpoint.
    /// `round` nil exports the latest approved model.
    public func exportModel(round: Int?, by principal: ControlPrincipal) throws(ControlError) -> [UInt8] {
        let selection: ModelExporter.Selection = round.map { .round($0) } ?? .approved
        try authorize(principal, .readModel)
        let contents: LedgerReader.Contents
        do {
            contents = try LedgerReader.read(
                file: LedgerWriter.ledgerPath(stateDirectory: configuration.stateDirectory))
        } catch {
            throw ControlError(
                code: "control.ledger_unreadable", message: "cannot read the ledger: \(error.message)", category: .internalFailure)
        }
        do {
            let scan = ReleasedModels.scan(contents.entries)
            let export = try ModelExporter.export(
                stateDirectory: configuration.stateDirectory, released: scan.released, approvedRounds: scan.approved,
                latestApprovedRound: ledger.state.latestApprovedRound, schema: schema, selection: selection,
                modelKind: configuration.policy.policy.model.kind
            )
            return try export.safetensors().encoded()
        } catch {
            let notFound: Set<String> = ["export.no_approved_model", "export.unknown_round"]
            throw ControlError(
                code: error.code, message: error.message, category: notFound.contains(error.code) ? .notFound : .internalFailure)
        }
    }
}
