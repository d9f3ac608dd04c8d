import CohortCrypto
import CohortTesting
import Crypto
import Foundation
import Testing
import X509

@testable import CohortTransport

@Suite("Certificates")
struct CertificateAuthorityTests {
    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func caIsASelfSignedP256AuthorityWithPrivateKey() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.initCA(outDirectory: directory.sub("ca"))
        let files = CAFiles(directory: directory.sub("ca"))
        #expect(try mode(files.privateKey) == 0o600)
        let certificate = try CertificateAuthority.loadCertificate(files.certificate)
        #expect(certificate == ca.certificate)
        #expect(certificate.issuer == certificate.subject)
        #expect(try certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        let usage = try #require(try certificate.extensions.keyUsage)
        #expect(usage.keyCertSign && usage.cRLSign && !usage.digitalSignature)
        let lifetime = certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore)
        #expect(lifetime > 3_649 * 86_400 && lifetime < 3_651 * 86_400)
        #expect(P256.Signing.PublicKey(certificate.publicKey) != nil)
        // Loading checks the pair and refuses to replace the key.
        _ = try CertificateAuthority.load(directory: directory.sub("ca"))
        #expect(throws: TransportError.self) { try CertificateAuthority.initCA(outDirectory: directory.sub("ca")) }
    }

    @Test func coordinatorCertificateHasServerNamesBothUsagesAndProtocolKeys() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.initCA(outDirectory: directory.sub("ca"))
        let files = try ca.issue(
            role: .coordinator,
            name: "coord-1",
            outDirectory: directory.sub("coord"),
            hosts: ["coordinator.example.org", "10.0.0.5"]
        )
        let certificate = try CertificateAuthority.loadCertificate(files.certificate)
        #expect(certificate.issuer == ca.certificate.subject)
        #expect(certificate.subject.description.contains("CN=coord-1"))
        #expect(certificate.subject.description.contains("OU=coordinator"))
        #expect(certificate.subject.description.contains("O=Cohort consortium"))
        let sans = Array(try #require(try certificate.extensions.subjectAlternativeNames))
        #expect(sans.contains(.dnsName("localhost")))
        #expect(sans.contains(.dnsName("coordinator.example.org")))
        #expect(sans.contains(.ipAddress(.init(contentBytes: [127, 0, 0, 1]))))
        #expect(sans.contains(.ipAddress(.init(contentBytes: [10, 0, 0, 5]))))
        let usages = Array(try #require(try certificate.extensions.extendedKeyUsage))
        #expect(Set(usages) == [.serverAuth, .clientAuth])
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try mode(files.privateKey) == 0o600)
        #expect(try mode(files.ed25519SecretKey) == 0o600)
        #expect(try mode(files.x25519SecretKey) == 0o600)
        let signing = try Ed25519.KeyPair(
            secretKey: try KeyFile.readSecret(kind: .ed25519Secret, from: files.ed25519SecretKey))
        #expect(signing.publicKey == (try KeyFile.readPublic(kind: .ed25519Public, from: files.ed25519PublicKey)))
        let sealing = try SealedBox.KeyPair(
            secretKey: try KeyFile.readSecret(kind: .x25519Secret, from: files.x25519SecretKey))
        #expect(sealing.publicKey == (try KeyFile.readPublic(kind: .x25519Public, from: files.x25519PublicKey)))
        #expect(
            FileManager.default.contentsEqual(
                atPath: files.caCertificate, andPath: CAFiles(directory: directory.sub("ca")).certificate))
        #expect(try PeerIdentity(certificate: certificate) == PeerIdentity(role: .coordinator, name: "coord-1"))
    }

    @Test(arguments: [PeerRole.participant, .operator, .auditor])
    func otherRolesGetAURIAndClientAuthOnly(role: PeerRole) throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.initCA(outDirectory: directory.sub("ca"))
        let files = try ca.issue(role: role, name: "party-\(role)", outDirectory: directory.sub("id"))
        let certificate = try CertificateAuthority.loadCertificate(files.certificate)
        let sans = Array(try #require(try certificate.extensions.subjectAlternativeNames))
        #expect(sans == [.uniformResourceIdentifier("cohort://\(role)/party-\(role)")])
        #expect(Array(try #require(try certificate.extensions.extendedKeyUsage)) == [.clientAuth])
        #expect(try PeerIdentity(certificate: certificate) == PeerIdentity(role: role, name: "party-\(role)"))
        #expect(FileManager.default.fileExists(atPath: files.ed25519SecretKey) == (role == .participant))
        #expect(!FileManager.default.fileExists(atPath: files.x25519SecretKey))
    }

    @Test func issuingRefusesBadNamesHostsForNonCoordinatorsAndOverwrites() throws {
        let directory = try TemporaryDirectory()
        let ca = try CertificateAuthority.initCA(outDirectory: directory.sub("ca"))
        for name in ["", "../evil", "a/b", ".hidden", "-x", "ca", String(repeating: "x", count: 65), "naïve"] {
            #expect(throws: TransportError.self) {
                try ca.issue(role: .participant, name: name, outDirectory: directory.sub("id"))
            }
        }
        #expect(throws: TransportError.self) {
            try ca.issue(role: .participant, name: "p", outDirectory: directory.sub("id"), hosts: ["example.org"])
        }
        #expect(throws: TransportError.self) {
            try ca.issue(role: .coordinator, name: "c", outDirectory: directory.sub("id"), hosts: ["bad host!"])
        }
        try ca.issue(role: .participant, name: "p", outDirectory: directory.sub("id"))
        #expect(throws: TransportError.self) {
            try ca.issue(role: .participant, name: "p", outDirectory: directory.sub("id"))
        }
        try ca.issue(role: .participant, name: "p", outDirectory: directory.sub("id"), overwrite: true)
    }

    @Test func privateKeysReadableByOthersAreRefused() throws {
        let pki = try TestPKI()
        chmod(pki.alpha.privateKey, 0o644)
        let error = #expect(throws: TransportError.self) { try TLSConfigurationFactory(identity: pki.alpha) }
        #expect(error?.code == "certs.key_permissions")
    }

    @Test func expiredCertificatesCanBeIssuedForTests() throws {
        let pki = try TestPKI()
        let certificate = try CertificateAuthority.loadCertificate(pki.expired.certificate)
        #expect(certificate.notValidAfter < Date())
    }
}

