import Foundation
import SyncCore
import SyncTesting
import Testing

/// Replays every golden merge vector in `protocol/vectors/merge`.
@Suite struct MergeVectorTests {
    static let files = VectorJSON.files("merge")

    @Test func vectorsExist() {
        #expect(Self.files.count >= 10)
    }

    @Test(arguments: files)
    func replay(path: String) throws {
        let v = try VectorJSON.load(path)
        let j = try VectorJSON(json: v["replicas"])
        let local = try j.row(v["local"])
        let incoming = try j.row(v["incoming"])
        let expected = try j.row(v["expected"])
        var policies: [String: MergePolicy] = [:]
        for (field, p) in v["policies"] as? [String: Any] ?? [:] {
            policies[field] = .ordered((p as! [String: Any])["ordered"] as! [String])
        }
        let policy: (String) -> MergePolicy = { policies[$0] ?? .lww }

        // given local and incoming, when merged (either way round, and again), then the expected state.
        let merged = local.merged(with: incoming)
        #expect(merged == expected, "\(path)")
        #expect(incoming.merged(with: local) == expected, "commutative: \(path)")
        #expect(merged.merged(with: incoming) == merged, "idempotent: \(path)")

        for (field, value) in v["expected_winners"] as? [String: Any] ?? [:] {
            #expect(merged.fields[field]?.winner(policy: policy(field)).value == (try VectorJSON.value(value)), "\(path) \(field)")
        }
        #expect(merged.isDeleted == (v["expected_deleted"] as? Bool ?? false), "\(path)")
        let conflicts = merged.conflicts(table: "t", key: "k", policy: policy)
        let expectedConflicts = v["expected_conflicts"] as? [[String: Any]] ?? []
        #expect(conflicts.map(\.field) == expectedConflicts.map { $0["field"] as! String }, "\(path)")
        #expect(conflicts.map(\.kind) == expectedConflicts.map { $0["kind"] as! String }, "\(path)")
        for (c, e) in zip(conflicts, expectedConflicts) {
            #expect(c.versions.map(\.value) == (try (e["values"] as! [Any]).map(VectorJSON.value)), "\(path)")
        }
    }
}
