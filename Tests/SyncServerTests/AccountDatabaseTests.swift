import CaseDomain
import Foundation
import GRDB
import SyncCore
import SyncServer
import SyncTesting
import Testing

/// The account database's promises that sit under every store method: a transaction that fails leaves nothing, and
/// a file written by an older server opens with its data.
@Suite struct AccountDatabaseTests {
    struct Planted: Error {}

    @Test(arguments: Backend.enabled)
    func aFailedTransactionLeavesNothingAndTheNextOneRuns(_ backend: Backend) async throws {
        let b = try await AccountBackend.make(backend)
        let store = b.store
        do {
            await #expect(throws: Planted.self) {
                try await store.database.transaction(durable: true) { sql in
                    try await sql.run(#"""
                        INSERT INTO "user" (name, role, password_hash, created_at) VALUES ('ghost', 'agent', 'x', 1)
                        """#, [])
                    try await sql.run("INSERT INTO login_counter (key, failures, last_at, blocked_until, credits, fades_at) VALUES ('k', 1, 1, 1, 1, 1)", [])
                    throw Planted()
                }
            }
            #expect(try await store.userCount() == 0)
            let counters = try await store.database.read { sql in
                try await sql.rows("SELECT key FROM login_counter", []).count
            }
            #expect(counters == 0)
            // The connection is not left inside the failed transaction: the next write commits.
            _ = try await store.addUser(name: "clerk", role: .agent, password: "clerk-password-1", cost: 4, now: 1)
            #expect(try await store.authenticate(name: "clerk", password: "clerk-password-1", cost: 4) != nil)
        } catch {
            try await b.close()
            throw error
        }
        try await b.close()
    }

    /// Transactions started at once on one store take turns and all commit: none sees another's half.
    @Test(arguments: Backend.enabled)
    func concurrentTransactionsAllCommit(_ backend: Backend) async throws {
        let b = try await AccountBackend.make(backend)
        let store = b.store
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        try await store.database.transaction(durable: i % 2 == 0) { sql in
                            try await sql.lock("counter")
                            let n = try await sql.rows("SELECT count(*) AS n FROM login_counter", []).first?.int("n") ?? -1
                            // Real suspensions between the read and the write: a continuation resumed from another
                            // queue, and a sleep (which may resume on another executor).
                            await withCheckedContinuation { c in DispatchQueue.global().async { c.resume() } }
                            try await Task.sleep(for: .milliseconds(1))
                            try await sql.run("INSERT INTO login_counter (key, failures, last_at, blocked_until, credits, fades_at) VALUES (?, ?, 0, 0, 0, 0)",
                                              [.text("k\(i)"), .int(n)])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let seen = try await store.database.read { sql in
                try await sql.rows("SELECT failures FROM login_counter ORDER BY failures", []).map { $0.int("failures") }
            }
            // Each transaction counted the rows before it: 0, 1, … 39, each once.
            #expect(seen == (0..<40).map(Int64.init))
        } catch {
            try await b.close()
            throw error
        }
        try await b.close()
    }

    /// `user unblock --address` finds an IPv6 network's counters whichever way the operator writes it.
    @Test(arguments: Backend.enabled)
    func anAddressIsClearedHoweverItsNetworkIsWritten(_ backend: Backend) async throws {
        let b = try await AccountBackend.make(backend)
        let limiter = LoginLimiter(maxFailures: 5, windowSeconds: 900, store: b.store)
        _ = try await limiter.begin(user: "wang", address: LoginLimiter.addressKey("2001:db8:0:0:1::5"), knownDevice: false,
                                    now: 1_000)
        #expect(try await b.store.clearLoginCounters(user: nil, address: "2001:0DB8::/64") == 2)
        #expect(try await b.store.loginCounters(now: 1_000).map(\.kind) == [.user])
        try await b.close()
    }

    /// A transaction started inside another on the one SQLite connection would wait for itself: it is refused, and
    /// the store goes on.
    @Test func aTransactionInsideAnotherIsRefused() async throws {
        let b = try await AccountBackend.make(.sqlite)
        let store = b.store
        await #expect(throws: (any Error).self) {
            try await store.database.transaction(durable: true) { _ in _ = try await store.userCount() }
        }
        _ = try await store.addUser(name: "clerk", role: .agent, password: "clerk-password-1", cost: 4, now: 1)
        #expect(try await store.userCount() == 1)
        try await b.close()
    }

    /// Guesses from one address queue for that address's counter lock while another instance holds it (a slow
    /// attempt). They must not take every connection of their instance: the instance still answers the others.
    @Test(.enabled(if: Backend.enabled.contains(.postgres), "DAIBAN_TEST_SKIP_POSTGRES=1 leaves out the PostgreSQL tests"))
    func guessesQueuedOnOneAddressLeaveConnectionsForOthers() async throws {
        let b = try await AccountBackend.make(.postgres)
        let small = AccountStore(database: try await PostgresAccountDatabase(url: b.url!, maxConnections: 4, startTimeout: AccountBackend.startTimeout))
        let limiter = LoginLimiter(maxFailures: 5, windowSeconds: 900, store: small)
        let (locked, lockedSignal) = AsyncStream<Void>.makeStream()
        let (release, releaseSignal) = AsyncStream<Void>.makeStream()
        let holder = b.store
        let holding = Task {
            try await holder.database.transaction(durable: false) { sql in
                try await sql.lock("login:a:10.0.0.66")
                lockedSignal.yield()
                for await _ in release {}
            }
        }
        for await _ in locked { break }
        let guesses = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<20 {
                    group.addTask { _ = try await limiter.begin(user: "u\(i)", address: "10.0.0.66", knownDevice: false, now: 1_000) }
                }
                try await group.waitForAll()
            }
        }
        // The guesses reach the lock: as many as the instance lets run attempts at once (half of 4) wait on it.
        try await b.waitForLockWaits(2)
        let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { _ = try await small.userCount(); return true }
            group.addTask {
                try await Task.sleep(for: .seconds(20))
                releaseSignal.finish()  // so a read stuck behind the guesses ends too
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(answered, "a read waited 20 s for a connection while guesses queued for one lock")
        releaseSignal.finish()
        try await holding.value
        try await guesses.value
        try await b.close(small)
    }

    /// An `accounts.sqlite` written before the sign-in counters moved into it (its migrations end at
    /// `accounts-v3-key-bounds`) opens with its users and devices, and then counts sign-ins.
    @Test func anOlderAccountsFileOpensWithItsData() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanup() }
        // A real bcrypt hash of the password, from a current store.
        let donor = try AccountStore(path: dir.file("donor.sqlite"))
        _ = try await donor.addUser(name: "donor", role: .agent, password: "old-password-1", cost: 4, now: 1)
        let hash = try await donor.database.read { sql in
            try await sql.rows(#"SELECT password_hash FROM "user""#, []).first?.text("password_hash") ?? ""
        }
        await donor.database.close()

        // The file as the v3 server left it: its tables, GRDB's record of the three migrations, a user and a device.
        let path = dir.file("accounts.sqlite")
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('accounts-v1'), ('accounts-v2-keys'), ('accounts-v3-key-bounds');
                CREATE TABLE user (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, township TEXT,
                    department TEXT, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0, sessions_valid_after INTEGER NOT NULL DEFAULT 0) STRICT;
                CREATE TABLE device (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES user (id),
                    replica BLOB NOT NULL UNIQUE, name TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen_at INTEGER,
                    revoked_at INTEGER, public_key BLOB, clock_skew_ms INTEGER) STRICT;
                CREATE TABLE device_key (public_key BLOB PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES device (id),
                    added_at INTEGER NOT NULL, retired_at INTEGER, valid_to_seq INTEGER) STRICT;
                CREATE TABLE refresh_token (hash BLOB PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES device (id),
                    family BLOB NOT NULL, expires_at INTEGER NOT NULL, spent_at INTEGER) STRICT;
                CREATE INDEX refresh_token_family ON refresh_token (family);
                CREATE INDEX refresh_token_device ON refresh_token (device_id);
                CREATE TABLE relayed_key (replica BLOB NOT NULL, public_key BLOB NOT NULL, first_seen_at INTEGER NOT NULL,
                    PRIMARY KEY (replica, public_key)) STRICT;
                """)
            try db.execute(sql: "INSERT INTO user (id, name, role, township, password_hash, created_at) VALUES (7, '王芳', 'agent', '城关镇', ?, 100)",
                           arguments: [hash])
            try db.execute(sql: "INSERT INTO device (id, user_id, replica, name, created_at) VALUES (3, 7, ?, '王芳的笔记本', 100)",
                           arguments: [Data(ReplicaID(high: 0, low: 77).bytes)])
        }
        try old.close()

        let store = try AccountStore(path: path)
        defer { Task { await store.database.close() } }
        let user = try #require(try await store.authenticate(name: "王芳", password: "old-password-1", cost: 4))
        #expect(user.id == 7 && user.township == "城关镇")
        let device = try #require(try await store.device(replica: ReplicaID(high: 0, low: 77)))
        #expect(device.id == 3 && device.userID == 7 && device.name == "王芳的笔记本")
        // The new table is there and counts.
        let limiter = LoginLimiter(maxFailures: 5, windowSeconds: 900, store: store)
        let attempt = try await limiter.begin(user: "王芳", address: "10.0.0.9", knownDevice: false, now: 1_000)
        guard case .success = attempt else { Issue.record("a first attempt waits: \(attempt)"); return }
        let counted = try await store.database.read { sql in try await sql.rows("SELECT key FROM login_counter", []).count }
        #expect(counted > 0)
        // Opening it again runs nothing twice.
        let again = try AccountStore(path: path)
        #expect(try await again.userCount() == 1)
        await again.database.close()
    }
}