@Suite("Peer identity")
struct PeerIdentityTests {
    /// Signs a certificate with an arbitrary subject, as a misbehaving CA operator might.
    private func certificate(subject: DistinguishedName, sans: [GeneralName] = []) throws -> Certificate {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let extensions = try Certificate.Extensions {
            if !sans.isEmpty { SubjectAlternativeNames(sans) }
        }
        return try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: key.publicKey,
            notValidBefore: Date(),
            notValidAfter: Date().addingTimeInterval(3_600),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: key
        )
    }

    @Test func unknownOrMissingRoleIsRejected() throws {
        let unknown = try certificate(
            subject: DistinguishedName {
                OrganizationalUnitName("janitor")
                CommonName("bob")
            })
        #expect(throws: TransportError.self) { try PeerIdentity(certificate: unknown) }
        let missing = try certificate(subject: DistinguishedName { CommonName("bob") })
        let error = #expect(throws: TransportError.self) { try PeerIdentity(certificate: missing) }
        #expect(error?.code == "identity.missing_role")
        let twoRoles = try certificate(
            subject: DistinguishedName {
                OrganizationalUnitName("participant")
                OrganizationalUnitName("operator")
                CommonName("bob")
            }
        )
        #expect(throws: TransportError.self) { try PeerIdentity(certificate: twoRoles) }
        let noName = try certificate(subject: DistinguishedName { OrganizationalUnitName("participant") })
        #expect(throws: TransportError.self) { try PeerIdentity(certificate: noName) }
    }

    @Test func uriMustAgreeWithSubject() throws {
        let subject = try DistinguishedName {
            OrganizationalUnitName("participant")
            CommonName("bob")
        }
        let good = try certificate(subject: subject, sans: [.uniformResourceIdentifier("cohort://participant/bob")])
        #expect(try PeerIdentity(certificate: good) == PeerIdentity(role: .participant, name: "bob"))
        let bad = try certificate(subject: subject, sans: [.uniformResourceIdentifier("cohort://operator/bob")])
        let error = #expect(throws: TransportError.self) { try PeerIdentity(certificate: bad) }
        #expect(error?.code == "identity.san_mismatch")
    }
}
