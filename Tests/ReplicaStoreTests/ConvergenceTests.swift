import PropertyBased
import ReplicaStore
import SyncCore
import SyncTesting
import Testing

/// The replica-level merge law: any order, duplication or interleaving of bundles converges.
@Suite struct ConvergenceTests {
    /// 4 × 250 = 1,000 random histories per run (split so Swift Testing runs them on both cores).
    @Test(arguments: 0..<4)
    func randomHistoriesConverge(shard: Int) async throws {
        await propertyCheck(count: 250, input: Gen<UInt64>.value()) { seed in
            let dir = try TemporaryDirectory("converge")
            defer { dir.cleanup() }
            var history = RandomHistory(seed: seed)
            let difference = try history.run(in: dir)
            #expect(difference == nil, "seed \(seed): \(difference ?? "")\n\(history.log.joined(separator: "\n"))")
        }
    }

    /// Named fixtures: seeds that once failed, replayed on every run.
    @Test(arguments: [UInt64(1), 2, 3, 42])
    func namedHistoriesConverge(seed: UInt64) throws {
        let dir = try TemporaryDirectory("converge-fixed")
        defer { dir.cleanup() }
        var history = RandomHistory(seed: seed)
        let difference = try history.run(in: dir)
        #expect(difference == nil, "seed \(seed): \(difference ?? "")\n\(history.log.joined(separator: "\n"))")
    }
}
