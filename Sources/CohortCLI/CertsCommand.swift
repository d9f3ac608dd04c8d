// `cohort certs`: creates the consortium CA and issues role certificates.
import ArgumentParser
import CohortTransport
import Foundation

/// `cohort certs init|request|sign|install|issue`.
public struct CertsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create the consortium CA and certificates (no openssl needed).",
        discussion: """
            Production: each party runs `request` (its keys never leave it), sends the .csr.pem to the CA, \
            the CA runs `sign`, the party runs `install`. `issue` makes key and certificate in one step at \
            the CA (demos). Identity directory layout and CA practice: see Certs/README.md.
            """,
        subcommands: [Init.self, Request.self, Sign.self, Install.self, Issue.self]
    )

    /// Validity beyond a century is a typo, and past year 9999 no certificate can express it.
    static let maximumDays = 36_500

    static func checkDays(_ days: Int) throws {
        guard (1...maximumDays).contains(days) else {
            throw ValidationError("--days must be 1…\(maximumDays) (100 years), got \(days)")
        }
    }

    static func parseRole(_ role: String) throws -> PeerRole {
        guard let parsed = PeerRole(rawValue: role) else {
            throw ValidationError("--role must be one of \(PeerRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return parsed
    }

    public init() {}

    /// `cohort certs init --out DIR`.
    public struct Init: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a consortium CA: DIR/ca.pem and DIR/ca.key.pem (mode 0600)."
        )

        @Option(name: .long, help: "Directory for the CA files (created with mode 0700).")
        var out: String

        @Option(name: .long, help: "Common name of the CA.")
        var commonName: String = "Cohort consortium CA"

        @Option(name: .long, help: "Validity in days.")
        var days: Int = CertificateAuthority.defaultCADays

        public init() {}

        public func validate() throws {
            try CertsCommand.checkDays(days)
        }

        public func run() throws {
            // A TransportError prints as "<code>: <message>" and exits with status 1.
            let ca = try CertificateAuthority.initCA(outDirectory: out, commonName: commonName, validity: .days(days))
            print("created CA \(ca.certificate.subject) in \(out) (keep ca.key.pem offline)")
        }
    }

    /// `cohort certs issue --ca DIR --role R --name N --out DIR [--days N] [--host H]…`.
    public struct Issue: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "issue",
            abstract: "Issue a certificate (and protocol keys) for a coordinator, participant, operator or auditor."
        )

        @Option(name: .long, help: "The CA directory (ca.pem, ca.key.pem).")
        var ca: String

        @Option(name: .long, help: "coordinator | participant | operator | auditor.")
        var role: String

        @Option(name: .long, help: "The party's name: 1-64 of A-Z a-z 0-9 . _ -.")
        var name: String

        @Option(name: .long, help: "The identity directory to write.")
        var out: String

        @Option(name: .long, help: "Validity in days.")
        var days: Int = CertificateAuthority.defaultLeafDays

        @Option(name: .long, help: "Extra DNS name or IP address for a coordinator (repeatable).")
        var host: [String] = []

        @Flag(name: .long, help: "Replace an existing key of the same name (rotation).")
        var force = false

        public init() {}

        public func validate() throws {
            guard PeerRole(rawValue: role) != nil else {
                throw ValidationError(
                    "--role must be one of \(PeerRole.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try CertsCommand.checkDays(days)
            guard host.isEmpty || role == PeerRole.coordinator.rawValue else {
                throw ValidationError("--host applies to coordinator certificates only")
            }
        }

        public func run() throws {
            let authority = try CertificateAuthority.load(directory: ca)
            let files = try authority.issue(
                role: PeerRole(rawValue: role)!,  // checked in validate()
                name: name,
                outDirectory: out,
                validity: .days(days),
                hosts: host,
                overwrite: force
            )
            print("issued \(role) certificate for \(name): \(files.certificate)")
        }
    }

    /// `cohort certs request --role R --name N --out DIR [--host H]… [--force]` (at the party).
    public struct Request: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "request",
            abstract: "Make this party's keys and a certificate signing request; the private keys never leave DIR.",
            discussion:
                "Send DIR/<name>.csr.pem (and, for a participant, DIR/<name>.ed25519.pub for the policy) to the CA."
        )

        @Option(name: .long, help: "coordinator | participant | operator | auditor.")
        var role: String

        @Option(name: .long, help: "The party's name: 1-64 of A-Z a-z 0-9 . _ -.")
        var name: String

        @Option(name: .long, help: "The identity directory to write (created with mode 0700).")
        var out: String

        @Option(name: .long, help: "Extra DNS name or IP address for a coordinator (repeatable).")
        var host: [String] = []

        @Flag(name: .long, help: "Replace an existing key of the same name (rotation).")
        var force = false

        public init() {}

        public func validate() throws {
            _ = try CertsCommand.parseRole(role)
        }

        public func run() throws {
            let files = try CertificateRequest.create(
                role: try CertsCommand.parseRole(role), name: name, outDirectory: out, hosts: host, overwrite: force
            )
            print("wrote the private key \(files.privateKey) (mode 0600; it stays here)")
            print(
                "send \(files.certificateRequest) to the consortium CA"
                    + (role == PeerRole.participant.rawValue ? ", and \(files.ed25519PublicKey) for the policy" : ""))
        }
    }

    /// `cohort certs sign --ca DIR --csr FILE --role R --name N --out FILE [--days N] [--host H]…` (at the CA).
    public struct Sign: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "sign",
            abstract: "Sign a party's certificate signing request after checking its role, name and hosts.",
            discussion:
                "--role, --name and --host are what the consortium agreed for this party; a request asking for anything else is refused."
        )

        @Option(name: .long, help: "The CA directory (ca.pem, ca.key.pem).")
        var ca: String

        @Option(name: .long, help: "The request (<name>.csr.pem) the party sent.")
        var csr: String

        @Option(name: .long, help: "The role agreed for the party: coordinator | participant | operator | auditor.")
        var role: String

        @Option(name: .long, help: "The name agreed for the party.")
        var name: String

        @Option(name: .long, help: "The certificate file to write (send it back with ca.pem).")
        var out: String

        @Option(name: .long, help: "Validity in days.")
        var days: Int = CertificateAuthority.defaultLeafDays

        @Option(
            name: .long,
            help: "A coordinator's agreed extra DNS name or IP address (repeatable); must equal the requested ones.")
        var host: [String] = []

        public init() {}

        public func validate() throws {
            _ = try CertsCommand.parseRole(role)
            try CertsCommand.checkDays(days)
        }

        public func run() throws {
            let authority = try CertificateAuthority.load(directory: ca)
            let certificate = try authority.sign(
                requestFile: csr, role: try CertsCommand.parseRole(role), name: name, hosts: host,
                validity: .days(days), certificatePath: out
            )
            print("signed \(role) certificate for \(name), valid until \(certificate.notValidAfter): \(out)")
            let caCertificate = try CertificateAuthority.loadCertificate(CAFiles(directory: ca).certificate)
            print(
                "CA certificate SHA-256 \(CertificateAuthority.fingerprint(caCertificate)) (tell \(name) out of band)")
            print("send \(out) and \(CAFiles(directory: ca).certificate) back to \(name)")
        }
    }

    /// `cohort certs install --identity DIR --name N --cert FILE --ca-cert FILE` (at the party).
    public struct Install: ParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "install",
            abstract:
                "Check a signed certificate (chain, validity, name, matches the local key) and install it with the CA certificate."
        )

        @Option(name: .long, help: "The identity directory `cohort certs request` wrote.")
        var identity: String

        @Option(name: .long, help: "The party's name (the key is <identity>/<name>.key.pem).")
        var name: String

        @Option(name: .long, help: "The certificate the CA sent back.")
        var cert: String

        @Option(name: .long, help: "The consortium CA certificate (ca.pem).")
        var caCert: String

        @Flag(
            name: .long,
            help: "Accept a CA certificate other than the ca.pem already installed (the consortium changed its CA).")
        var replaceCa = false

        public init() {}

        public func run() throws {
            let installed = try CertificateInstaller.install(
                certificate: cert, caCertificate: caCert, identityDirectory: identity, name: name, replaceCA: replaceCa
            )
            let files = IdentityFiles(directory: identity, name: name)
            let ca = try CertificateAuthority.loadCertificate(files.caCertificate)
            print("installed the certificate of \(installed): \(files.certificate) (CA: \(files.caCertificate))")
            print(
                "CA certificate SHA-256 \(CertificateAuthority.fingerprint(ca)): compare it with the consortium's out of band"
            )
        }
    }
}
