import CohortCrypto
import Crypto
import Foundation
import X509

/// When a certificate is valid.
public struct CertificateValidity: Sendable, Hashable {
    /// Not valid before this instant.
    public var notBefore: Date
    /// Not valid after this instant.
    public var notAfter: Date

    /// An explicit window; `notAfter` in the past issues an already-expired certificate (tests).
    public init(notBefore: Date, notAfter: Date) {
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// `days` days from `start`. `notBefore` is backdated five minutes so a peer whose clock is
    /// slightly behind does not reject a certificate issued just now.
    public static func days(_ days: Int, from start: Date = Date()) -> CertificateValidity {
        CertificateValidity(
            notBefore: start.addingTimeInterval(-300),
            notAfter: start.addingTimeInterval(TimeInterval(days) * 86_400)
        )
    }
}

/// The consortium certificate authority: creates the CA and issues role certificates.
///
/// Everything is done in process with swift-certificates and swift-crypto (no `openssl` binary).
/// All keys are ECDSA P-256; certificates are X.509 v3 with random 20-byte serials.
public struct CertificateAuthority: Sendable {
    /// The organization every Cohort certificate carries.
    public static let organization = "Cohort consortium"
    /// Default CA lifetime: 10 years.
    public static let defaultCADays = 3_650
    /// Default leaf lifetime: 1 year.
    public static let defaultLeafDays = 365

    /// The CA certificate.
    public let certificate: Certificate
    private let signingKey: Certificate.PrivateKey

    private init(certificate: Certificate, signingKey: Certificate.PrivateKey) {
        self.certificate = certificate
        self.signingKey = signingKey
    }

