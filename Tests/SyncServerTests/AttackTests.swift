import CaseDomain
import CaseWorkflow
import Foundation
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import SyncProtocol
import SyncServer
import SyncTesting
import Testing
import HTTPTypes
import Synchronization

/// One test per attack a modified client made on the server before it was the trust boundary: each proves the
/// attack fails now, that the attacker's honest work around it still syncs, and that nothing is lost (the
/// refused versions stay on the attacker's device and in the server's quarantine). Each runs on both stores: the
/// data folder's SQLite replica, and the replica shared through PostgreSQL.
@Suite struct AttackTests {
    @Test(arguments: Backend.enabled) func anAgentCannotChangeOrDeleteAnotherAgentsCase(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03")
        try await county.liveSynced("a03") { url in
            // A modified a03 client writes into A04's case CB, which it never received.
            try a03.write { tx in
                try tx.put(table: "case", key: "CB", ["status": .text("TERMINATED"), "township_id": .text("OFF-DG")])
                try tx.put(table: "plan_item", key: "CB.1", ["status": .text("CANCELLED")])
                try tx.put(table: "work_log", key: "CB.log1", ["content": .text("x")])
                try tx.delete(table: "work_log", key: "CB.log1")
                // …and honest work on its own case.
                try tx.put(table: "work_log", key: "CA.log9", ["case_id": .text("CA"), "kind": .text("CALL"), "content": .text("回访")])
            }
            let r = try await county.sync("a03", url)
            #expect(r.refused["outside_scope"] ?? 0 >= 5, "\(r.refused)")
            #expect(r.refused.keys.allSatisfy { $0 == "outside_scope" })
            try await county.sync("a04", url)
        }
        #expect(try county.serverValue("case", "CB", "status") == .text("EXECUTING"))
        #expect(try county.serverValue("case", "CB", "township_id") == .text("OFF-SM"))
        #expect(try county.serverValue("plan_item", "CB.1", "status") == .text("ACCEPTED"))
        #expect(try county.f.server.replica.get(table: "work_log", key: "CB.log1")?.deleted == false)
        #expect(try county.serverValue("work_log", "CA.log9", "content") == .text("回访"), "honest work lands")
        // A04 still has its case as it was; a03 keeps what it typed, listed as refused.
        #expect(try county.device("a04").get(table: "case", key: "CB")?.fields.first { $0.name == "status" }?.value == .text("EXECUTING"))
        #expect(try a03.refusals().allSatisfy { $0.reason == "outside_scope" && $0.table != "work_log" || $0.key == "CB.log1" })
        #expect(try !county.f.server.replica.quarantine().filter { $0.key == "CB" }.isEmpty)
    }

    @Test(arguments: Backend.enabled) func aRegistrationNamingOneselfWidensNoScope(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03")
        try await county.liveSynced { url in
            try a03.write { tx in
                try tx.put(table: "registration", key: "reg-x", ["case_id": .text("CB"), "received_by_person_id": .text("A03"),
                                                                "dedupe_key": .text("x")])
            }
            let r = try await county.sync("a03", url)
            #expect(r.refused.isEmpty, "a registration is an agent's record: it lands (duplicate registrations meet)")
            // A fresh a03 device pulls: its own case, not A04's, nor A04's private work log.
            let fresh = try county.device("a03", fresh: true)
            try await county.sync("a03", url, replica: fresh)
            #expect(try fresh.get(table: "case", key: "CA") != nil && fresh.get(table: "work_log", key: "CA.log1") != nil)
            #expect(try fresh.get(table: "case", key: "CB") == nil)
            #expect(try fresh.get(table: "work_log", key: "CB.log1") == nil)
            #expect(try fresh.get(table: "registration", key: "reg-x") == nil)
            // The registration reaches the case's own readers.
            try await county.sync("a04", url)
            #expect(try county.device("a04").get(table: "registration", key: "reg-x") != nil)
        }
    }

