import CaseDomain
import Foundation
import GRDB
import ReplicaStore
import SyncCore
import SyncProtocol
import SyncTesting
import Testing

/// Each test gets fresh replica files in its own temporary folder.
@Suite final class ReplicaDatabaseTests {
    let dir: TemporaryDirectory
    let clock = ManualClock()

    init() throws { dir = try TemporaryDirectory("store") }
    deinit { dir.cleanup() }

    func replica(_ n: UInt64, schema: Schema = DaibanSchema.schema) throws -> ReplicaDatabase {
        let clock = self.clock
        return try ReplicaDatabase.create(at: dir.file("r\(n).sqlite"), schema: schema, id: testReplica(n),
                                          author: "u\(n)", now: { clock.now() })
    }

    @Test func queryTablesFollowWritesImportsDeletesAndNewDeclarations() throws {
        let v1 = Schema([TableSchema("p", [FieldSchema("name", .text), FieldSchema("wan", .decimal)], projected: true,
                                     indexes: [["name"]])])
        let a = try replica(1, schema: v1), b = try replica(2, schema: v1)
        func rows(_ r: ReplicaDatabase, _ sql: String = "SELECT * FROM v_p ORDER BY _key") throws -> [[String]] {
            try r.query { db in try Row.fetchAll(db, sql: sql).map { row in row.databaseValues.map { $0.description } } }
        }
        try a.write { tx in
            try tx.put(table: "p", key: "P1", ["name": .text("甲"), "wan": .decimal("12000.5")])
            try tx.put(table: "p", key: "P2", ["name": .text("乙")])
            // Reads inside the transaction see its own writes.
            let seen = try Row.fetchAll(try tx.queryDatabase(), sql: "SELECT _key FROM v_p").count
            #expect(seen == 2)
        }
        #expect(try rows(a) == [["\"P1\"", "0", "\"甲\"", "12000.5"], ["\"P2\"", "0", "\"乙\"", "NULL"]])
        _ = try b.importBundle(try a.exportBundle(for: nil).bytes)
        #expect(try rows(b) == rows(a))
        try a.write { tx in try tx.delete(table: "p", key: "P2") }
        try b.write { tx in try tx.put(table: "p", key: "P1", ["name": .text("丙")]) }
        try a.write { tx in try tx.put(table: "p", key: "P1", ["name": .text("丁")]) }
        _ = try b.importBundle(try a.exportBundle(for: b.id).bytes)
        _ = try a.importBundle(try b.exportBundle(for: a.id).bytes)
        #expect(try rows(a) == rows(b))
        #expect(try rows(a, "SELECT _key, _conflicts FROM v_p") == [["\"P1\"", "1"]], "the conflict shows, the deleted row is gone")
        // A newer build declares another field and index: the query table is rebuilt from the stored states.
        let path = dir.file("r1.sqlite")
        let v2 = Schema([TableSchema("p", [FieldSchema("name", .text), FieldSchema("wan", .decimal), FieldSchema("code", .text)],
                                     projected: true, indexes: [["code"]])])
        let newer = try replica(3, schema: v2)
        try newer.write { tx in try tx.put(table: "p", key: "P1", ["code": .text("X-1")]) }
        _ = try a.importBundle(try newer.exportBundle(for: a.id).bytes)  // unknown to a's build: stored and forwarded
        let upgraded = try ReplicaDatabase.open(at: path, schema: v2)
        #expect(try rows(upgraded, "SELECT _key, code FROM v_p") == [["\"P1\"", "\"X-1\""]])
    }

