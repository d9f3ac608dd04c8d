// `cohort certs`: creates the consortium CA and issues role certificates.
import ArgumentParser
import CohortTransport
import Foundation

/// `cohort certs init|issue`.
public struct CertsCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Create the consortium CA and issue certificates (no openssl needed).",
        discussion: "Identity directory layout and CA practice: see Certs/README.md.",
        subcommands: [Init.self, Issue.self]
    )

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
            guard days > 0 else { throw ValidationError("--days must be positive") }
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
                throw ValidationError("--role must be one of \(PeerRole.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard days > 0 else { throw ValidationError("--days must be positive") }
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
}
