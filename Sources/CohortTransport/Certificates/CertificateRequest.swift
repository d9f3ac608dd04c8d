import CohortModel
import Crypto
import Foundation
import X509

/// Certificates without moving private keys: the silo makes its keys and a certificate signing
/// request (``create(role:name:outDirectory:hosts:overwrite:)``), the CA signs the request after
/// checking it against what the CA operator expects (``CertificateAuthority/sign(request:source:role:name:hosts:validity:)``),
/// and the silo installs the certificate next to its key after checking both
/// (``CertificateInstaller/install(certificate:caCertificate:identityDirectory:name:now:)``).
/// Only the request and the certificate travel; every private key stays where it was made.
public enum CertificateRequest {
    /// Makes the keys of `name` in `role` in `outDirectory` and a signing request for its TLS key.
    ///
    /// Writes `<name>.key.pem` (P-256, 0600) and `<name>.csr.pem` (subject
    /// `O=Cohort consortium, OU=<role>, CN=<name>`, signed by that key: proof of possession); for
    /// the coordinator and participants the Ed25519 signing pair, for the coordinator the X25519
    /// sealing pair, exactly as `issue` would (see ``IdentityFiles``). A coordinator's extra host
    /// names travel in the request (an extension request with the subject alternative names);
    /// the CA signs them only when its operator names the same hosts.
    ///
    /// - Parameters:
    ///   - role: the role to request (certificate OU).
    ///   - name: the party's name (certificate CN); see ``PeerIdentity/validateName(_:)``.
    ///   - outDirectory: the identity directory, created (0700) when missing.
    ///   - hosts: extra DNS names or IP addresses for a coordinator (besides `localhost` and
    ///     `127.0.0.1`); refused for other roles.
    ///   - overwrite: make a new TLS key although one exists (renewal); off by default. When a
    ///     certificate is installed, the new key waits in `<name>.key.pem.pending` until
    ///     `install` moves it into place with its certificate. Protocol keys are never replaced.
    /// - Returns: the identity's file layout; `certificateRequest` is the file to send to the CA.
    @discardableResult
    public static func create(
        role: PeerRole,
        name: String,
        outDirectory: String,
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
                message: "\(files.privateKey) already exists; pass --force to replace it with a new key (rotation)"
            )
        }
        let requestedNames = try CertificateAuthority.subjectAlternativeNames(for: identity, hosts: hosts)
        try PEMFile.makeDirectory(outDirectory)
        let key = P256.Signing.PrivateKey()
        let csrPEM: String
        do {
            let subject = try DistinguishedName {
                OrganizationName(CertificateAuthority.organization)
                OrganizationalUnitName(role.rawValue)
                CommonName(name)
            }
            var attributes = CertificateSigningRequest.Attributes()
            if role == .coordinator {
                let extensions = try Certificate.Extensions { SubjectAlternativeNames(requestedNames) }
                attributes.insert(try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions)))
            }
            let request = try CertificateSigningRequest(
                version: .v1,
                subject: subject,
                privateKey: Certificate.PrivateKey(key),
                attributes: attributes,
                signatureAlgorithm: .ecdsaWithSHA256
            )
            csrPEM = try request.serializeAsPEM().pemString + "\n"
        } catch {
            throw TransportError(
                code: "certs.build_failed", message: "cannot build the signing request for \(identity): \(error)")
        }
        // A renewal keeps the key in use until the certificate for the new one is installed, so
        // the party can go on connecting meanwhile.
        let renewing = PEMFile.exists(files.privateKey) && PEMFile.exists(files.certificate)
        try PEMFile.writeSecret(key.pemRepresentation, to: renewing ? files.pendingPrivateKey : files.privateKey)
        try PEMFile.writePublic(csrPEM, to: files.certificateRequest)
        try CertificateAuthority.writeProtocolKeys(for: role, files: files)
        return files
    }

    /// Parses a PEM certificate signing request; `source` names it in errors.
    static func parse(_ pem: String, source: String) throws(TransportError) -> CertificateSigningRequest {
        do {
            return try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw TransportError(
                code: "certs.bad_request",
                message: "\(source) is not a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----); "
                    + "send the <name>.csr.pem file `cohort certs request` wrote"
            )
        }
    }
}

