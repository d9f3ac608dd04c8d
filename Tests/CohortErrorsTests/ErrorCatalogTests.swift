import CohortErrors
import Foundation
import Testing

/// docs/ERRORS.md lists exactly the error codes the sources use.
///
/// A code is a string literal `area.reason` in an error position: `code: "…"`, `rawValue: "…"`,
/// `code == "…"`, `errorCode: String { "…" }`, a `static let` inside an `enum Code`/`struct Code`,
/// a `"cohort.error_code": "…"` log field, a `default: "…"` of a code switch, or the fuzz report's
/// `refuse("…")`. Policy field paths and ledger entry kinds have the same shape but other
/// positions, so they are not codes.
@Suite struct ErrorCatalogTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func everyCodeInTheSourcesIsCataloguedAndEveryCataloguedCodeIsUsed() throws {
        let used = try Self.codesInSources()
        let catalog = try Self.catalogCodes()
        // Sanity: the scan and the catalog parse found the codes they must (a broken regex that
        // finds nothing on both sides would otherwise pass).
        #expect(used.keys.contains("wire.frame_too_large") && used.keys.contains("ledger.chain_broken"))
        #expect(catalog.count > 150, "docs/ERRORS.md parsed to only \(catalog.count) codes")

        let families = catalog.filter { $0.hasSuffix("<status>") }.map { String($0.dropLast("<status>".count)) }
        let missing = used.keys.filter { !catalog.contains($0) }.sorted()
        let places = missing.map { "\($0) (\(used[$0] ?? "?"))" }.joined(separator: ", ")
        #expect(
            missing.isEmpty,
            "codes used in Sources/ but missing from docs/ERRORS.md (add each with meaning and remedy): \(places)")

        let sources = try Self.allSourceText()
        let unused = catalog.filter { code in
            if code.hasSuffix("<status>") { return !sources.contains("\"\(code.dropLast("<status>".count))") }
            return used[code] == nil
        }.sorted()
        #expect(unused.isEmpty, "codes in docs/ERRORS.md that no source uses any more (remove them): \(unused)")
        #expect(!families.isEmpty, "the api.http_<status> family is catalogued")
    }

    /// A catalogued code defined as a constant (`static let name = "area.reason"`, or
    /// `= Code(rawValue: "area.reason")`) is sent somewhere: `.name` or its literal appears in
    /// Sources/ beyond the definition. A constant nothing refers to is a documented error no
    /// one ever receives (`update.wrong_round` and `round.deadline_passed` were).
    @Test func everyDefinedCodeIsReferencedBeyondItsDefinition() throws {
        let catalog = try Self.catalogCodes()
        let sources = try Self.allSourceText()
        let definition = try Regex(
            #"static let (\w+)\s*(?::\s*[\w.]+)?\s*=\s*(?:\w+\(rawValue:\s*)?"([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)""#)
        var defined: [String] = []
        var unreferenced: [String] = []
        for match in sources.matches(of: definition) {
            guard let name = match.output[1].substring, let code = match.output[2].substring,
                catalog.contains(String(code))
            else { continue }
            defined.append(String(code))
            let uses = try sources.matches(of: Regex(#"\."# + name + #"\b"#)).count
            let literals = sources.ranges(of: "\"\(code)\"").count - 1
            if uses + literals == 0 { unreferenced.append("\(code) (static let \(name))") }
        }
        // Sanity: the scan finds the constant-defined codes of WireError and LedgerError.
        #expect(defined.contains("update.duplicate") && defined.contains("ledger.chain_broken"), "\(defined)")
        #expect(
            unreferenced.isEmpty,
            Comment(
                rawValue: "codes defined in Sources/ but never sent (send each where it is the accurate answer, "
                    + "or delete it and its docs/ERRORS.md row): \(unreferenced.sorted())"))
    }

    @Test func everyCategoryHasADistinctRawValue() {
        let raw = CohortErrorCategory.allCases.map(\.rawValue)
        #expect(Set(raw).count == raw.count)
        #expect(CohortErrorCategory(rawValue: "internal") == .internalFailure)
    }

    // MARK: - Scanning

    static func swiftFiles() throws -> [URL] {
        let sources = root.appendingPathComponent("Sources")
        guard let walker = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil) else {
            throw CatalogError("cannot list \(sources.path)")
        }
        return walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
    }

    static func allSourceText() throws -> String {
        try swiftFiles().map { try String(contentsOf: $0, encoding: .utf8) }.joined(separator: "\n")
    }

    /// Code → first place it is used (`path:line`).
    static func codesInSources() throws -> [String: String] {
        let literal = #""([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)""#
        let positions = try Regex(
            #"(?:\bcode:\s*|rawValue:\s*|\bcode\s*==\s*|errorCode: String \{\s*|\brefuse\(|error_code":\s*|\bdefault:\s*)"#
                + literal)
        let ternary = try Regex(#"\bcode\s*=\s*[^"\n]*\?\s*"# + literal + #"\s*:\s*"# + literal)
        let codeBlock = try Regex(#"\b(?:enum|struct)\s+Code\b"#)
        let staticLet = try Regex(#"static let \w+\s*=\s*"# + literal)
        var found: [String: String] = [:]
        for file in try swiftFiles() {
            let path = file.path.replacingOccurrences(of: root.path + "/", with: "")
            var depth = 0
            var codeDepth: Int?
            for (index, line) in try String(contentsOf: file, encoding: .utf8).split(
                separator: "\n", omittingEmptySubsequences: false
            ).enumerated() {
                let place = "\(path):\(index + 1)"
                func record(_ code: Substring?) {
                    if let code, found[String(code)] == nil { found[String(code)] = place }
                }
                if codeDepth == nil, line.contains(codeBlock) { codeDepth = depth }
                for match in line.matches(of: positions) { record(match.output[1].substring) }
                for match in line.matches(of: ternary) {
                    record(match.output[1].substring)
                    record(match.output[2].substring)
                }
                if codeDepth != nil {
                    for match in line.matches(of: staticLet) { record(match.output[1].substring) }
                }
                depth += line.filter { $0 == "{" }.count - line.filter { $0 == "}" }.count
                if let open = codeDepth, depth <= open, line.contains("}") { codeDepth = nil }
            }
        }
        return found
    }

    /// The codes in the catalog's tables: rows starting with `` | `area.reason` | ``.
    static func catalogCodes() throws -> Set<String> {
        let text = try String(contentsOf: root.appendingPathComponent("docs/ERRORS.md"), encoding: .utf8)
        let row = try Regex(#"^\| `([a-z][a-z0-9_]*\.[a-z0-9_<>]+)` \|"#)
        var codes = Set<String>()
        for line in text.split(separator: "\n") {
            if let match = line.firstMatch(of: row), let code = match.output[1].substring { codes.insert(String(code)) }
        }
        return codes
    }
}

struct CatalogError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
