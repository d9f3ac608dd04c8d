import CohortCrypto
import CohortTesting
import Crypto
import Foundation
import Logging
import NIOCore
import Testing
import X509

@testable import CohortTransport

/// `certs request` → `certs sign` → `certs install` on real files, ending in a real mutual-TLS
/// handshake with the signed certificate; and every refusal on the way.
@Suite("Certificate requests", .serialized)
struct CertificateRequestTests {
    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    private func expectError(
        _ code: String, _ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            try body()
            Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
        } catch let error as TransportError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func requestedSignedAndInstalledCertificateCompletesAMutualTLSHandshake() async throws {
        let pki = try TestPKI()
        let silo = pki.root.sub("beta-silo")
        let files = try CertificateRequest.create(role: .participant, name: "beta", outDirectory: silo)
        #expect(try mode(files.privateKey) == 0o600)
        #expect(try mode(silo) == 0o700)
        #expect(try mode(files.ed25519SecretKey) == 0o600)
        let requestText = try String(contentsOfFile: files.certificateRequest, encoding: .utf8)
        #expect(requestText.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"))
        #expect(!requestText.contains("PRIVATE KEY"))
        let keyBefore = try Data(contentsOf: URL(fileURLWithPath: files.privateKey))

        // The CA sees only the request file.
        let outbox = pki.root.sub("ca-outbox")
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: true)
        let authority = try CertificateAuthority.load(directory: pki.caDirectory)
        let signed = try authority.sign(
            requestFile: files.certificateRequest, role: .participant, name: "beta",
            certificatePath: outbox + "/beta.pem"
        )
        #expect(try PeerIdentity(certificate: signed) == PeerIdentity(role: .participant, name: "beta"))
        #expect(Array(try #require(try signed.extensions.extendedKeyUsage)) == [.clientAuth])

