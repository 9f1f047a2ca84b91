import Foundation
import SyncCore

/// SplitMix64: a tiny seeded generator, so every random history can be replayed from its seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A wall clock tests move by hand.
public final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: UInt64
    public init(_ start: UInt64 = 1_763_700_000_000) { millis = start }
    public func now() -> UInt64 { lock.withLock { millis } }
    public func advance(_ ms: UInt64) { lock.withLock { millis += ms } }
    public func set(_ ms: UInt64) { lock.withLock { millis = ms } }
}

/// Replica ids 00…01, 00…02, … for tests and vectors.
public func testReplica(_ n: UInt64) -> ReplicaID { ReplicaID(high: 0, low: n) }

/// A fresh temporary folder, removed by `cleanup()`.
public struct TemporaryDirectory: Sendable {
    public let path: String
    public init(_ prefix: String = "daiban-test") throws {
        path = NSTemporaryDirectory() + "/\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    public func file(_ name: String) -> String { path + "/" + name }
    public func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The repository root, found from this source file's path (tests read `protocol/vectors` from it).
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