    @Test func newIndexesAreBuiltWithoutRebuildingTheRows() throws {
        let fields = [FieldSchema("name", .text), FieldSchema("code", .text)]
        let v1 = Schema([TableSchema("p", fields, projected: true, indexes: [["code"]])])
        func rows(_ r: ReplicaDatabase, _ sql: String) throws -> [String] {
            try r.query { db in try Row.fetchAll(db, sql: sql).map { $0.databaseValues.map(\.description).joined(separator: "|") } }
        }
        let a = try replica(1, schema: v1)
        try a.write { tx in
            for i in 0..<20 { try tx.put(table: "p", key: "P\(i)", ["name": .text("镇\(i % 3)"), "code": i % 2 == 0 ? .text("C\(i)") : .null]) }
        }
        // Mark one query-table row by hand: a rebuild from the field states would undo it.
        let path = dir.file("r1.sqlite")
        try DatabaseQueue(path: path).write { db in try db.execute(sql: "UPDATE v_p SET _conflicts = 7 WHERE _key = 'P1'") }

        // A build that adds a partial index: the index is built, the rows stay.
        let partial = "code IS NOT NULL"
        let v2 = Schema([TableSchema("p", fields, projected: true, indexes: [["code"], ProjectionIndex(["name"], where: partial)])])
        let upgraded = try ReplicaDatabase.open(at: path, schema: v2)
        #expect(try rows(upgraded, "SELECT _conflicts FROM v_p WHERE _key = 'P1'") == ["7"])
        #expect(try rows(upgraded, "SELECT sql LIKE '%(\"name\") WHERE code IS NOT NULL' FROM sqlite_master WHERE name = 'v_p_1'") == ["1"])
        let plan = try rows(upgraded, "EXPLAIN QUERY PLAN SELECT _key FROM v_p WHERE \(partial) AND name = '镇1'").joined()
        #expect(plan.contains("v_p_1"), "the query names the index's condition, so it uses it: \(plan)")
        #expect(try rows(upgraded, "SELECT _key FROM v_p WHERE \(partial) AND name = '镇1' ORDER BY _key") == ["\"P10\"", "\"P16\"", "\"P4\""])

        // Dropping an index is an index change too; declaring another field rebuilds the rows from the states.
        let v3 = Schema([TableSchema("p", fields, projected: true, indexes: [ProjectionIndex(["name"], where: partial)])])
        let fewer = try ReplicaDatabase.open(at: path, schema: v3)
        #expect(try rows(fewer, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'v_p' AND sql IS NOT NULL") == ["1"])
        #expect(try rows(fewer, "SELECT _conflicts FROM v_p WHERE _key = 'P1'") == ["7"])
        let v4 = Schema([TableSchema("p", fields + [FieldSchema("wan", .decimal)], projected: true, indexes: [["code"]])])
        let rebuilt = try ReplicaDatabase.open(at: path, schema: v4)
        #expect(try rows(rebuilt, "SELECT _conflicts FROM v_p WHERE _key = 'P1'") == ["0"])
        #expect(try rows(rebuilt, "SELECT count(*) FROM v_p") == ["20"])
    }

