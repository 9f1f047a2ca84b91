import CaseDomain
import Foundation
import GRDB
import ReplicaStore
import SyncCore
import SyncProtocol
import SyncTesting
import Testing

/// What a replica does with hostile or oversized input, and the local operations behind refusals, relays, scope
/// exits and clock fixes. Real SQLite files; every failure a property found here is a named case.
@Suite final class TrustStoreTests {
    let dir: TemporaryDirectory
    let clock = ManualClock(1_763_700_000_000)

    init() throws { dir = try TemporaryDirectory("trust-store") }
    deinit { dir.cleanup() }

    func replica(_ n: UInt64, author: String? = nil) throws -> ReplicaDatabase {
        let clock = self.clock
        var r = try ReplicaDatabase.create(at: dir.file("r\(n).sqlite"), schema: DaibanSchema.schema, id: testReplica(n),
                                           author: author ?? "u\(n)", now: { clock.now() })
        r.signer = DeviceKey()
        return r
    }

    func version(_ value: String, _ vv: [(UInt64, UInt64)], writer: UInt64, author: String = "x", ms: UInt64? = nil) -> FieldVersion {
        FieldVersion(value: .text(value), vv: VersionVector(vv.map { (testReplica($0.0), $0.1) }),
                     hlc: HLCTimestamp(physical: ms ?? clock.now(), logical: 0), writer: testReplica(writer), author: author)
    }

    func bundle(from sender: UInt64, toSeq: UInt64 = 100, _ versions: [FieldVersion], table: String = "township",
                key: String = "T1", field: String = "name") -> [UInt8] {
        ChangeSetEncoder().encode(ChangeSet(sender: testReplica(sender), fromSeq: 0, toSeq: toSeq, rows: [
            RowChange(table: table, key: key, fields: [FieldChange(name: field, state: FieldState(normalizing: versions))]),
        ]))
    }

