import CohortPolicy

/// The rules for adopting a new policy while the coordinator runs.
///
/// A running coordinator's ledger is bound to its signing key, its δ, its privacy unit and its
/// mechanism (genesis and every `round.charged` entry), so those cannot change mid-ledger; the
/// budget may be raised or lowered, but never below what has already been spent.
public enum PolicyChange {
    /// Fields that cannot change while the coordinator runs (every `coordinator.*` field as well).
    public static let immutableFields: [String] = [
        "privacy.unit", "privacy.delta", "privacy.grid_inflation", "model.kind", "model.schema",
        "model.activation", "model.seed", "model.initial_model",
    ]

    /// Fields whose every element is immutable: the model's shape (its tensors and hidden widths)
    /// fixes d, the checkpoints and the ledger's sensitivity.
    public static let immutablePrefixes: [String] = ["model.hidden", "model.tensors"]

    /// One changed field.
    public struct Change: Sendable, Equatable {
        /// Dotted path, e.g. `privacy.epsilon_max` or `participants[2].name`.
        public var field: String
        /// The value in the current policy, or nil when it was absent.
        public var old: String?
        /// The value in the proposed policy, or nil when it is absent.
        public var new: String?

        /// - Parameters:
        ///   - field: dotted path.
        ///   - old: current value as text, or nil.
        ///   - new: proposed value as text, or nil.
        public init(field: String, old: String?, new: String?) {
            self.field = field
            self.old = old
            self.new = new
        }
    }

    /// What adopting the proposed policy changes.
    public struct Summary: Sendable, Equatable {
        /// Every changed field, sorted by path.
        public var changes: [Change]
        /// `privacy.epsilon_max` before.
        public var oldEpsilonMax: Double
        /// `privacy.epsilon_max` after.
        public var newEpsilonMax: Double

        /// - Parameters:
        ///   - changes: changed fields, sorted by path.
        ///   - oldEpsilonMax: the cap before.
        ///   - newEpsilonMax: the cap after.
        public init(changes: [Change], oldEpsilonMax: Double, newEpsilonMax: Double) {
            self.changes = changes
            self.oldEpsilonMax = oldEpsilonMax
            self.newEpsilonMax = newEpsilonMax
        }

        /// The paths of the changed fields.
        public var changedFields: [String] { changes.map(\.field) }
    }

    /// Checks that `proposed` may replace `current` in a running coordinator that has spent
    /// `spentEpsilon`, and lists what changes.
    ///
    /// - Throws: `PolicyError` with code `policy.epsilon_below_spent` (field `privacy.epsilon_max`)
    ///   when the new cap is below the spent ε; `policy.epsilon_max_raised` (same field) when it is
    ///   above the cap in force; `policy.immutable_field` naming the field when a
    ///   field that cannot change while running differs; any validation error of `proposed`.
    public static func check(current: Policy, proposed: Policy, spentEpsilon: Double) throws(PolicyError) -> Summary {
        try PolicyLoader.validate(proposed)
        guard proposed.privacy.epsilonMax >= spentEpsilon else {
            throw PolicyError(
                code: "policy.epsilon_below_spent", field: "privacy.epsilon_max",
                message: "the proposed epsilon_max \(proposed.privacy.epsilonMax) is below the ε already spent "
                    + "(\(spentEpsilon)); it must be at least \(spentEpsilon)"
            )
        }
        // The privacy filter that makes the cumulative ε a valid bound for adaptively chosen
        // rounds (Feldman–Zrnic, docs/PRIVACY.md) needs the cap fixed before the first round: it
        // may only come down within a ledger.
        guard proposed.privacy.epsilonMax <= current.privacy.epsilonMax else {
            throw PolicyError(
                code: "policy.epsilon_max_raised", field: "privacy.epsilon_max",
                message: "the proposed epsilon_max \(proposed.privacy.epsilonMax) is above the cap in force "
                    + "(\(current.privacy.epsilonMax)); the cap is fixed for a ledger and may only be lowered. "
                    + "Keep it at most \(current.privacy.epsilonMax), or start a new ledger (a new state directory) "
                    + "with the higher cap"
            )
        }
        let changes = diff(current, proposed)
        for change in changes where isImmutable(change.field) {
            throw PolicyError(
                code: "policy.immutable_field", field: change.field,
                message: "\(change.field) `\(change.old ?? "(absent)")` → `\(change.new ?? "(absent)")` "
                    + "cannot change while the coordinator runs; start a new ledger"
            )
        }
        return Summary(
            changes: changes, oldEpsilonMax: current.privacy.epsilonMax, newEpsilonMax: proposed.privacy.epsilonMax
        )
    }

    /// Whether `field` (a leaf path) may not change while running.
    public static func isImmutable(_ field: String) -> Bool {
        field == "coordinator" || field.hasPrefix("coordinator.") || immutableFields.contains(field)
            || immutablePrefixes.contains { field == $0 || field.hasPrefix($0 + "[") }
    }

    /// Every leaf field that differs between the two policies, sorted by path.
    public static func diff(_ current: Policy, _ proposed: Policy) -> [Change] {
        let old = PolicyFlattener.flatten(current)
        let new = PolicyFlattener.flatten(proposed)
        return Set(old.keys).union(new.keys).sorted().compactMap { field in
            old[field] == new[field] ? nil : Change(field: field, old: old[field], new: new[field])
        }
    }
}