        let identity = try CertificateInstaller.install(
            certificate: outbox + "/beta.pem", caCertificate: CAFiles(directory: pki.caDirectory).certificate,
            identityDirectory: silo, name: "beta"
        )
        #expect(identity == (try PeerIdentity(role: .participant, name: "beta")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: files.privateKey)) == keyBefore)
        #expect(
            FileManager.default.contentsEqual(
                atPath: files.caCertificate, andPath: CAFiles(directory: pki.caDirectory).certificate))

        let outcome = try await withServer(pki: pki, handler: welcomeHandler) { server in
            try await exchange(
                port: server.port, tls: try pki.factory(files).makeClientConfiguration(),
                send: Frame(Hello(participantName: "beta")))
        }
        #expect(outcome.error == nil, "\(String(describing: outcome.error))")
        #expect(outcome.frames.map(\.type) == [.welcome, .bye])
        #expect(try outcome.frames[1].decode(Bye.self).reason == "hello beta, you are participant beta")
    }

    @Test func coordinatorRequestCarriesItsHostsAndServesTLS() async throws {
        let root = try TemporaryDirectory()
        let authority = try CertificateAuthority.initCA(outDirectory: root.sub("ca"))
        let files = try CertificateRequest.create(
            role: .coordinator, name: "coordinator", outDirectory: root.sub("coord"),
            hosts: ["coord.example.org", "10.0.0.5"]
        )
        #expect(try mode(files.x25519SecretKey) == 0o600)
        let out = root.sub("coordinator.pem")
        expectError("certs.host_mismatch") {
            try authority.sign(
                requestFile: files.certificateRequest, role: .coordinator, name: "coordinator",
                hosts: ["coord.example.org"], certificatePath: out)
        }
        expectError("certs.host_mismatch") {
            try authority.sign(
                requestFile: files.certificateRequest, role: .coordinator, name: "coordinator",
                hosts: ["coord.example.org", "10.0.0.5", "evil.example.org"], certificatePath: out)
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        let signed = try authority.sign(
            requestFile: files.certificateRequest, role: .coordinator, name: "coordinator",
            hosts: ["10.0.0.5", "coord.example.org"], certificatePath: out)
        let sans = Array(try #require(try signed.extensions.subjectAlternativeNames))
        #expect(sans.contains(.dnsName("coord.example.org")))
        #expect(sans.contains(.ipAddress(.init(contentBytes: [10, 0, 0, 5]))))
        #expect(sans.contains(.dnsName("localhost")))
        try CertificateInstaller.install(
            certificate: out, caCertificate: CAFiles(directory: root.sub("ca")).certificate,
            identityDirectory: root.sub("coord"), name: "coordinator")
        // The installed identity makes a working server configuration.
        _ = try TLSConfigurationFactory(identity: files).makeServerConfiguration()
    }

    @Test func signRefusesWhatTheCAOperatorDidNotAgreeTo() throws {
        let root = try TemporaryDirectory()
        let authority = try CertificateAuthority.initCA(outDirectory: root.sub("ca"))
        let files = try CertificateRequest.create(role: .operator, name: "alice", outDirectory: root.sub("alice"))
        let out = root.sub("alice.pem")
        expectError("certs.role_mismatch") {
            try authority.sign(
                requestFile: files.certificateRequest, role: .participant, name: "alice", certificatePath: out)
        }
        expectError("certs.name_mismatch") {
            try authority.sign(
                requestFile: files.certificateRequest, role: .operator, name: "bob", certificatePath: out)
        }
        expectError("certs.hosts_not_allowed") {
            try authority.sign(
                requestFile: files.certificateRequest, role: .operator, name: "alice", hosts: ["x.org"],
                certificatePath: out)
        }
        expectError("certs.invalid_name") {
            try authority.sign(requestFile: files.certificateRequest, role: .operator, name: "ca", certificatePath: out)
        }
        try Data("not a request\n".utf8).write(to: URL(fileURLWithPath: root.sub("junk.csr.pem")))
        expectError("certs.bad_request") {
            try authority.sign(
                requestFile: root.sub("junk.csr.pem"), role: .operator, name: "alice", certificatePath: out)
        }
        expectError("certs.io") {
            try authority.sign(
                requestFile: root.sub("absent.csr.pem"), role: .operator, name: "alice", certificatePath: out)
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        // A request whose signature was made by another key than the one it asks to certify.
        let genuine = try CertificateSigningRequest(
            pemEncoded: String(contentsOfFile: files.certificateRequest, encoding: .utf8))
        let other = try CertificateSigningRequest(
            version: .v1, subject: genuine.subject, privateKey: Certificate.PrivateKey(P256.Signing.PrivateKey()),
            attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA256
        )
        let forged = try CertificateSigningRequest(
            version: .v1, subject: genuine.subject, publicKey: genuine.publicKey,
            attributes: CertificateSigningRequest.Attributes(),
            signatureAlgorithm: .ecdsaWithSHA256, signature: other.signature
        )
        expectError("certs.bad_request_signature") {
            _ = try authority.sign(
                request: try forged.serializeAsPEM().pemString, source: "forged.csr.pem", role: .operator, name: "alice"
            )
        }
        // A valid request over a P-384 key.
        let p384 = try CertificateSigningRequest(
            version: .v1, subject: genuine.subject, privateKey: Certificate.PrivateKey(P384.Signing.PrivateKey()),
            attributes: CertificateSigningRequest.Attributes(), signatureAlgorithm: .ecdsaWithSHA384
        )
        expectError("certs.unsupported_key") {
            _ = try authority.sign(
                request: try p384.serializeAsPEM().pemString, source: "p384.csr.pem", role: .operator, name: "alice")
        }
    }

    @Test func requestRefusesToReplaceAKeyAndBadNames() throws {
        let root = try TemporaryDirectory()
        let files = try CertificateRequest.create(role: .participant, name: "hospital-a", outDirectory: root.sub("a"))
        let key = try Data(contentsOf: URL(fileURLWithPath: files.privateKey))
        expectError("certs.exists") {
            try CertificateRequest.create(role: .participant, name: "hospital-a", outDirectory: root.sub("a"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: files.privateKey)) == key)
        try CertificateRequest.create(
            role: .participant, name: "hospital-a", outDirectory: root.sub("a"), overwrite: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: files.privateKey)) != key)
        expectError("identity.invalid_name") {
            try CertificateRequest.create(role: .participant, name: "../x", outDirectory: root.sub("b"))
        }
        expectError("certs.invalid_name") {
            try CertificateRequest.create(role: .participant, name: "ca", outDirectory: root.sub("b"))
        }
        expectError("certs.hosts_not_allowed") {
            try CertificateRequest.create(role: .participant, name: "h", outDirectory: root.sub("b"), hosts: ["x.org"])
        }
        expectError("certs.invalid_host") {
            try CertificateRequest.create(
                role: .coordinator, name: "c", outDirectory: root.sub("c"), hosts: ["bad host"])
        }
    }

    @Test func installRefusesForeignExpiredMisnamedAndOtherKeyCertificates() throws {
        let root = try TemporaryDirectory()
        let authority = try CertificateAuthority.initCA(outDirectory: root.sub("ca"))
        let caPEM = CAFiles(directory: root.sub("ca")).certificate
        let files = try CertificateRequest.create(role: .participant, name: "hospital-a", outDirectory: root.sub("a"))
        func install(_ certificate: String, ca: String = caPEM, name: String = "hospital-a") throws {
            try CertificateInstaller.install(
                certificate: certificate, caCertificate: ca, identityDirectory: root.sub("a"), name: name)
        }
        // Signed by another CA.
        let foreign = try CertificateAuthority.initCA(outDirectory: root.sub("foreign"), commonName: "Impostor CA")
        try foreign.sign(
            requestFile: files.certificateRequest, role: .participant, name: "hospital-a",
            certificatePath: root.sub("foreign.pem"))
        expectError("certs.untrusted_chain") { try install(root.sub("foreign.pem")) }
        // The CA file is a leaf.
        try authority.sign(
            requestFile: files.certificateRequest, role: .participant, name: "hospital-a",
            certificatePath: root.sub("good.pem"))
        expectError("certs.not_a_ca") { try install(root.sub("good.pem"), ca: root.sub("good.pem")) }
        // Expired.
        let past = Date().addingTimeInterval(-30 * 86_400)
        try authority.sign(
            requestFile: files.certificateRequest, role: .participant, name: "hospital-a",
            validity: CertificateValidity(notBefore: past, notAfter: past.addingTimeInterval(86_400)),
            certificatePath: root.sub("expired.pem"))
        expectError("certs.expired") { try install(root.sub("expired.pem")) }
        // Not valid yet (the CA's clock, or this machine's, is off): the message says to check the clock.
        let future = Date().addingTimeInterval(30 * 86_400)
        try authority.sign(
            requestFile: files.certificateRequest, role: .participant, name: "hospital-a",
            validity: CertificateValidity(notBefore: future, notAfter: future.addingTimeInterval(86_400)),
            certificatePath: root.sub("future.pem"))
        do {
            try install(root.sub("future.pem"))
            Issue.record("a certificate valid only from next month was installed")
        } catch let error as TransportError {
            #expect(error.code == "certs.not_yet_valid")
            #expect(
                error.message.contains(root.sub("future.pem")) && error.message.contains("check this machine's clock"))
        }
        // Another key: a second request for the same name, made elsewhere.
        let other = try CertificateRequest.create(
            role: .participant, name: "hospital-a", outDirectory: root.sub("elsewhere"))
        try authority.sign(
            requestFile: other.certificateRequest, role: .participant, name: "hospital-a",
            certificatePath: root.sub("other.pem"))
        expectError("certs.key_mismatch") { try install(root.sub("other.pem")) }
        // Another name.
        let b = try CertificateRequest.create(role: .participant, name: "hospital-b", outDirectory: root.sub("b"))
        try authority.sign(
            requestFile: b.certificateRequest, role: .participant, name: "hospital-b",
            certificatePath: root.sub("b.pem"))
        expectError("certs.name_mismatch") { try install(root.sub("b.pem")) }
        // A key others can read is refused, as everywhere.
        chmod(files.privateKey, 0o644)
        expectError("certs.key_permissions") { try install(root.sub("good.pem")) }
        chmod(files.privateKey, 0o600)
        #expect(!FileManager.default.fileExists(atPath: files.certificate))
        #expect(!FileManager.default.fileExists(atPath: files.caCertificate))
        try install(root.sub("good.pem"))
        #expect(FileManager.default.fileExists(atPath: files.certificate))
    }

    /// A renewal (`request --force` with a certificate installed) keeps the key in use and every
    /// protocol key: the new TLS key waits in `<name>.key.pem.pending` until its certificate is
    /// installed, and the ledger's and updates' Ed25519/X25519 keys never change.
    @Test func renewalKeepsTheKeyInUseUntilInstallAndNeverReplacesProtocolKeys() throws {
        let root = try TemporaryDirectory()
        let authority = try CertificateAuthority.initCA(outDirectory: root.sub("ca"))
        let caPEM = CAFiles(directory: root.sub("ca")).certificate
        let directory = root.sub("coordinator")
        let files = try CertificateRequest.create(role: .coordinator, name: "coordinator", outDirectory: directory)
        func signAndInstall(_ certificate: String) throws {
            try authority.sign(
                requestFile: files.certificateRequest, role: .coordinator, name: "coordinator",
                certificatePath: certificate)
            try CertificateInstaller.install(
                certificate: certificate, caCertificate: caPEM, identityDirectory: directory, name: "coordinator")
        }
        func contents(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
        try signAndInstall(root.sub("first.pem"))
        let protocolKeys = [
            files.ed25519SecretKey, files.ed25519PublicKey, files.x25519SecretKey, files.x25519PublicKey,
        ]
        let protocolBefore = try protocolKeys.map(contents)
        let keyBefore = try contents(files.privateKey)

        try CertificateRequest.create(role: .coordinator, name: "coordinator", outDirectory: directory, overwrite: true)
        #expect(try contents(files.privateKey) == keyBefore)
        #expect(try mode(files.pendingPrivateKey) == 0o600)
        let pendingKey = try contents(files.pendingPrivateKey)
        #expect(pendingKey != keyBefore)
        #expect(try protocolKeys.map(contents) == protocolBefore)

        try signAndInstall(root.sub("second.pem"))
        #expect(try contents(files.privateKey) == pendingKey)
        #expect(!FileManager.default.fileExists(atPath: files.pendingPrivateKey))
        #expect(try contents(files.certificate) == contents(root.sub("second.pem")))
        #expect(try protocolKeys.map(contents) == protocolBefore)
        // The first certificate certifies a key that is gone.
        expectError("certs.key_mismatch") {
            try CertificateInstaller.install(
                certificate: root.sub("first.pem"), caCertificate: caPEM, identityDirectory: directory,
                name: "coordinator")
        }
        // `issue --force` rotates the TLS key and keeps the protocol keys too.
        try authority.issue(role: .coordinator, name: "coordinator", outDirectory: directory, overwrite: true)
        #expect(try contents(files.privateKey) != pendingKey)
        #expect(try protocolKeys.map(contents) == protocolBefore)
    }

    /// Once a CA certificate is installed, a certificate chaining to another CA is refused even
    /// with that CA's certificate beside it, unless the party says the consortium changed its CA.
    @Test func installKeepsTheInstalledCAUnlessReplacingItIsAsked() throws {
        let root = try TemporaryDirectory()
        let authority = try CertificateAuthority.initCA(outDirectory: root.sub("ca"))
        let files = try CertificateRequest.create(role: .participant, name: "hospital-a", outDirectory: root.sub("a"))
        try authority.sign(
            requestFile: files.certificateRequest, role: .participant, name: "hospital-a",
            certificatePath: root.sub("good.pem"))
        try CertificateInstaller.install(
            certificate: root.sub("good.pem"), caCertificate: CAFiles(directory: root.sub("ca")).certificate,
            identityDirectory: root.sub("a"), name: "hospital-a")
        let installedCA = try Data(contentsOf: URL(fileURLWithPath: files.caCertificate))
        let rogue = try CertificateAuthority.initCA(outDirectory: root.sub("rogue"), commonName: "Rogue CA")
        try rogue.sign(
            requestFile: files.certificateRequest, role: .participant, name: "hospital-a",
            certificatePath: root.sub("rogue.pem"))
        let rogueCA = CAFiles(directory: root.sub("rogue")).certificate
        do {
            try CertificateInstaller.install(
                certificate: root.sub("rogue.pem"), caCertificate: rogueCA, identityDirectory: root.sub("a"),
                name: "hospital-a")
            Issue.record("a certificate of another CA replaced the installed trust root")
        } catch {
            #expect(error.code == "certs.ca_changed")
            let fingerprint = CertificateAuthority.fingerprint(try CertificateAuthority.loadCertificate(rogueCA))
            #expect(fingerprint.count == 64 && error.message.contains(fingerprint))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: files.caCertificate)) == installedCA)
        try CertificateInstaller.install(
            certificate: root.sub("rogue.pem"), caCertificate: rogueCA, identityDirectory: root.sub("a"),
            name: "hospital-a", replaceCA: true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: files.caCertificate)) != installedCA)
    }

    /// Names whose files would be another party's in a shared directory are refused everywhere
    /// files are named after them.
    @Test func namesThatCollideWithAnotherPartysFilesAreRefused() throws {
        let root = try TemporaryDirectory()
        let authority = try CertificateAuthority.initCA(outDirectory: root.sub("ca"))
        for name in ["alice.key", "alice.csr"] {
            expectError("certs.invalid_name") {
                try CertificateRequest.create(role: .participant, name: name, outDirectory: root.sub("shared"))
            }
            expectError("certs.invalid_name") {
                try authority.issue(role: .operator, name: name, outDirectory: root.sub("shared"))
            }
        }
        #expect(!FileManager.default.fileExists(atPath: root.sub("shared")))
        // A name that merely contains the word is fine.
        try authority.issue(role: .operator, name: "alice.keys", outDirectory: root.sub("shared"))
    }
}

/// A CA directory whose key file is not a P-256 key in PEM cannot sign: `certs.bad_key` names
/// the file, and the CA files are left as they were.
@Suite struct CAKeyFileTests {
    @Test func caKeyThatIsNotAP256KeyIsRefused() throws {
        let root = try TemporaryDirectory()
        _ = try CertificateAuthority.initCA(outDirectory: root.sub("ca"))
        let files = CAFiles(directory: root.sub("ca"))
        let damaged = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
        try damaged.write(toFile: files.privateKey, atomically: false, encoding: .utf8)
        do {
            _ = try CertificateAuthority.load(directory: root.sub("ca"))
            Issue.record("a CA with a damaged key loaded")
        } catch {
            #expect(error.code == "certs.bad_key")
            #expect(error.message == "\(files.privateKey) is not a P-256 private key in PEM")
        }
        #expect(try String(contentsOfFile: files.privateKey, encoding: .utf8) == damaged)
    }
}