extension CertificateAuthority {
    /// Signs a request made by ``CertificateRequest/create(role:name:outDirectory:hosts:overwrite:)``
    /// (or any PKCS#10 request over a P-256 key), after checking it against what the CA operator
    /// expects: the request's signature (the requester holds the key), the key type, exactly one
    /// role (OU) and one name (CN) equal to `role` and `name`, and for a coordinator the same
    /// extra hosts as `hosts`. The certificate gets the CA's profile (`Certs/README.md`), built
    /// from `role`, `name` and `hosts`: nothing else in the request is copied.
    ///
    /// - Parameters:
    ///   - request: the PEM text of the request.
    ///   - source: where the request came from (its path), for error messages.
    ///   - role: the role the CA operator agreed to certify.
    ///   - name: the name the CA operator agreed to certify.
    ///   - hosts: a coordinator's extra DNS names or IP addresses, as agreed.
    ///   - validity: defaults to one year.
    /// - Throws: `certs.bad_request`, `certs.bad_request_signature`, `certs.unsupported_key`,
    ///   `certs.role_mismatch`, `certs.name_mismatch`, `certs.host_mismatch`, `certs.invalid_name`.
    public func sign(
        request pem: String,
        source: String,
        role: PeerRole,
        name: String,
        hosts: [String] = [],
        validity: CertificateValidity = .days(CertificateAuthority.defaultLeafDays)
    ) throws(TransportError) -> Certificate {
        let expected = try PeerIdentity(role: role, name: name)
        try IdentityFiles.checkFileName(name)
        guard hosts.isEmpty || role == .coordinator else {
            throw TransportError(
                code: "certs.hosts_not_allowed", message: "--host applies to coordinator certificates only")
        }
        let request = try CertificateRequest.parse(pem, source: source)
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw TransportError(
                code: "certs.bad_request_signature",
                message: "the signature of \(source) does not verify with the key it carries: the request was altered "
                    + "or not made by the key's holder; ask the requester to run `cohort certs request` again"
            )
        }
        guard P256.Signing.PublicKey(request.publicKey) != nil else {
            throw TransportError(
                code: "certs.unsupported_key",
                message: "\(source) requests a certificate for a key that is not ECDSA P-256; Cohort issues P-256 only "
                    + "(`cohort certs request` makes one)"
            )
        }
        let units = PeerIdentity.attributes(in: request.subject) { $0.type == .RDNAttributeType.organizationalUnitName }
        let names = PeerIdentity.attributes(in: request.subject) { $0.type == .RDNAttributeType.commonName }
        guard units == [role.rawValue] else {
            throw TransportError(
                code: "certs.role_mismatch",
                message:
                    "\(source) requests role \(units.isEmpty ? "(none)" : units.map { "\"\(PeerText.sanitized($0, maxLength: 40))\"" }.joined(separator: ", ")), "
                    + "not \(role.rawValue) as given with --role; refuse it, or sign with the role the consortium agreed for this party"
            )
        }
        guard names == [name] else {
            throw TransportError(
                code: "certs.name_mismatch",
                message:
                    "\(source) requests name \(names.isEmpty ? "(none)" : names.map { "\"\(PeerText.sanitized($0, maxLength: 64))\"" }.joined(separator: ", ")), "
                    + "not \"\(name)\" as given with --name; refuse it, or ask the party to request the agreed name"
            )
        }
        if role == .coordinator {
            let requested: [GeneralName]
            do {
                requested = Array(
                    try request.attributes.extensionRequest?.extensions.subjectAlternativeNames
                        ?? SubjectAlternativeNames())
            } catch {
                throw TransportError(
                    code: "certs.bad_request",
                    message: "the subject alternative names in \(source) do not parse: \(error)")
            }
            let agreed = try Self.subjectAlternativeNames(for: expected, hosts: hosts)
            let missing = Set(requested).subtracting(agreed)
            let unrequested = Set(agreed).subtracting(requested).subtracting(
                try Self.subjectAlternativeNames(for: expected, hosts: []))
            guard missing.isEmpty, unrequested.isEmpty else {
                throw TransportError(
                    code: "certs.host_mismatch",
                    message:
                        "\(source) requests host names \(Self.describe(requested)) but --host gives \(Self.describe(agreed)); "
                        + "pass exactly the hosts the coordinator requested, or ask for a new request"
                )
            }
        }
        return try makeLeaf(identity: expected, publicKey: request.publicKey, hosts: hosts, validity: validity)
    }

    /// ``sign(request:source:role:name:hosts:validity:)`` from the file at `requestPath`, writing
    /// the certificate (PEM) to `certificatePath`.
    @discardableResult
    public func sign(
        requestFile requestPath: String,
        role: PeerRole,
        name: String,
        hosts: [String] = [],
        validity: CertificateValidity = .days(CertificateAuthority.defaultLeafDays),
        certificatePath: String
    ) throws(TransportError) -> Certificate {
        let pem = try PEMFile.read(requestPath)
        let leaf = try sign(request: pem, source: requestPath, role: role, name: name, hosts: hosts, validity: validity)
        try PEMFile.writePublic(try Self.pem(leaf), to: certificatePath)
        return leaf
    }

    static func describe(_ names: [GeneralName]) -> String {
        let texts = names.map { name -> String in
            switch name {
            case .dnsName(let dns): return dns
            case .ipAddress(let bytes):
                let octets = Array(bytes.bytes)
                return octets.count == 4
                    ? octets.map(String.init).joined(separator: ".")
                    : octets.map { String($0, radix: 16) }.joined(separator: ":")
            default: return "\(name)"
            }
        }
        // The names come from a request anyone could have written: escaped and bounded.
        let shown = texts.prefix(16).map { PeerText.sanitized($0, maxLength: 80) }
        let more = texts.count > 16 ? ", …(+\(texts.count - 16))" : ""
        return "[" + shown.sorted().joined(separator: ", ") + more + "]"
    }
}

