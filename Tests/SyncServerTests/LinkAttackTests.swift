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
        let county = try TrustCounty()
        let a04 = try county.device("a04"), centre = try county.device("admin")
        try await county.live { url in
            try await county.sync("admin", url)
            try await county.sync("a04", url)
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
        let county = try TrustCounty()
        let a03 = try county.device("a03")
        try await county.live { url in
            try await county.sync("admin", url)
            try await county.sync("a03", url)
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
        let county = try TrustCounty()
        let a03 = try county.device("a03"), centre = try county.device("admin")
        try await county.live { url in
            try await county.sync("admin", url)
            try await county.sync("a03", url)
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
        let county = try TrustCounty()
        let dg = try county.device("dg")
        var laptop = try county.f.replica("ghost", author: "zhang")
        let ghostKey = DeviceKey()
        laptop.signer = ghostKey
        let ghost = laptop
        try ghost.write { tx in
            try tx.put(table: "work_log", key: "CA.ghost", ["case_id": .text("CA"), "content": .text("冒充")])
            try tx.put(table: "case", key: "G1", ["status": .text("REGISTERED"), "township_id": .text("OFF-DG"),
                                                  "office_id": .text("OFF-DG")])
        }
        let bundle = try ghost.exportBundle(for: nil).bytes
        try await county.live { url in
            try await county.sync("admin", url)
            try await county.sync("dg", url)
            let ack = try await county.push(bundle, as: "dg", url, relay: true)
            #expect(TrustCounty.reasons(ack)["work_log.CA.ghost.content"] == "outside_scope", "\(ack.rejected)")
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
    }

    /// A sign-in that presents a device key must be signed by it: a registered public key is not a password.
    @Test func aSignInMustBeSignedByTheKeyItPresents() async throws {
        let county = try TrustCounty()
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
        let county = try TrustCounty()
        let a03 = try county.device("a03")
        @Sendable func noise(_ bytes: Int) -> String {
            String(String.UnicodeScalarView((0..<(bytes / 3)).map { _ in Unicode.Scalar(UInt32.random(in: 0x4E00...0x9FA5))! }))
        }
        let fields = ["stage", "depends_on", "handling_class", "committed_unit", "legal_unit", "platform_case_no"]
        try await county.live { url in
            try await county.sync("admin", url)
            try await county.sync("a03", url)
            try a03.write { tx in
                for f in fields { try tx.put(table: "plan_item", key: "CA.1", [f: .text(noise(1_000_000))]) }
            }
            // The seventh megabyte is refused locally: the row would not fit one push.
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
        let county = try TrustCounty()
        let a03 = try county.device("a03"), a04 = try county.device("a04")
        try await county.live { url in
            try await county.sync("admin", url)
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
        let county = try TrustCounty()
        let a03 = try county.device("a03")
        try await county.f.test { client in
            let tokens = try await client.signIn("a03", replica: a03)
            for time in [Int64.max, Int64.min, -1, 0] {
                let a = try await client.call(.get, "/v1/scope?after=0", token: tokens.access,
                                              headers: ["Daiban-Client-Time": String(time)])
                #expect(a.status == .ok, "\(time): \(a.status)")
            }
            let device = try #require(try county.f.server.accounts.devices().first { $0.replica == a03.id })
            #expect(abs(device.clockSkewMillis ?? 0) <= 100 * 365 * 86_400_000)
        }
    }
}
