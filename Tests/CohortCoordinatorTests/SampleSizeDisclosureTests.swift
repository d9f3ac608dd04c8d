import CohortAPITypes
import CohortLedger
import CohortTransport
import Foundation
import Testing

@testable import CohortCoordinator

/// Issue 12: the live status withholds the participant unit's sample size from auditors, as the
/// ledger does; operators (who may read the sample store) and the record unit keep the counts.
struct SampleSizeDisclosureTests {
    func progress(_ unit: PrivacyUnit, _ reader: PeerRole?) -> RoundProgress {
        Coordinator.progress(
            round: 4, phase: "collecting", invited: 2, contributed: 1, openedAtMillis: 9, unit: unit, reader: reader)
    }

    @Test func auditorSeesNoSampleSizeUnderTheParticipantUnit() throws {
        let withheld = progress(.participant, .auditor)
        #expect(withheld.invited == nil && withheld.contributed == nil)
        #expect(withheld.round == 4 && withheld.phase == "collecting" && withheld.openedAtMillis == 9)
        let text = String(decoding: try APIJSON.encode(withheld), as: UTF8.self)
        #expect(!text.contains("invited") && !text.contains("contributed"), "\(text)")
        for (unit, reader) in [(PrivacyUnit.participant, PeerRole.operator), (.record, .auditor), (.participant, nil)] {
            let shown = progress(unit, reader)
            #expect(shown.invited == 2 && shown.contributed == 1, "\(unit) \(String(describing: reader))")
        }
    }
}