/// Installs a certificate the CA signed into the identity directory whose key it certifies.
public enum CertificateInstaller {
    /// Checks `certificate` and installs it with the CA certificate into `identityDirectory`.
    ///
    /// Checks, each with its own error: the CA certificate is a CA (basic constraints); the
    /// certificate's issuer is that CA and its signature verifies with the CA's key (the chain);
    /// it is valid at `now`; it names `name` (CN, OU and URI SAN agreeing, as the coordinator
    /// will read it); and it certifies the public half of `<name>.key.pem` in the directory.
    /// Then writes `<name>.pem` and `ca.pem`. Nothing is written when a check fails.
    ///
    /// - Parameters:
    ///   - certificatePath: the certificate the CA sent back.
    ///   - caCertificatePath: the consortium CA certificate (`ca.pem`).
    ///   - identityDirectory: the directory `cohort certs request` wrote.
    ///   - name: the party's name (the key file is `<name>.key.pem`, or during a renewal
    ///     `<name>.key.pem.pending`, which is moved into place with the certificate).
    ///   - replaceCA: accept a CA certificate other than the `ca.pem` already installed; off by
    ///     default, so whoever can alter the CA's reply cannot swap the party's only trust root.
    ///   - now: the time validity is checked at.
    /// - Returns: the identity read from the certificate.
    @discardableResult
    public static func install(
        certificate certificatePath: String,
        caCertificate caCertificatePath: String,
        identityDirectory: String,
        name: String,
        replaceCA: Bool = false,
        now: Date = Date()
    ) throws(TransportError) -> PeerIdentity {
        try PeerIdentity.validateName(name)
        let files = IdentityFiles(directory: identityDirectory, name: name)
        let ca = try CertificateAuthority.loadCertificate(caCertificatePath)
        let leaf = try CertificateAuthority.loadCertificate(certificatePath)
        if !replaceCA, PEMFile.exists(files.caCertificate) {
            let installed = try CertificateAuthority.loadCertificate(files.caCertificate)
            guard installed == ca else {
                throw TransportError(
                    code: "certs.ca_changed",
                    message: "\(caCertificatePath) (SHA-256 \(CertificateAuthority.fingerprint(ca))) is not the CA "
                        + "certificate installed in \(files.caCertificate) (SHA-256 "
                        + "\(CertificateAuthority.fingerprint(installed))); compare the fingerprint with the consortium "
                        + "out of band, and pass --replace-ca only if the consortium really changed its CA"
                )
            }
        }
        let isAuthority: Bool
        do {
            if case .isCertificateAuthority = try ca.extensions.basicConstraints {
                isAuthority = true
            } else {
                isAuthority = false
            }
        } catch {
            isAuthority = false
        }
        guard isAuthority else {
            throw TransportError(
                code: "certs.not_a_ca",
                message: "\(caCertificatePath) is not a CA certificate; pass the consortium's ca.pem with --ca-cert"
            )
        }
        guard leaf.issuer == ca.subject, ca.publicKey.isValidSignature(leaf.signature, for: leaf) else {
            throw TransportError(
                code: "certs.untrusted_chain",
                message: "\(certificatePath) was not signed by the CA in \(caCertificatePath) (issuer \(leaf.issuer)); "
                    + "ask the consortium CA for a certificate, or pass the CA certificate that signed it"
            )
        }
        guard now >= leaf.notValidBefore else {
            throw TransportError(
                code: "certs.not_yet_valid",
                message:
                    "\(certificatePath) is valid from \(leaf.notValidBefore) only; check this machine's clock (NTP)"
            )
        }
        guard now <= leaf.notValidAfter else {
            throw TransportError(
                code: "certs.expired",
                message:
                    "\(certificatePath) expired at \(leaf.notValidAfter); send a new request with `cohort certs request --force`"
            )
        }
        let identity = try PeerIdentity(certificate: leaf)
        guard identity.name == name else {
            throw TransportError(
                code: "certs.name_mismatch",
                message: "\(certificatePath) certifies \(identity), not the name \"\(name)\" given with --name; "
                    + "install it under its own name, or ask the CA to sign the request for \"\(name)\""
            )
        }
        // A renewal's new key waits in the pending file; the certificate says which key it is for.
        var pending = false
        var current = false
        if PEMFile.exists(files.pendingPrivateKey) {
            pending = try publicKey(of: files.pendingPrivateKey) == leaf.publicKey
        }
        if !pending, PEMFile.exists(files.privateKey) {
            current = try publicKey(of: files.privateKey) == leaf.publicKey
        }
        guard pending || current else {
            throw TransportError(
                code: "certs.key_mismatch",
                message:
                    "\(certificatePath) certifies another key than \(files.privateKey)"
                    + (PEMFile.exists(files.pendingPrivateKey) ? " or \(files.pendingPrivateKey)" : "")
                    + "; it was signed for a different request (an older one, or another party's): "
                    + "install the certificate made from this directory's request"
            )
        }
        if pending {
            // The key first: a crash before the certificate is written leaves the pending
            // certificate to install again, never a directory whose key has no certificate file.
            try PEMFile.move(files.pendingPrivateKey, to: files.privateKey)
        }
        try PEMFile.writePublic(try CertificateAuthority.pem(leaf), to: files.certificate)
        try PEMFile.writePublic(try CertificateAuthority.pem(ca), to: files.caCertificate)
        return identity
    }

    /// The public half of the P-256 private key at `path` (checked to be private to its owner).
    static func publicKey(of path: String) throws(TransportError) -> Certificate.PublicKey {
        let keyPEM = try PEMFile.readSecret(path)
        do {
            return Certificate.PublicKey(try P256.Signing.PrivateKey(pemRepresentation: keyPEM).publicKey)
        } catch {
            throw TransportError(code: "certs.bad_key", message: "\(path) is not a P-256 private key in PEM")
        }
    }
}