    @Test func mergedStatesStayWithinTheBoundsEveryReaderEnforces() throws {
        let r = try replica(1)
        // 64 concurrent versions from 64 writers, in two bundles: the state holds them all.
        let first = (0..<40).map { version("v\($0)", [(UInt64(100 + $0), 1)], writer: UInt64(100 + $0)) }
        let second = (40..<64).map { version("v\($0)", [(UInt64(100 + $0), 1)], writer: UInt64(100 + $0)) }
        _ = try r.importBundle(bundle(from: 100, first))
        _ = try r.importBundle(bundle(from: 140, second))
        #expect(try r.rowState(table: "township", key: "T1")?.fields["name"]?.versions.count == 64)
        // A 65th is refused, kept aside, reported; the state can still be exported and read by anyone.
        let report = try r.importBundle(bundle(from: 200, [version("v64", [(200, 1)], writer: 200)]))
        #expect(report.rejections.map(\.rejection.reason) == [Rejection.Reason.tooManyVersions])
        #expect(try r.quarantine().first?.reason == "too_many_versions")
        #expect(try r.rowState(table: "township", key: "T1")?.fields["name"]?.versions.count == 64)
        let out = try r.exportBundle(for: nil).bytes
        #expect(try ChangeSetReader.decode(out).rows.first?.fields.first?.state.versions.count == 64)
        // A write here resolves them all into one version again.
        try r.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("合并")]) }
        #expect(try r.rowState(table: "township", key: "T1")?.fields["name"]?.versions.count == 1)
    }

    @Test func namesThatDifferOnlyInNormalizationNeitherCollapseNorPoison() throws {
        let r = try replica(1)
        // Authors "é" (U+00E9) and "e" + U+0301 are two authors: both versions keep their own bytes.
        let nfc = "\u{E9}", nfd = "e\u{301}"
        #expect(nfc == nfd, "Swift calls them equal")
        let a = version("甲", [(10, 1)], writer: 10, author: nfc), b = version("乙", [(11, 1)], writer: 11, author: nfd)
        _ = try r.importBundle(bundle(from: 10, [a, b]))
        let stored = try #require(try r.rowState(table: "township", key: "T1")?.fields["name"])
        #expect(Set(stored.versions.map { Array($0.author.utf8) }) == [Array(nfc.utf8), Array(nfd.utf8)])
        // The export still decodes, and carries both.
        let back = try ChangeSetReader.decode(try r.exportBundle(for: nil).bytes)
        #expect(back.rows.first?.fields.first?.state.versions.count == 2)
        // Table and field names are lower-case ASCII: anything else is refused before it is stored.
        for table in ["caf\u{E9}", "cafe\u{301}", "Case", "a b"] {
            let bad = ChangeSetEncoder().encode(ChangeSet(sender: testReplica(9), fromSeq: 0, toSeq: 1, rows: [
                RowChange(table: table, key: "k", fields: [FieldChange(name: "f", state: FieldState(version("x", [(9, 1)], writer: 9)))]),
            ]))
            #expect(throws: SyncError.self) { try r.importBundle(bad) }
            do { _ = try r.importBundle(bad) } catch let e as SyncError { #expect(e.code == .badName, "\(table)") }
        }
        // And every later export still works.
        _ = try ChangeSetReader.decode(try r.exportBundle(for: nil).bytes)
    }

    @Test func countersCannotTrapAnywhere() throws {
        let r = try replica(1)
        // UInt64.max on the wire: refused with its own code.
        let overflowing = ChangeSet(sender: testReplica(2), fromSeq: 0, toSeq: 1, rows: [
            RowChange(table: "township", key: "T1", fields: [FieldChange(name: "name", state: FieldState(FieldVersion(
                value: .text("x"), vv: VersionVector([(testReplica(2), 1), (testReplica(1), UInt64.max)]),
                hlc: HLCTimestamp(physical: clock.now(), logical: 0), writer: testReplica(2))))]),
        ])
        do {
            _ = try r.importBundle(ChangeSetEncoder().encode(overflowing))
            Issue.record("a counter at UInt64.max was accepted")
        } catch let e as SyncError {
            #expect(e.code == .counterOutOfRange)
        }
        // A claim about this replica beyond its own writes is refused (it would erase its later writes).
        let claim = try r.importBundle(bundle(from: 2, [version("抹掉", [(2, 1), (1, 1 << 40)], writer: 2)]))
        #expect(claim.rejections.map(\.rejection.reason) == [Rejection.Reason.vvClaim])
        // From its own server it is taken as its own earlier writes (a restored replica): the sequence moves past.
        var trusted = ImportOptions()
        trusted.trusted = true
        _ = try r.importBundle(bundle(from: 2, [version("旧", [(2, 1), (1, VersionVector.maxCounter)], writer: 2)]), options: trusted)
        #expect(try r.currentSeq() >= VersionVector.maxCounter)
        // The counter is exhausted: a local write is refused with a clear error, nothing traps, nothing changes.
        let before = try r.snapshot()
        #expect(throws: SyncError.self) { try r.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("新")]) } }
        #expect(try r.snapshot() == before)
        // Clocks saturate instead of wrapping.
        var hlc = HybridLogicalClock(last: HLCTimestamp(rawValue: UInt64.max), now: { UInt64.max })
        #expect(hlc.tick() == HLCTimestamp(rawValue: UInt64.max))
        let within = hlc.observe(HLCTimestamp(rawValue: UInt64.max))
        #expect(within)
    }

    /// A row whose run of field states alone breaks the limits: an exporter that may split rows (a server's pull)
    /// carries it one field state per chunk, and the receiver ends up with the whole row; one that may not says
    /// which row it cannot send.
    @Test func anOversizedRowTravelsFieldByFieldWhereAllowed() throws {
        let a = try replica(1), b = try replica(2)
        let text = String(repeating: "码", count: 30_000)  // 30,000 one-byte codes in a bundle
        try a.write { tx in
            try tx.put(table: "plan_item", key: "I1", ["case_id": .text("C1"), "stage": .text(text + "1"),
                                                       "depends_on": .text(text + "2"), "cert_no": .text(text + "3")])
        }
        var narrow = ChangeSetLimits.default
        narrow.maxDecompressedBytes = 45_000  // one of the texts, not two
        var strict = ChunkedExporter(targetBytes: 4096)
        strict.limits = narrow
        #expect(throws: SyncError.self) { _ = try strict.next(from: a, after: 0) }
        var splitting = strict
        splitting.splitsOversizedRows = true
        var cursor: UInt64 = 0, chunks = 0
        while true {
            let chunk = try splitting.next(from: a, after: cursor)
            if chunk.changeSet.rows.isEmpty && !chunk.more { break }
            #expect(chunk.changeSet.fieldCount == 1)
            _ = try b.importBundle(chunk.bytes)
            cursor = chunk.next
            chunks += 1
            if !chunk.more { break }
        }
        #expect(chunks == 4)
        #expect(try b.rowState(table: "plan_item", key: "I1") == a.rowState(table: "plan_item", key: "I1"))
    }

    @Test func exportsSplitWithinThePeersLimitsAndImportInOrder() throws {
        let a = try replica(1), b = try replica(2)
        var g = SeededGenerator(seed: 5)
        try a.write { tx in
            for i in 0..<3000 {
                let name = String(String.UnicodeScalarView((0..<40).map { _ in Unicode.Scalar(0x4E00 + UInt32(g.next() % 3000))! }))
                try tx.put(table: "enterprise", key: "E\(i)", ["name": .text(name)])
            }
        }
        let parts = try a.exportBundles(for: nil, maxBytes: 64 << 10)
        #expect(parts.count > 3)
        #expect(parts.allSatisfy { $0.bytes.count <= (64 << 10) + 4096 })
        // Every part is signed by the replica's key.
        for p in parts {
            let reader = try ChangeSetReader(bytes: p.bytes)
            #expect(reader.signature?.isValid == true && reader.signature?.publicKey == a.signer?.publicKey)
        }
        for p in parts { #expect(try b.importBundle(p.bytes).contiguous) }
        #expect(try b.snapshot().rows == a.snapshot().rows)
    }

    @Test func signaturesCoverTheWholeBundle() throws {
        let a = try replica(1)
        try a.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("棠下镇")]) }
        let signed = try a.exportBundle(for: nil).bytes
        #expect(try ChangeSetReader(bytes: signed).signature?.isValid == true)
        // A flipped signature byte (CRC fixed up): still a valid v1 bundle, but the signature fails.
        var bad = signed
        bad[bad.count - 1] ^= 1
        let crc = Zlib.crc32([bad[0..<36], bad[Envelope.headerSize...]])
        for (i, s) in [24, 16, 8, 0].enumerated() { bad[36 + i] = UInt8(truncatingIfNeeded: crc >> UInt32(s)) }
        #expect(try ChangeSetReader(bytes: bad).signature?.isValid == false)
        // Unsigned bundles carry no signature; v1 readers accept both.
        #expect(try ChangeSetReader(bytes: ChangeSetEncoder().encode(try a.changeSet())).signature == nil)
    }

    @Test func refusalsAreKeptUntilTheUserRevertsThem() throws {
        let agent = try replica(1, author: "a"), server = try replica(2, author: "server")
        try server.write { tx in try tx.put(table: "case", key: "C1", ["agent_id": .text("A"), "status": .text("EXECUTING")]) }
        _ = try agent.importBundle(try server.exportBundle(for: nil).bytes)
        try agent.write { tx in try tx.put(table: "case", key: "C1", ["agent_id": .text("B")]) }
        let mine = try #require(try agent.rowState(table: "case", key: "C1")?.fields["agent_id"]?.versions.first)
        // The server refused it and sent its own state of the field.
        let current = try server.changeSet()
        #expect(try agent.recordRefusals([RefusedVersion(table: "case", key: "C1", field: "agent_id", writer: mine.writer,
                                                         hlc: mine.hlc, reason: "forbidden", message: "not yours")],
                                         current: current) == 1)
        // Listed, and the value typed is still shown until reverted.
        let open = try agent.refusals()
        #expect(open.count == 1 && open[0].value == .text("B") && open[0].state == "open")
        #expect(try agent.get(table: "case", key: "C1")?.fields.first { $0.name == "agent_id" }?.value == .text("B"))
        #expect(try agent.revertRefusals(nil) == 1)
        #expect(try agent.rowState(table: "case", key: "C1") == server.rowState(table: "case", key: "C1"))
        #expect(try agent.refusals().isEmpty)
        #expect(try agent.refusals(all: true).first?.state == "reverted")
        #expect(try agent.refusals(all: true).first?.value == .text("B"), "the typed value stays listed")
    }

    @Test func purgedRowsLeaveNoTraceButTheirRefusals() throws {
        let r = try replica(1)
        try r.write { tx in
            try tx.put(table: "case", key: "C1", ["status": .text("EXECUTING")])
            try tx.put(table: "work_log", key: "L1", ["case_id": .text("C1"), "content": .text("走访")])
            try tx.put(table: "enterprise", key: "E1", ["name": .text("云岭石门山居文旅有限公司")])
        }
        let grams = "SELECT count(*) FROM v_search WHERE v_search MATCH '\"石门\"'"
        #expect(try r.query { db in try Int.fetchOne(db, sql: grams) } == 1)
        #expect(try r.pendingChanges(rows: [("case", "C1"), ("work_log", "L1")], after: 0) == 3)
        #expect(try r.purge(rows: [("case", "C1"), ("work_log", "L1"), ("enterprise", "E1")]) == 3)
        #expect(try r.query { db in try Int.fetchOne(db, sql: grams) } == 0, "names leave the word index with their row")
        #expect(try r.get(table: "work_log", key: "L1") == nil)
        #expect(try r.query { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM v_work_log") } == 0)
        #expect(try r.exportBundle(for: nil).changeSet.rows.isEmpty, "a purge is not a deletion: nothing travels")
    }

    @Test func futureStampsAreRewrittenOnceTheClockIsRight() throws {
        clock.set(2_082_758_400_000)  // the laptop thinks it is 2036
        let r = try replica(1)
        try r.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("未来")]) }
        clock.set(1_763_700_000_000)
        #expect(try r.restampFuture(after: 1_763_700_300_000) == 1)
        let v = try #require(try r.rowState(table: "township", key: "T1")?.fields["name"]?.versions.first)
        #expect(v.value == .text("未来") && v.hlc.physical == 1_763_700_000_000)
        #expect(v.vv[r.id] == 2, "the new version dominates the old one")
        try r.write { tx in try tx.put(table: "township", key: "T2", ["name": .text("之后")]) }
        #expect(try r.rowState(table: "township", key: "T2")?.fields["name"]?.versions.first?.hlc.physical == 1_763_700_000_000)
    }

    @Test func writesBeforeSignInTravelUnderTheAccount() throws {
        let r = try replica(1, author: "zhang-laptop")
        try r.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("登记")]) }
        try r.setAuthor("zhang")
        var reopened = try ReplicaDatabase.open(at: dir.file("r1.sqlite"), schema: DaibanSchema.schema)
        reopened.signer = r.signer
        #expect(try reopened.reauthorPending(after: 0, author: "zhang") == 1)
        #expect(try reopened.rowState(table: "township", key: "T1")?.fields["name"]?.versions.first?.author == "zhang")
    }

    /// A trust boundary's view of one writer: replica 2, judged by a rule that refuses rows of case OUT and
    /// deletions.
    func boundary() -> ImportOptions {
        var o = ImportOptions()
        o.checks = VersionChecks(writer: testReplica(2), account: "7", author: { _ in nil }, maxAheadMillis: 60_000,
                                 now: { [clock] in clock.now() })
        o.factFields = { _ in ["case_id"] }
        o.authorize = { review in
            let facts = review.change.fields.first { $0.name == "case_id" }?.state.versions.first?.value
            return { field, value in
                if field == Schema.deletedField { return Rejection(.forbidden, "no deletions") }
                if field == "case_id" && value == .text("OUT") || field != "case_id" && facts == .text("OUT") {
                    return Rejection(.outsideScope, "case OUT is another's")
                }
                return nil
            }
        }
        return o
    }

    @Test func newRowsLandWithTheFactsTheyWereJudgedByOrNotAtAll() throws {
        let r = try replica(1)
        func row(_ key: String, case c: String, covered: [CoveredChange] = []) -> ChangeSet {
            ChangeSet(sender: testReplica(2), fromSeq: 0, toSeq: 10, rows: [RowChange(table: "work_log", key: key, fields: [
                FieldChange(name: "case_id", state: FieldState(version(c, [(2, 1)], writer: 2))),
                FieldChange(name: "content", state: FieldState(version("记录", [(2, 2)], writer: 2))),
            ], covered: covered)])
        }
        // The judge's verdict on case_id covers the row: refused, every field is refused with it.
        let out = try r.apply(row("W1", case: "OUT"), options: boundary())
        #expect(out.rejections.map(\.field).sorted() == ["case_id", "content"])
        #expect(out.rejections.allSatisfy { $0.rejection.reason == .outsideScope })
        #expect(try r.get(table: "work_log", key: "W1") == nil)
        // A case_id refused for its vector (a counter nobody wrote) takes the row with it too.
        var claim = row("W2", case: "IN")
        claim.rows[0].fields[0] = FieldChange(name: "case_id", state: FieldState(version("IN", [(2, 1), (9, 50)], writer: 2)))
        let claimed = try r.apply(claim, options: boundary())
        #expect(claimed.rejections.count == 2 && claimed.rejections.allSatisfy { $0.rejection.reason == .vvClaim })
        #expect(try r.get(table: "work_log", key: "W2") == nil)
        // Honest: lands. A new row's refused deletion is reported like any refused version.
        let deletion = [CoveredChange(field: "content", vv: VersionVector([(testReplica(2), 2)]))]
        let ok = try r.apply(row("W3", case: "IN", covered: deletion), options: boundary())
        #expect(ok.applied == 2 && ok.rejections.map(\.field) == ["content"])
        #expect(ok.rejections.first?.version.writer == testReplica(2) && ok.rejections.first?.rejection.reason == .forbidden)
        #expect(try r.get(table: "work_log", key: "W3") != nil)
    }

    @Test func rowsStayWithinWhatOnePushCarries() throws {
        let r = try replica(1)
        let megabyte = String(repeating: "码", count: 333_333)  // 999,999 bytes
        let fields = ["stage", "depends_on", "handling_class", "committed_unit", "legal_unit", "cert_no"]
        let cs = ChangeSet(sender: testReplica(2), fromSeq: 0, toSeq: 10, rows: [RowChange(table: "plan_item", key: "I1", fields:
            [FieldChange(name: "case_id", state: FieldState(version("IN", [(2, 1)], writer: 2)))]
            + fields.enumerated().map { i, f in FieldChange(name: f, state: FieldState(version(megabyte, [(2, UInt64(i + 2))], writer: 2))) })])
        let report = try r.apply(cs, options: boundary())
        // Five megabytes fit the 5 MiB row bound; the sixth field would cross it and is refused.
        #expect(report.applied == 6 && report.rejections.map(\.rejection.reason) == [.stateTooLarge], "\(report.rejections)")
        #expect(try r.rowState(table: "plan_item", key: "I1")?.fields.count == 6)
        // The same row in a second import, field by field: still refused at the bound.
        let again = ChangeSet(sender: testReplica(2), fromSeq: 0, toSeq: 20, rows: [RowChange(table: "plan_item", key: "I1", fields: [
            FieldChange(name: "reported_up_to", state: FieldState(version(megabyte, [(2, 15)], writer: 2)))])])
        #expect(try r.apply(again, options: boundary()).rejections.map(\.rejection.reason) == [.stateTooLarge])
        // A local write that would cross it is refused before anything is written.
        #expect(throws: SyncError.self) {
            try r.write { tx in try tx.put(table: "plan_item", key: "I1", ["reported_up_to": .text(megabyte)]) }
        }
        #expect(try r.rowState(table: "plan_item", key: "I1")?.fields["reported_up_to"] == nil)
    }
}
