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
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "CohortStorage"),
        .target(name: "CohortCrypto", dependencies: ["CSodium", "CohortStorage"]),
        .target(name: "CohortPrivacy", dependencies: ["CohortCrypto"]),
        // The budget ledger: hash-chained, signed JSON Lines. No networking, so auditors can read it alone.
        // swift-crypto (not networking) only for SHA-256 of every line with the CPU's SHA instructions.
        .target(
            name: "CohortLedger",
            dependencies: ["CohortCrypto", "CohortPrivacy", "CohortStorage", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Tabular data, feature schemas, the built-in logistic regression and evaluation metrics.
        .target(name: "CohortModel", dependencies: ["CohortPrivacy", "CohortCrypto"]),
        // The consortium policy: YAML, validated in one place.
        .target(
            name: "CohortPolicy",
            dependencies: ["CohortCrypto", "CohortStorage", .product(name: "Yams", package: "Yams")]
        ),
        // Governance gates (data quality, anomaly screen, risk score, evaluation, policy changes):
        // pure, deterministic decisions recorded in the ledger. No networking.
        .target(name: "CohortGovernance", dependencies: ["CohortPolicy", "CohortModel", "CohortLedger"]),
        // Certificates, mutual-TLS channels and the length-prefixed frame codec.
        .target(
            name: "CohortTransport",
            dependencies: [
                "CohortCrypto",
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
                "CohortPrivacy", "CohortCrypto", "CohortPolicy", "CohortLedger", "CohortTransport", "CohortModel", "CohortGovernance",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The operator and auditor API: HTTPS with mutual TLS over the coordinator's control
        // surface, Prometheus metrics, the alert hook and the client the CLI uses.
        .target(
            name: "CohortOperatorAPI",
            dependencies: [
                "CohortCoordinator", "CohortTransport", "CohortPolicy",
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
                "CohortCrypto", "CohortModel", "CohortTransport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CohortCLI",
            dependencies: [
                "CohortPrivacy",
                "CohortLedger",
                "CohortTransport",
                "CohortModel",
                "CohortCoordinator",
                "CohortOperatorAPI",
                "CohortParticipant",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
            ]
        ),
        .executableTarget(
            name: "cohort-participant",
            dependencies: [
                "CohortParticipant", "CohortTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The fuzz loop over the wire decoders and peer-input validators, shared by
        // `cohort-bench fuzz` and its short CI run (CohortFuzzTests).
        .target(
            name: "CohortFuzz",
            dependencies: ["CohortModel", "CohortPrivacy", "CohortTransport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "CohortBenchSupport",
            dependencies: ["CohortTransport", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "cohort-bench-participant",
            dependencies: [
                "CohortBenchSupport", "CohortParticipant", "CohortTransport",
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
        .testTarget(name: "CohortCryptoTests", dependencies: ["CohortCrypto"]),
        .testTarget(
            name: "CohortPrivacyTests",
            dependencies: ["CohortPrivacy", "CohortCrypto"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "CohortLedgerTests", dependencies: ["CohortLedger", "CohortCrypto", "CohortPrivacy"],
            // Read in place through #filePath (V1LedgerFixtureTests), not bundled.
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "CohortModelTests", dependencies: ["CohortModel", "CohortCrypto"]),
        .testTarget(
            name: "CohortCoordinatorTests",
            dependencies: [
                "CohortCoordinator", "CohortCrypto", "CohortPrivacy", "CohortTransport", "CohortParticipant",
                "CohortModel", "CohortPolicy", "CohortLedger", "CohortOperatorAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
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
        .testTarget(name: "CohortTransportTests", dependencies: ["CohortTransport"]),
        .testTarget(name: "CohortFuzzTests", dependencies: ["CohortFuzz"]),
        .testTarget(name: "CohortCLITests", dependencies: ["CohortCLI", "CohortLedger", "CohortCrypto"]),
    ],
    swiftLanguageModes: [.v6]
)
