// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "daiban",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "daiban", targets: ["DaibanClientMain"]),
        .executable(name: "daiban-bench", targets: ["daiban-bench"]),
        .library(name: "SyncCore", targets: ["SyncCore"]),
        .library(name: "SyncProtocol", targets: ["SyncProtocol"]),
        .library(name: "ReplicaStore", targets: ["ReplicaStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
    ],
    targets: [
        // zlib, linked from the system (zlib1g-dev).
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Pure merge core: no SQLite, no I/O, no network, no Foundation.
        .target(name: "SyncCore", swiftSettings: swiftSettings),
        // The change-set wire format (binary envelope, zlib payload, limits).
        .target(name: "SyncProtocol", dependencies: ["SyncCore", "CZlib"], swiftSettings: swiftSettings),
        // The 代办 schema registry (tables, fields, types, merge policies).
        .target(name: "CaseDomain", dependencies: ["SyncCore"], swiftSettings: swiftSettings),
        // The SQLite replica (GRDB).
        .target(name: "ReplicaStore", dependencies: ["SyncCore", "SyncProtocol", "CaseDomain", grdb],
                swiftSettings: swiftSettings),
        // The CLI's commands, as a library so the executable stays thin.
        .target(name: "ClientCommands", dependencies: ["ReplicaStore", "SyncProtocol", "CaseDomain", argumentParser, grdb],
                swiftSettings: swiftSettings),
        .executableTarget(name: "DaibanClientMain", dependencies: ["ClientCommands"], path: "client",
                          swiftSettings: swiftSettings),
        .executableTarget(name: "daiban-bench",
                          dependencies: ["ReplicaStore", "SyncProtocol", "SyncCore", grdb,
                                         .product(name: "GRDBSQLite", package: "GRDB.swift")],
                          swiftSettings: swiftSettings),
        // Shared test support: deterministic generators, replica simulator, vector loader.
        .target(name: "SyncTesting", dependencies: ["SyncCore", "SyncProtocol", "ReplicaStore", "CaseDomain"],
                swiftSettings: swiftSettings),
        .testTarget(name: "SyncCoreTests",
                    dependencies: ["SyncCore", "SyncTesting",
                                   .product(name: "PropertyBased", package: "swift-property-based")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SyncProtocolTests", dependencies: ["SyncProtocol", "SyncCore", "SyncTesting", "CZlib"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "ReplicaStoreTests",
                    dependencies: ["ReplicaStore", "SyncTesting", "CaseDomain", grdb,
                                   .product(name: "PropertyBased", package: "swift-property-based")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["SyncTesting"], swiftSettings: swiftSettings),
    ]
)