    @Test func twentyEditsOfOneFieldShipAsOne() throws {
        // given a replica that edits one field 20 times
        let a = try replica(1)
        for i in 0..<20 {
            clock.advance(1)
            try a.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("镇\(i)")]) }
        }
        // when it exports, then one field state travels, holding the last value and counter 20
        let cs = try a.changeSet(for: nil)
        #expect(cs.fieldCount == 1)
        let version = try #require(cs.rows.first?.fields.first?.state.versions.first)
        #expect(version.value == .text("镇19"))
        #expect(version.vv[testReplica(1)] == 20)
    }

    @Test func importingTwiceOrStaleChangesNothing() throws {
        let a = try replica(1), b = try replica(2)
        try a.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("甲")]) }
        let old = try a.exportBundle(for: nil).bytes
        clock.advance(5)
        try a.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("乙")]) }
        let new = try a.exportBundle(for: nil).bytes

        #expect(try b.importBundle(new).applied == 1)
        let once = try b.snapshot()
        #expect(try b.importBundle(new).applied == 0)
        #expect(try b.importBundle(old).applied == 0)  // stale
        #expect(try b.snapshot() == once)
        #expect(try b.get(table: "township", key: "T1")?.fields.first?.value == .text("乙"))
    }

    @Test func exportForPeerSendsOnlyWhatItLacks() throws {
        let a = try replica(1), b = try replica(2)
        try a.write { tx in
            for i in 0..<10 { try tx.put(table: "township", key: "T\(i)", ["name": .text("镇\(i)")]) }
        }
        // first contact: everything
        #expect(try a.changeSet(for: b.id).fieldCount == 10)
        _ = try b.importBundle(try a.exportBundle(for: b.id).bytes)
        // b acknowledges by sending anything back
        _ = try a.importBundle(try b.exportBundle(for: a.id).bytes)
        #expect(try a.changeSet(for: b.id).fieldCount == 0)
        try a.write { tx in try tx.put(table: "township", key: "T3", ["kind": .text("TOWN")]) }
        let delta = try a.changeSet(for: b.id)
        #expect(delta.fieldCount == 1)
        #expect(try a.status().peers.first?.unacknowledged == 1)
    }

    @Test func unknownTablesAndFieldsAreForwardedUnchanged() throws {
        // given a newer build that knows a table and a field this build does not
        let newer = DaibanSchema.schema.adding([
            TableSchema("case_v2", [FieldSchema("status", .text, policy: .ordered(["open", "done"]))]),
            TableSchema("township", DaibanSchema.township.fields + [FieldSchema("population", .integer)]),
        ])
        let new1 = try replica(1, schema: newer), old = try replica(2), new3 = try replica(3, schema: newer)
        try new1.write { tx in
            try tx.put(table: "case_v2", key: "C1", ["status": .text("done")])
            try tx.put(table: "township", key: "T1", ["name": .text("棠下镇"), "population": .int(52_000)])
        }
        // when the old laptop imports and later relays everything
        _ = try old.importBundle(try new1.exportBundle(for: nil).bytes)
        #expect(try old.get(table: "township", key: "T1")?.fields.map(\.name) == ["name", "population"])
        _ = try new3.importBundle(try old.exportBundle(for: nil).bytes)
        // then the newer replica got every field, clocks included
        #expect(try new3.rowState(table: "case_v2", key: "C1") == (try new1.rowState(table: "case_v2", key: "C1")))
        #expect(try new3.rowState(table: "township", key: "T1") == (try new1.rowState(table: "township", key: "T1")))
    }

    @Test func aBadRowRollsBackTheWholeBundle() throws {
        let a = try replica(1), b = try replica(2)
        // A hostile sender puts a text into an integer… of a known field, after a good row.
        let good = RowChange(table: "township", key: "T1", fields: [FieldChange(name: "name", state: FieldState(
            FieldVersion(value: .text("甲"), vv: VersionVector([(a.id, 1)]), hlc: .zero, writer: a.id)))])
        let bad = RowChange(table: "project", key: "P1", fields: [FieldChange(name: "is_industrial", state: FieldState(
            FieldVersion(value: .text("yes"), vv: VersionVector([(a.id, 1)]), hlc: .zero, writer: a.id)))])
        let bytes = ChangeSetEncoder().encode(ChangeSet(sender: a.id, fromSeq: 0, toSeq: 2, rows: [good, bad]))
        let before = try b.snapshot()
        #expect(throws: SyncError.self) { try b.importBundle(bytes) }
        #expect(try b.snapshot() == before)
        #expect(try b.status().seq == 0)
    }

    @Test func deleteConcurrentWithUpdateKeepsTheUpdateAndRaisesAConflict() throws {
        let a = try replica(1), b = try replica(2)
        try a.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("甲"), "kind": .text("TOWN")]) }
        _ = try b.importBundle(try a.exportBundle(for: nil).bytes)
        clock.advance(1)
        try a.write { tx in try tx.delete(table: "township", key: "T1") }
        try b.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("乙")]) }
        _ = try a.importBundle(try b.exportBundle(for: nil).bytes)
        _ = try b.importBundle(try a.exportBundle(for: nil).bytes)
        try expectDeletedWithUpdateKept(a)
        try expectDeletedWithUpdateKept(b)
        // resolving with a value undeletes the row everywhere
        let id = try a.conflicts()[0].id
        _ = try a.resolve(conflictID: id, value: .text("丙"))
        _ = try b.importBundle(try a.exportBundle(for: nil).bytes)
        #expect(try b.get(table: "township", key: "T1")?.deleted == false)
        #expect(try b.conflicts().isEmpty)
        #expect(try a.snapshot() == (try b.snapshot()))
    }

    private func expectDeletedWithUpdateKept(_ r: ReplicaDatabase) throws {
        let record = try #require(try r.get(table: "township", key: "T1"))
        #expect(record.deleted)
        #expect(record.fields.first { $0.name == "name" }?.value == .text("乙"))
        #expect(try r.conflicts().map(\.kind) == ["delete"])
    }

    @Test func schemaErrorsWriteNothing() throws {
        let a = try replica(1)
        #expect(throws: SyncError.self) { try a.write { tx in try tx.put(table: "nope", key: "x", ["a": .int(1)]) } }
        #expect(throws: SyncError.self) { try a.write { tx in try tx.put(table: "project", key: "P", ["name": .int(1)]) } }
        #expect(throws: SyncError.self) { try a.write { tx in try tx.put(table: "project", key: "P", ["kind": .int(1)]) } }
        #expect(throws: SyncError.self) { try a.write { tx in try tx.put(table: "township", key: "T", ["kind": .text("TOWN")]) } }
        #expect(throws: SyncError.self) { try a.write { tx in try tx.put(table: "township", key: "has space", ["name": .text("x")]) } }
        #expect(try a.status().seq == 0)
        #expect(try a.status().fieldStates == 0)
    }
}
