import Foundation
import Testing

/// `cohort certs request|sign|install` through the built binary: the flow, exit codes and messages.
@Suite struct CertsCommandTests {
    @Test func requestSignInstallAndTheRefusalsOnTheWay() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-certs-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let cohort = try BuiltBinary("cohort")
        func run(_ arguments: [String]) throws -> BuiltBinary.Result { try cohort.run(arguments) }

        #expect(try run(["certs", "init", "--out", work + "/ca"]).status == 0)
        let request = try run([
            "certs", "request", "--role", "participant", "--name", "hospital-a", "--out", work + "/a",
        ])
        #expect(request.status == 0, "\(request.stderr)")
        #expect(request.stdout.contains("hospital-a.key.pem (mode 0600; it stays here)"))
        #expect(request.stdout.contains("send \(work)/a/hospital-a.csr.pem to the consortium CA"))
        let csr = work + "/a/hospital-a.csr.pem"

        // The CA operator's role, name and host are checked against the request.
        let wrongRole = try run([
            "certs", "sign", "--ca", work + "/ca", "--csr", csr, "--role", "operator", "--name", "hospital-a", "--out",
            work + "/a.pem",
        ])
        #expect(wrongRole.status == 1)
        #expect(wrongRole.stderr.contains("certs.role_mismatch"), "\(wrongRole.stderr)")
        let wrongName = try run([
            "certs", "sign", "--ca", work + "/ca", "--csr", csr, "--role", "participant", "--name", "hospital-b",
            "--out", work + "/a.pem",
        ])
        #expect(wrongName.status == 1)
        #expect(wrongName.stderr.contains("certs.name_mismatch"), "\(wrongName.stderr)")
        let badRole = try run([
            "certs", "sign", "--ca", work + "/ca", "--csr", csr, "--role", "admin", "--name", "hospital-a", "--out",
            work + "/a.pem",
        ])
        #expect(badRole.status == 64)
        #expect(badRole.stderr.contains("--role must be one of"), "\(badRole.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/a.pem"))

        let sign = try run([
            "certs", "sign", "--ca", work + "/ca", "--csr", csr, "--role", "participant", "--name", "hospital-a",
            "--out", work + "/a.pem",
        ])
        #expect(sign.status == 0, "\(sign.stderr)")
        #expect(sign.stdout.contains("signed participant certificate for hospital-a"))

        // Installed under another name: refused; under its own: written next to the key.
        let misnamed = try run([
            "certs", "install", "--identity", work + "/a", "--name", "hospital-b", "--cert", work + "/a.pem",
            "--ca-cert", work + "/ca/ca.pem",
        ])
        #expect(misnamed.status == 1)
        let install = try run([
            "certs", "install", "--identity", work + "/a", "--name", "hospital-a", "--cert", work + "/a.pem",
            "--ca-cert", work + "/ca/ca.pem",
        ])
        #expect(install.status == 0, "\(install.stderr)")
        #expect(install.stdout.contains("installed the certificate of participant hospital-a"))
        #expect(FileManager.default.fileExists(atPath: work + "/a/hospital-a.pem"))
        #expect(FileManager.default.contentsEqual(atPath: work + "/a/ca.pem", andPath: work + "/ca/ca.pem"))
        // The CA directory never held the hospital's key.
        let caFiles = try FileManager.default.contentsOfDirectory(atPath: work + "/ca")
        #expect(Set(caFiles) == ["ca.pem", "ca.key.pem"])
    }
}
