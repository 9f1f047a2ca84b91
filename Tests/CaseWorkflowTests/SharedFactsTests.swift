import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import ReplicaStore
import SyncCore
import SyncTesting
import Testing

/// The facts a server keeps from one pull to the next are the facts a fresh read gives, after every kind of write
/// that changes them: assignments, a plan item moved to another case or department, deletions, a second writer
/// sharing a row, a case shared by a write to one of its rows, a creator handed over. Random histories on a real replica, checked at random points (so the
/// cache follows one write or many).
@Suite struct SharedFactsTests {
    static let cases = (0..<5).map { "C\($0)" }
    static let people = ["P1", "P2", "P3"]
    static let departments = ["D1", "D2", "D3"]

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func cachedFactsAreFreshFacts(seed: UInt64) throws {
        let dir = try TemporaryDirectory("shared-facts")
        defer { dir.cleanup() }
        let server = try ReplicaDatabase.create(at: dir.file("server.sqlite"), schema: DaibanSchema.schema, id: testReplica(100),
                                                author: "server")
        let writers = try (1...3).map { n in
            try ReplicaDatabase.create(at: dir.file("w\(n).sqlite"), schema: DaibanSchema.schema, id: testReplica(UInt64(n)),
                                       author: "u\(n)")
        }
        let shared = SharedFacts()
        var g = SeededGenerator(seed: seed)
        func pick<T>(_ a: [T]) -> T { a[Int(g.next() % UInt64(a.count))] }
        var compared = 0
        for step in 0..<120 {
            let n = Int(g.next() % 3)
            let w = writers[n]
            // Mostly the writer's own cases (created and written by it alone, until another account writes them).
            func caseKey() -> String { g.next() % 5 < 3 ? "W\(n)-\(g.next() % 2)" : pick(Self.cases) }
            try w.write { tx in
                for _ in 0..<Int(g.next() % 3 + 1) {
                    let k = g.next() % 8
                    switch g.next() % 12 {
                    case 0:
                        try tx.put(table: "plan_item", key: "I\(k)", ["case_id": .text(caseKey()),
                                                                     "department_id": .text(pick(Self.departments))])
                    case 1, 2:
                        try tx.put(table: "case", key: caseKey(), [
                            "agent_id": g.next() % 4 == 0 ? .null : .text(pick(Self.people)),
                            "township_id": .text(pick(["T1", "T2"])),
                        ])
                    case 9: try tx.put(table: "case", key: caseKey(), ["team": .text(g.next() % 2 == 0 ? "" : pick(Self.people))])
                    case 3: try tx.put(table: "plan_item", key: "I\(k)", ["status": .text(pick(["DISPATCHED", "APPROVED"]))])
                    case 4: try tx.put(table: "work_log", key: "L\(k)", ["case_id": .text(caseKey()), "content": .text("走访\(step)")])
                    case 5:
                        try tx.put(table: "evaluation", key: "E\(k)", ["case_id": .text(caseKey()),
                                                                      "target_person_id": .text(pick(Self.people))])
                    case 6:
                        let table = pick(["plan_item", "work_log", "case"])
                        let key = table == "case" ? caseKey() : (table == "plan_item" ? "I\(k)" : "L\(k)")
                        let held = try Bool.fetchOne(tx.queryDatabase(), sql: "SELECT EXISTS (SELECT 1 FROM row WHERE tbl = ? AND key = ?)",
                                                     arguments: [table, key]) ?? false
                        if held { try tx.delete(table: table, key: key) }
                    default: try tx.put(table: "work_log", key: "L\(k)", ["content": .text("补记\(step)")])
                    }
                }
            }
            var o = ImportOptions()
            o.checks = VersionChecks(writer: w.id, account: "\(n + 1)", author: { _ in nil }, maxAheadMillis: .max,
                                     now: { UInt64(Date().timeIntervalSince1970 * 1000) })
            // As a push settles a claim: the case shared by a write to one of its rows, not to itself.
            let claimed = g.next() % 3 == 0 ? "W\(g.next() % 3)-\(g.next() % 2)" : nil
            o.beforeCommit = { stamper in if let claimed { try stamper.markShared(table: "case", key: claimed) } }
            _ = try server.apply(try w.changeSet(for: server.id), options: o)
            if g.next() % 10 == 0 { try server.adoptOrigin(from: "\(n + 1)", to: "\(Int(g.next() % 3) + 1)") }
            // The writers catch up now and then, so that they edit what others wrote.
            if g.next() % 3 == 0 { for x in writers { _ = try x.apply(try server.changeSet(for: x.id)) } }
            guard g.next() % 3 == 0 else { continue }
            for _ in 0..<2 {
                try server.query { db in
                    let cached = FactsReader(snapshot: db, shared: shared)
                    let fresh = FactsReader(snapshot: db)
                    let rows = try Row.fetchAll(db, sql: "SELECT tbl, key FROM row ORDER BY tbl, key")
                    for r in rows {
                        let (table, key): (String, String) = (r[0], r[1])
                        let a = try cached.rowFacts(table: table, key: key, exists: true)
                        let b = try fresh.rowFacts(table: table, key: key, exists: true)
                        #expect(a == b, "seed \(seed) step \(step): \(table) \(key)")
                        compared += 1
                    }
                }
            }
        }
        #expect(compared > 500)
        // The cache served: a cache that never does would pass every comparison.
        #expect(shared.hits > compared / 4)
    }
}