    /// Creates a new consortium CA in `outDirectory`: `ca.pem` and `ca.key.pem` (mode 0600).
    ///
    /// Refuses to overwrite an existing CA key: replacing it would orphan every issued certificate.
    /// - Parameters:
    ///   - outDirectory: created (mode 0700) when missing.
    ///   - commonName: the CA's subject CN.
    ///   - validity: defaults to 10 years from now.
    @discardableResult
    public static func initCA(
        outDirectory: String,
        commonName: String = "Cohort consortium CA",
        validity: CertificateValidity = .days(CertificateAuthority.defaultCADays)
    ) throws(TransportError) -> CertificateAuthority {
        let files = CAFiles(directory: outDirectory)
        guard !PEMFile.exists(files.privateKey) else {
            throw TransportError(
                code: "certs.exists",
                message:
                    "\(files.privateKey) already exists; refusing to replace a CA key (every issued certificate would become untrusted)"
            )
        }
        try PEMFile.makeDirectory(outDirectory)
        let key = P256.Signing.PrivateKey()
        let signingKey = Certificate.PrivateKey(key)
        let certificate: Certificate
        do {
            let name = try DistinguishedName {
                OrganizationName(organization)
                CommonName(commonName)
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: signingKey.publicKey)
            }
            certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: signingKey.publicKey,
                notValidBefore: validity.notBefore,
                notValidAfter: validity.notAfter,
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: signingKey
            )
        } catch {
            throw TransportError(code: "certs.build_failed", message: "cannot build the CA certificate: \(error)")
        }
        try PEMFile.writeSecret(key.pemRepresentation, to: files.privateKey)
        try PEMFile.writePublic(try pem(certificate), to: files.certificate)
        return CertificateAuthority(certificate: certificate, signingKey: signingKey)
    }

    /// Loads the CA from `directory` (`ca.pem`, `ca.key.pem`), checking that they belong together.
    public static func load(directory: String) throws(TransportError) -> CertificateAuthority {
        let files = CAFiles(directory: directory)
        let certificate = try loadCertificate(files.certificate)
        let keyPEM = try PEMFile.readSecret(files.privateKey)
        let key: P256.Signing.PrivateKey
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw TransportError(
                code: "certs.bad_key", message: "\(files.privateKey) is not a P-256 private key in PEM")
        }
        let signingKey = Certificate.PrivateKey(key)
        guard signingKey.publicKey == certificate.publicKey else {
            throw TransportError(
                code: "certs.key_mismatch",
                message: "\(files.privateKey) does not belong to \(files.certificate); restore the matching pair"
            )
        }
        return CertificateAuthority(certificate: certificate, signingKey: signingKey)
    }

    /// Issues a certificate for `name` in `role` and writes the identity directory.
    ///
    /// Writes `ca.pem`, `<name>.pem` and `<name>.key.pem` (0600) into `outDirectory`; for the
    /// coordinator and participants also the Ed25519 signing pair, and for the coordinator the
    /// X25519 sealing pair (see ``IdentityFiles``).
    ///
    /// - Parameters:
    ///   - role: the party's role (certificate OU).
    ///   - name: the party's name (certificate CN); see ``PeerIdentity/validateName(_:)``.
    ///   - outDirectory: the identity directory, created (0700) when missing.
    ///   - validity: defaults to one year; may lie in the past, to test expiry.
    ///   - hosts: extra DNS names or IP addresses for a coordinator's certificate (besides
    ///     `localhost` and `127.0.0.1`); refused for other roles.
    ///   - overwrite: replace an existing TLS key of the same name (rotation); off by default. The
    ///     protocol keys are kept whenever they exist.
    @discardableResult
    public func issue(
        role: PeerRole,
        name: String,
        outDirectory: String,
        validity: CertificateValidity = .days(CertificateAuthority.defaultLeafDays),
        hosts: [String] = [],
        overwrite: Bool = false
    ) throws(TransportError) -> IdentityFiles {
        let identity = try PeerIdentity(role: role, name: name)
        try IdentityFiles.checkFileName(name)
        guard hosts.isEmpty || role == .coordinator else {
            throw TransportError(
                code: "certs.hosts_not_allowed", message: "--host applies to coordinator certificates only")
        }
        let files = IdentityFiles(directory: outDirectory, name: name)
        guard overwrite || !PEMFile.exists(files.privateKey) else {
            throw TransportError(
                code: "certs.exists",
                message: "\(files.privateKey) already exists; pass overwrite (--force) to rotate it"
            )
        }
        try PEMFile.makeDirectory(outDirectory)

        let key = P256.Signing.PrivateKey()
        let leaf = try makeLeaf(
            identity: identity, publicKey: Certificate.PublicKey(key.publicKey), hosts: hosts, validity: validity)

        try PEMFile.writeSecret(key.pemRepresentation, to: files.privateKey)
        try PEMFile.writePublic(try Self.pem(leaf), to: files.certificate)
        try PEMFile.writePublic(try Self.pem(certificate), to: files.caCertificate)
        try Self.writeProtocolKeys(for: role, files: files)
        return files
    }

    /// Signs a leaf certificate for `identity` over `publicKey` with the profile of `Certs/README.md`
    /// (the same for `issue` and for signing a request).
    func makeLeaf(
        identity: PeerIdentity,
        publicKey: Certificate.PublicKey,
        hosts: [String],
        validity: CertificateValidity
    ) throws(TransportError) -> Certificate {
        guard hosts.isEmpty || identity.role == .coordinator else {
            throw TransportError(
                code: "certs.hosts_not_allowed", message: "--host applies to coordinator certificates only")
        }
        do {
            let subject = try DistinguishedName {
                OrganizationName(Self.organization)
                OrganizationalUnitName(identity.role.rawValue)
                CommonName(identity.name)
            }
            let sans = try Self.subjectAlternativeNames(for: identity, hosts: hosts)
            let usages: [ExtendedKeyUsage.Usage] =
                identity.role == .coordinator ? [.serverAuth, .clientAuth] : [.clientAuth]
            let authorityKeyID = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
            let extendedKeyUsage = try ExtendedKeyUsage(usages)
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                extendedKeyUsage
                SubjectAlternativeNames(sans)
                SubjectKeyIdentifier(hash: publicKey)
                AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
            }
            return try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: publicKey,
                notValidBefore: validity.notBefore,
                notValidAfter: validity.notAfter,
                issuer: certificate.subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: signingKey
            )
        } catch let error as TransportError {
            throw error
        } catch {
            throw TransportError(
                code: "certs.build_failed", message: "cannot build the certificate for \(identity): \(error)")
        }
    }

    /// Makes the protocol keys `role` needs, keeping any that exist: they outlive certificate
    /// renewals, because the ledger's signatures and the policy's `signing_key`s name them (a new
    /// coordinator key would orphan its ledger, a new participant key would get its updates refused).
    static func writeProtocolKeys(for role: PeerRole, files: IdentityFiles) throws(TransportError) {
        do {
            if role == .coordinator || role == .participant, !PEMFile.exists(files.ed25519SecretKey) {
                let signing = Ed25519.KeyPair.generate()
                try KeyFile.writeSecret(signing.secretKey, kind: .ed25519Secret, to: files.ed25519SecretKey)
                try KeyFile.writePublic(signing.publicKey, kind: .ed25519Public, to: files.ed25519PublicKey)
            }
            if role == .coordinator, !PEMFile.exists(files.x25519SecretKey) {
                let sealing = SealedBox.KeyPair.generate()
                try KeyFile.writeSecret(sealing.secretKey, kind: .x25519Secret, to: files.x25519SecretKey)
                try KeyFile.writePublic(sealing.publicKey, kind: .x25519Public, to: files.x25519PublicKey)
            }
        } catch {
            throw TransportError(
                code: "certs.io", message: "cannot write the protocol keys for \(files.name): \(error)")
        }
    }

    static func subjectAlternativeNames(
        for identity: PeerIdentity, hosts: [String]
    ) throws(TransportError) -> [GeneralName] {
        guard identity.role == .coordinator else { return [.uniformResourceIdentifier(identity.uri)] }
        var names: [GeneralName] = [.dnsName("localhost"), .ipAddress(.init(contentBytes: [127, 0, 0, 1]))]
        for host in hosts {
            if let address = IPAddressBytes.parse(host) {
                names.append(.ipAddress(.init(contentBytes: address[...])))
            } else if Self.isDNSName(host) {
                names.append(.dnsName(host.lowercased()))
            } else {
                throw TransportError(
                    code: "certs.invalid_host",
                    message: "\"\(host.prefix(80))\" is neither an IP address nor a DNS name")
            }
        }
        return names
    }

    private static func isDNSName(_ host: String) -> Bool {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return (1...253).contains(host.utf8.count)
            && labels.allSatisfy { label in
                (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy { byte in
                        switch byte {
                        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                            true
                        default: false
                        }
                    }
            }
    }

    static func pem(_ certificate: Certificate) throws(TransportError) -> String {
        do {
            return try certificate.serializeAsPEM().pemString + "\n"
        } catch {
            throw TransportError(code: "certs.build_failed", message: "cannot serialise the certificate: \(error)")
        }
    }

    /// The SHA-256 of `certificate`'s DER encoding in hex, to compare a CA certificate out of band.
    public static func fingerprint(_ certificate: Certificate) -> String {
        guard let der = try? certificate.serializeAsPEM().derBytes else { return "(not serialisable)" }
        return SHA256.hash(data: der).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads one PEM certificate.
    public static func loadCertificate(_ path: String) throws(TransportError) -> Certificate {
        let text = try PEMFile.read(path)
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw TransportError(
                code: "certs.bad_certificate",
                message: "\(path) is not a PEM certificate (\(error)); pass the certificate file `cohort certs` wrote")
        }
    }
}
