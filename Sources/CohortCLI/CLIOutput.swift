import ArgumentParser
import CohortErrors
import Foundation

/// Output helpers shared by the subcommands.
enum CLIOutput {
    /// Prints `value` as one line of JSON with sorted keys.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        print(String(decoding: data, as: UTF8.self))
    }

    /// Writes `text` to standard output at once (unbuffered), for live progress lines.
    static func writeOut(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Writes `message` to standard error.
    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

/// An error that ends a command with a message on stderr (or a JSON error object with `--json`)
/// and a non-zero exit code.
struct CommandFailure: Error, CustomStringConvertible {
    let code: String
    let message: String
    var description: String { "\(message) [\(code)]" }
}

/// The JSON form of a failure, printed on stdout when `--json` is given.
struct JSONFailure: Encodable {
    let error: String
    let message: String
}

extension ParsableCommand {
    /// Runs `body`, turning a `CommandFailure` into a message (JSON with `json`) and exit code 2.
    func reportingFailures(json: Bool, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CommandFailure {
            if json {
                try CLIOutput.printJSON(JSONFailure(error: failure.code, message: failure.message))
            }
            CLIOutput.printError("error: \(failure.message) [\(failure.code)]")
            throw CLIExit.code(for: failure)
        }
    }
}

extension CommandFailure: CohortError {
    var errorCode: String { code }
    var errorMessage: String { message }
    var category: CohortErrorCategory { .invalidInput }
}