    @Test(arguments: Backend.enabled) func anAgentCannotRenameReferenceDataOrRateItself(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03")
        try await county.liveSynced("a03") { url in
            try a03.write { tx in
                try tx.put(table: "township", key: "OFF-DG", ["name": .text("改名镇")])
                try tx.put(table: "evaluation", key: "ev-self", ["case_id": .text("CA"), "direction": .text("OWNER_TO_AGENT"),
                                                                "target_person_id": .text("A03"), "grade": .text("满意")])
                try tx.put(table: "evaluation", key: "ev-self2", ["case_id": .text("CA"), "direction": .text("AGENT_TO_DEPARTMENT"),
                                                                 "target_person_id": .text("A03"), "grade": .text("满意")])
                // Honest: the agent rates a department.
                try tx.put(table: "evaluation", key: "ev-dept", ["case_id": .text("CA"), "direction": .text("AGENT_TO_DEPARTMENT"),
                                                                "target_department_id": .text("D-LY"), "grade": .text("满意")])
            }
            let r = try await county.sync("a03", url)
            #expect(r.refused["forbidden"] ?? 0 >= 3, "\(r.refused)")
        }
        #expect(try county.serverValue("township", "OFF-DG", "name") == .text("东港镇"))
        #expect(try county.f.server.replica.get(table: "evaluation", key: "ev-self") == nil)
        #expect(try county.f.server.replica.get(table: "evaluation", key: "ev-self2") == nil)
        #expect(try county.serverValue("evaluation", "ev-dept", "grade") == .text("满意"))
    }

    @Test(arguments: Backend.enabled) func anAgentCannotWriteAsAnotherAuthor(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03")
        try await county.liveSynced("a03") { url in
            // The replica file's author was edited to "admin" before the sync.
            let forgedAuthor = try ReplicaDatabase.open(at: county.f.dir.file("a03.sqlite"), schema: DaibanSchema.schema)
            try forgedAuthor.setAuthor("admin")
            var signed = try ReplicaDatabase.open(at: county.f.dir.file("a03.sqlite"), schema: DaibanSchema.schema)
            signed.signer = a03.signer
            try signed.write { tx in try tx.put(table: "work_log", key: "CA.log7", ["case_id": .text("CA"), "content": .text("冒名")]) }
            let (c, t) = try await county.session("a03", signed, url)
            let ack = try await c.push(try signed.exportBundle(for: nil).bytes, token: t.accessToken)
            await c.shutdown()
            #expect(Set(TrustCounty.reasons(ack).filter { $0.key.hasPrefix("work_log.CA.log7") }.values) == ["author_mismatch"])
            // Under its own name the same record lands.
            try signed.setAuthor("a03")
            signed = try ReplicaDatabase.open(at: county.f.dir.file("a03.sqlite"), schema: DaibanSchema.schema)
            signed.signer = a03.signer
            try signed.write { tx in try tx.put(table: "work_log", key: "CA.log8", ["case_id": .text("CA"), "content": .text("本人")]) }
            let (c2, t2) = try await county.session("a03", signed, url)
            let ok = try await c2.push(try signed.exportBundle(for: nil).bytes, token: t2.accessToken)
            await c2.shutdown()
            #expect(TrustCounty.reasons(ok)["work_log.CA.log8.content"] == nil)
        }
        #expect(try county.f.server.replica.audit().allSatisfy { $0.author != "admin" || $0.viaUser == "admin" })
        #expect(try county.serverValue("work_log", "CA.log8", "content") == .text("本人"))
    }

    @Test(arguments: Backend.enabled) func aTownshipCannotWriteAsTheCentre(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let centre = try county.device("admin"), dg = try county.device("dg")
        try await county.liveSynced("dg") { url in
            // The township's bundle carries a version claiming the centre's replica and author.
            let claim = RowChange(table: "case", key: "CA", fields: [
                FieldChange(name: "agent_id", state: forged(.text("A04"), vv: [(centre.id, 1_000)], writer: centre.id, author: "admin")),
            ])
            let ack = try await county.push(forgedBundle(dg, [claim]), as: "dg", url)
            #expect(TrustCounty.reasons(ack)["case.CA.agent_id"] == "unsigned_relay")
            // Relayed as if it were the centre's own bundle, but signed by the township: refused too.
            let relayed = try await county.push(forgedBundle(centre, [claim], signer: dg.signer), as: "dg", url, relay: true)
            #expect(TrustCounty.reasons(relayed)["case.CA.agent_id"] == "bad_signature")
            try await county.sync("a03", url)
            try await county.sync("admin", url)
        }
        #expect(try county.serverValue("case", "CA", "agent_id") == .text("A03"))
        #expect(try centre.get(table: "case", key: "CA")?.fields.first { $0.name == "agent_id" }?.value == .text("A03"))
        #expect(try county.device("a03").get(table: "case", key: "CA") != nil, "the case stays with its agent")
    }

