import CaseDomain
import Foundation
import HTTPTypes
import ReplicaStore
import SyncCore
import SyncProtocol
import SyncServer
import SyncTesting
import Testing

/// The crafted attacks of RELIABILITY.md that the other suites do not already cover, sent as a modified client
/// would (signed by the device, so they reach the decoder and the judge): each is answered with its own error or
/// stored exactly as sent, the server keeps serving, and nothing else changes.
@Suite struct CraftedInputTests {
    /// A signed one-row bundle of `replica` writing `fields` of `table`/`key`.
    func signed(_ replica: ReplicaDatabase, table: String = "township", key: String, _ fields: [String: FieldValue],
                counter: UInt64 = 1) -> [UInt8] {
        let changes = fields.sorted { $0.key < $1.key }.map { name, value in
            FieldChange(name: name, state: FieldState(FieldVersion(value: value, vv: VersionVector([(replica.id, counter)]),
                                                                   hlc: HLCTimestamp(rawValue: UInt64(ServerFixture.start) * 1000 << 16),
                                                                   writer: replica.id, author: "qian")))
        }
        let cs = ChangeSet(sender: replica.id, fromSeq: 0, toSeq: counter, rows: [RowChange(table: table, key: key, fields: changes)])
        return ChangeSetEncoder().encode(cs, signer: replica.signer)
    }

