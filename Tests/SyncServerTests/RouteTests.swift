import Foundation
import CaseDomain
import HTTPTypes
import HummingbirdTesting
import ReplicaStore
import SyncContract
import SyncCore
import SyncProtocol
import SyncServer
import SyncTesting
import Testing

/// Every route in process (`app.test(.router)`): real SQLite files, real bcrypt, real tokens.
@Suite struct RouteTests {
    @Test func healthAndMetrics() async throws {
        let f = try ServerFixture { $0.instance = "county-a" }
        try await f.user("li", .agent)
        let replica = try f.replica("li")
        try fill(replica, rows: 5)
        try await f.test { client in
            let health = try await client.call(.get, "/health", protocolVersion: nil)
            #expect(health.status == .ok)
            #expect(health.json["replica"] as? String == f.server.replica.id.description)
            #expect(health.header("Daiban-Protocol") == "2")
            let t = try await client.signIn("li", replica: replica).access
            #expect(try await client.push(try bundle(replica), t).status == .ok)
            #expect(try await client.pull(after: 0, t).status == .ok)
            let metrics = try await client.call(.get, "/metrics", protocolVersion: nil)
            #expect(metrics.status == .ok)
            let text = String(decoding: metrics.body, as: UTF8.self)
            for name in ["hb_requests", "http_server_request_duration", "daiban_changes_applied_total", "daiban_push_bytes",
                         "daiban_pull_bytes", "daiban_pull_chunks_total", "daiban_conflicts_open"] {
                #expect(text.contains(name), "\(name)")
            }
            let build = text.split(separator: "\n").first { $0.hasPrefix("daiban_build_info{") && $0.contains("instance_id=\"county-a\"") }
            #expect(build?.contains("version=\"\(SyncHTTP.release)\"") == true && (build?.hasSuffix(" 1") == true || build?.hasSuffix(" 1.0") == true), "\(String(describing: build))")
            var named = ServerConfig()
            try named.merge(environment: ["DAIBAN_INSTANCE": "county-b:8443"])
            #expect(named.instance == "county-b:8443")
            named.instance = "a\"} 1\nforged"
            #expect(throws: ConfigError.self, "an instance id that would break the metrics text") { try named.validate() }
        }
    }

    /// A device on a slow link asks for smaller pull chunks: granted down to 16 KiB, never above the server's
    /// size; a malformed size is refused; the smaller chunks carry everything the big one did.
    @Test func pullChunksFollowTheRequestedSize() async throws {
        let f = try ServerFixture()
        try await f.user("admin", .center)
        try await f.user("reader", .center)
        let centre = try f.replica("admin"), reader = try f.replica("reader")
        try fill(centre, rows: 3000)
        try await f.test { client in
            let t = try await client.signIn("admin", replica: centre).access
            #expect(try await client.push(try bundle(centre), t).status == .ok)
            let r = try await client.signIn("reader", replica: reader).access
            for bad in ["0", "-5", "lots", ""] {
                let a = try await client.call(.get, "/v1/pull?after=0&max_bytes=\(bad)", token: r)
                #expect(a.status == .badRequest && a.code == "bad_parameter", "max_bytes=\(bad)")
            }
            let whole = try await client.pull(after: 0, r)
            #expect(whole.header("Daiban-More") == "false")
            var cursor: UInt64 = 0, chunks = 0
            while true {
                let a = try await client.call(.get, "/v1/pull?after=\(cursor)&max_bytes=1000", token: r)
                try #require(a.status == .ok)
                #expect(a.body.count < 20 << 10, "a chunk of \(a.body.count) bytes for max_bytes=1000 (16 KiB floor)")
                _ = try reader.importBundle(a.body)
                chunks += 1
                cursor = try #require(a.header("Daiban-Next").flatMap(UInt64.init))
                if a.header("Daiban-More") != "true" { break }
            }
            #expect(chunks >= whole.body.count / (20 << 10), "\(chunks) chunks for \(whole.body.count) bytes")
            #expect(try reader.list(table: "township").count == 3000)
        }
    }