    @Test(arguments: Backend.enabled) func aRelayedBundleIsJudgedByItsWriter(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03"), dg = try county.device("dg")
        try await county.liveSynced("a03", "dg") { url in
            // Offline, a03 reassigns its case (the office's to do) and logs a visit; the USB stick goes to OFF-DG.
            try a03.write { tx in
                try tx.put(table: "case", key: "CA", ["agent_id": .text("A04")])
                try tx.put(table: "work_log", key: "CA.usb", ["case_id": .text("CA"), "content": .text("现场")])
            }
            let stick = try a03.exportBundle(for: nil).bytes
            _ = try dg.importBundle(stick)
            try dg.keepForRelay(stick, sender: a03.id)
            // The township may assign its cases, but this version is a03's: judged as a03's.
            let r = try await county.sync("dg", url)
            #expect(r.relayedBundles == 1 && r.refused == ["forbidden": 1], "\(r.refused)")
            #expect(try dg.refusals().first?.field == "agent_id")
        }
        #expect(try county.serverValue("case", "CA", "agent_id") == .text("A03"))
        #expect(try county.serverValue("work_log", "CA.usb", "content") == .text("现场"))
        #expect(try county.f.server.replica.quarantine().first { $0.field == "agent_id" }?.viaUser == "dg")
    }

    @Test(arguments: Backend.enabled) func forgedCountersCannotEraseLaterWritesOrCrashAnyone(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03"), a04 = try county.device("a04"), centre = try county.device("admin")
        try await county.liveSynced("a03") { url in
            // Counters at UInt64.max do not even decode: the push is refused whole, and nothing changes.
            let max = forged(.text("抹掉"), vv: [(a03.id, 1), (centre.id, UInt64.max)], writer: a03.id, author: "a03")
            do {
                let huge = try await county.push(forgedBundle(a03, [RowChange(table: "work_log", key: "CA.log1", fields: [
                    FieldChange(name: "content", state: max)])]), as: "a03", url)
                Issue.record("a bundle with UInt64.max counters was accepted: \(huge.applied)")
            } catch {
                #expect((error as? SyncClientError)?.code == "counter_out_of_range", "\(error)")
            }
        }
        try await county.live { url in
            // Within range but beyond what anyone wrote: a claim the server has never seen.
            // (On a plan item of a03's own case: a row it may write, so the claim is what is judged.)
            let claim = forged(.text("抹掉"), vv: [(a03.id, 1), (centre.id, 1 << 40)], writer: a03.id, author: "a03")
            let ack = try await county.push(forgedBundle(a03, [RowChange(table: "plan_item", key: "CA.1", fields: [
                FieldChange(name: "stage", state: claim)])]), as: "a03", url)
            #expect(TrustCounty.reasons(ack)["plan_item.CA.1.stage"] == "vv_claim")
            // The same claim on a row outside a03's rights is refused for that, telling nothing of its counters.
            let outside = try await county.push(forgedBundle(a03, [RowChange(table: "work_log", key: "CB.log1", fields: [
                FieldChange(name: "content", state: claim)])]), as: "a03", url)
            #expect(TrustCounty.reasons(outside)["work_log.CB.log1.content"] == "outside_scope")
            // The centre's later writes land, and its next local write works.
            try centre.write { tx in try tx.put(table: "plan_item", key: "CA.1", ["stage": .text("更正")]) }
            try await county.sync("admin", url)
            #expect(try county.serverValue("plan_item", "CA.1", "stage") == .text("更正"))
            _ = a04
        }
        // A bundle file carrying claims about the importer's own writes beyond its sequence is refused too.
        let hostile = forgedBundle(a03, [RowChange(table: "work_log", key: "CA.log2", fields: [
            FieldChange(name: "content", state: forged(.text("抹掉"), vv: [(a03.id, 1), (centre.id, 1 << 50)], writer: a03.id, author: "a03")),
        ])])
        let report = try centre.importBundle(hostile)
        #expect(report.rejections.map(\.rejection.reason) == [.vvClaim])
        try centre.write { tx in try tx.put(table: "work_log", key: "CA.log2", ["content": .text("仍可写")]) }
    }

