import CohortPolicy
import Testing

@testable import CohortGovernance

let basePolicyText = """
    version: 1
    name: wdbc-hospitals
    coordinator:
      listen: 127.0.0.1:7443
      ca_certificate: certs/ca.pem
      certificate: certs/coordinator.pem
      private_key: certs/coordinator.key.pem
      sealing_key: certs/coordinator.x25519.key
      ledger_key: certs/coordinator.ed25519.key
    participants:
      - name: hospital-a
        signing_key: certs/hospital-a.ed25519.pub
      - name: hospital-b
        signing_key: certs/hospital-b.ed25519.pub
    privacy:
      unit: record
      sampling_rate: 0.05
      noise_multiplier: 1.1
      clipping_bound: 1.0
      delta: 1e-5
      epsilon_max: 3.0
    model:
      version: lr-v1
      schema: schemas/wdbc.json
    """

/// The base policy with the first line containing `old` replaced by `new` (same indentation).
func policy(replacing old: String? = nil, with new: String = "", appending extra: String = "") throws -> Policy {
    var lines = basePolicyText.components(separatedBy: "\n")
    if let old {
        let index = try #require(lines.firstIndex { $0.contains(old) })
        lines[index] = lines[index].prefix { $0 == " " } + new
    }
    return try PolicyLoader.parse(lines.joined(separator: "\n") + (extra.isEmpty ? "" : "\n" + extra))
}

@Suite struct PolicyChangeTests {
    @Test func refusesEpsilonBelowSpent() throws {
        let current = try policy()
        let proposed = try policy(replacing: "epsilon_max", with: "epsilon_max: 1.5")
        do {
            _ = try PolicyChange.check(current: current, proposed: proposed, spentEpsilon: 2.25)
            Issue.record("lowered epsilon_max below the spent ε")
        } catch {
            #expect(error.code == "policy.epsilon_below_spent")
            #expect(error.field == "privacy.epsilon_max")
            #expect(error.message.contains("1.5") && error.message.contains("2.25"))
        }
    }

    @Test func acceptsLoweringToAtLeastSpent() throws {
        let summary = try PolicyChange.check(
            current: try policy(), proposed: try policy(replacing: "epsilon_max", with: "epsilon_max: 2.25"),
            spentEpsilon: 2.25
        )
        #expect(summary.oldEpsilonMax == 3 && summary.newEpsilonMax == 2.25)
    }

    @Test func refusesLedgerKeyChange() throws {
        let current = try policy()
        let proposed = try policy(replacing: "ledger_key", with: "ledger_key: certs/other.ed25519.key")
        do {
            _ = try PolicyChange.check(current: current, proposed: proposed, spentEpsilon: 0)
            Issue.record("changed the ledger key while running")
        } catch {
            #expect(error.code == "policy.immutable_field")
            #expect(error.field == "coordinator.ledger_key")
            #expect(error.message.contains("certs/coordinator.ed25519.key"))
            #expect(error.message.contains("certs/other.ed25519.key"))
            #expect(error.message.contains("cannot change while the coordinator runs; start a new ledger"))
        }
    }

    @Test(arguments: [
        ("listen: 127.0.0.1:7443", "listen: 127.0.0.1:7450", "coordinator.listen"),
        ("sealing_key:", "sealing_key: other.key", "coordinator.sealing_key"),
        ("unit: record", "unit: participant", "privacy.unit"),
        ("delta: 1e-5", "delta: 1e-6", "privacy.delta"),
        ("delta: 1e-5", "delta: 1e-5\n  grid_inflation: 0.01", "privacy.grid_inflation"),
        ("schema:", "schema: schemas/other.json", "model.schema"),
    ])
    func refusesImmutableFields(old: String, new: String, field: String) throws {
        let current = try policy()
        let proposed = try policy(replacing: old, with: new)
        do {
            _ = try PolicyChange.check(current: current, proposed: proposed, spentEpsilon: 1)
            Issue.record("changed \(field) while running")
        } catch {
            #expect(error.field == field, "\(error)")
            #expect(error.code == "policy.immutable_field")
        }
    }

    @Test func refusesRaisingEpsilonMax() throws {
        let current = try policy()
        for raised in ["3.0000001", "5.0"] {
            let proposed = try policy(replacing: "epsilon_max", with: "epsilon_max: \(raised)")
            do {
                _ = try PolicyChange.check(current: current, proposed: proposed, spentEpsilon: 0)
                Issue.record("raised epsilon_max to \(raised) within a ledger")
            } catch {
                #expect(error.code == "policy.epsilon_max_raised")
                #expect(error.field == "privacy.epsilon_max")
                #expect(error.message.contains(raised) && error.message.contains("start a new ledger"), "\(error)")
            }
        }
    }

    @Test func acceptsLoweringEpsilonAndReportsEveryChange() throws {
        let proposed = try policy(
            replacing: "epsilon_max", with: "epsilon_max: 2.95",
            appending: "governance:\n  approved_model_versions: [lr-v1, lr-v2]\n  anomaly:\n    action: discard_round"
        )
        let summary = try PolicyChange.check(current: try policy(), proposed: proposed, spentEpsilon: 2.9)
        #expect(summary.oldEpsilonMax == 3 && summary.newEpsilonMax == 2.95)
        #expect(summary.changes.contains(PolicyChange.Change(field: "privacy.epsilon_max", old: "3.0", new: "2.95")))
        #expect(
            summary.changes.contains(
                PolicyChange.Change(
                    field: "governance.anomaly.action", old: "flag_only", new: "discard_round")))
        #expect(
            summary.changes.contains(
                PolicyChange.Change(
                    field: "governance.approved_model_versions[1]", old: nil, new: "lr-v2")))
        #expect(summary.changedFields == summary.changedFields.sorted())
        #expect(summary.changes.count == 3)
    }

    @Test func reportsAddedSectionsAndParticipants() throws {
        let proposed = try policy(
            replacing: "  - name: hospital-b", with: "- name: hospital-c",
            appending: "api:\n  operators: [ops-alice]"
        )
        let summary = try PolicyChange.check(current: try policy(), proposed: proposed, spentEpsilon: 0)
        #expect(summary.changedFields.contains("participants[1].name"))
        #expect(summary.changes.contains(PolicyChange.Change(field: "api.listen", old: nil, new: "127.0.0.1:7444")))
        #expect(summary.changes.contains(PolicyChange.Change(field: "api.operators[0]", old: nil, new: "ops-alice")))
    }

    @Test func identicalPoliciesHaveNoChanges() throws {
        let summary = try PolicyChange.check(current: try policy(), proposed: try policy(), spentEpsilon: 3)
        #expect(summary.changes.isEmpty)
    }

    @Test func flattenerCoversEveryPolicySection() throws {
        let leaves = PolicyFlattener.flatten(try policy(appending: "api: {}"))
        for field in [
            "version", "name", "coordinator.ledger_key", "participants[0].signing_key", "privacy.unit", "privacy.delta",
            "rounds.min_participants", "model.schema", "limits.max_update_bytes", "api.listen",
            "governance.approved_model_versions[0]", "governance.data_quality.require_schema_match",
            "governance.risk.metric", "governance.evaluation.min_participants",
        ] {
            #expect(leaves[field] != nil, "\(field)")
        }
        #expect(leaves["governance.evaluation.min_accuracy"] == nil, "absent optionals have no leaf")
    }
}
