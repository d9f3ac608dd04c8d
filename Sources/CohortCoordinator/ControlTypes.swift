// The control types (status, budget, rounds, errors) are what the coordinator's control methods
// take and return, so they are part of its API: re-exported, so a host of the coordinator needs
// no second import. They live in CohortAPITypes so the `cohort` CLI can use them without
// linking the coordinator.
@_exported import CohortAPITypes
import CohortTransport

/// Who asks for a control action: the identity from the client certificate.
public typealias ControlPrincipal = PeerIdentity