    @Test(arguments: Backend.enabled) func manyConcurrentVersionsCannotBlockOtherDevices(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03")
        try await county.liveSynced("a03") { url in
            // 60 concurrent versions of one field, twice, from made-up replicas.
            for round in 0..<2 {
                let versions = (0..<60).map { i -> FieldVersion in
                    let other = ReplicaID(high: UInt64(round + 1), low: UInt64(i + 1))
                    return FieldVersion(value: .text("v\(round)-\(i)"), vv: VersionVector([(a03.id, 1), (other, 1)]),
                                        hlc: HLCTimestamp(physical: ReplicaDatabase.wallClockMillis(), logical: UInt16(i)),
                                        writer: a03.id, author: "a03")
                }
                let state = FieldState(normalizing: versions)
                #expect(state.versions.count == 60)
                let ack = try await county.push(forgedBundle(a03, [RowChange(table: "plan_item", key: "CA.2", fields: [
                    FieldChange(name: "stage", state: state)])]), as: "a03", url)
                #expect(ack.applied == 0 && Set(ack.rejected.map(\.reason)) == ["vv_claim"])
            }
            // Everyone else still syncs.
            for user in ["admin", "a04", "dg", "sm", "lly"] { try await county.sync(user, url) }
        }
        #expect(try county.f.server.replica.rowState(table: "plan_item", key: "CA.2")?.fields["stage"] == nil)
    }

    @Test(arguments: Backend.enabled) func aClockInTheFutureCannotWinAndIsCorrectedWithoutLoss(_ backend: Backend) async throws {
        // a03's laptop thinks it is 2036.
        let future = Mutex(UInt64(2_082_758_400_000))
        let county = try await TrustCounty(backend)
        var laptop = try ReplicaDatabase.create(at: county.f.dir.file("a03-2036.sqlite"), schema: DaibanSchema.schema,
                                                author: "a03", now: { future.withLock { $0 } })
        laptop.signer = DeviceKey()
        let skewed = laptop
        try await county.liveSynced { url in
            try await county.sync("a03", url, replica: skewed)
            try skewed.write { tx in try tx.put(table: "work_log", key: "CA.late", ["case_id": .text("CA"), "content": .text("2036年写的")]) }
            let r = try await county.sync("a03", url, replica: skewed)
            #expect(r.refused == ["clock_ahead": 2])
            #expect((r.clockSkewSeconds ?? 0) > 86_400)
            // The centre sees the skewed device.
            let device = try #require(try await county.f.server.accounts.devices().first { $0.replica == skewed.id })
            #expect((device.clockSkewMillis ?? 0) > 86_400_000)
            // The clock is fixed: the next sync re-stamps the pending write and it lands; nothing typed is lost.
            future.withLock { $0 = ReplicaDatabase.wallClockMillis() }
            let fixed = try await county.sync("a03", url, replica: skewed)
            let why = try skewed.refusals().map(\.message)
            #expect(fixed.restamped >= 1 && fixed.refused.isEmpty, "\(fixed.refused) \(why)")
        }
        #expect(try county.serverValue("work_log", "CA.late", "content") == .text("2036年写的"))
        let version = try #require(try county.f.server.replica.rowState(table: "work_log", key: "CA.late")?.fields["content"]?.versions.first)
        #expect(version.hlc.physical <= ReplicaDatabase.wallClockMillis() + 1000)
    }

    @Test(arguments: Backend.enabled) func unknownTablesAndContactCardsReachOnlyTheirScope(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let a03 = try county.device("a03"), centre = try county.device("admin")
        try await county.live { url in
            try centre.write { tx in
                try tx.put(table: "contact_card", key: "CARD-A", ["project_id": .text("PA"), "card_no": .text("KA-1")])
                try tx.put(table: "contact_card", key: "CARD-B", ["project_id": .text("PB"), "card_no": .text("KB-1")])
            }
            try await county.sync("admin", url)
            // An agent cannot create a table the server does not declare.
            let mystery = RowChange(table: "secret_notes", key: "n1", fields: [
                FieldChange(name: "text", state: forged(.text("x"), vv: [(a03.id, 1)], writer: a03.id, author: "a03"))])
            let ack = try await county.push(forgedBundle(a03, [mystery]), as: "a03", url)
            #expect(TrustCounty.reasons(ack)["secret_notes.n1.text"] == "unknown_field")
            // The centre may (a newer build's table), and only centre devices receive it.
            let fromCentre = RowChange(table: "secret_notes", key: "n2", fields: [
                FieldChange(name: "text", state: forged(.text("y"), vv: [(centre.id, 1)], writer: centre.id, author: "admin"))])
            #expect(try await county.push(forgedBundle(centre, [fromCentre]), as: "admin", url).applied == 1)
            for user in ["a03", "a04", "dg", "sm", "lly"] { try await county.sync(user, url) }
        }
        for user in ["a03", "a04", "dg", "sm", "lly"] {
            #expect(try county.device(user).rowState(table: "secret_notes", key: "n2") == nil, "\(user)")
        }
        #expect(try county.device("a03").get(table: "contact_card", key: "CARD-A") != nil)
        #expect(try county.device("a03").get(table: "contact_card", key: "CARD-B") == nil)
        #expect(try county.device("sm").get(table: "contact_card", key: "CARD-B") != nil)
        #expect(try county.device("dg").get(table: "contact_card", key: "CARD-B") == nil)
        #expect(try county.device("lly").get(table: "contact_card", key: "CARD-A") == nil)
    }

