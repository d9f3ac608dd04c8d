/// Where an identity's files live. One directory per party; `cohort certs issue` writes it and the
/// coordinator / participant read it. See `Certs/README.md`.
///
/// ```
/// <dir>/ca.pem                 consortium CA certificate (the only trust root)
/// <dir>/<name>.pem             this party's TLS certificate
/// <dir>/<name>.key.pem         its P-256 TLS private key (PKCS#8 PEM, mode 0600)
/// <dir>/<name>.key.pem.pending a renewal's new TLS key until `cohort certs install` (0600)
/// <dir>/<name>.csr.pem         its certificate signing request (`cohort certs request`), sent to the CA
/// <dir>/<name>.ed25519.key     Ed25519 signing key (coordinator: ledger; participant: updates), 0600
/// <dir>/<name>.ed25519.pub     its public half
/// <dir>/<name>.x25519.key      coordinator only: X25519 key updates are sealed to, 0600
/// <dir>/<name>.x25519.pub      its public half
/// <dir>/<name>.holdout.key     participant only: the holdout PRF key, 0600, created on first run
/// ```
public struct IdentityFiles: Sendable, Hashable {
    /// The identity directory.
    public let directory: String
    /// The party's name (certificate CN).
    public let name: String

    /// Creates the layout for `name` in `directory`.
    public init(directory: String, name: String) {
        self.directory = directory
        self.name = name
    }

    /// The consortium CA certificate.
    public var caCertificate: String { path("ca.pem") }
    /// The TLS certificate.
    public var certificate: String { path("\(name).pem") }
    /// The TLS private key (mode 0600).
    public var privateKey: String { path("\(name).key.pem") }
    /// A new TLS private key made by `cohort certs request --force` while the current one stays
    /// in use (mode 0600); `cohort certs install` moves it into place with the certificate made
    /// for it, so the key and certificate in use always match.
    public var pendingPrivateKey: String { path("\(name).key.pem.pending") }
    /// The certificate signing request `cohort certs request` writes (public; sent to the CA).
    public var certificateRequest: String { path("\(name).csr.pem") }
    /// The Ed25519 secret key (mode 0600).
    public var ed25519SecretKey: String { path("\(name).ed25519.key") }
    /// The Ed25519 public key.
    public var ed25519PublicKey: String { path("\(name).ed25519.pub") }
    /// The X25519 secret key (coordinator; mode 0600).
    public var x25519SecretKey: String { path("\(name).x25519.key") }
    /// The X25519 public key (coordinator).
    public var x25519PublicKey: String { path("\(name).x25519.pub") }
    /// The participant's holdout PRF key (`<name>.holdout.key`, mode 0600), created on the
    /// participant's first run; it decides which local records are held out of training.
    public var holdoutKey: String { path("\(name).holdout.key") }

    /// Refuses a name whose files would be another party's in a shared directory ("alice.key"
    /// would write `alice.key.pem`, alice's private key) or the CA's (`ca`).
    /// - Throws: `certs.invalid_name`.
    public static func checkFileName(_ name: String) throws(TransportError) {
        guard name != "ca" else {
            throw TransportError(code: "certs.invalid_name", message: "\"ca\" is reserved for the CA's own files")
        }
        for suffix in [".key", ".csr"] where name.hasSuffix(suffix) {
            throw TransportError(
                code: "certs.invalid_name",
                message: "a name ending in \"\(suffix)\" is refused: its files would be those of the party "
                    + "\"\(name.dropLast(suffix.count))\" (\(name).pem); choose a name without that ending")
        }
    }

    private func path(_ file: String) -> String {
        directory.hasSuffix("/") ? directory + file : directory + "/" + file
    }
}

/// Where the CA's own files live.
public struct CAFiles: Sendable, Hashable {
    /// The CA directory.
    public let directory: String

    /// Creates the layout for `directory`.
    public init(directory: String) { self.directory = directory }

    /// The CA certificate.
    public var certificate: String { IdentityFiles(directory: directory, name: "ca").certificate }
    /// The CA private key (mode 0600; keep it offline in a real consortium).
    public var privateKey: String { IdentityFiles(directory: directory, name: "ca").privateKey }
}
