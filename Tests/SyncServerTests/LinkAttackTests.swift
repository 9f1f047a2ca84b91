import CaseDomain
import Foundation
import HTTPTypes
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import SyncProtocol
import SyncServer
import SyncTesting
import Testing

/// Links between rows, relays of devices that never signed in, and rows grown past what others can pull: what a
/// modified client tries once the plain write rules hold.
@Suite struct LinkAttackTests {
    /// Enterprise ids come from the public credit code, so anyone can name one. Naming it in a registration gives
    /// the agent nothing until the office, reading the registration, assigns the case.
    @Test func namingAnotherCompanyInARegistrationReadsNothing() async throws {
        let county = try await TrustCounty()
        let a04 = try county.device("a04"), centre = try county.device("admin")
        try await county.liveSynced("a04") { url in
            try a04.write { tx in
                // A second project of enterprise EA (case CA's, A03's) registered by A04 in the field.
                try tx.put(table: "project", key: "PX", ["name": .text("二期"), "enterprise_id": .text("EA"),
                                                         "township_id": .text("OFF-SM")])
                try tx.put(table: "case", key: "CX", ["status": .text("REGISTERED"), "project_id": .text("PX"),
                                                      "enterprise_id": .text("EA"), "township_id": .text("OFF-SM"),
                                                      "office_id": .text("OFF-SM")])
                // And straight at the first project: a material naming it.
                try tx.put(table: "material", key: "MX", ["project_id": .text("PA"), "title": .text("营业执照")])
            }
            let r = try await county.sync("a04", url)
            #expect(r.refused == ["outside_scope": 2], "\(r.refused)")  // the material's two fields
            #expect(try county.serverValue("case", "CX", "enterprise_id") == .text("EA"), "the registration lands")
            #expect(try county.f.server.replica.get(table: "material", key: "MX") == nil)
            // A fresh device of A04 receives its registration, not the enterprise it named nor CA's project.
            let fresh = try county.device("a04", fresh: true)
            try await county.sync("a04", url, replica: fresh)
            #expect(try fresh.get(table: "case", key: "CX") != nil && fresh.get(table: "project", key: "PX") != nil)
            #expect(try fresh.get(table: "enterprise", key: "EA") == nil && fresh.get(table: "project", key: "PA") == nil)
            // The office reads the registration and assigns the case to A04: now the enterprise is A04's to see.
            try centre.write { tx in try tx.put(table: "case", key: "CX", ["agent_id": .text("A04")]) }
            try await county.sync("admin", url)
            try await county.sync("a04", url, replica: fresh)
            #expect(try fresh.get(table: "enterprise", key: "EA") != nil)
            #expect(try fresh.get(table: "project", key: "PA") == nil && fresh.get(table: "case", key: "CA") == nil)
        }
    }

