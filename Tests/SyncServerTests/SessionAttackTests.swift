import AsyncHTTPClient
import CaseDomain
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import SyncProtocol
import SyncServer
import SyncTesting
import Testing
import Synchronization

/// Sign-in throttling, sessions, signed relays and transport limits, tried as an attacker would.
@Suite struct SessionAttackTests {
    @Test(arguments: Backend.enabled) func guessesElsewhereNeverLockOutTheRightPersonForLong(_ backend: Backend) async throws {
        let accounts = try await AccountBackend.make(backend)
        defer { Task { try await accounts.close() } }
        let limiter = LoginLimiter(maxFailures: 5, windowSeconds: 900, store: accounts.store)
        var now: Int64 = 1_000
        // An attacker at 10.0.0.9 tries five wrong passwords, then keeps going.
        for _ in 0..<5 {
            guard case .success = try await limiter.begin(user: "wang", address: "10.0.0.9", knownDevice: false, now: now) else {
                Issue.record("the first five attempts are counted, not refused")
                return
            }
        }
        guard case .failure(let wait) = try await limiter.begin(user: "wang", address: "10.0.0.9", knownDevice: false, now: now) else {
            Issue.record("the sixth attempt from the attacker's address must wait")
            return
        }
        #expect(wait.seconds >= 1)
        // Growing delays for the attacker.
        var waits: [Int] = []
        for _ in 0..<6 {
            if case .failure(let w) = try await limiter.begin(user: "wang", address: "10.0.0.9", knownDevice: false, now: now) {
                now += Int64(w.seconds)
            }
            if case .success = try await limiter.begin(user: "wang", address: "10.0.0.9", knownDevice: false, now: now),
               case .failure(let w) = try await limiter.begin(user: "wang", address: "10.0.0.9", knownDevice: false, now: now) {
                waits.append(w.seconds)
            }
        }
        #expect(waits == waits.sorted() && (waits.last ?? 0) > (waits.first ?? 0), "\(waits)")
        // Wang at the township office, on his registered laptop: not slowed at all.
        guard case .success(let mine) = try await limiter.begin(user: "wang", address: "192.168.1.20", knownDevice: true, now: now) else {
            Issue.record("the right person on a known device was locked out by someone else's guesses")
            return
        }
        try await limiter.succeeded(mine)
        // On a new laptop elsewhere he waits at most a minute, however long the attack went on.
        for _ in 0..<20 { _ = try await limiter.begin(user: "wang", address: "10.0.0.\(UInt8.random(in: 10...200))", knownDevice: false, now: now) }
        if case .failure(let w) = try await limiter.begin(user: "wang", address: "172.16.0.5", knownDevice: false, now: now) {
            #expect(w.seconds <= 60)
        }
    }

    /// Waiting out a block does not buy a fresh allowance: counts fade only after a quiet window that starts when
    /// the block ends. And an IPv6 subscriber, who holds a whole /64, counts as one address.
    @Test(arguments: Backend.enabled) func waitingOutABlockBuysNoFreshGuesses(_ backend: Backend) async throws {
        let accounts = try await AccountBackend.make(backend)
        defer { Task { try await accounts.close() } }
        let limiter = LoginLimiter(maxFailures: 3, windowSeconds: 60, store: accounts.store)
        var now: Int64 = 1_000
        var guess = 0
        func attempt() async throws -> LoginLimiter.Wait? {
            guess += 1
            // A different user name each time: only the address counter applies.
            if case .failure(let w) = try await limiter.begin(user: "u\(guess)", address: "10.1.1.1", knownDevice: false, now: now) {
                return w
            }
            return nil
        }
        var longest = 0
        while longest < 120 {
            if let w = try await attempt() {
                longest = max(longest, w.seconds)
                now += Int64(w.seconds)
            }
        }
        // The block of two minutes is over: one attempt is counted, and the next is blocked again at once.
        #expect(try await attempt() == nil)
        let again = try await attempt()
        #expect((again?.seconds ?? 0) >= 120, "the address's count was reset by waiting: \(String(describing: again))")
        // A restart (or another server on the same database) keeps the counts: the block still holds.
        let restarted = LoginLimiter(maxFailures: 3, windowSeconds: 60, store: try await accounts.instance())
        guard case .failure = try await restarted.begin(user: "u-new", address: "10.1.1.1", knownDevice: false, now: now) else {
            Issue.record("a restart forgot the address's block")
            return
        }
        // IPv6 by /64.
        #expect(LoginLimiter.addressKey("2001:db8:1:2:3:4:5:6") == LoginLimiter.addressKey("2001:db8:1:2:ffff::1"))
        #expect(LoginLimiter.addressKey("2001:db8:1:2::1") != LoginLimiter.addressKey("2001:db8:1:3::1"))
        #expect(LoginLimiter.addressKey("::ffff:10.0.0.1") == "10.0.0.1")
        #expect(LoginLimiter.addressKey("10.0.0.1") == "10.0.0.1")
    }

