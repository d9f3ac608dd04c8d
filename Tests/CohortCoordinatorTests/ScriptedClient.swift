import CohortCrypto
import CohortModel
import CohortTesting
import CohortTransport
import Foundation
import Logging
import NIOCore
import Testing

/// A participant under the test's control: it joins like an honest one (hello, attestation),
/// then lets the test send whatever frames it wants and read the replies.
struct ScriptedSession {
    let welcome: Welcome
    let outbound: FrameWriter
    var frames: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
    let identity: IdentityFiles

    /// The next frame of `type`, skipping others (acks, results).
    mutating func next(_ type: FrameType) async throws -> Frame {
        while let frame = try await frames.next() {
            if frame.type == type { return frame }
        }
        throw HarnessError(message: "connection closed while waiting for a \(type) frame")
    }

    /// The next reply to an update: an ack or an error frame.
    mutating func reply() async throws -> Frame {
        while let frame = try await frames.next() {
            if frame.type == .updateAck || frame.type == .error { return frame }
        }
        throw HarnessError(message: "connection closed while waiting for a reply")
    }

    /// A correctly sealed and signed update for `invite` carrying `values`.
    func update(
        for invite: RoundInvite, values: [Float], round: UInt64? = nil, sealTo: [UInt8]? = nil,
        signWith: Ed25519.KeyPair? = nil
    ) throws -> Update {
        try update(
            for: invite, plaintext: UpdatePlaintext.encode(round: round ?? invite.round, records: 10, values: values),
            sealTo: sealTo, signWith: signWith)
    }

    /// An update for `invite` sealing `plaintext` as given (a hostile participant's body), signed.
    func update(
        for invite: RoundInvite, plaintext: [UInt8], sealTo: [UInt8]? = nil, signWith: Ed25519.KeyPair? = nil
    ) throws -> Update {
        let sealed = try SealedBox.seal(plaintext, to: sealTo ?? welcome.coordinatorSealingKey)
        let key =
            try signWith
            ?? Ed25519.KeyPair(secretKey: KeyFile.readSecret(kind: .ed25519Secret, from: identity.ed25519SecretKey))
        return Update.signed(
            round: invite.round, roundNonce: invite.roundNonce, participantName: identity.name, sealed: sealed,
            signingKey: key)
    }
}

extension Consortium {
    /// Connects as `name` and runs `body` inside the joined session. `attestation`, when given,
    /// replaces the honest attestation JSON (a hostile participant); the session then starts
    /// right after it was sent, whatever the coordinator answers.
    func scripted<T: Sendable>(
        _ name: String, attestation: [UInt8]? = nil, _ body: @Sendable (inout ScriptedSession) async throws -> T
    ) async throws -> T {
        try await files.scripted(
            name, port: port, logger: capture.logger("cohort.scripted"), attestation: attestation, body)
    }

    /// `name`'s honest attestation as a JSON object, for a test to alter before sending.
    func attestationObject(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(files.honestAttestation(name))) as? [String: Any])
    }
}

extension ConsortiumFiles {
    /// `name`'s attestation as `cohort-participant` sends it: its data under a keyed holdout of
    /// its own (a fresh key), so `training_rows` counts its training split.
    func honestAttestation(_ name: String) throws -> [UInt8] {
        let (prepared, _) = try FeatureSchema.load(path: schemaPath).prepare(
            csvPath: identity(name).directory + "/data.csv", keyedHoldout: KeyedPRF(key: KeyedPRF.generateKey()),
            testFraction: 0.2)
        return Array(try JSONEncoder().encode(prepared.attestation))
    }

    /// Connects as `name` to the coordinator on `port` and runs `body` inside the joined session.
    func scripted<T: Sendable>(
        _ name: String, port: Int, logger: Logger, attestation: [UInt8]? = nil,
        _ body: @Sendable (inout ScriptedSession) async throws -> T
    ) async throws -> T {
        let identity = identity(name)
        let tls = try TLSConfigurationFactory(identity: identity)
        let connection = try await FrameClient.connect(
            host: "127.0.0.1", port: port, tls: tls.makeClientConfiguration(), serverHostname: "localhost",
            logger: logger)
        let attestationJSON = try attestation ?? honestAttestation(name)
        return try await connection.executeThenClose { connection in
            var frames = connection.inbound.makeAsyncIterator()
            try await connection.outbound.send(Hello(participantName: name))
            guard let welcomeFrame = try await frames.next() else { throw HarnessError(message: "no welcome") }
            let welcome = try welcomeFrame.decode(Welcome.self)
            try await connection.outbound.send(Attestation(json: attestationJSON))
            var session = ScriptedSession(
                welcome: welcome, outbound: connection.outbound, frames: frames, identity: identity)
            return try await body(&session)
        }
    }
}
