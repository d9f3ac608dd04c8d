import Foundation
import Testing

/// The operator-API commands need the caller's CA, certificate and key: each one missing from
/// both the options and the environment stops the command with `cli.missing_identity`, naming
/// the option and the variable to set (exit 2, the status of bad input), before any connection.
@Suite struct OperatorIdentityOptionTests {
    @Test func missingIdentityFilesAreNamedWithTheirOptionAndVariable() throws {
        let cohort = try BuiltBinary("cohort")
        let bare = ["PATH": "/usr/bin:/bin"]
        let noCA = try cohort.run(["round", "status"], environment: bare)
        #expect(noCA.status == 2)
        #expect(noCA.stderr.contains("pass --ca FILE or set COHORT_CA [cli.missing_identity]"), "\(noCA.stderr)")
        // With a CA given, the certificate is the next thing asked for; --json reports it as JSON.
        let noCert = try cohort.run(
            ["participants", "list", "--json"], environment: bare.merging(["COHORT_CA": "/tmp/ca.pem"]) { $1 })
        #expect(noCert.status == 2)
        #expect(
            noCert.stdout.contains(
                #"{"error":"cli.missing_identity","message":"pass --cert FILE or set COHORT_CERT"}"#),
            "\(noCert.stdout)")
        let noKey = try cohort.run(
            ["round", "status", "--ca", "/tmp/ca.pem", "--cert", "/tmp/me.pem"], environment: bare)
        #expect(noKey.status == 2)
        #expect(noKey.stderr.contains("pass --key FILE or set COHORT_KEY [cli.missing_identity]"), "\(noKey.stderr)")
    }
}
