import CohortTransport
import Foundation
import NIOSSL

/// A test consortium: a CA, a coordinator, participants alpha / beta / gamma, an expired
/// participant, and a foreign CA that issued its own "alpha".
public final class TestPKI: Sendable {
    public let root: TemporaryDirectory
    public let caDirectory: String
    public let coordinator: IdentityFiles
    public let alpha: IdentityFiles
    public let beta: IdentityFiles
    public let gamma: IdentityFiles
    public let expired: IdentityFiles
    public let foreignAlpha: IdentityFiles

    public init() throws {
        root = try TemporaryDirectory(prefix: "transport")
        caDirectory = root.sub("ca")
        let ca = try CertificateAuthority.initCA(outDirectory: caDirectory)
        coordinator = try ca.issue(role: .coordinator, name: "coordinator", outDirectory: root.sub("coordinator"))
        alpha = try ca.issue(role: .participant, name: "alpha", outDirectory: root.sub("alpha"))
        beta = try ca.issue(role: .participant, name: "beta", outDirectory: root.sub("beta"))
        gamma = try ca.issue(role: .participant, name: "gamma", outDirectory: root.sub("gamma"))
        let past = Date().addingTimeInterval(-30 * 86_400)
        expired = try ca.issue(
            role: .participant,
            name: "stale",
            outDirectory: root.sub("stale"),
            validity: CertificateValidity(notBefore: past, notAfter: past.addingTimeInterval(86_400))
        )
        let foreign = try CertificateAuthority.initCA(outDirectory: root.sub("foreign-ca"), commonName: "Impostor CA")
        foreignAlpha = try foreign.issue(role: .participant, name: "alpha", outDirectory: root.sub("foreign-alpha"))
    }

    public func factory(_ identity: IdentityFiles) throws -> TLSConfigurationFactory {
        try TLSConfigurationFactory(identity: identity)
    }

    /// A client configuration presenting `identity` but trusting our CA (so only the server's
    /// judgement of the client certificate is under test).
    public func clientTLS(_ identity: IdentityFiles) throws -> TLSConfiguration {
        var configuration = try factory(identity).makeClientConfiguration()
        configuration.trustRoots = .certificates([try factory(coordinator).trustRoot])
        return configuration
    }
}
