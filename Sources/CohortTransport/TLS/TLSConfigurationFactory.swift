import NIOSSL

/// Builds the mutual-TLS configurations of a party from its identity directory.
///
/// Both sides: TLS 1.3 only (minimum and maximum), the consortium CA as the only trust root,
/// this party's certificate and key. The server requires a client certificate and verifies its
/// chain and validity (not a hostname: clients have none); who may connect is then decided from
/// the certificate's identity by ``PeerAllowList`` right after the handshake. The client verifies
/// the server's chain, validity and hostname / IP.
public struct TLSConfigurationFactory: Sendable {
    /// The consortium CA, the only trust root.
    public let trustRoot: NIOSSLCertificate
    /// This party's certificate chain (leaf first).
    public let certificateChain: [NIOSSLCertificate]
    private let privateKey: NIOSSLPrivateKey

    /// Loads the CA certificate, certificate and private key of `identity`; the key must have
    /// mode 0600.
    public init(identity: IdentityFiles) throws(TransportError) {
        try self.init(
            caCertificatePath: identity.caCertificate, certificatePath: identity.certificate,
            privateKeyPath: identity.privateKey)
    }

    /// Loads the CA certificate, certificate and private key from files that need not follow the
    /// identity-directory layout (an operator's `--ca/--cert/--key`); the key must have mode 0600.
    public init(caCertificatePath: String, certificatePath: String, privateKeyPath: String) throws(TransportError) {
        do {
            try self.init(
                caCertificatePEM: try PEMFile.read(caCertificatePath),
                certificatePEM: try PEMFile.read(certificatePath),
                privateKeyPEM: try PEMFile.readSecret(privateKeyPath)
            )
        } catch  where error.code == "tls.bad_identity" {
            // The PEM-text initialiser cannot say which files: name them, and the remedy.
            throw TransportError(
                code: error.code,
                message: "\(error.message) (CA \(caCertificatePath), certificate \(certificatePath), key "
                    + "\(privateKeyPath)); pass the files `cohort certs` wrote for this identity")
        }
    }

    /// Builds the factory from PEM text.
    public init(caCertificatePEM: String, certificatePEM: String, privateKeyPEM: String) throws(TransportError) {
        do {
            trustRoot = try NIOSSLCertificate(bytes: Array(caCertificatePEM.utf8), format: .pem)
            certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
            privateKey = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        } catch {
            throw TransportError(code: "tls.bad_identity", message: "cannot load the TLS identity: \(error)")
        }
        guard !certificateChain.isEmpty else {
            throw TransportError(code: "tls.bad_identity", message: "the certificate file holds no certificate")
        }
    }

    /// The coordinator's configuration: requires and verifies client certificates.
    public func makeServerConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain.map { .certificate($0) },
            privateKey: .privateKey(privateKey)
        )
        applyCommon(to: &configuration)
        // The server cannot check a hostname for a client; it checks chain, validity and then the
        // identity in the certificate against the policy.
        configuration.certificateVerification = .noHostnameVerification
        // Tell clients which CA we accept, so a client holding several certificates picks ours.
        configuration.sendCANameList = true
        return configuration
    }

    /// A participant's (or operator's) configuration: presents its certificate and verifies the
    /// coordinator's chain, validity and hostname.
    public func makeClientConfiguration() -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateChain = certificateChain.map { .certificate($0) }
        configuration.privateKey = .privateKey(privateKey)
        applyCommon(to: &configuration)
        configuration.certificateVerification = .fullVerification
        return configuration
    }

    private func applyCommon(to configuration: inout TLSConfiguration) {
        // TLS 1.3 only: forward secrecy, no renegotiation, encrypted certificates.
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        // Only the consortium CA: the system store would let any public CA vouch for a peer.
        configuration.trustRoots = .certificates([trustRoot])
        configuration.additionalTrustRoots = []
    }
}
