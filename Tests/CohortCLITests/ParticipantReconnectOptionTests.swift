import Foundation
import Testing

/// `cohort-participant --reconnect-*`: bad values are refused before anything runs, and a
/// participant that cannot reach its coordinator retries with backoff, then gives up with
/// `participant.gave_up` (exit 2) instead of waiting forever.
@Suite struct ParticipantReconnectOptionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func arguments(identity: String, _ extra: [String]) -> [String] {
        [
            "--coordinator", "127.0.0.1:1", "--identity", identity, "--data", root + "/Data/breast_cancer_wdbc.csv",
            "--schema", root + "/Data/schemas/wdbc.json",
        ] + extra
    }

    @Test(arguments: [
        (["--reconnect-attempts=-1"], "--reconnect-attempts must be ≥ 0"),
        (["--reconnect-initial-delay", "0"], "--reconnect-initial-delay must be in (0, 3600]"),
        (["--reconnect-initial-delay", "nan"], "--reconnect-initial-delay must be in (0, 3600]"),
        (["--reconnect-initial-delay", "2", "--reconnect-max-delay", "1"], "--reconnect-max-delay must be in"),
        (["--reconnect-max-delay", "100000"], "--reconnect-max-delay must be in"),
    ])
    func badReconnectOptionsAreRefusedWithWhatIsAllowed(extra: [String], message: String) throws {
        let result = try BuiltBinary("cohort-participant").run(Self.arguments(identity: "/nonexistent", extra))
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func aParticipantThatCannotConnectRetriesThenGivesUp() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cohort-reconnect-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let cohort = try BuiltBinary("cohort")
        let ca = try cohort.run(["certs", "init", "--out", work + "/ca"])
        try #require(ca.status == 0, "\(ca.stderr)")
        let issued = try cohort.run([
            "certs", "issue", "--ca", work + "/ca", "--role", "participant", "--name", "silo", "--out", work + "/silo",
        ])
        try #require(issued.status == 0, "\(issued.stderr)")
        // Port 1 on 127.0.0.1: nothing listens, every attempt is refused at once.
        let result = try BuiltBinary("cohort-participant").run(
            Self.arguments(
                identity: work + "/silo",
                [
                    "--reconnect-attempts", "3", "--reconnect-initial-delay", "0.05", "--reconnect-max-delay", "0.1",
                ]))
        #expect(result.status == 2, "\(result.stderr)")
        #expect(
            result.stderr.contains("[participant.gave_up]") || result.stderr.contains("participant.gave_up"),
            "\(result.stderr)")
        // The first attempt and three reconnections.
        #expect(result.stderr.contains("after 4 failed connection attempts"), "\(result.stderr)")
        // It retried between the attempts, each logged with its attempt number.
        #expect(result.stderr.components(separatedBy: "reconnecting").count - 1 == 3, "\(result.stderr)")
    }
}