    @Test func craftedPushesAndCursorsGetTheirOwnAnswers() async throws {
        let f = try ServerFixture()
        try await f.user("qian", .center)
        let replica = try f.replica("qian", author: "qian")
        try await f.test { client in
            let t = try await client.signIn("qian", replica: replica).access
            // SQL in values and ids is data: stored and read back byte for byte, the store intact.
            let sql = "x'); DROP TABLE row; --"
            let a = try await client.push(signed(replica, key: sql, ["name": .text("'; DELETE FROM field; --")]), t)
            #expect(a.status == .ok && a.json["applied"] as? Int == 1, "\(a.status) \(a.code ?? "")")
            #expect(try f.server.replica.get(table: "township", key: sql)?.fields.first?.value == .text("'; DELETE FROM field; --"))
            let before = try f.server.replica.status().fieldStates
            // NUL inside a value or a key: SQLite's text reads stop at it, so it would come back cut short
            // (found by this test: "棠\0下" read back as "棠"). No text may hold it: refused by the decoder.
            for (key, value) in [("T\u{0}1", "棠下"), ("T3", "棠\u{0}下")] {
                let nul = try await client.push(signed(replica, key: key, ["name": .text(value)]), t)
                #expect(nul.status == .badRequest && nul.code == "malformed", "\(nul.status) \(nul.code ?? "")")
            }

            // Names are lower-case ASCII of at most 64 bytes: SQL or 10,000 characters as a table or field name
            // is refused whole (a name over the bundle's text limit is refused before it is read).
            for (table, field, code) in [("township; DROP TABLE audit", "name", "bad_name"), (String(repeating: "t", count: 65), "name", "bad_name"),
                                         ("township", String(repeating: "n", count: 10_000), "value_too_large")] {
                let r = try await client.push(signed(replica, table: table, key: "K", [field: .text("v")]), t)
                #expect(r.status == .badRequest && r.code == code, "\(table.prefix(20)).\(field.prefix(20)): \(r.status) \(r.code ?? "")")
            }
            // A 10 MB value: over the push limit or the value limit, never stored.
            var dice = SeededGenerator(seed: 10)
            let big = String(String.UnicodeScalarView((0..<3_400_000).map { _ in Unicode.Scalar(0x4E00 + UInt32(dice.next() % 20000))! }))
            let huge = try await client.push(signed(replica, key: "BIG", ["name": .text(big)]), t)
            #expect([413, 400].contains(huge.status.code) && ["payload_too_large", "value_too_large", "compressed_too_large"].contains(huge.code ?? ""),
                    "\(huge.status) \(huge.code ?? "")")
            // The same chunk twice: the second applies nothing.
            let once = signed(replica, key: "T2", ["name": .text("二")], counter: 2)
            #expect(try await client.push(once, t).json["applied"] as? Int == 1)
            let twice = try await client.push(once, t)
            #expect(twice.status == .ok && twice.json["applied"] as? Int == 0 && twice.json["ignored"] as? Int == 1)
            // Cursors out of order: past the end, negative, not a number.
            let ahead = try await client.pull(after: UInt64.max, t)
            #expect(ahead.status == .conflict && ahead.code == "cursor_ahead")
            for bad in ["-1", "1e3", "18446744073709551616"] {
                let r = try await client.call(.get, "/v1/pull?after=\(bad)", token: t)
                #expect(r.status == .badRequest && r.code == "bad_cursor", "after=\(bad)")
            }
            #expect(try f.server.replica.status().fieldStates == before + 1, "only the honest duplicate's row was added")
            #expect(try f.server.replica.list(table: "township").count == 2)
            #expect(try f.server.replica.integrityProblems().isEmpty)
            let health = try await client.call(.get, "/health", protocolVersion: nil)
            #expect(health.status == .ok)
        }
    }

    /// Below the server: a payload whose text is not UTF-8, and a zlib stream cut short inside an envelope whose
    /// checksum matches, are each refused by the decoder with its error.
    @Test func invalidTextAndCutStreamsAreRefusedByTheDecoder() throws {
        let id = ReplicaID(high: 0, low: 7)
        let cs = ChangeSet(sender: id, fromSeq: 0, toSeq: 1, rows: [RowChange(table: "township", key: "T1", fields: [
            FieldChange(name: "name", state: FieldState(FieldVersion(value: .text("一"), vv: VersionVector([(id, 1)]),
                                                                     hlc: HLCTimestamp(rawValue: 1 << 20), writer: id))),
        ])])
        var payload = ChangeSetEncoder().payload(cs)
        // Texts travel as indexes into a table of Unicode scalars (LEB128); U+4E00 is 80 9C 01. The same slot
        // holding U+D800, a surrogate (what invalid UTF-8 would decode to), must be refused.
        let marker: [UInt8] = [0x80, 0x9C, 0x01]
        let at = try #require((0...(payload.count - marker.count)).first { Array(payload[$0..<($0 + marker.count)]) == marker })
        payload.replaceSubrange(at..<(at + 3), with: [0x80, 0xB0, 0x03])
        let invalid = Bomb.bundle(compressed: Zlib.compress(payload, level: 6), declaredPlain: UInt32(payload.count), sender: id)
        #expect(throws: SyncError.self) { _ = try ChangeSetReader.decode(invalid) }
        let good = ChangeSetEncoder().payload(cs)
        let stream = Zlib.compress(good, level: 6)
        for cut in [1, stream.count / 2, stream.count - 1] {
            let short = Bomb.bundle(compressed: Array(stream.prefix(cut)), declaredPlain: UInt32(good.count), sender: id)
            #expect(throws: SyncError.self, "cut at \(cut)") { _ = try ChangeSetReader.decode(short) }
        }
    }

    /// The same on a laptop: a local write of a text or a row id holding NUL (or another control character in an
    /// id) is refused with its error, and nothing of the transaction stays.
    @Test func aLocalWriteCannotHoldNUL() throws {
        let f = try ServerFixture()
        let r = try f.replica("local")
        #expect(throws: SyncError.self) { try r.write { try $0.put(table: "township", key: "T1", ["name": .text("棠\u{0}下")]) } }
        for key in ["T\u{0}1", "T\u{1}1", "T\u{7F}"] {
            #expect(throws: SyncError.self) { try r.write { try $0.put(table: "township", key: key, ["name": .text("棠下")]) } }
        }
        #expect(try r.list(table: "township").isEmpty)
    }
}
