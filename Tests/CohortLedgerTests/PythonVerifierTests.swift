import CohortCrypto
import CohortPrivacy
import CohortTesting
import Foundation
import Testing

@testable import CohortLedger

/// `Scripts/verify_ledger.py`, the independent verifier docs/LEDGER.md §9 points to, agrees with
/// the Swift verifier on ledgers of both charge methods, with plans, refusals and metrics.
/// Needs `python3` with the `cryptography` package (Scripts/test.sh installs it): every test fails
/// with what to install when it is missing, never skips.
@Suite("Scripts/verify_ledger.py agrees")
struct PythonVerifierTests {
    init() throws { try Python.require(["cryptography"]) }

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Scripts/verify_ledger.py").path

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Runs the script on `bytes` signed by the test key.
    static func verify(_ bytes: [UInt8]) throws -> (status: Int32, output: String) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        Fixtures.write(bytes, to: directory.ledgerPath)
        let keyPath = directory.path + "/ledger.pub"
        try KeyFile.writePublic(Fixtures.testKey().publicKey, kind: .ed25519Public, to: keyPath)
        return try run([script, directory.ledgerPath, keyPath])
    }

    @Test func v1FixtureVerifies() throws {
        let result = try Self.run([Self.script, V1LedgerFixtureTests.ledgerPath, V1LedgerFixtureTests.keyPath])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("OK: 26 entries, 6 charges"))
    }

    @Test func plannedV2LedgerVerifies() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try ChargeMethodLedgerTests.plannedLedger(rounds: 3, in: directory)
        let result = try Self.verify(Fixtures.read(directory.ledgerPath))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("3 charges"))
        // Python sums the log-sum-exp with fsum, Swift sequentially: they agree far inside 1e-9.
        let difference = try #require(
            result.output.split(separator: " ").last.flatMap {
                Double($0.trimmingCharacters(in: .whitespacesAndNewlines))
            })
        #expect(difference < 1e-12)
    }

    @Test func v1TamperedAndRelabelledFail() throws {
        let lines = try ChargeMethodLedgerTests.fixtureLines()
        let index = try ChargeMethodLedgerTests.firstChargeIndex(lines)
        let relabelled = try Fixtures.resign(lines, from: index, key: Fixtures.testKey()) { data in
            data["charge_method"] = .string(ChargeMethod.integerAddSymmetric.rawValue)
        }
        let result = try Self.verify(Fixtures.join(relabelled))
        #expect(result.status != 0)
        #expect(result.output.hasPrefix("ledger.epsilon_mismatch: line \(index + 1)"), "\(result.output)")
    }

    @Test func planMismatchFails() throws {
        let (bytes, line) = try ChargeMethodLedgerTests.planned(editing: ChargeMethodLedgerTests.secondOpened) { data in
            var plan = data["plan"]!.objectValue!
            plan["noise_multiplier"] = .number(2.5)
            data["plan"] = .object(plan)
        }
        let result = try Self.verify(bytes)
        #expect(result.output.hasPrefix("ledger.plan_mismatch: line \(line + 1)"), "\(result.output)")
    }

    @Test func metricOutOfRangeFails() throws {
        let bytes = ChargeMethodLedgerTests.closedLedger(metrics: ["accuracy": .number(1.5)], evaluation: false)
        let result = try Self.verify(bytes)
        #expect(result.output.hasPrefix("ledger.bad_entry: line 4"), "\(result.output)")
        // The holdout loss: in [0, −ln 1e-15] verifies, as in Swift; negative or larger does not.
        for evaluation in [false, true] {
            let good = ChargeMethodLedgerTests.closedLedger(
                metrics: ["count": .number(8), "loss": .number(0.3125)], evaluation: evaluation)
            #expect(try Self.verify(good).status == 0)
            for loss in [-0.1, 34.6] {
                let bad = ChargeMethodLedgerTests.closedLedger(metrics: ["loss": .number(loss)], evaluation: evaluation)
                #expect(try Self.verify(bad).output.hasPrefix("ledger.bad_entry: line 4"), "loss \(loss)")
            }
        }
    }

    @Test func refusalProjectionChecked() throws {
        let mechanism = try SubsampledGaussian(samplingRate: 0.2, noiseMultiplier: 0.3)
        let projected = try LedgerState().projectedCharge(mechanism: mechanism, delta: Fixtures.delta, method: .current)
        var refused = RoundRefusedPayload(
            round: 1, gate: "budget", reason: "over", projectedEpsilon: projected.cumulativeEpsilon, epsilonMax: 8,
            samplingRate: 0.2, noiseMultiplier: 0.3)
        #expect(try Self.verify(ChargeMethodLedgerTests.refusalLedger(refused)).status == 0)
        refused.projectedEpsilon *= 0.9
        let result = try Self.verify(ChargeMethodLedgerTests.refusalLedger(refused))
        #expect(result.output.hasPrefix("ledger.epsilon_mismatch: line 2"), "\(result.output)")
    }
}