    /// Rows whose links point two ways (a clock pause of one case on another case's item, a meeting about a case
    /// the account does not work) are refused whole.
    @Test func pausesAndMeetingsCannotReachIntoAnotherCase() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03")
        try await county.liveSynced("a03") { url in
            try a03.write { tx in
                // Stops the clock of A04's item CB.1 while claiming to belong to A03's own case.
                try tx.put(table: "item_pause", key: "IP-X", ["case_id": .text("CA"), "plan_item_id": .text("CB.1"),
                                                              "from": .date(20_400), "reason": .text("补正")])
                try tx.put(table: "meeting", key: "MT-X", ["case_ids": .text("CA,CB"), "venue": .text("三楼")])
                // Honest: a pause of its own item, a meeting of its own case.
                try tx.put(table: "item_pause", key: "IP-A", ["case_id": .text("CA"), "plan_item_id": .text("CA.1"),
                                                              "from": .date(20_400), "reason": .text("补正")])
                try tx.put(table: "meeting", key: "MT-A", ["case_ids": .text("CA"), "venue": .text("三楼")])
            }
            let r = try await county.sync("a03", url)
            #expect(r.refused == ["scope_field": 4, "outside_scope": 2], "\(r.refused)")
            #expect(try county.f.server.replica.get(table: "item_pause", key: "IP-X") == nil)
            #expect(try county.f.server.replica.get(table: "meeting", key: "MT-X") == nil)
            #expect(try county.serverValue("item_pause", "IP-A", "plan_item_id") == .text("CA.1"))
            #expect(try county.serverValue("meeting", "MT-A", "venue") == .text("三楼"))
            // A04 never sees them.
            try await county.sync("a04", url)
            #expect(try county.device("a04").get(table: "item_pause", key: "IP-X") == nil)
        }
    }

    /// A new row lands with the links it was judged by, or not at all: when its `case_id` is refused (here a
    /// counter nobody wrote), nothing of it is kept as a row of no case.
    @Test func aNewRowIsJudgedByTheLinksItLandsWith() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03"), centre = try county.device("admin")
        try await county.liveSynced("a03") { url in
            let link = forged(.text("CA"), vv: [(a03.id, 1), (centre.id, 1 << 30)], writer: a03.id, author: "a03")
            let content = forged(.text("无案之记"), vv: [(a03.id, 2)], writer: a03.id, author: "a03")
            let ack = try await county.push(forgedBundle(a03, [RowChange(table: "work_log", key: "CA.nocase", fields: [
                FieldChange(name: "case_id", state: link), FieldChange(name: "content", state: content)])]), as: "a03", url)
            #expect(ack.applied == 0 && ack.rejected.count == 2 && ack.rejected.allSatisfy { $0.reason == "vv_claim" },
                    "\(ack.rejected)")
            #expect(ack.rejected.contains { $0.field == "content" && $0.message.contains("case_id") })
            #expect(try county.f.server.replica.get(table: "work_log", key: "CA.nocase") == nil)
        }
    }

    /// A laptop that never signed in proves nothing about who wrote its bundle: relayed, it is judged as an agent
    /// with no cases, whatever the relaying township may do; and only the holder of the key it signed with can
    /// register its replica id later.
    @Test func anUnregisteredWriterGetsNoOnesRights() async throws {
        let county = try await TrustCounty()
        let dg = try county.device("dg")
        var laptop = try county.f.replica("ghost", author: "zhang")
        let ghostKey = DeviceKey()
        laptop.signer = ghostKey
        let ghost = laptop
        try ghost.write { tx in
            try tx.put(table: "work_log", key: "CA.ghost", ["case_id": .text("CA"), "content": .text("冒充")])
            try tx.put(table: "case", key: "G1", ["status": .text("REGISTERED"), "township_id": .text("OFF-DG"),
                                                  "office_id": .text("OFF-DG")])
            // Beyond a registration: a plan item with a department, an evaluation of a department.
            try tx.put(table: "plan_item", key: "G1.1", ["case_id": .text("G1"), "department_id": .text("D-LY")])
            try tx.put(table: "evaluation", key: "G1.ev", ["case_id": .text("G1"), "direction": .text("AGENT_TO_DEPARTMENT"),
                                                          "target_department_id": .text("D-LY"), "grade": .text("不满意")])
        }
        let bundle = try ghost.exportBundle(for: nil).bytes
        try await county.liveSynced("dg") { url in
            let ack = try await county.push(bundle, as: "dg", url, relay: true)
            #expect(TrustCounty.reasons(ack)["work_log.CA.ghost.content"] == "outside_scope", "\(ack.rejected)")
            #expect(TrustCounty.reasons(ack)["plan_item.G1.1.department_id"] == "forbidden")
            #expect(TrustCounty.reasons(ack)["evaluation.G1.ev.grade"] == "forbidden")
            #expect(try county.serverValue("case", "G1", "township_id") == .text("OFF-DG"), "a new registration lands")
            #expect(try county.f.server.replica.get(table: "work_log", key: "CA.ghost") == nil)
            try await county.sync("dg", url)
            #expect(try dg.get(table: "case", key: "G1") != nil, "the township sees what was registered in it")
        }
        try await county.f.test { client in
            // Someone else claims the laptop's replica id with another key: refused.
            let claim = try await client.login("a04", replica: ghost.id, signer: DeviceKey())
            #expect(claim.status == .conflict && claim.code == "device_key_mismatch", "\(claim.status) \(claim.code ?? "")")
            // The laptop itself signs in with the key its bundles carry.
            let own = try await client.login("a03", replica: ghost.id, signer: ghostKey)
            #expect(own.status == .ok)
        }
        // What it registered is now its user's: signed in (its pending writes now travel as a03, as `daiban login`
        // does), the laptop may go on with its case.
        try ghost.write { tx in try tx.put(table: "work_log", key: "G1.log", ["case_id": .text("G1"), "content": .text("补登")]) }
        try ghost.setAuthor("a03")
        try ghost.reauthorPending(after: 0, author: "a03")
        try await county.live { url in
            let r = try await county.sync("a03", url, replica: ghost)
            #expect(r.refused["outside_scope"] == nil, "\(r.refused)")
            let refusals = try ghost.refusals().map { "\($0.table).\($0.key).\($0.field) \($0.reason) \($0.message)" }
            #expect(try county.serverValue("work_log", "G1.log", "content") == .text("补登"), "\(r.refused) \(refusals)")
        }
    }

    /// A sign-in that presents a device key must be signed by it: a registered public key is not a password.
    @Test func aSignInMustBeSignedByTheKeyItPresents() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03")
        try await county.f.test { client in
            let unsigned = try await client.call(.post, "/v1/login", body: [UInt8](try JSONSerialization.data(withJSONObject: [
                "user": "a03", "password": "pw-a03-secret", "replica": a03.id.description,
                "device_key": hexString(a03.signer!.publicKey),
            ])))
            #expect(unsigned.status == .forbidden && unsigned.code == "bad_signature")
            let forgedProof = try await client.login("a03", replica: a03.id, signer: a03.signer, proofBy: DeviceKey())
            #expect(forgedProof.status == .forbidden && forgedProof.code == "bad_signature")
            // A stale stamp still proves the key (a field laptop's clock may be off); it only earns no exemption
            // from the per-user limit.
            let stale = try await client.login("a03", replica: a03.id, signer: a03.signer, proofTime: ServerFixture.start - 86_400)
            #expect(stale.status == .ok)
            #expect(try await client.login("a03", replica: a03).status == .ok)
        }
    }

    /// Field states within their own bound can still add up to a row no push or pull chunk could carry; the server
    /// refuses the version that would cross the row bound, and everyone keeps syncing. A device's own write that
    /// would cross it is refused at once, with a clear error.
    @Test func aRowCannotGrowPastWhatEveryoneCanPull() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03")
        @Sendable func noise(_ bytes: Int) -> String {
            String(String.UnicodeScalarView((0..<(bytes / 3)).map { _ in Unicode.Scalar(UInt32.random(in: 0x4E00...0x9FA5))! }))
        }
        let fields = ["stage", "depends_on", "handling_class", "committed_unit", "legal_unit"]
        try await county.liveSynced("a03") { url in
            try a03.write { tx in
                for f in fields { try tx.put(table: "plan_item", key: "CA.1", [f: .text(noise(1_000_000))]) }
            }
            // The sixth megabyte is refused locally: the row could outgrow one push.
            #expect(throws: SyncError.self) {
                try a03.write { tx in try tx.put(table: "plan_item", key: "CA.1", ["cert_no": .text(noise(1_000_000))]) }
            }
            try await county.sync("a03", url)
            // A modified client sends it anyway.
            let seq = try a03.currentSeq()
            let big = forged(.text(noise(1_000_000)), vv: [(a03.id, seq + 1)], writer: a03.id, author: "a03")
            let ack = try await county.push(forgedBundle(a03, toSeq: seq + 1, [RowChange(table: "plan_item", key: "CA.1", fields: [
                FieldChange(name: "cert_no", state: big)])]), as: "a03", url)
            #expect(TrustCounty.reasons(ack)["plan_item.CA.1.cert_no"] == "state_too_large", "\(ack.rejected)")
            // The row, at its bound, still reaches every reader.
            let report = try await county.sync("admin", url)
            #expect(report.pulledFields > 0)
            try await county.sync("lly", url)
            #expect(try county.device("lly").get(table: "plan_item", key: "CA.1")?.fields.first { $0.name == "stage" } != nil)
        }
    }

    /// A pull tells each device what the server holds of its own writes, and nothing of which other devices exist.
    @Test func pullsAcknowledgeOnlyTheCallersWrites() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03"), a04 = try county.device("a04")
        try await county.liveSynced { url in
            try a03.write { tx in try tx.put(table: "work_log", key: "CA.mine", ["case_id": .text("CA"), "content": .text("记")]) }
            try a04.write { tx in try tx.put(table: "work_log", key: "CB.mine", ["case_id": .text("CB"), "content": .text("记")]) }
            try await county.sync("a03", url)
            try await county.sync("a04", url)
            let (c, t) = try await county.session("a04", a04, url)
            let chunk = try await c.pull(after: 0, token: t.accessToken)
            await c.shutdown()
            let acks = try ChangeSetReader(bytes: chunk.bytes).acks
            #expect(acks.map(\.replica) == [a04.id], "\(acks)")
        }
    }

    /// Whatever a device's clock header says, the server notes a bounded skew and carries on.
    @Test func clockHeadersCannotOverflow() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03")
        try await county.f.test { client in
            let tokens = try await client.signIn("a03", replica: a03)
            for time in [Int64.max, Int64.min, -1, 0] {
                let a = try await client.call(.get, "/v1/scope?after=0", token: tokens.access,
                                              headers: ["Daiban-Client-Time": String(time)])
                #expect(a.status == .ok, "\(time): \(a.status)")
            }
            let device = try #require(try await county.f.server.accounts.devices().first { $0.replica == a03.id })
            #expect(abs(device.clockSkewMillis ?? 0) <= 100 * 365 * 86_400_000)
        }
    }

    /// A relay refused as a whole (here: a bundle "of the centre's device" that no centre key signed) answers the
    /// relayer nothing of the rows it named; what a relayer is told is what its own pull would give it.
    @Test func aRefusedRelayShowsTheRelayerNothing() async throws {
        let county = try await TrustCounty()
        let centre = try county.device("admin")
        try await county.liveSynced("dg") { url in
            let probe = forged(.text("x"), vv: [(centre.id, 1 << 40)], writer: centre.id, author: "admin")
            let bundle = ChangeSetEncoder().encode(ChangeSet(sender: centre.id, fromSeq: 0, toSeq: 1 << 41, rows: [
                RowChange(table: "case", key: "CB", fields: [FieldChange(name: "agent_id", state: probe)]),
                RowChange(table: "work_log", key: "CB.log1", fields: [FieldChange(name: "content", state: probe)]),
            ]))
            let ack = try await county.push(bundle, as: "dg", url, relay: true)
            #expect(ack.applied == 0 && ack.rejected.allSatisfy { $0.reason == "bad_signature" })
            #expect(ack.current == nil, "the refused relay carried the server's state of another township's case")
        }
    }

    /// A new case joins its project's readers, so it may name only a project of its own township.
    @Test func aTownshipReachesOnlyProjectsOfItsTownship() async throws {
        let county = try await TrustCounty()
        let dg = try county.device("dg")
        try await county.liveSynced("dg") { url in
            try dg.write { tx in
                try tx.put(table: "case", key: "CX", ["status": .text("REGISTERED"), "township_id": .text("OFF-DG"),
                                                      "office_id": .text("OFF-DG"), "project_id": .text("PB"),
                                                      "enterprise_id": .text("EB")])
            }
            let r = try await county.sync("dg", url)
            #expect(r.refused == ["scope_field": 5], "\(r.refused)")
            #expect(try county.f.server.replica.get(table: "case", key: "CX") == nil)
            let fresh = try county.device("dg", fresh: true)
            try await county.sync("dg", url, replica: fresh)
            #expect(try fresh.get(table: "project", key: "PB") == nil && fresh.get(table: "enterprise", key: "EB") == nil)
        }
    }

    /// An office's work of one sitting lands as one, whatever order its rows are listed in: a bundle lists rows by
    /// table name, and an agreement or a contact card comes before the case or project it names.
    @Test func officeWorkOfOneSittingLandsWhateverTheRowOrder() async throws {
        let county = try await TrustCounty()
        let dg = try county.device("dg")
        try await county.liveSynced("dg") { url in
            try dg.write { tx in
                try tx.put(table: "project", key: "PD", ["name": .text("新项目"), "township_id": .text("OFF-DG")])
                try tx.put(table: "contact_card", key: "CC-D", ["project_id": .text("PD"), "card_no": .text("联系卡 1")])
                try tx.put(table: "case", key: "CD", ["status": .text("REGISTERED"), "township_id": .text("OFF-DG"),
                                                      "office_id": .text("OFF-DG"), "project_id": .text("PD")])
                try tx.put(table: "agreement", key: "AG-D", ["case_id": .text("CD"), "sign_state": .text("SIGNED")])
            }
            let r = try await county.sync("dg", url)
            #expect(r.refused.isEmpty, "\(r.refused)")
            #expect(try county.serverValue("agreement", "AG-D", "case_id") == .text("CD"))
            #expect(try county.serverValue("contact_card", "CC-D", "project_id") == .text("PD"))
        }
    }

    /// A link that is not a scope field must still name a row of the row's own case, and one that is must name a
    /// row that exists: a pause of an item not yet planned would stop another case's clock once it is.
    @Test func linksNameRowsOfTheSameCase() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03")
        try await county.liveSynced("a03") { url in
            try a03.write { tx in
                try tx.put(table: "item_pause", key: "IP-F", ["case_id": .text("CA"), "plan_item_id": .text("CA.9"),
                                                              "from": .date(20_400), "reason": .text("补正")])
                try tx.put(table: "work_log", key: "CA.wl", ["case_id": .text("CA"), "plan_item_id": .text("CB.1"),
                                                             "content": .text("跑错件")])
            }
            let r = try await county.sync("a03", url)
            #expect(r.refused == ["scope_field": 5], "\(r.refused)")
            #expect(try county.f.server.replica.get(table: "item_pause", key: "IP-F") == nil)
            #expect(try county.serverValue("work_log", "CA.wl", "content") == .text("跑错件"))
            #expect(try county.serverValue("work_log", "CA.wl", "plan_item_id") == nil)
        }
    }

    /// Case ids are predictable; a case an agent made up before the office registered it stays the agent's only
    /// until someone else writes a row of it.
    @Test func anOfficeRegistrationEndsAClaimMadeInAdvance() async throws {
        let county = try await TrustCounty()
        let a04 = try county.device("a04"), sm = try county.device("sm")
        try await county.liveSynced { url in
            try a04.write { tx in
                try tx.put(table: "case", key: "CP", ["status": .text("REGISTERED"), "township_id": .text("OFF-SM"),
                                                      "office_id": .text("OFF-SM")])
            }
            try await county.sync("a04", url)
            try await county.sync("sm", url)
            try sm.write { tx in
                try tx.put(table: "registration", key: "reg-sm", ["case_id": .text("CP"), "channel": .text("WINDOW"),
                                                                 "received_by_person_id": .text("ADM-DG")])
            }
            #expect(try await county.sync("sm", url).refused.isEmpty)
            let r = try await county.sync("a04", url)
            #expect(r.purgedRows > 0)
            #expect(try a04.get(table: "case", key: "CP") == nil)
            #expect(try a04.get(table: "registration", key: "reg-sm") == nil)
        }
    }

    /// The roster decides which account acts as which person: when the centre moves a login, the cases move with it.
    @Test func movingALoginMovesTheCases() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03"), a04 = try county.device("a04"), centre = try county.device("admin")
        try await county.liveSynced("a03", "a04") { url in
            #expect(try a03.get(table: "case", key: "CA") != nil && a04.get(table: "case", key: "CA") == nil)
            // 郑海波 (A03) now signs in as a04's account; 吴丽娟 (A04) as nobody.
            try centre.write { tx in
                try tx.put(table: "person", key: "A03", ["login": .text("a04")])
                try tx.put(table: "person", key: "A04", ["login": .text("a04-old")])
            }
            try await county.sync("admin", url)
            try await county.sync("a03", url)
            try await county.sync("a04", url)
            #expect(try a03.get(table: "case", key: "CA") == nil, "the old login keeps a case it no longer works")
            #expect(try a04.get(table: "case", key: "CA") != nil, "the new login never received the person's case")
            #expect(try a04.get(table: "case", key: "CB") == nil)
        }
    }

    /// A liaison reads the tickets of its department (it records their rectification), and only those.
    @Test func aLiaisonSeesTheTicketsItRectifies() async throws {
        let county = try await TrustCounty()
        let centre = try county.device("admin")
        try centre.write { tx in
            try tx.put(table: "ticket", key: "TK-LY", ["case_id": .text("CA"), "responsible": .text("D-LY"), "status": .text("OPEN")])
            try tx.put(table: "ticket", key: "TK-ZG", ["case_id": .text("CA"), "responsible": .text("D-ZG"), "status": .text("OPEN")])
        }
        let lly = try county.device("lly")
        try await county.liveSynced("lly") { url in
            #expect(try lly.get(table: "ticket", key: "TK-LY") != nil && lly.get(table: "ticket", key: "TK-ZG") == nil)
            try lly.write { tx in try tx.put(table: "ticket", key: "TK-LY", ["action": .text("已整改"), "rectified_at": .date(20_500)]) }
            #expect(try await county.sync("lly", url).refused.isEmpty)
            try await county.sync("a03", url)
            #expect(try county.device("a03").get(table: "ticket", key: "TK-LY") == nil, "raters stay confidential")
        }
    }

    /// A complaint about no particular case is the office's to record and to keep.
    @Test func aTownshipKeepsComplaintsAboutNoCase() async throws {
        let county = try await TrustCounty()
        let dg = try county.device("dg")
        try await county.liveSynced { url in
            try dg.write { tx in
                try tx.put(table: "complaint", key: "CMP-1", ["complainant": .text("王先生"), "content": .text("窗口排队太久")])
            }
            #expect(try await county.sync("dg", url).refused.isEmpty)
            let fresh = try county.device("dg", fresh: true)
            try await county.sync("dg", url, replica: fresh)
            #expect(try fresh.get(table: "complaint", key: "CMP-1") != nil)
            try await county.sync("sm", url)
            #expect(try county.device("sm").get(table: "complaint", key: "CMP-1") == nil)
        }
    }
}
