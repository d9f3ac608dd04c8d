// swift-tools-version:6.1
import PackageDescription

// Modules are split by dependency weight: the privacy core and (later) the ledger import no
// networking, so an auditor can build and read them alone.
let package = Package(
    name: "Cohort",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cohort", targets: ["cohort"]),
        .executable(name: "cohort-bench", targets: ["cohort-bench"]),
        .executable(name: "cohort-bench-participant", targets: ["cohort-bench-participant"]),
        .executable(name: "cohort-coordinator", targets: ["cohort-coordinator"]),
        .executable(name: "cohort-participant", targets: ["cohort-participant"]),
        .library(name: "CohortCrypto", targets: ["CohortCrypto"]),
        .library(name: "CohortPrivacy", targets: ["CohortPrivacy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // The one error protocol (a stable `area.reason` code, a message, a category); no dependencies.
        .target(name: "CohortErrors"),
        .target(name: "CohortStorage", dependencies: ["CohortErrors"]),
        .target(name: "CohortCrypto", dependencies: ["CSodium", "CohortErrors", "CohortStorage"]),
        .target(name: "CohortPrivacy", dependencies: ["CohortCrypto", "CohortErrors"]),
        // The budget ledger: hash-chained, signed JSON Lines. No networking, so auditors can read it alone.
        // swift-crypto (not networking) only for SHA-256 of every line with the CPU's SHA instructions.
        .target(
            name: "CohortLedger",
            dependencies: [
                "CohortCrypto", "CohortErrors", "CohortPrivacy", "CohortStorage",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Tabular data, feature schemas, the built-in logistic regression and evaluation metrics.
        .target(name: "CohortModel", dependencies: ["CohortPrivacy", "CohortCrypto", "CohortErrors", "CohortStorage"]),
        // The consortium policy: YAML, validated in one place.
        .target(
            name: "CohortPolicy",
            dependencies: ["CohortCrypto", "CohortErrors", "CohortStorage", .product(name: "Yams", package: "Yams")]
        ),
        // Governance gates (data quality, anomaly screen, risk score, evaluation, policy changes):
        // pure, deterministic decisions recorded in the ledger. No networking.
        .target(name: "CohortGovernance", dependencies: ["CohortPolicy", "CohortModel", "CohortLedger"]),
        // Certificates, mutual-TLS channels and the length-prefixed frame codec.
        .target(
            name: "CohortTransport",
            dependencies: [
                "CohortCrypto",
                "CohortErrors",
                "CohortModel",
                "CohortStorage",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Round logic: state machine, streaming aggregation, gates, the coordinator service.
        .target(
            name: "CohortCoordinator",
            dependencies: [
                "CohortAPITypes", "CohortErrors", "CohortPrivacy", "CohortCrypto", "CohortPolicy", "CohortLedger",
                "CohortStorage", "CohortTransport", "CohortModel", "CohortGovernance",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // What the operator API sends and receives (status, budget, rounds, errors) and its JSON
        // conventions: Foundation only, shared by the coordinator, the API server and the CLI.
        .target(name: "CohortAPITypes", dependencies: ["CohortErrors"]),
        // The client of the operator API (HTTPS with mutual TLS) the `cohort` CLI uses; no server code.
        .target(
            name: "CohortAPIClient",
            dependencies: [
                "CohortAPITypes", "CohortErrors", "CohortTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The operator and auditor API server: HTTPS with mutual TLS over the coordinator's control
        // surface, Prometheus metrics and the alert hook. The only place HTTP statuses are chosen.
        .target(
            name: "CohortOperatorAPI",
            dependencies: [
                "CohortAPITypes", "CohortAPIClient", "CohortCoordinator", "CohortErrors", "CohortTransport",
                "CohortPolicy",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // A silo: data validation, local training, sealed and signed updates.
        .target(
            name: "CohortParticipant",
            dependencies: [
                "CohortCrypto", "CohortErrors", "CohortModel", "CohortStorage", "CohortTransport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CohortCLI",
            dependencies: [
                "CohortAPIClient",
                "CohortAPITypes",
                "CohortCrypto",
                "CohortErrors",
                "CohortPrivacy",
                "CohortLedger",
                "CohortStorage",
                "CohortTransport",
                "CohortModel",
                "CohortParticipant",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Shared test support (temporary directories, a test CA, log capture, child processes, the
        // in-process coordinator harness, Python requirements); linked by test targets only.
        .target(
            name: "CohortTesting",
            dependencies: [
                "CohortCoordinator", "CohortCrypto", "CohortLedger", "CohortModel", "CohortParticipant", "CohortPolicy",
                "CohortTransport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(name: "cohort", dependencies: ["CohortCLI"]),
        .executableTarget(
            name: "cohort-coordinator",
            dependencies: [
                "CohortCoordinator", "CohortPolicy", "CohortTransport", "CohortOperatorAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "cohort-participant",
            dependencies: [
                "CohortParticipant", "CohortTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The fuzz loop over the wire decoders and peer-input validators, shared by
        // `cohort-bench fuzz` and its short CI run (CohortFuzzTests).
        .target(
            name: "CohortFuzz",
            dependencies: [
                "CohortModel", "CohortPrivacy", "CohortTransport", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .target(
            name: "CohortBenchSupport",
            dependencies: ["CohortTransport", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "cohort-bench-participant",
            dependencies: [
                "CohortBenchSupport", "CohortCrypto", "CohortModel", "CohortTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "cohort-bench",
            dependencies: [
                "CohortBenchSupport",
                "CohortFuzz",
                .product(name: "Crypto", package: "swift-crypto"),
                "CohortPrivacy",
                "CohortCrypto",
                "CohortLedger",
                "CohortModel",
                "CohortPolicy",
                "CohortTransport",
                "CohortCoordinator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // docs/ERRORS.md against the codes in Sources/ (read in place through #filePath).
        .testTarget(name: "CohortErrorsTests", dependencies: ["CohortErrors"]),
        .testTarget(name: "CohortCryptoTests", dependencies: ["CohortCrypto", "CohortStorage", "CohortTesting"]),
        .testTarget(
            name: "CohortPrivacyTests",
            dependencies: ["CohortPrivacy", "CohortCrypto"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "CohortLedgerTests",
            dependencies: ["CohortLedger", "CohortCrypto", "CohortPrivacy", "CohortStorage", "CohortTesting"],
            // Read in place through #filePath (V1LedgerFixtureTests), not bundled.
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "CohortModelTests", dependencies: ["CohortModel", "CohortCrypto", "CohortPrivacy", "CohortTesting"]),
        .testTarget(
            name: "CohortCoordinatorTests",
            dependencies: [
                "CohortCoordinator", "CohortCrypto", "CohortPrivacy", "CohortTransport", "CohortParticipant",
                "CohortModel", "CohortPolicy", "CohortLedger", "CohortOperatorAPI", "CohortAPIClient", "CohortAPITypes",
                "CohortErrors",
                "CohortStorage", "CohortTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(name: "CohortPolicyTests", dependencies: ["CohortPolicy"]),
        .testTarget(
            name: "CohortGovernanceTests",
            dependencies: ["CohortGovernance", "CohortPolicy", "CohortModel", "CohortLedger"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "CohortTransportTests",
            dependencies: [
                "CohortCrypto", "CohortTesting", "CohortTransport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .testTarget(name: "CohortFuzzTests", dependencies: ["CohortFuzz", "CohortTransport"]),
        // Runs the built `cohort` binary; links only what the tests read (ledgers, keys).
        .testTarget(name: "CohortCLITests", dependencies: ["CohortCLI", "CohortLedger", "CohortCrypto"]),
    ],
    swiftLanguageModes: [.v6]
)
