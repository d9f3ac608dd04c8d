import CohortTesting
import CohortTransport
import Foundation
import NIOSSL
import Testing

/// Certificates the consortium CA signed but `cohort certs` did not make: issued with the
/// openssl CLI from the CA's own files, as a CA operator working by hand might. Each lacks
/// what a Cohort identity needs and is refused with its own code, and over a real mutual-TLS
/// socket the peer is told why in an `auth.bad_identity` error frame before the connection closes.
@Suite("Certificates issued outside cohort certs", .serialized)
struct ForeignCertificateTests {
    /// A key and a certificate for `subject`, signed with the CA of `pki` by `openssl x509`.
    static func issue(
        _ pki: TestPKI, subject: String, extraExtensions: String = "", name: String
    ) throws -> (certificate: String, key: String) {
        let directory = pki.root.sub("openssl-\(name)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = directory + "/key.pem"
        let request = directory + "/request.csr"
        let certificate = directory + "/cert.pem"
        let extensions = try pki.root.write(
            "openssl-\(name)/ext.cnf",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
                + extraExtensions)
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key])
        try openssl(["req", "-new", "-key", key, "-subj", subject, "-out", request])
        try openssl([
            "x509", "-req", "-in", request, "-CA", pki.caDirectory + "/ca.pem", "-CAkey",
            pki.caDirectory + "/ca.key.pem", "-set_serial", "4242", "-days", "1", "-extfile", extensions,
            "-out", certificate,
        ])
        return (certificate, key)
    }

    /// Runs `/usr/bin/openssl` (Scripts/bootstrap.sh installs it); fails with its output otherwise.
    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError(
                message:
                    "openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))")
        }
    }

    /// Presents the certificate to a real server and returns the error frames it sent.
    static func present(_ pki: TestPKI, _ issued: (certificate: String, key: String)) async throws -> [WireError] {
        var tls = try pki.clientTLS(pki.alpha)
        tls.certificateChain = try NIOSSLCertificate.fromPEMFile(issued.certificate).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: issued.key, format: .pem))
        let outcome = try await withServer(pki: pki, handler: welcomeHandler) { server in
            try await exchange(port: server.port, tls: tls)
        }
        #expect(!outcome.frames.contains { $0.type == .welcome })
        return try outcome.frames.map { try $0.decode(WireError.self) }
    }

    @Test func roleThatIsNotACohortRoleIsRefused() async throws {
        let pki = try TestPKI()
        let issued = try Self.issue(pki, subject: "/OU=janitor/CN=alpha", name: "janitor")
        let error = #expect(throws: TransportError.self) {
            try PeerIdentity(certificate: CertificateAuthority.loadCertificate(issued.certificate))
        }
        #expect(error?.code == "identity.unknown_role")
        #expect(
            error?.message == #"certificate role "janitor" is not one of coordinator, participant, operator, auditor; "#
                + "reissue it with `cohort certs issue --role …`")
        let frames = try await Self.present(pki, issued)
        #expect(frames.map(\.code) == ["auth.bad_identity"])
        #expect(frames.first?.closesConnection == true)
        #expect(frames.first?.message.contains(#"certificate role "janitor" is not one of"#) == true)
    }

    @Test func certificateWithoutACommonNameIsRefused() async throws {
        let pki = try TestPKI()
        let issued = try Self.issue(pki, subject: "/OU=participant", name: "nameless")
        let error = #expect(throws: TransportError.self) {
            try PeerIdentity(certificate: CertificateAuthority.loadCertificate(issued.certificate))
        }
        #expect(error?.code == "identity.missing_name")
        #expect(error?.message.contains("has 0 common names; exactly one is required") == true)
        #expect(error?.message.contains("reissue it with `cohort certs issue`") == true)
        let frames = try await Self.present(pki, issued)
        #expect(frames.map(\.code) == ["auth.bad_identity"])
        #expect(frames.first?.message.contains("has 0 common names") == true)
    }

    /// A subject alternative name extension whose DER is cut short (a SEQUENCE holding an IP
    /// address entry one byte long with the byte missing).
    @Test func subjectAlternativeNamesThatDoNotParseAreRefused() throws {
        let pki = try TestPKI()
        let issued = try Self.issue(
            pki, subject: "/OU=participant/CN=alpha", extraExtensions: "subjectAltName=DER:30:03:87:01\n", name: "san")
        let error = #expect(throws: TransportError.self) {
            try PeerIdentity(certificate: CertificateAuthority.loadCertificate(issued.certificate))
        }
        #expect(error?.code == "identity.bad_san")
        #expect(error?.message.contains("subject alternative names do not parse") == true)
        #expect(error?.message.contains("CN=alpha") == true, "names the certificate: \(String(describing: error))")
        #expect(error?.message.hasSuffix("reissue it with `cohort certs issue`") == true)
    }

    /// An identity whose certificate file holds no certificate, or whose files are not PEM of the
    /// right kind, cannot make a TLS configuration: `tls.bad_identity` names the files to fix.
    @Test func identityFilesThatAreNotATLSIdentityAreRefused() throws {
        let pki = try TestPKI()
        let key = try String(contentsOfFile: pki.alpha.privateKey, encoding: .utf8)
        // A certificate file holding only a key: it parses as PEM, with no certificate in it.
        let onlyKey = try pki.root.write("only-key.pem", key)
        // A certificate file that is not PEM at all.
        let notPEM = try pki.root.write("not-pem.pem", "hospital-a\n")
        for certificate in [onlyKey, notPEM] {
            do {
                _ = try TLSConfigurationFactory(
                    caCertificatePath: pki.alpha.caCertificate, certificatePath: certificate,
                    privateKeyPath: pki.alpha.privateKey)
                Issue.record("\(certificate) was accepted as a certificate")
            } catch {
                #expect(error.code == "tls.bad_identity", "\(error)")
                #expect(error.message.contains("certificate \(certificate)"), "names the file: \(error.message)")
                #expect(error.message.hasSuffix("pass the files `cohort certs` wrote for this identity"))
                #expect(!error.message.contains("PRIVATE KEY"), "no key material in the message")
            }
        }
    }

    /// A file that is not a PEM certificate where one is expected: `certs.bad_certificate`.
    @Test func fileThatIsNotACertificateIsRefused() throws {
        let pki = try TestPKI()
        let garbage = try pki.root.write(
            "garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
        do {
            _ = try CertificateAuthority.loadCertificate(garbage)
            Issue.record("a non-certificate was loaded")
        } catch {
            #expect(error.code == "certs.bad_certificate")
            #expect(error.message.hasPrefix("\(garbage) is not a PEM certificate"))
            #expect(error.message.hasSuffix("pass the certificate file `cohort certs` wrote"))
        }
    }
}
