import Foundation
import Testing

/// docs/TUTORIAL.md was run as written; this keeps it true as options change: every `cohort`,
/// `cohort-coordinator` and `cohort-participant` command in its shell blocks names a real
/// subcommand and only options that subcommand's `--help` lists.
@Suite struct TutorialCommandsTests {
    struct Invocation: CustomStringConvertible {
        let binary: String
        let subcommands: [String]
        let options: [String]
        var description: String { ([binary] + subcommands + options).joined(separator: " ") }
    }

    static func invocations() throws -> [Invocation] {
        let text = try String(contentsOfFile: DemoNonPrivateTests.repositoryRoot + "/docs/TUTORIAL.md", encoding: .utf8)
        var result: [Invocation] = []
        var inShell = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("```") {
                inShell = line == "```sh"
                continue
            }
            guard inShell else { continue }
            // Commands may follow `&&`, `;` or `do` on one line.
            let pieces = line.components(separatedBy: "&&").flatMap { $0.components(separatedBy: ";") }
            for piece in pieces {
                var tokens = piece.split(separator: " ").map(String.init)
                if tokens.first == "do" { tokens.removeFirst() }
                guard let binary = tokens.first,
                    ["cohort", "cohort-coordinator", "cohort-participant"].contains(binary)
                else {
                    continue
                }
                let rest = tokens.dropFirst().prefix { $0 != ">" && $0 != "2>&1" && $0 != "&" && $0 != "#" }
                let subcommands = Array(rest.prefix { !$0.hasPrefix("-") })
                let options = rest.filter { $0.hasPrefix("--") }
                result.append(Invocation(binary: binary, subcommands: subcommands, options: options))
            }
        }
        return result
    }

    @Test func everyTutorialCommandAndOptionExists() throws {
        let invocations = try Self.invocations()
        #expect(invocations.count >= 20, "found only \(invocations.count) commands in docs/TUTORIAL.md")
        for subcommand in [
            ["certs", "request"], ["certs", "sign"], ["certs", "install"], ["model", "export"], ["ledger", "report"],
        ] {
            #expect(invocations.contains { $0.binary == "cohort" && $0.subcommands == subcommand }, "\(subcommand)")
        }
        for invocation in invocations {
            let help = try BuiltBinary(invocation.binary).run(invocation.subcommands + ["--help"])
            #expect(help.status == 0, "\(invocation): \(help.stderr)")
            for option in invocation.options where !help.stdout.contains(option) {
                Issue.record(
                    "\(invocation): \(option) is not an option of \(invocation.binary) \(invocation.subcommands.joined(separator: " "))"
                )
            }
        }
    }
}
