// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let hummingbird = Target.Dependency.product(name: "Hummingbird", package: "hummingbird")
let asyncHTTPClient = Target.Dependency.product(name: "AsyncHTTPClient", package: "async-http-client")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")

let package = Package(
    name: "daiban",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "daiban", targets: ["DaibanClientMain"]),
        .executable(name: "daiban-server", targets: ["DaibanServerMain"]),
        .executable(name: "daiban-bench", targets: ["daiban-bench"]),
        .executable(name: "daiban-fuzz", targets: ["daiban-fuzz"]),
        .library(name: "SyncCore", targets: ["SyncCore"]),
        .library(name: "SyncProtocol", targets: ["SyncProtocol"]),
        .library(name: "ReplicaStore", targets: ["ReplicaStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
    ],
    targets: [
        // zlib, linked from the system (zlib1g-dev).
        .systemLibrary(name: "CSystemZlib", providers: [.apt(["zlib1g-dev"])]),
        // Pure merge core: no SQLite, no I/O, no network, no Foundation.
        .target(name: "SyncCore", swiftSettings: swiftSettings),
        // The change-set wire format (binary envelope, zlib payload, limits).
        .target(name: "SyncProtocol", dependencies: ["SyncCore", "CSystemZlib", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: swiftSettings),
        // The 代办 schema registry (tables, fields, types, merge policies).
        .target(name: "CaseDomain", dependencies: ["SyncCore"], swiftSettings: swiftSettings),
        // SQLite's session extension from the system library (the replica log's changesets).
        .systemLibrary(name: "CSQLiteSession", providers: [.apt(["libsqlite3-dev"])]),
        // The SQLite replica (GRDB).
        .target(name: "ReplicaStore", dependencies: ["SyncCore", "SyncProtocol", "CaseDomain", "CSQLiteSession", grdb,
                                                  .product(name: "Crypto", package: "swift-crypto"),
                                                  .product(name: "GRDBSQLite", package: "GRDB.swift")],
                swiftSettings: swiftSettings),
        // The HTTP contract: protocol version, headers, error codes and JSON bodies, shared by server and client.
        .target(name: "SyncContract", swiftSettings: swiftSettings),
        // Aligned terminal tables (CJK characters take two columns).
        .target(name: "TerminalText", swiftSettings: swiftSettings),
        // libharu (PDF) and libxlsxwriter (Excel), linked from the system (libhpdf-dev, libxlsxwriter-dev).
        .systemLibrary(name: "CHaru", providers: [.apt(["libhpdf-dev"])]),
        .systemLibrary(name: "CXlsxWriter", providers: [.apt(["libxlsxwriter-dev"])]),
        // Excel workbooks: written with libxlsxwriter, read with ZIPFoundation and Foundation's XML parser.
        .target(name: "Spreadsheet", dependencies: ["SyncCore", "CXlsxWriter", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                swiftSettings: swiftSettings),
        // Printable forms: one document model (CaseWorkflow) laid out as HTML or as an A4 PDF.
        .target(name: "FormPrint", dependencies: ["CaseWorkflow", "CHaru"], swiftSettings: swiftSettings),
        // Help and ArgumentParser's own text in the user's language (both executables' `main`).
        .target(name: "CommandText", dependencies: ["TerminalText", argumentParser], swiftSettings: swiftSettings),
        // A bad-link simulator: a TCP proxy with delay, a bandwidth cap, loss, cuts and silence (tests, campaigns).
        .target(name: "BadLink",
                dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
                swiftSettings: swiftSettings),
        // The sync server: accounts, devices, tokens, push/pull routes, metrics, and its commands.
        .target(name: "SyncServer",
                dependencies: ["ReplicaStore", "SyncProtocol", "SyncContract", "CaseDomain", "CaseWorkflow", "TerminalText", "CommandText", grdb,
                               argumentParser,
                               hummingbird, logging,
                               .product(name: "HummingbirdTLS", package: "hummingbird"),
                               .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                               .product(name: "Crypto", package: "swift-crypto"),
                               .product(name: "Metrics", package: "swift-metrics"),
                               .product(name: "Prometheus", package: "swift-prometheus"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "NIOSSL", package: "swift-nio-ssl"),
                               .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                               .product(name: "HTTPTypes", package: "swift-http-types"),
                               .product(name: "HummingbirdCore", package: "hummingbird"),
                               .product(name: "PostgresNIO", package: "postgres-nio")],
                swiftSettings: swiftSettings),
        .executableTarget(name: "DaibanServerMain", dependencies: ["SyncServer"], path: "server",
                          exclude: ["README.md"], swiftSettings: swiftSettings),
        // The client side of sync over HTTP: sessions, chunked push and pull, retries.
        .target(name: "SyncClient",
                dependencies: ["ReplicaStore", "SyncProtocol", "SyncContract", "SyncCore", asyncHTTPClient, logging,
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOHTTP1", package: "swift-nio"),
                               .product(name: "NIOSSL", package: "swift-nio-ssl")],
                swiftSettings: swiftSettings),
        // The 代办 workflow on a replica: transitions with their checks, deadlines, 催办 lists and reports.
        .target(name: "CaseWorkflow", dependencies: ["ReplicaStore", "CaseDomain", "SyncCore", "TerminalText", "Spreadsheet", grdb,
                                                  .product(name: "GRDBSQLite", package: "GRDB.swift")],
                swiftSettings: swiftSettings),
        // The CLI's commands, as a library so the executable stays thin.
        .target(name: "ClientCommands",
                dependencies: ["ReplicaStore", "SyncProtocol", "SyncContract", "CaseDomain", "CaseWorkflow", "SyncClient",
                               "TerminalText", "CommandText", "FormPrint", "Spreadsheet", argumentParser, grdb, .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: swiftSettings),
        .executableTarget(name: "DaibanClientMain", dependencies: ["ClientCommands"], path: "client",
                          exclude: ["form-example.png"], swiftSettings: swiftSettings),
        .executableTarget(name: "daiban-bench",
                          dependencies: ["BadLink", "ReplicaStore", "SyncProtocol", "SyncCore", "SyncClient", "SyncServer", "CaseDomain", "CaseWorkflow", grdb,
                                         .product(name: "GRDBSQLite", package: "GRDB.swift")],
                          swiftSettings: swiftSettings),
        // The fuzz targets (change-sets, HTTP bodies, importers): libFuzzer with scripts/fuzz.sh, or a replay of
        // seeds and mutations in any build (the test command's short fuzz).
        .executableTarget(name: "daiban-fuzz", dependencies: ["SyncProtocol", "SyncContract", "SyncCore", "CaseWorkflow", "SyncTesting"],
                          swiftSettings: swiftSettings),
        // Shared test support: deterministic generators, replica simulator, vector loader.
        .target(name: "SyncTesting", dependencies: ["SyncCore", "SyncProtocol", "ReplicaStore", "CaseDomain", "CSystemZlib", grdb],
                swiftSettings: swiftSettings),
        .testTarget(name: "SyncCoreTests",
                    dependencies: ["SyncCore", "SyncTesting",
                                   .product(name: "PropertyBased", package: "swift-property-based")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SyncProtocolTests", dependencies: ["SyncProtocol", "SyncCore", "SyncTesting", "CSystemZlib"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "ReplicaStoreTests",
                    dependencies: ["ReplicaStore", "SyncTesting", "CaseDomain", "SyncCore", "SyncProtocol", grdb,
                                   .product(name: "PropertyBased", package: "swift-property-based")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["SyncTesting", "ReplicaStore", "CaseDomain", "SyncCore", grdb],
                    swiftSettings: swiftSettings),
        .testTarget(name: "CaseWorkflowTests",
                    dependencies: ["CaseWorkflow", "CaseDomain", "ReplicaStore", "SyncCore", "SyncTesting", "FormPrint", "Spreadsheet", grdb],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SyncServerTests",
                    dependencies: ["SyncServer", "SyncClient", "SyncTesting", "BadLink", "ReplicaStore", "CaseDomain", "CaseWorkflow",
                                   "SyncCore", "SyncProtocol", "SyncContract", grdb, hummingbird, asyncHTTPClient,
                                   .product(name: "HummingbirdTesting", package: "hummingbird"),
                                   .product(name: "PostgresNIO", package: "postgres-nio"),
                                   .product(name: "HTTPTypes", package: "swift-http-types"),
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOHTTP1", package: "swift-nio"), logging],
                    swiftSettings: swiftSettings),
    ]
)