    @Test(arguments: Backend.enabled) func deletionsReachScopedReplicas(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let centre = try county.device("admin")
        try await county.liveSynced { url in
            for user in ["a03", "dg", "lly"] { try await county.sync(user, url) }
            #expect(try county.device("a03").get(table: "work_log", key: "CA.log2")?.deleted == false)
            try centre.write { tx in
                try tx.delete(table: "work_log", key: "CA.log2")
                try tx.delete(table: "plan_item", key: "CA.1")
            }
            try await county.sync("admin", url)
            for user in ["a03", "dg", "lly"] { try await county.sync(user, url) }
        }
        #expect(try county.device("a03").get(table: "work_log", key: "CA.log2")?.deleted == true)
        #expect(try county.device("dg").get(table: "work_log", key: "CA.log2")?.deleted == true)
        // CA.1 was D-LY's only item of CA: the liaison's device no longer holds the case at all.
        #expect(try county.device("lly").get(table: "plan_item", key: "CA.1") == nil)
        #expect(try county.device("lly").get(table: "case", key: "CA") == nil)
        #expect(try county.device("a03").snapshot().rows["work_log/CA.log2"] == centre.snapshot().rows["work_log/CA.log2"])
    }

    @Test(arguments: Backend.enabled) func aLiaisonWritesOnlyItsDepartmentsItems(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        let lly = try county.device("lly")
        try await county.liveSynced("lly") { url in
            try lly.write { tx in
                try tx.put(table: "plan_item", key: "CA.1", ["status": .text("APPROVED"), "decided_on": .date(20_400)])  // D-LY: its own
                try tx.put(table: "plan_item", key: "CA.2", ["status": .text("APPROVED"), "decided_on": .date(20_400)])  // D-ZG's
                try tx.put(table: "plan_item", key: "CA.1", ["department_id": .text("D-ZG")])                          // move it away
            }
            let r = try await county.sync("lly", url)
            #expect(r.refused["outside_scope"] == 2 && r.refused["forbidden"] == 1, "\(r.refused)")
        }
        #expect(try county.serverValue("plan_item", "CA.1", "status") == .text("APPROVED"))
        #expect(try county.serverValue("plan_item", "CA.2", "status") == .text("ACCEPTED"))
        #expect(try county.serverValue("plan_item", "CA.1", "department_id") == .text("D-LY"))
    }

    @Test(arguments: Backend.enabled) func aDeviceCannotClaimTheServersOrAnotherDevicesReplica(_ backend: Backend) async throws {
        let county = try await TrustCounty(backend)
        try await county.f.test { client in
            let serverID = county.f.server.replica.id
            let asServer = try await client.login("a03", replica: serverID, signer: DeviceKey())
            #expect(asServer.status == .conflict && asServer.code == "replica_taken")
            let a04 = try county.device("a04")
            _ = try await client.signIn("a04", replica: a04)
            let asOther = try await client.login("a03", replica: a04.id, signer: DeviceKey())
            #expect(asOther.status == .conflict && asOther.code == "replica_taken")
            // The same device with another key is refused too (a copied replica id on a second laptop).
            let stolen = try await client.login("a04", replica: a04.id, signer: DeviceKey())
            #expect(stolen.status == .conflict && stolen.code == "device_key_mismatch")
        }
    }
}
