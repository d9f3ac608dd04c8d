import ArgumentParser
import CohortAPIClient
import CohortAPITypes
import CohortTransport
import Foundation

/// Options every command that talks to the operator API takes.
///
/// Exit codes of API commands: 0 success; 1 the API refused or failed the request; 2 a local input
/// (certificate, key, policy file) could not be read; 3 the API refused the certificate's role
/// (HTTP 403); 4 the API could not be reached (connect, TLS, timeout).
struct APIOptions: ParsableArguments {
    @Option(name: .long, help: "The API address (default: $COHORT_API, else https://127.0.0.1:7444).")
    var api: String?

    @Option(name: .long, help: "The consortium CA certificate (default: $COHORT_CA).")
    var ca: String?

    @Option(name: .long, help: "Your certificate, e.g. operator/alice.pem (default: $COHORT_CERT).")
    var cert: String?

    @Option(name: .long, help: "Your private key, mode 0600, e.g. operator/alice.key.pem (default: $COHORT_KEY).")
    var key: String?

    @Flag(help: "Machine output: JSON objects (snake_case keys), errors as {\"error\",\"message\",\"status\"}.")
    var json = false

    static let defaultAPI = "https://127.0.0.1:7444"

    /// The resolved address, CA, certificate and key.
    func resolved(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(CommandFailure) -> (url: String, ca: String, cert: String, key: String) {
        func pick(_ value: String?, _ variable: String, _ option: String) throws(CommandFailure) -> String {
            if let value, !value.isEmpty { return value }
            if let value = environment[variable], !value.isEmpty { return value }
            throw CommandFailure(code: "cli.missing_identity", message: "pass \(option) FILE or set \(variable)")
        }
        let url = api ?? environment["COHORT_API"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultAPI
        return (
            url, try pick(ca, "COHORT_CA", "--ca"), try pick(cert, "COHORT_CERT", "--cert"),
            try pick(key, "COHORT_KEY", "--key")
        )
    }

    /// A client over the caller's identity.
    func client() throws(CommandFailure) -> ControlClient {
        let (url, ca, cert, key) = try resolved()
        let factory: TLSConfigurationFactory
        do {
            factory = try TLSConfigurationFactory(caCertificatePath: ca, certificatePath: cert, privateKeyPath: key)
        } catch {
            throw CommandFailure(code: error.code, message: error.message)
        }
        do {
            return try ControlClient(baseURL: url, tls: factory)
        } catch {
            throw CommandFailure(code: error.code, message: error.message)
        }
    }

    /// Runs `body` with a client; prints API and connection errors as `error: <message> [<code>]`
    /// (and a JSON error object on stdout with `--json`) and exits with the documented code.
    func run(_ body: (ControlClient) async throws -> Void) async throws {
        do {
            try await body(try client())
        } catch let error as APIError {
            try fail(code: error.code, message: error.message, status: error.status, exit: CLIExit.code(for: error))
        } catch let error as HTTPClientError {
            try fail(code: error.code, message: error.message, status: nil, exit: CLIExit.code(for: error))
        } catch let error as CommandFailure {
            try fail(code: error.code, message: error.message, status: nil, exit: CLIExit.code(for: error))
        }
    }

    private func fail(code: String, message: String, status: Int?, exit: ExitCode) throws -> Never {
        if json { try CLIOutput.printJSON(APIFailure(error: code, message: message, status: status)) }
        CLIOutput.printError("error: \(message) [\(code)]")
        throw exit
    }

    /// Prints an API value as JSON with snake_case keys (the wire form).
    func printJSON(_ value: some Encodable) throws {
        print(String(decoding: try APIJSON.encoder().encode(value), as: UTF8.self))
    }
}

/// The JSON form of an API command's failure.
struct APIFailure: Encodable {
    let error: String
    let message: String
    let status: Int?
}
