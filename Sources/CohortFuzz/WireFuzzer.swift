import CohortModel
import CohortPrivacy
import CohortTransport
import Foundation
import NIOCore

/// What one fuzz run did: frames fed, how many decoded all the way through (frame, payload and
/// every validator that applies), refusals by stable code, the frame types exercised, and time.
public struct WireFuzzReport: Sendable, Equatable {
    /// Byte strings fed to the frame decoder.
    public var frames = 0
    /// Inputs that passed the frame decoder, their payload decoder and every validator run on them.
    public var decoded = 0
    /// Refusals by stable code (`wire.*`, `attestation.*`, `evaluation.*`, `privacy.*`, `update.*`, …).
    public var refused: [String: Int] = [:]
    /// Inputs generated from a seed of each frame type (by ``FrameType`` description).
    public var seededByType: [String: Int] = [:]
    /// Inputs the frame decoder delivered as a frame, by type.
    public var framedByType: [String: Int] = [:]
    /// How often each validator ran: `attestation`, `metrics`, `metrics_merge`, `quantize`, `training_parameters`, `update_plaintext`.
    public var validatorRuns: [String: Int] = [:]
    /// Wall-clock seconds.
    public var seconds = 0.0

    /// Frames per second.
    public var rate: Double { seconds > 0 ? Double(frames) / seconds : 0 }

