import CaseDomain
import Crypto
import Foundation
import HTTPTypes
import PostgresNIO
import ReplicaStore
import SyncCore
import SyncServer
import SyncTesting
import Synchronization
import Testing

/// Several server instances on one PostgreSQL accounts database, a client switching between them on every request:
/// sessions, sign-in counters, device registration and migrations behave as on one server.
@Suite(.enabled(if: Backend.enabled.contains(.postgres), "DAIBAN_TEST_SKIP_POSTGRES=1 leaves out the PostgreSQL tests"))
struct ScaleOutTests {
    /// A token from one instance works on the other; a refresh retried on the other instance gets the same
    /// successor; a stolen refresh token replayed on either ends the family on both.
    @Test func sessionsHoldAcrossInstances() async throws {
        let a = try await ServerFixture.make(.postgres) { $0.accessTokenSeconds = 600 }
        let b = try await a.instance()
        try await a.user("sun", .agent)
        let laptop = try a.replica("sun")
        try fill(laptop, rows: 2)
        try await a.test { onA in
            try await b.test { onB in
                let tokens = try await onA.signIn("sun", replica: laptop)
                #expect(try await onB.push(try bundle(laptop), tokens.access).status == .ok,
                        "an access token of instance A is accepted by instance B")
                let body = [UInt8](try JSONSerialization.data(withJSONObject: ["refresh_token": tokens.refresh]))
                let first = try await onB.call(.post, "/v1/refresh", body: body)
                #expect(first.status == .ok)
                let next = try #require(first.json["refresh_token"] as? String)
                // The answer was lost; the retry lands on A and gets the same successor.
                let retry = try await onA.call(.post, "/v1/refresh", body: body)
                #expect(retry.status == .ok && retry.json["refresh_token"] as? String == next)
                // The successor is used on A; the first token, replayed later on B, ends the family.
                let nextBody = [UInt8](try JSONSerialization.data(withJSONObject: ["refresh_token": next]))
                #expect(try await onA.call(.post, "/v1/refresh", body: nextBody).status == .ok)
                a.advance(seconds: 121)
                let replay = try await onB.call(.post, "/v1/refresh", body: body)
                #expect(replay.status == .unauthorized && replay.code == "invalid_refresh_token")
                let after = try await onA.call(.post, "/v1/refresh", body: nextBody)
                #expect(after.status == .unauthorized, "the whole family was revoked on every instance")
                // A revocation on B is seen by A at once.
                let device = try #require(try await b.server.accounts.devices().first { $0.replica == laptop.id })
                #expect(try await b.server.accounts.revoke(deviceID: device.id, now: ServerFixture.start))
                let fresh = try await onA.push(try bundle(laptop), tokens.access)
                #expect(fresh.status == .forbidden && fresh.code == "device_revoked")
            }
        }
    }

    /// A password change that ends every session, made on one instance while the device keeps refreshing on the
    /// other: whatever the interleaving, the refresh token the device ends up with is dead.
    @Test func endingSessionsWinsOverRefreshesOnTheOtherInstance() async throws {
        let a = try await ServerFixture.make(.postgres)
        let b = try await a.instance()
        try await a.user("qian", .agent)
        let laptop = try a.replica("qian")
        try await b.test { onB in
            let first = try await onB.signIn("qian", replica: laptop)
            let refreshing = Task { () -> String in
                var token = first.refresh
                for _ in 0..<40 {
                    let body = [UInt8](try JSONSerialization.data(withJSONObject: ["refresh_token": token]))
                    let r = try await onB.call(.post, "/v1/refresh", body: body)
                    guard r.status == .ok, let next = r.json["refresh_token"] as? String else { break }
                    token = next
                }
                return token
            }
            try await Task.sleep(for: .milliseconds(30))
            #expect(try await a.server.accounts.setPassword(name: "qian", password: "新密码-2026-12-02", cost: 4,
                                                            revokeSessions: true, now: ServerFixture.start))
            let last = try await refreshing.value
            a.advance(seconds: 121)  // past the retry grace
            let body = [UInt8](try JSONSerialization.data(withJSONObject: ["refresh_token": last]))
            let after = try await onB.call(.post, "/v1/refresh", body: body)
            #expect(after.status == .unauthorized, "a refresh token survived the end of every session")
        }
    }

    /// Wrong passwords tried on two instances count together: a guesser gains nothing by spreading them.
    @Test func signInCountersAreShared() async throws {
        let a = try await ServerFixture.make(.postgres) { $0.loginMaxFailures = 3; $0.loginWindowSeconds = 600 }
        let b = try await a.instance()
        try await a.user("wang", .agent)
        let laptop = try a.replica("wang")
        try await a.test { onA in
            try await b.test { onB in
                #expect(try await onA.login("wang", password: "wrong-one!", replica: laptop).status == .unauthorized)
                #expect(try await onB.login("wang", password: "wrong-two!", replica: laptop).status == .unauthorized)
                #expect(try await onA.login("wang", password: "wrong-three", replica: laptop).status == .unauthorized)
                let blocked = try await onB.login("wang", replica: laptop)
                #expect(blocked.status == .tooManyRequests && blocked.code == "too_many_attempts",
                        "three failures spread over two instances block the fourth attempt")
                a.advance(seconds: 601)
                _ = try await onB.signIn("wang", replica: laptop)
            }
        }
    }

    /// Parallel attempts on both instances are each counted before any password is checked: of twenty wrong
    /// guesses at once, no more get through to the password check than the limit allows.
    @Test func parallelGuessesOnTwoInstancesAreCountedOnce() async throws {
        let a = try await ServerFixture.make(.postgres) { $0.loginMaxFailures = 4; $0.loginWindowSeconds = 600 }
        let b = try await a.instance()
        try await a.user("li", .agent)
        let laptop = try a.replica("li")
        let statuses = Mutex<[Int]>([])
        try await a.test { onA in
            try await b.test { onB in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<20 {
                        let client = i % 2 == 0 ? onA : onB
                        group.addTask { Int(try await client.login("li", password: "guess-\(i)-wrong", replica: laptop).status.code) }
                    }
                    for try await s in group { statuses.withLock { $0.append(s) } }
                }
            }
        }
        let checked = statuses.withLock { $0.filter { $0 == 401 }.count }
        let refused = statuses.withLock { $0.filter { $0 == 429 }.count }
        #expect(checked == 4 && refused == 16, "\(checked) passwords checked, \(refused) refused")
    }

    /// A laptop signing in through both instances at once (a retry on a bad link) is registered once.
    @Test func aDeviceSigningInOnBothInstancesAtOnceIsOneDevice() async throws {
        let a = try await ServerFixture.make(.postgres)
        let b = try await a.instance()
        try await a.user("zhao", .agent)
        let laptop = try a.replica("zhao")
        try await a.test { onA in
            try await b.test { onB in
                try await withThrowingTaskGroup(of: Int.self) { group in
                    // Four: below the sign-in limit, which counts every attempt before its password is checked.
                    for i in 0..<4 {
                        let client = i % 2 == 0 ? onA : onB
                        group.addTask { Int(try await client.login("zhao", replica: laptop).status.code) }
                    }
                    for try await s in group { #expect(s == 200) }
                }
            }
        }
        let devices = try await a.server.accounts.devices().filter { $0.replica == laptop.id }
        #expect(devices.count == 1)
    }

    /// Servers starting at once on an empty database migrate it once, and all of them see the same tables.
    @Test func serversStartingAtOnceMigrateOnce() async throws {
        let base = try await AccountBackend.make(.postgres)
        let url = try #require(base.url)
        let stores = try await withThrowingTaskGroup(of: AccountStore.self) { group in
            for _ in 0..<4 { group.addTask { AccountStore(database: try await PostgresAccountDatabase(url: url, maxConnections: 2, startTimeout: AccountBackend.startTimeout)) } }
            var all: [AccountStore] = []
            for try await s in group { all.append(s) }
            return all
        }
        try await stores[0].addUser(name: "centre", role: .center, password: "pw-centre-secret", cost: 4, now: 1)
        for s in stores { #expect(try await s.users().map(\.name) == ["centre"]) }
        // A second start later finds nothing to do.
        let again = AccountStore(database: try await PostgresAccountDatabase(url: url, maxConnections: 1, startTimeout: AccountBackend.startTimeout))
        #expect(try await again.userCount() == 1)
        let names = Mutex<[String]>([])
        try await AccountBackend.admin(url) { client in
            for try await name in try await client.query("SELECT name FROM daiban_migration").decode(String.self) {
                names.withLock { $0.append(name) }
            }
        }
        #expect(names.withLock { $0 }.sorted() == ["accounts-v1", "replica-log-v1"], "every migration ran once")
        // Every instance signs with the same token key.
        let keys = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for s in stores + [again] { group.addTask { try await s.database.tokenKey().withUnsafeBytes { [UInt8]($0) } } }
            var all: Set<[UInt8]> = []
            for try await k in group { all.insert(k) }
            return all
        }
        #expect(keys.count == 1)
        try await base.close(stores[0], stores[1], stores[2], stores[3], again)
    }

    /// A database URL that is not one is refused with a message that says what one looks like, and never echoes
    /// a password.
    @Test func badDatabaseURLsAreRefusedClearly() async throws {
        for url in ["mysql://u@h/db", "postgres:///db", "postgres://h/db", "postgres://u@h/db?sslmode=sometimes"] {
            await #expect(throws: (any Error).self) { _ = try await PostgresAccountDatabase(url: url) }
            do {
                _ = try await PostgresAccountDatabase(url: url)
            } catch {
                #expect(String(describing: error).contains("postgres://"))
            }
        }
        do {
            _ = try await PostgresAccountDatabase(url: "postgres://u:hunter2-secret@127.0.0.1:1/db?sslmode=disable",
                                                  startTimeout: .seconds(2))
            Issue.record("nothing listens on port 1")
        } catch {
            let message = String(describing: error)
            #expect(message.contains("127.0.0.1:1") && !message.contains("hunter2-secret"),
                    "the error names the database, never its password: \(message)")
        }
    }
}