    @Test func protocolVersionIsChecked() async throws {
        let f = try ServerFixture()
        try await f.user("li", .agent)
        let replica = try f.replica("li")
        try await f.test { client in
            let missing = try await client.call(.post, "/v1/push", protocolVersion: nil, body: [1, 2, 3])
            #expect(missing.status == .upgradeRequired)
            #expect(missing.code == "upgrade_required")
            let old = try await client.call(.post, "/v1/push", protocolVersion: "1", body: [1, 2, 3])
            #expect(old.code == "upgrade_required")
            let newer = try await client.call(.get, "/v1/pull", protocolVersion: "3")
            #expect(newer.status == .badRequest)
            #expect(newer.code == "protocol_unsupported")
            // Unknown endpoints answer with a code and the protocol header too.
            let nowhere = try await client.call(.get, "/v1/nowhere")
            #expect(nowhere.status == .notFound && nowhere.code == "not_found")
            #expect(nowhere.header("Daiban-Protocol") == "2")
            // The current version passes the check (and then needs a token).
            let current = try await client.call(.get, "/v1/pull")
            #expect(current.code == "unauthenticated")
            _ = try await client.signIn("li", replica: replica)
        }
    }

    @Test(arguments: Backend.enabled) func loginFailuresAreIndistinguishableAndRateLimited(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend) { $0.loginMaxFailures = 3; $0.loginWindowSeconds = 600 }
        try await f.user("wang", .agent)
        try await f.user("zhao", .agent)
        let replica = try f.replica("wang")
        try await f.test { client in
            let wrong = try await client.login("wang", password: "not-the-password", replica: replica)
            let unknown = try await client.login("nobody", password: "whatever-it-is", replica: replica)
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            #expect(wrong.code == "invalid_credentials" && unknown.code == "invalid_credentials")
            #expect(wrong.json["error"] as? NSDictionary == unknown.json["error"] as? NSDictionary)
            _ = try await client.login("wang", password: "still-wrong!", replica: replica)
            _ = try await client.login("wang", password: "wrong-again!", replica: replica)
            // Three failures for this user: even the right password waits now.
            let blocked = try await client.login("wang", replica: replica)
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.code == "too_many_attempts")
            #expect(Int(blocked.header("Retry-After") ?? "") ?? 0 > 0)
            // The window passes.
            f.advance(seconds: 601)
            _ = try await client.signIn("wang", replica: replica)
        }
    }

    @Test(arguments: Backend.enabled) func tokensExpireRefreshAndRotate(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend) { $0.accessTokenSeconds = 60 }
        try await f.user("sun", .agent)
        let replica = try f.replica("sun")
        try fill(replica, rows: 2)
        try await f.test { client in
            let none = try await client.push(try bundle(replica), nil)
            #expect(none.status == .unauthorized && none.code == "unauthenticated")
            let forged = try await client.push(try bundle(replica), "dbt1.eyJ1IjoxLCJkIjoxLCJleHAiOjk5OTk5OTk5OTl9.AAAA")
            #expect(forged.code == "invalid_token")
            let tokens = try await client.signIn("sun", replica: replica)
            #expect(try await client.push(try bundle(replica), tokens.access).status == .ok)
            f.advance(seconds: 61)
            let expired = try await client.push(try bundle(replica), tokens.access)
            #expect(expired.status == .unauthorized && expired.code == "token_expired")
            let body = try JSONSerialization.data(withJSONObject: ["refresh_token": tokens.refresh])
            let refreshed = try await client.call(.post, "/v1/refresh", body: [UInt8](body))
            #expect(refreshed.status == .ok)
            let access = try #require(refreshed.json["access_token"] as? String)
            let next = try #require(refreshed.json["refresh_token"] as? String)
            #expect(next != tokens.refresh, "refresh tokens rotate")
            #expect(try await client.push(try bundle(replica), access).status == .ok)
            // The answer was lost on the way: the retry with the spent token gets the same successor, so the
            // device is not signed out by a dropped packet.
            let retry = try await client.call(.post, "/v1/refresh", body: [UInt8](body))
            #expect(retry.status == .ok && retry.json["refresh_token"] as? String == next)
            // The successor is used; presenting the spent token again now is a replay: the family is revoked, the
            // successor included.
            let nextBody = try JSONSerialization.data(withJSONObject: ["refresh_token": next])
            let used = try await client.call(.post, "/v1/refresh", body: [UInt8](nextBody))
            #expect(used.status == .ok)
            let third = try #require(used.json["refresh_token"] as? String)
            let replay = try await client.call(.post, "/v1/refresh", body: [UInt8](body))
            #expect(replay.status == .unauthorized && replay.code == "invalid_refresh_token")
            let thirdBody = try JSONSerialization.data(withJSONObject: ["refresh_token": third])
            let revoked = try await client.call(.post, "/v1/refresh", body: [UInt8](thirdBody))
            #expect(revoked.status == .unauthorized && revoked.code == "invalid_refresh_token", "the whole family ends")
            // A spent token presented after the grace period is a replay too.
            let fresh = try await client.signIn("sun", replica: replica)
            let freshBody = try JSONSerialization.data(withJSONObject: ["refresh_token": fresh.refresh])
            #expect(try await client.call(.post, "/v1/refresh", body: [UInt8](freshBody)).status == .ok)
            f.advance(seconds: 601)
            #expect(try await client.call(.post, "/v1/refresh", body: [UInt8](freshBody)).code == "invalid_refresh_token")
        }
    }

    @Test(arguments: Backend.enabled) func revokedDeviceCanNeitherPushNorPull(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend)
        try await f.user("zhou", .agent)
        let replica = try f.replica("zhou")
        try fill(replica, rows: 1)
        try await f.test { client in
            let tokens = try await client.signIn("zhou", replica: replica)
            let device = try #require(try await f.server.accounts.devices().first { $0.replica == replica.id })
            #expect(try await f.server.accounts.revoke(deviceID: device.id, now: ServerFixture.start))
            let push = try await client.push(try bundle(replica), tokens.access)
            #expect(push.status == .forbidden && push.code == "device_revoked")
            let pull = try await client.pull(after: 0, tokens.access)
            #expect(pull.code == "device_revoked")
            let relogin = try await client.login("zhou", replica: replica)
            #expect(relogin.code == "device_revoked")
            let refresh = try await client.call(
                .post, "/v1/refresh", body: [UInt8](try JSONSerialization.data(withJSONObject: ["refresh_token": tokens.refresh])))
            #expect(refresh.code == "invalid_refresh_token")
            #expect(try f.server.replica.status().fieldStates == 0)
        }
    }

    @Test(arguments: Backend.enabled) func disabledUsersAndNewPasswordsTakeEffectAtOnce(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend)
        try await f.user("zhou", .agent)
        let replica = try f.replica("zhou")
        try fill(replica, rows: 1)
        try await f.test { client in
            let tokens = try await client.signIn("zhou", replica: replica)
            #expect(try await f.server.accounts.setDisabled(name: "zhou", true))
            let push = try await client.push(try bundle(replica), tokens.access)
            #expect(push.status == .forbidden && push.code == "user_disabled")
            #expect(try await client.login("zhou", replica: replica).code == "user_disabled")
            #expect(try await f.server.accounts.setDisabled(name: "zhou", false))
            #expect(try await client.push(try bundle(replica), tokens.access).status == .ok)
            #expect(try await f.server.accounts.setPassword(name: "zhou", password: "新的密码-2026", cost: 4))
            #expect(try await client.login("zhou", replica: replica).code == "invalid_credentials")
            #expect(try await client.login("zhou", password: "新的密码-2026", replica: replica).status == .ok)
            #expect(try await !f.server.accounts.setDisabled(name: "nobody", true))
        }
    }

    @Test(arguments: Backend.enabled) func replicaBelongsToOneUser(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend)
        try await f.user("a1", .agent)
        try await f.user("a2", .agent)
        let replica = try f.replica("shared")
        try await f.test { client in
            _ = try await client.signIn("a1", replica: replica)
            let other = try await client.login("a2", replica: replica)
            #expect(other.status == .conflict && other.code == "replica_taken")
        }
    }

    @Test func hostilePushesAreRejectedAndChangeNothing() async throws {
        let f = try ServerFixture { $0.maxPushBytes = 1 << 20; $0.maxPushDecompressedBytes = 4 << 20 }
        try await f.user("qian", .center)
        let replica = try f.replica("qian")
        try fill(replica, rows: 3)
        let good = try bundle(replica)
        try await f.test { client in
            let t = try await client.signIn("qian", replica: replica).access
            var cases: [(String, [UInt8], HTTPResponse.Status, String)] = [
                ("garbage", Array("hello, not a bundle".utf8), .badRequest, "bad_magic"),
                ("truncated", Array(good.prefix(good.count - 5)), .badRequest, "truncated"),
                ("empty", [], .badRequest, "truncated"),
                ("oversized", [UInt8](repeating: 7, count: (1 << 20) + 1), .contentTooLarge, "payload_too_large"),
            ]
            var flipped = good
            flipped[good.count - 3] ^= 0x5A
            cases.append(("flipped byte", flipped, .badRequest, "checksum_mismatch"))
            // 64 MiB of zeros in ~64 KiB: honest header, then a lying one.
            let zeros = zerosStream(bytes: 64 << 20)
            cases.append(("bomb", Bomb.bundle(compressed: zeros, declaredPlain: 64 << 20, sender: replica.id),
                          .contentTooLarge, "decompressed_too_large"))
            cases.append(("lying bomb", Bomb.bundle(compressed: zeros, declaredPlain: 1000, sender: replica.id),
                          .contentTooLarge, "decompressed_too_large"))
            let wrongType = ChangeSet(sender: replica.id, fromSeq: 0, toSeq: 1, rows: [
                RowChange(table: "township", key: "T9", fields: [FieldChange(name: "name", state: FieldState(
                    FieldVersion(value: .int(5), vv: VersionVector([(replica.id, 1)]), hlc: HLCTimestamp(rawValue: 1 << 20),
                                 writer: replica.id)))]),
            ])
            cases.append(("wrong type", ChangeSetEncoder().encode(wrongType, signer: replica.signer), .badRequest, "type_mismatch"))
            cases.append(("unsigned", ChangeSetEncoder().encode(try replica.changeSet()), .forbidden, "bad_signature"))
            cases.append(("signed by another key", ChangeSetEncoder().encode(try replica.changeSet(), signer: DeviceKey()),
                          .forbidden, "bad_signature"))
            for (name, body, status, code) in cases {
                let a = try await client.push(body, t)
                #expect(a.status == status, "\(name)")
                #expect(a.code == code, "\(name)")
            }
            #expect(try f.server.replica.status().fieldStates == 0)
            #expect(try f.server.replica.audit().isEmpty)
            // The server still works.
            let ok = try await client.push(good, t)
            #expect(ok.status == .ok)
            #expect(ok.json["applied"] as? Int == 3)
        }
    }

    @Test(arguments: Backend.enabled) func pushIsIdempotent(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend)
        try await f.user("li", .center)
        let replica = try f.replica("li")
        try fill(replica, rows: 50)
        let b = try bundle(replica)
        try await f.test { client in
            let t = try await client.signIn("li", replica: replica).access
            let first = try await client.push(b, t)
            #expect(first.json["applied"] as? Int == 50)
            #expect(first.json["acked"] as? Int == 50)
            let before = try f.server.replica.snapshot()
            let auditBefore = try f.server.replica.audit(limit: 10_000).count
            let second = try await client.push(b, t)
            #expect(second.status == .ok)
            #expect(second.json["applied"] as? Int == 0)
            #expect(second.json["ignored"] as? Int == 50)
            #expect(try f.server.replica.snapshot() == before)
            #expect(try f.server.replica.audit(limit: 10_000).count == auditBefore)
            #expect(auditBefore == 50)
        }
    }

    @Test(arguments: Backend.enabled) func senderMustBeTheDevice(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend)
        try await f.user("li", .township)
        let mine = try f.replica("li")
        let other = try f.replica("other")
        try fill(other, rows: 1)
        try await f.test { client in
            let t = try await client.signIn("li", replica: mine).access
            let a = try await client.push(try bundle(other), t)
            #expect(a.status == .forbidden && a.code == "sender_mismatch")
        }
    }

    @Test func relaysForwardTheWritersOwnBundle() async throws {
        let f = try ServerFixture()
        try await f.user("agent2", .agent)
        try await f.user("town", .township, township: "T01")
        let field = try f.replica("field", author: "zhang-field")  // an agent's laptop, never online
        let otherAgent = try f.replica("agent2")
        let township = try f.replica("town")
        try field.write { tx in
            try tx.put(table: "case", key: "F1", ["status": .text("REGISTERED"), "township_id": .text("T01")])
            for i in 0..<3 { try tx.put(table: "work_log", key: "F1.log\(i)", ["case_id": .text("F1"), "content": .text("走访\(i)")]) }
        }
        let fieldBundle = try bundle(field)
        _ = try otherAgent.importBundle(fieldBundle)
        _ = try township.importBundle(fieldBundle)
        try await f.test { client in
            // An agent's own bundle carrying another replica's versions: each is refused, nothing lands.
            let agentToken = try await client.signIn("agent2", replica: otherAgent).access
            let own = try await client.push(try otherAgent.exportBundle(for: nil).bytes, agentToken)
            #expect(own.status == .ok && own.json["applied"] as? Int == 0)
            #expect(Set(own.refusals.values) == ["unsigned_relay"] && own.refusals.count == 8)
            // An agent may not relay at all.
            #expect(try await client.relay(fieldBundle, agentToken).code == "relay_forbidden")
            // The township forwards the field laptop's bundle as it was made; an unregistered writer is judged as
            // an agent with no cases: it may register a new case (which its township then sees), nothing more.
            let townToken = try await client.signIn("town", replica: township).access
            let relayed = try await client.relay(fieldBundle, townToken)
            #expect(relayed.status == .ok && relayed.json["applied"] as? Int == 8)
            // The township's own push now carries nothing new of the field laptop.
            let townPush = try await client.push(try township.exportBundle(for: nil).bytes, townToken)
            #expect(townPush.json["applied"] as? Int == 0 && townPush.refusals.isEmpty)
        }
        // Authorship and clocks stay the field agent's; the trail names the relaying user and device.
        let record = try #require(try f.server.replica.rowState(table: "work_log", key: "F1.log0"))
        let version = try #require(record.fields["content"]?.versions.first)
        let original = try #require(try field.rowState(table: "work_log", key: "F1.log0")?.fields["content"]?.versions.first)
        #expect(version == original)
        let trail = try f.server.replica.audit(table: "work_log", key: "F1.log0")
        #expect(trail.count == 2)
        #expect(trail.allSatisfy { $0.writer == field.id && $0.author == "zhang-field" && $0.viaUser == "town" })
    }

    @Test func pullsAreScopedToTheUsersCasesAndFollowAssignments() async throws {
        let f = try ServerFixture { $0.pullChunkBytes = 4 << 10 }
        try await f.user("admin", .center)
        try await f.user("a03", .agent)
        try await f.user("a04", .agent)
        try await f.user("dg", .township, township: "OFF-DG")
        try await f.user("lly", .liaison, department: "D-LY")
        let centre = try f.replica("admin")
        try centre.write { tx in
            try tx.put(table: "person", key: "A03", ["name": .text("郑海波"), "login": .text("a03"), "roles": .text("AGENT")])
            try tx.put(table: "person", key: "A04", ["name": .text("吴丽娟"), "login": .text("a04"), "roles": .text("AGENT")])
            try tx.put(table: "person", key: "L-LY", ["name": .text("孙浩"), "login": .text("lly"), "department_id": .text("D-LY")])
            try tx.put(table: "project", key: "PA", ["name": .text("甲项目"), "township_id": .text("OFF-DG")])
            try tx.put(table: "project", key: "PB", ["name": .text("乙项目"), "township_id": .text("OFF-SM")])
            try tx.put(table: "project", key: "PX", ["name": .text("招商储备项目")])  // no case yet: shared
            try tx.put(table: "case", key: "CA", ["status": .text("EXECUTING"), "agent_id": .text("A03"),
                                                  "township_id": .text("OFF-DG"), "project_id": .text("PA")])
            try tx.put(table: "case", key: "CB", ["status": .text("REGISTERED"), "township_id": .text("OFF-SM"),
                                                  "project_id": .text("PB")])
            for (c, n) in [("CA", 30), ("CB", 30)] {
                for i in 1...n {
                    try tx.put(table: "plan_item", key: "\(c).\(i)", ["case_id": .text(c), "n": .int(Int64(i)),
                                                                      "department_id": .text(i == 1 && c == "CB" ? "D-LY" : "D-ZG")])
                    try tx.put(table: "work_log", key: "\(c).log\(i)", ["case_id": .text(c), "content": .text("走访记录\(i)")])
                }
            }
            try tx.put(table: "evaluation", key: "EA", ["case_id": .text("CA"), "grade": .text("不满意"), "target_person_id": .text("A03")])
        }
        let a04 = try f.replica("a04")
        try await f.test { client in
            func pullAll(_ user: String, _ r: ReplicaDatabase, from cursor: UInt64 = 0) async throws -> UInt64 {
                let t = try await client.signIn(user, replica: r).access
                var cursor = cursor
                while true {
                    let a = try await client.pull(after: cursor, t)
                    try #require(a.status == .ok)
                    _ = try r.importBundle(a.body)
                    cursor = try #require(a.header("Daiban-Next").flatMap(UInt64.init))
                    if a.header("Daiban-More") != "true" { return cursor }
                }
            }
            let ct = try await client.signIn("admin", replica: centre).access
            #expect(try await client.push(try bundle(centre), ct).status == .ok)
            let a03 = try f.replica("a03"), dg = try f.replica("dg"), lly = try f.replica("lly")
            _ = try await pullAll("a03", a03)
            #expect(try a03.get(table: "case", key: "CA") != nil && a03.get(table: "work_log", key: "CA.log7") != nil)
            #expect(try a03.get(table: "case", key: "CB") == nil && a03.get(table: "work_log", key: "CB.log7") == nil)
            #expect(try a03.get(table: "project", key: "PB") == nil)
            #expect(try a03.get(table: "project", key: "PX") == nil, "a prospect outside any case is not an agent's")
            #expect(try a03.get(table: "person", key: "A04") != nil, "the roster is reference data")
            #expect(try a03.get(table: "evaluation", key: "EA") == nil, "ratings of the agent stay at the centre")
            _ = try await pullAll("dg", dg)
            #expect(try dg.get(table: "case", key: "CA") != nil && dg.get(table: "evaluation", key: "EA") != nil)
            #expect(try dg.get(table: "case", key: "CB") == nil)
            _ = try await pullAll("lly", lly)
            #expect(try lly.get(table: "case", key: "CB") != nil && lly.get(table: "plan_item", key: "CB.1") != nil)
            #expect(try lly.get(table: "work_log", key: "CB.log1") == nil && lly.get(table: "case", key: "CA") == nil)

            // a04 is up to date (nothing of its own yet); then the centre assigns CB to a04.
            let cursor = try await pullAll("a04", a04)
            #expect(try a04.get(table: "case", key: "CB") == nil)
            try centre.write { tx in try tx.put(table: "case", key: "CB", ["agent_id": .text("A04")]) }
            #expect(try await client.push(try centre.exportBundle(for: nil).bytes, ct).status == .ok)
            _ = try await pullAll("a04", a04, from: cursor)
            // The case's older rows, which a04's cursor had passed, arrive now.
            #expect(try a04.get(table: "case", key: "CB")?.fields.first { $0.name == "agent_id" }?.value == .text("A04"))
            #expect(try a04.get(table: "work_log", key: "CB.log30") != nil && a04.get(table: "plan_item", key: "CB.17") != nil)
            #expect(try a04.get(table: "project", key: "PB") != nil && a04.get(table: "case", key: "CA") == nil)
        }
    }

    @Test func pullIsChunkedAndResumesMidStream() async throws {
        let f = try ServerFixture { $0.pullChunkBytes = 16 << 10 }
        try await f.user("agent", .center)
        try await f.user("centre", .center)
        let agent = try f.replica("agent")
        let centre = try f.replica("centre")
        try fill(agent, rows: 3000)
        try agent.write { tx in
            for i in stride(from: 0, to: 3000, by: 7) { try tx.put(table: "township", key: "T\(i)", ["kind": .text("镇\(i % 3)")]) }
            try tx.delete(table: "township", key: "T5")
        }
        try await f.test { client in
            let at = try await client.signIn("agent", replica: agent).access
            #expect(try await client.push(try bundle(agent), at).status == .ok)
            let t = try await client.signIn("centre", replica: centre).access
            var cursor: UInt64 = 0
            var chunks = 0
            var fields = 0
            // Two chunks, then the "connection drops": a new loop resumes from the saved cursor.
            for _ in 0..<2 {
                let a = try await client.pull(after: cursor, t)
                try #require(a.status == .ok)
                #expect(a.body.count <= 16 << 10)
                #expect(a.header("Daiban-More") == "true")
                let r = try centre.importBundle(a.body)
                fields += r.applied
                cursor = try #require(a.header("Daiban-Next").flatMap(UInt64.init))
                chunks += 1
            }
            // Asking again from the same cursor replays from the same place: nothing is consumed server-side. Where
            // a replayed chunk ends may move by a row, since the server adapts its rows per chunk to the bytes it
            // learnt (HLC stamps of the wall clock change the sizes run to run); the protocol promises the cursor.
            let replay1 = try await client.pull(after: cursor, t)
            let replay2 = try await client.pull(after: cursor, t)
            let first = try ChangeSetReader(bytes: replay1.body), second = try ChangeSetReader(bytes: replay2.body)
            #expect(first.fromSeq == second.fromSeq)
            let next1 = try #require(replay1.header("Daiban-Next").flatMap(UInt64.init))
            let next2 = try #require(replay2.header("Daiban-Next").flatMap(UInt64.init))
            #expect(next1 > cursor && next2 > cursor)
            var more = true
            while more {
                let a = try await client.pull(after: cursor, t)
                try #require(a.status == .ok)
                #expect(a.body.count <= 16 << 10)
                let r = try centre.importBundle(a.body)
                #expect(r.ignored == 0, "no field arrives twice")
                fields += r.applied
                cursor = try #require(a.header("Daiban-Next").flatMap(UInt64.init))
                more = a.header("Daiban-More") == "true"
                chunks += 1
            }
            #expect(chunks >= 6)
            #expect(try centre.snapshot() == agent.snapshot())
            #expect(fields == (try f.server.replica.status().fieldStates))
            // The agent pulls nothing back: the server leaves out what its replica wrote.
            let own = try await client.pull(after: 0, at)
            #expect(try ChangeSetReader.decode(own.body).fieldCount == 0)
        }
    }

    @Test func badCursorsAreRefused() async throws {
        let f = try ServerFixture()
        try await f.user("centre", .center)
        let replica = try f.replica("centre")
        try await f.test { client in
            let t = try await client.signIn("centre", replica: replica).access
            let ahead = try await client.pull(after: 99, t)
            #expect(ahead.status == .conflict && ahead.code == "cursor_ahead")
            let junk = try await client.call(.get, "/v1/pull?after=abc", token: t)
            #expect(junk.status == .badRequest && junk.code == "bad_cursor")
        }
    }

    @Test(arguments: Backend.enabled) func deviceDirectoryIsForTheCentre(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend)
        try await f.user("agent", .agent)
        try await f.user("centre", .center)
        let a = try f.replica("agent")
        let c = try f.replica("centre")
        try await f.test { client in
            let at = try await client.signIn("agent", replica: a).access
            #expect(try await client.call(.get, "/v1/devices", token: at).code == "forbidden")
            let ct = try await client.signIn("centre", replica: c).access
            let list = try await client.call(.get, "/v1/devices", token: ct)
            let devices = try #require(list.json["devices"] as? [[String: Any]])
            #expect(Set(devices.compactMap { $0["replica"] as? String }) == [a.id.description, c.id.description])
        }
    }
}