    /// One JSON object (keys sorted) for `cohort-bench fuzz`.
    public func jsonLine(seed: UInt64) -> String {
        let object: [String: Any] = [
            "benchmark": "fuzz", "seed": seed, "frames": frames, "decoded": decoded, "refused": refused,
            "refused_total": refused.values.reduce(0, +), "seeded_by_type": seededByType,
            "framed_by_type": framedByType,
            "validator_runs": validatorRuns, "seconds": (seconds * 1000).rounded() / 1000,
            "frames_per_second": rate.rounded(),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Feeds random and mutated frames of every frame type through ``FrameDecoder``, every payload
/// decoder, and the validators of peer input (``DataQualityAttestation/decodeValidated(json:)``,
/// ``MetricsAccumulator/decodeValidated(json:expected:maximumCount:)`` and `merge`,
/// ``FixedPointGrid/quantize(_:)``, training parameters and the update plaintext header), counting
/// what decoded and what was refused by code. Any trap ends the process: a run that returns found none.
///
/// Inputs: valid encodings of each frame type mutated (bytes flipped, integers overwritten with
/// boundary values, lengths changed, truncated, extended, type byte swapped, numbers in JSON
/// payloads replaced by hostile ones), plus pure random bytes. Deterministic for a seed.
public struct WireFuzzer {
    private var random: SplitMix64
    private let seeds: [(type: FrameType, bytes: [UInt8])]
    private let grid: FixedPointGrid
    private var merged = MetricsAccumulator()
    private let expectedMetrics = MetricsAccumulator()
    private let limits = FrameLimits(maxTensorBytes: 1 << 20)
    public private(set) var report = WireFuzzReport()

    /// Boundary integers written over payload bytes.
    static let interesting: [UInt64] = [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
        0x1_0000_0000, 1 << 62, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max, 1_000_000_000, 1_000_000_001,
    ]
    /// Hostile numbers substituted for numbers in JSON payloads.
    static let hostileNumbers = [
        "0", "-1", "1", "1e17", "-1e17", "1e400", "-0", "0.5", "1.5", "4611686018427387904", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "9.2e18", "1e10", "1000000000", "1000000001", "NaN", "\"x\"",
        "null", "[]",
    ]
    /// Values fed to the grid: boundaries of finiteness and of the Int64 step range.
    static let gridValues: [Double] = [
        0, -0.0, 1, -1, 1e17, -1e17, 1e300, -1e300, .infinity, -.infinity, .nan, .greatestFiniteMagnitude,
        0x1p62, -0x1p62, 0x1p63, 9.2e18, .leastNonzeroMagnitude,
    ]

    public init(seed: UInt64) {
        random = SplitMix64(seed: seed)
        grid = try! FixedPointGrid(clippingBound: 1, dimension: 31, inflation: 1e-3)
        seeds = Self.makeSeeds()
    }

    /// Runs `frames` inputs with `seed` and returns the report.
    public static func run(frames: Int, seed: UInt64) -> WireFuzzReport {
        var fuzzer = WireFuzzer(seed: seed)
        let start = DispatchTime.now().uptimeNanoseconds
        for index in 0..<max(0, frames) { fuzzer.step(index) }
        fuzzer.report.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return fuzzer.report
    }

    /// One input: every 10th is pure random bytes; the others mutate the seed of each frame type in turn.
    public mutating func step(_ index: Int) {
        report.frames += 1
        var bytes: [UInt8]
        if index % 10 == 9 {
            bytes = randomBytes(count: Int(random.next() % 64))
            if random.next() % 2 == 0 {
                // A valid header over random bytes, so the payload decoders see them too.
                let type = FrameType.allCases[Int(random.next() % UInt64(FrameType.allCases.count))]
                bytes = Self.header(type: type, length: UInt32(bytes.count)) + bytes
            }
            report.seededByType["random", default: 0] += 1
        } else {
            let seed = seeds[index % seeds.count]
            report.seededByType[seed.type.description, default: 0] += 1
            bytes = seed.bytes
            // About 1 in 8 inputs is left valid, so the accepting paths (and merge) run too.
            if random.next() % 8 != 0 {
                let mutations = 1 + Int(random.next() % 3)
                for _ in 0..<mutations { mutate(&bytes, type: seed.type) }
            }
        }
        feed(bytes)
    }

    // MARK: Feeding

    private mutating func refuse(_ code: String) { report.refused[code, default: 0] += 1 }

    private mutating func feed(_ bytes: [UInt8]) {
        var decoder = FrameDecoder(limits: limits)
        var buffer = ByteBuffer(bytes: bytes)
        var frames: [Frame] = []
        do {
            while let frame = try decoder.next(from: &buffer) { frames.append(frame) }
            if let last = try decoder.finish(from: &buffer) { frames.append(last) }
        } catch {
            refuse(error.code)
            if frames.isEmpty { return }
        }
        if frames.isEmpty {
            refuse("wire.incomplete")
            return
        }
        var allAccepted = true
        for frame in frames {
            report.framedByType[frame.type.description, default: 0] += 1
            if !check(frame) { allAccepted = false }
        }
        if allAccepted { report.decoded += 1 }
    }

    /// Decodes `frame`'s payload and runs the validators for its type; false when something refused it.
    private mutating func check(_ frame: Frame) -> Bool {
        do {
            switch frame.type {
            case .hello: _ = try frame.decode(Hello.self)
            case .welcome: _ = try frame.decode(Welcome.self)
            case .attestation:
                let payload = try frame.decode(Attestation.self)
                report.validatorRuns["attestation", default: 0] += 1
                do { _ = try DataQualityAttestation.decodeValidated(json: payload.json) } catch {
                    refuse(error.code)
                    return false
                }
            case .roundInvite:
                let invite = try frame.decode(RoundInvite.self)
                report.validatorRuns["training_parameters", default: 0] += 1
                if (try? TrainingParameters.decode(invite.trainingParameters)) == nil {
                    refuse("invite.bad_training_parameters")
                    return false
                }
            case .update:
                let update = try frame.decode(ReceivedUpdate.self)
                _ = try frame.decode(Update.self)
                return checkUpdate(update)
            case .updateAck: _ = try frame.decode(UpdateAck.self)
            case .evaluateRequest: _ = try frame.decode(EvaluateRequest.self)
            case .evaluationResult:
                let result = try frame.decode(EvaluationResult.self)
                report.validatorRuns["metrics", default: 0] += 1
                let accumulator: MetricsAccumulator
                do {
                    accumulator = try MetricsAccumulator.decodeValidated(
                        json: result.json, expected: expectedMetrics, maximumCount: 1_000_000_000)
                } catch {
                    refuse(error.code)
                    return false
                }
                report.validatorRuns["metrics_merge", default: 0] += 1
                do { try merged.merge(accumulator) } catch {
                    refuse(error.code)
                    merged = MetricsAccumulator()
                    return false
                }
            case .roundResult: _ = try frame.decode(RoundResult.self)
            case .bye: _ = try frame.decode(Bye.self)
            case .error: _ = try frame.decode(WireError.self)
            case .ping: _ = try frame.decode(Ping.self)
            }
            return true
        } catch {
            refuse(error.code)
            return false
        }
    }

    /// The plaintext header parser and the grid over an update's bytes, read as a plaintext and
    /// as float32 coordinates (the coordinator sees these only after opening; the parsers must
    /// hold for any bytes), plus the grid's boundary values.
    private mutating func checkUpdate(_ update: ReceivedUpdate) -> Bool {
        var accepted = true
        report.validatorRuns["update_plaintext", default: 0] += 1
        let headerResult = update.withSealedBytes { bytes in
            Result { () throws(UpdateRejection) in try UpdatePlaintext.header(of: bytes) }
        }
        if case .failure(let rejection) = headerResult {
            refuse(rejection.code)
            accepted = false
        }
        var values: [Double] = [Self.gridValues[Int(random.next() % UInt64(Self.gridValues.count))]]
        update.withSealedBytes { bytes in
            var offset = 0
            while offset + 4 <= bytes.count && values.count < 16 {
                values.append(
                    Double(Float(bitPattern: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) * 1e6)
                offset += 4
            }
        }
        for value in values {
            report.validatorRuns["quantize", default: 0] += 1
            do { _ = try grid.quantize(value) } catch {
                refuse(error.code)
                accepted = false
            }
        }
        return accepted
    }

    // MARK: Mutation

    private mutating func randomBytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    private mutating func mutate(_ bytes: inout [UInt8], type: FrameType) {
        let payloadStart = Frame.headerLength
        switch random.next() % 9 {
        case 0:
            // Flip a few bytes anywhere.
            for _ in 0..<(1 + Int(random.next() % 4)) where !bytes.isEmpty {
                bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: 1 + random.next() % 255)
            }
        case 1, 2:
            // Overwrite an integer (1, 2, 4 or 8 bytes, big-endian) in the payload with a boundary value.
            guard bytes.count > payloadStart else { return }
            let width = [1, 2, 4, 8][Int(random.next() % 4)]
            let value = Self.interesting[Int(random.next() % UInt64(Self.interesting.count))]
            let offset = payloadStart + Int(random.next() % UInt64(bytes.count - payloadStart))
            for index in 0..<width where offset + index < bytes.count {
                bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * (width - 1 - index)))
            }
        case 3:
            // Announce another payload length.
            guard bytes.count >= payloadStart else { return }
            let lengths: [UInt32] = [
                0, 1, UInt32(max(0, bytes.count - payloadStart - 1)), UInt32(bytes.count - payloadStart + 1),
                4 << 10, 256 << 10, 1 << 20, 2 << 20, .max,
            ]
            let length = lengths[Int(random.next() % UInt64(lengths.count))]
            for index in 0..<4 { bytes[8 + index] = UInt8(truncatingIfNeeded: length >> (8 * (3 - index))) }
        case 4:
            // Truncate.
            guard !bytes.isEmpty else { return }
            bytes.removeLast(Int(random.next() % UInt64(bytes.count)) + 1)
        case 5:
            // Extend with random bytes (length field unchanged: trailing garbage or a second frame).
            bytes += randomBytes(count: 1 + Int(random.next() % 32))
        case 6:
            // Another frame type over this payload (including undefined ones).
            guard bytes.count > 6 else { return }
            bytes[6] = UInt8(truncatingIfNeeded: random.next() % 16)
        default:
            // JSON payloads: replace a number (or a value) by a hostile one and fix the lengths.
            if type == .attestation || type == .evaluationResult {
                mutateJSON(&bytes, type: type)
            } else {
                guard bytes.count > payloadStart else { return }
                bytes[payloadStart + Int(random.next() % UInt64(bytes.count - payloadStart))] = UInt8(
                    truncatingIfNeeded: random.next())
            }
        }
    }

    /// Replaces one number of the JSON document inside an attestation or evaluation-result frame
    /// and re-frames it with consistent lengths, so the JSON validators (not the framing) refuse it.
    private mutating func mutateJSON(_ bytes: inout [UInt8], type: FrameType) {
        let prefix = Frame.headerLength + (type == .evaluationResult ? 8 : 0) + 4
        guard bytes.count > prefix else { return }
        var json = Array(bytes[prefix...])
        var numbers: [Range<Int>] = []
        var index = 0
        while index < json.count {
            let byte = json[index]
            if (0x30...0x39).contains(byte) || byte == 0x2D {
                let start = index
                while index < json.count,
                    (0x30...0x39).contains(json[index]) || [0x2D, 0x2E, 0x65, 0x45, 0x2B].contains(json[index])
                { index += 1 }
                numbers.append(start..<index)
            } else {
                index += 1
            }
        }
        guard !numbers.isEmpty else { return }
        let target = numbers[Int(random.next() % UInt64(numbers.count))]
        let replacement = Self.hostileNumbers[Int(random.next() % UInt64(Self.hostileNumbers.count))]
        json.replaceSubrange(target, with: Array(replacement.utf8))
        var payload = ByteBuffer()
        if type == .evaluationResult { payload.writeInteger(UInt64(1), endianness: .big) }
        payload.writeCohortBytes(json)
        bytes = Self.encode(Frame(type: type, payload: payload))
    }

    // MARK: Seeds

    static func header(type: FrameType, length: UInt32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeBytes(Frame.magic)
        buffer.writeInteger(Frame.currentVersion, endianness: .big)
        buffer.writeInteger(type.rawValue)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(length, endianness: .big)
        return Array(buffer.readableBytesView)
    }

    static func encode(_ frame: Frame) -> [UInt8] {
        var buffer = ByteBuffer()
        FrameEncoder.encode(frame, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// A valid encoding of every frame type.
    static func makeSeeds() -> [(type: FrameType, bytes: [UInt8])] {
        let attestation = DataQualityAttestation(
            schemaName: "wdbc", schemaDigest: String(repeating: "ab", count: 32), rows: 190, columnsMatched: 3,
            extraColumns: ["id"],
            columns: [
                ColumnQuality(name: "diagnosis", missing: 0, missingRate: 0),
                ColumnQuality(name: "radius", missing: 19, missingRate: 0.1, outOfRange: 2),
            ],
            overallMissingRate: 0.05, outOfRangeCount: 2, unknownCategoryCount: 0,
            labelCounts: LabelCounts(positive: 70, negative: 120), trainingRows: 152)
        var metrics = MetricsAccumulator()
        for index in 0..<40 { metrics.add(logit: Double(index - 20) / 4, isPositive: index % 3 == 0) }
        let parameters = TrainingParameters(
            unit: "record", samplingRate: 0.2, clippingBound: 1, localEpochs: 1, localLearningRate: 0.1, batchSize: 16)
        var plaintext = UpdatePlaintext.encode(round: 3, records: 10, values: [0.5, -0.25, 1e-3, 2])
        // An "update" whose sealed bytes are a plaintext, so the header parser and the grid see structure.
        plaintext += [UInt8](repeating: 0, count: 48)
        // Sorted keys: the seeds (and so every run) are the same bytes for a seed.
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        let frames: [Frame] = [
            Frame(Hello(participantName: "hospital-a", capabilities: ["held-model"])),
            Frame(
                Welcome(
                    coordinatorSealingKey: [UInt8](repeating: 7, count: 32),
                    sessionNonce: [UInt8](repeating: 9, count: 32), model: ModelSpec(dimension: 31))),
            Frame(Attestation(json: Array(try! json.encode(attestation)))),
            Frame(
                RoundInvite(
                    round: 3, roundNonce: [UInt8](repeating: 1, count: 32), deadlineMillis: 1_700_000_000_000,
                    globalModel: [Float](repeating: 0.125, count: 31), trainingParameters: parameters.encoded())),
            Frame(
                Update(
                    round: 3, roundNonce: [UInt8](repeating: 1, count: 32), participantName: "hospital-a",
                    sealed: plaintext,
                    signature: [UInt8](repeating: 3, count: 64))),
            Frame(UpdateAck(round: 3, updateDigest: [UInt8](repeating: 4, count: 32))),
            Frame(
                EvaluateRequest(
                    round: 3, modelDigest: [UInt8](repeating: 5, count: 32), model: [Float](repeating: 0.25, count: 31))
            ),
            Frame(EvaluationResult(round: 3, json: Array(try! json.encode(metrics)))),
            Frame(RoundResult(round: 3, json: Array(#"{"outcome":"closed"}"#.utf8))),
            Frame(Bye(reason: "training finished")),
            Frame(
                WireError(
                    code: "update.non_finite", message: "value 3 of the update is not a finite number",
                    closesConnection: false)),
            Frame(Ping()),
        ]
        return frames.map { ($0.type, encode($0)) }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, fast, seedable generator for reproducible runs.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