    /// Names no account can have are answered at once and count nothing: the limiter never holds them.
    @Test(arguments: Backend.enabled) func impossibleNamesCountNothing(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend) { $0.loginMaxFailures = 3 }
        try await f.user("wang", .agent)
        let laptop = try f.replica("wang")
        try await f.test { client in
            for i in 0..<40 {
                let name = String(repeating: "x", count: 65 + i * 100)
                let a = try await client.login(name, password: "whatever-123", replica: laptop.id)
                #expect(a.status == .unauthorized && a.code == "invalid_credentials")
            }
            // The address was not counted against the right person.
            #expect(try await client.login("wang", replica: laptop).status == .ok)
        }
    }

    @Test(arguments: Backend.enabled) func parallelGuessesAreCheckedAgainstTheLimitOnce(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend) { $0.loginMaxFailures = 5 }
        try await f.user("wang", .agent)
        let replica = try f.replica("wang")
        try await f.test { client in
            let answers = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<30 {
                    group.addTask {
                        try await client.login("wang", password: "wrong-password-\(i)", replica: replica).status.code
                    }
                }
                var out: [Int] = []
                for try await s in group { out.append(s) }
                return out
            }
            #expect(answers.filter { $0 == 401 }.count <= 5, "\(answers.sorted())")
            #expect(answers.filter { $0 == 429 }.count >= 25)
        }
    }

    @Test(arguments: Backend.enabled) func aPasswordChangeCanEndEverySession(_ backend: Backend) async throws {
        let f = try await ServerFixture.make(backend)
        try await f.user("zhou", .agent)
        let laptop = try f.replica("zhou"), phone = try f.replica("zhou-2", author: "zhou")
        try await f.test { client in
            let a = try await client.signIn("zhou", replica: laptop)
            let b = try await client.signIn("zhou", replica: phone)
            #expect(try await f.server.accounts.setPassword(name: "zhou", password: "新密码-2026-12", cost: 4, revokeSessions: true,
                                                     now: ServerFixture.start))
            for t in [a, b] {
                #expect(try await client.pull(after: 0, t.access).code == "invalid_token")
                let body = try JSONSerialization.data(withJSONObject: ["refresh_token": t.refresh])
                #expect(try await client.call(.post, "/v1/refresh", body: [UInt8](body)).code == "invalid_refresh_token")
            }
            f.advance(seconds: 2)
            _ = try await client.login("zhou", password: "新密码-2026-12", replica: laptop)
        }
    }

    @Test func relaysNeedTheWritersValidSignature() async throws {
        let county = try await TrustCounty()
        let a03 = try county.device("a03"), dg = try county.device("dg")
        try await county.liveSynced { url in
            try await county.sync("a03", url)  // a03 is a registered device with a key
            try a03.write { tx in try tx.put(table: "work_log", key: "CA.relay", ["case_id": .text("CA"), "content": .text("转交")]) }
            let honest = try a03.exportBundle(for: nil).bytes
            // Unsigned, tampered, signed with another key: each refused per version, reported as bad_signature.
            let unsigned = ChangeSetEncoder().encode(try a03.changeSet())
            var tampered = honest
            tampered[Envelope.headerSize + 7] ^= 0x20
            let crc = Zlib.crc32([tampered[0..<36], tampered[Envelope.headerSize...]])
            for (i, b) in [24, 16, 8, 0].map({ UInt8(truncatingIfNeeded: crc >> UInt32($0)) }).enumerated() { tampered[36 + i] = b }
            let wrongKey = ChangeSetEncoder().encode(try a03.changeSet(), signer: DeviceKey())
            for (name, bytes) in [("unsigned", unsigned), ("wrong key", wrongKey)] {
                let ack = try await county.push(bytes, as: "dg", url, relay: true)
                #expect(ack.applied == 0 && !ack.rejected.isEmpty && ack.rejected.allSatisfy { $0.reason == "bad_signature" }, "\(name)")
            }
            do {
                let ack = try await county.push(tampered, as: "dg", url, relay: true)
                #expect(ack.applied == 0 && ack.rejected.allSatisfy { $0.reason == "bad_signature" }, "tampered")
            } catch let e as SyncClientError {
                // A flipped payload byte may also break the zlib stream itself: refused whole.
                #expect(["corrupt_stream", "malformed", "truncated"].contains(e.code ?? ""), "\(e)")
            }
            #expect(try county.f.server.replica.get(table: "work_log", key: "CA.relay") == nil)
            // The honest bundle, relayed, lands under a03's authorship.
            let ack = try await county.push(honest, as: "dg", url, relay: true)
            #expect(ack.rejected.isEmpty && ack.applied >= 2)
            // A second bundle made before the rotation, carried longer.
            try a03.write { tx in try tx.put(table: "work_log", key: "CA.late", ["case_id": .text("CA"), "content": .text("迟到")]) }
            let carried = try a03.exportBundle(for: nil).bytes
            // After a03 rotates its key, bundles it signed before still relay; ones "signed" by the new key relay too.
            let (c, t) = try await county.session("a03", a03, url)
            let new = DeviceKey()
            let seq = try a03.currentSeq()
            try await c.setDeviceKey(new.publicKey, proof: a03.signer!.sign(DeviceKeyRequest.rotationMessage(device: t.deviceID, newKey: new.publicKey, seq: seq)),
                                     seq: seq, token: t.accessToken)
            // A rotation the current key did not sign is refused.
            do {
                let other = DeviceKey(), forger = DeviceKey()
                try await c.setDeviceKey(other.publicKey, proof: forger.sign(DeviceKeyRequest.rotationMessage(device: t.deviceID, newKey: other.publicKey, seq: seq)),
                                         seq: seq, token: t.accessToken)
                Issue.record("a key was replaced without the current key's proof")
            } catch let e as SyncClientError { #expect(e.code == "bad_signature") }
            await c.shutdown()
            let again = try await county.push(honest, as: "dg", url, relay: true)
            #expect(again.rejected.isEmpty, "bundles signed before a rotation stay valid")
            // The retired key signs nothing written after the rotation.
            try a03.write { tx in try tx.put(table: "work_log", key: "CA.oldkey", ["case_id": .text("CA"), "content": .text("旧钥")]) }
            let oldKeyLate = try await county.push(try a03.exportBundle(for: nil).bytes, as: "dg", url, relay: true)
            #expect(oldKeyLate.applied == 0 && !oldKeyLate.rejected.isEmpty
                    && oldKeyLate.rejected.allSatisfy { $0.reason == "bad_signature" }, "\(oldKeyLate.rejected)")
            #expect(try county.f.server.replica.get(table: "work_log", key: "CA.oldkey") == nil)
            // And only for 30 days: a bundle of before the rotation, relayed after a month, is refused.
            county.f.advance(seconds: 31 * 86_400)
            let month = try await county.push(carried, as: "dg", url, relay: true)
            #expect(month.applied == 0 && TrustCounty.reasons(month)["work_log.CA.late.content"] == "bad_signature", "\(month.rejected)")
            // A revoked writer's bundles are refused, even correctly signed.
            let device = try #require(try await county.f.server.accounts.devices().first { $0.replica == a03.id })
            _ = try await county.f.server.accounts.revoke(deviceID: device.id, now: ServerFixture.start)
            try a03.write { tx in try tx.put(table: "work_log", key: "CA.after", ["case_id": .text("CA"), "content": .text("停用后")]) }
            var signedNew = a03
            signedNew.signer = new
            let late = try signedNew.exportBundle(for: nil).bytes
            let refused = try await county.push(late, as: "dg", url, relay: true)
            #expect(!refused.rejected.isEmpty && refused.rejected.allSatisfy { $0.reason == "writer_revoked" } && refused.applied == 0)
        }
        #expect(try county.f.server.replica.audit(table: "work_log", key: "CA.relay").allSatisfy { $0.author == "a03" && $0.viaUser == "dg" })
        #expect(try county.f.server.replica.get(table: "work_log", key: "CA.after") == nil)
        _ = dg
    }

    @Test func clocksWithinTheBoundAreAccepted() async throws {
        let county = try await TrustCounty { $0.maxClockAheadSeconds = 120 }
        let ahead = Mutex(ReplicaDatabase.wallClockMillis() + 60_000)  // one minute fast: within 2 minutes
        var laptop = try ReplicaDatabase.create(at: county.f.dir.file("a03-fast.sqlite"), schema: DaibanSchema.schema,
                                                author: "a03", now: { ahead.withLock { $0 } })
        laptop.signer = DeviceKey()
        let fast = laptop
        try await county.liveSynced { url in
            try await county.sync("a03", url, replica: fast)
            try fast.write { tx in try tx.put(table: "work_log", key: "CA.fast", ["case_id": .text("CA"), "content": .text("快一分钟")]) }
            ahead.withLock { $0 = ReplicaDatabase.wallClockMillis() + 600_000 }  // then ten minutes fast
            try fast.write { tx in try tx.put(table: "work_log", key: "CA.faster", ["case_id": .text("CA"), "content": .text("快十分钟")]) }
            let r = try await county.sync("a03", url, replica: fast)
            #expect(r.refused == ["clock_ahead": 2], "\(r.refused)")
        }
        #expect(try county.serverValue("work_log", "CA.fast", "content") == .text("快一分钟"))
        #expect(try county.f.server.replica.get(table: "work_log", key: "CA.faster") == nil)
    }

    @Test func oversizedChunkedBodiesGet413() async throws {
        let county = try await TrustCounty { $0.maxPushBytes = 1 << 20 }
        let a03 = try county.device("a03")
        try await county.live { url in
            let (c, t) = try await county.session("a03", a03, url)
            await c.shutdown()
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            var request = HTTPClientRequest(url: url + "/v1/push")
            request.method = .POST
            request.headers.add(name: "Daiban-Protocol", value: "2")
            request.headers.add(name: "Authorization", value: "Bearer " + t.accessToken)
            let chunk = ByteBuffer(repeating: 0x41, count: 64 << 10)
            request.body = .stream(AsyncStream<ByteBuffer> { continuation in
                for _ in 0..<40 { continuation.yield(chunk) }  // 2.5 MiB with no Content-Length
                continuation.finish()
            }, length: .unknown)
            let response = try await http.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 413)
            var body = try await response.body.collect(upTo: 1 << 16)
            let text = body.readString(length: body.readableBytes) ?? ""
            #expect(text.contains("payload_too_large"), "\(text)")
            try await http.shutdown()
        }
    }

    @Test func silentAndStalledConnectionsAreClosed() async throws {
        let f = try ServerFixture { $0.headerTimeoutSeconds = 1; $0.readTimeoutSeconds = 1; $0.port = 0 }
        try await f.server.application().test(.live) { client in
            let port = try #require(client.port)
            /// Sends `text` on a fresh connection, then waits (at most 10 s) until the server closes it.
            func secondsUntilClosed(_ text: String) throws -> Double {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                try #require(fd >= 0)
                defer { close(fd) }
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                try #require(connected == 0)
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                _ = text.withCString { send(fd, $0, strlen($0), 0) }
                let started = Date()
                var buffer = [UInt8](repeating: 0, count: 4096)
                while recv(fd, &buffer, buffer.count, 0) > 0 {}
                return Date().timeIntervalSince(started)
            }
            // Half a request head, then silence (a slow or dead client holding the connection).
            let head = try secondsUntilClosed("POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nDaiban-Protocol: 2\r\n")
            #expect(head < 5, "closed after \(head) s")
            // A whole head, then a body that stops after a few bytes (a link that died without a reset).
            let body = try secondsUntilClosed("POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nDaiban-Protocol: 2\r\nContent-Length: 100000\r\n\r\nDBCS")
            #expect(body < 5, "closed after \(body) s")
        }
    }

    @Test func theDataFolderIsPrivateWhateverExistedBefore() throws {
        let dir = try TemporaryDirectory("perm")
        defer { dir.cleanup() }
        let data = dir.file("data")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        // A replica someone copied in with loose permissions, side files included.
        _ = try ReplicaDatabase.create(at: data + "/replica.sqlite", schema: DaibanSchema.schema)
        for name in ["replica.sqlite", "replica.sqlite-wal", "replica.sqlite-shm"] {
            if !FileManager.default.fileExists(atPath: data + "/" + name) {
                FileManager.default.createFile(atPath: data + "/" + name, contents: nil)
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: data + "/" + name)
        }
        var config = ServerConfig()
        config.data = data
        config.bcryptCost = 4
        let server = try DaibanServer(config: config)
        try server.replica.write { tx in try tx.put(table: "township", key: "T1", ["name": .text("某镇")]) }
        let mode = { (path: String) -> Int in
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? -1
        }
        #expect(mode(data) == 0o700)
        for name in try FileManager.default.contentsOfDirectory(atPath: data) {
            #expect(mode(data + "/" + name) == 0o600, "\(name)")
        }
    }
}
