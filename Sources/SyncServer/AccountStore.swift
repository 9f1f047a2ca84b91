import Foundation
import TerminalText
import GRDB
import Logging
import PostgresNIO
import ReplicaStore
public import SyncCore
public import CaseDomain
import Crypto
import HTTPTypes

/// What a user may do: the account roles of the write and read rules (`AccessRules`).
public typealias Role = AccountRole

extension AccountRole {
    /// Whether devices of this role may forward other devices' signed bundles (an agent's bundle from a USB stick).
    public var mayRelay: Bool { self == .township || self == .center }
    /// Whether this role sees the device directory (who wrote a conflicting version) and the audit trail.
    public var seesDirectory: Bool { self == .center }
}

public struct User: Sendable, Hashable {
    public var id: Int64
    public var name: String
    public var role: Role
    public var township: String?
    public var department: String?
    public var createdAt: Int64
    public var disabled: Bool
    /// Access tokens issued before this (Unix seconds) are refused: set by `user passwd --revoke-sessions`.
    public var sessionsValidAfter: Int64 = 0
}

public struct Device: Sendable, Hashable {
    public var id: Int64
    public var userID: Int64
    public var userName: String
    public var replica: ReplicaID
    public var name: String
    public var createdAt: Int64
    public var lastSeenAt: Int64?
    public var revokedAt: Int64?
    /// The device's current Ed25519 public key (nil until it registers one).
    public var publicKey: [UInt8]?
    /// The device's clock minus the server's at its last request, in milliseconds.
    public var clockSkewMillis: Int64?

    /// The first 16 hex digits of the key's SHA-256, for people comparing keys.
    public var keyFingerprint: String? {
        publicKey.map { SHA256.hash(data: Data($0)).prefix(8).map { String(format: "%02x", $0) }.joined() }
    }
}

/// Users, devices, refresh tokens and sign-in counters, written once over `AccountSQL` and kept by either backend:
/// `<data>/accounts.sqlite` (`SQLiteAccountDatabase`), or a PostgreSQL database that several server instances share
/// (`PostgresAccountDatabase`).
///
/// Separate from the replica so account data never replicates.
public struct AccountStore: Sendable {
    public let database: any AccountDatabase

    public init(database: any AccountDatabase) { self.database = database }

    /// The embedded store of a data folder.
    public init(path: String) throws {
        database = try SQLiteAccountDatabase(path: path)
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        try await database.transaction(durable: true, body)
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (any AccountSQL) async throws -> T) async throws -> T {
        try await database.read(body)
    }

    // MARK: Users

    /// Adds a user; the password is hashed with bcrypt before it reaches the database.
    /// - Throws: `AccountError` when the name is taken or malformed.
    @discardableResult
    public func addUser(name: String, role: Role, township: String? = nil, department: String? = nil,
                        password: String, cost: Int, now: Int64) async throws -> User {
        guard !name.isEmpty, name.utf8.count <= 64, !name.contains(where: { $0.isWhitespace || $0.isNewline }),
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw AccountError(L10n.t(.srvBadUserName))
        }
        guard password.count >= 8 else { throw AccountError(L10n.t(.srvShortPassword)) }
        let hash = try await offload { PasswordHasher.hash(password, cost: cost) }
        return try await write { sql in
            try await sql.lock("user:" + name)
            if try await sql.row(#"SELECT id FROM "user" WHERE name = ?"#, [.text(name)]) != nil {
                throw AccountError(L10n.t(.srvUserExists, name))
            }
            let id = try await sql.row(#"""
                INSERT INTO "user" (name, role, township, department, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)
                RETURNING id
                """#, [.text(name), .text(role.rawValue), SQLValue(township), SQLValue(department), .text(hash), .int(now)])?.int("id") ?? 0
            return User(id: id, name: name, role: role, township: township, department: department,
                        createdAt: now, disabled: false)
        }
    }

    /// Sets a new password (a forgotten one, or a routine change). With `revokeSessions` every device of the
    /// user must sign in again: its refresh tokens are deleted and access tokens issued before `now` are refused.
    /// - Returns: false when there is no such user.
    public func setPassword(name: String, password: String, cost: Int, revokeSessions: Bool = false,
                            now: Int64 = Int64(Date().timeIntervalSince1970)) async throws -> Bool {
        guard password.count >= 8 else { throw AccountError(L10n.t(.srvShortPassword)) }
        let hash = try await offload { PasswordHasher.hash(password, cost: cost) }
        return try await write { sql in
            guard let id = try await sql.row(#"SELECT id FROM "user" WHERE name = ?"#, [.text(name)])?.int("id") else { return false }
            // Refreshes of the user's devices, on any server, wait for this: none mints a token the DELETE misses.
            try await sql.lock("sessions:\(id)")
            try await sql.run(#"UPDATE "user" SET password_hash = ? WHERE id = ?"#, [.text(hash), .int(id)])
            if revokeSessions {
                try await sql.run(#"UPDATE "user" SET sessions_valid_after = ? WHERE name = ?"#, [.int(now + 1), .text(name)])
                try await sql.run(#"""
                    DELETE FROM refresh_token WHERE device_id IN
                        (SELECT d.id FROM device d JOIN "user" u ON u.id = d.user_id WHERE u.name = ?)
                    """#, [.text(name)])
            }
            return true
        }
    }

    /// Disables or re-enables a user. A disabled user can neither sign in nor use tokens already issued; the
    /// devices stay registered, so re-enabling restores them.
    /// - Returns: false when there is no such user.
    public func setDisabled(name: String, _ disabled: Bool) async throws -> Bool {
        try await write { sql in
            try await sql.row(#"UPDATE "user" SET disabled = ? WHERE name = ? RETURNING id"#,
                              [.int(disabled ? 1 : 0), .text(name)]) != nil
        }
    }

    public func users() async throws -> [User] {
        try await read { sql in try await sql.rows(#"SELECT * FROM "user" ORDER BY id"#, []).map(Self.user) }
    }

    public func user(id: Int64) async throws -> User? {
        try await read { sql in try await sql.row(#"SELECT * FROM "user" WHERE id = ?"#, [.int(id)]).map(Self.user) }
    }

    public func userCount() async throws -> Int {
        try await read { sql in Int(try await sql.row(#"SELECT count(*) AS n FROM "user""#)?.int("n") ?? 0) }
    }

    /// The user when the password matches. Unknown users cost a bcrypt check too, so timing does not reveal
    /// which names exist.
    public func authenticate(name: String, password: String, cost: Int) async throws -> User? {
        let row = try await read { sql in try await sql.row(#"SELECT * FROM "user" WHERE name = ?"#, [.text(name)]) }
        return try await offload {
            guard let row else {
                _ = PasswordHasher.verify(password, hash: PasswordHasher.decoy(cost: cost))
                return nil
            }
            guard PasswordHasher.verify(password, hash: row.text("password_hash")) else { return nil }
            return Self.user(row)
        }
    }

    private static func user(_ r: SQLRow) -> User {
        User(id: r.int("id"), name: r.text("name"), role: Role(rawValue: r.text("role")) ?? .agent,
             township: r.optionalText("township"), department: r.optionalText("department"),
             createdAt: r.int("created_at"), disabled: r.int("disabled") != 0,
             sessionsValidAfter: r.int("sessions_valid_after"))
    }

    /// Whether `replica` is a device of the user that signs with `key` (a login from a known device, proved by
    /// its key, is not slowed by other people's failed guesses at the user name).
    public func isKnownDevice(user name: String, replica: ReplicaID, key: [UInt8]) async throws -> Bool {
        try await read { sql in
            try await sql.row(#"""
                SELECT d.id FROM device d JOIN "user" u ON u.id = d.user_id
                WHERE u.name = ? AND d.replica = ? AND d.public_key = ? AND d.revoked_at IS NULL
                """#, [.text(name), .blob(replica.bytes), .blob(key)]) != nil
        }
    }

    // MARK: Devices

    /// The device of `replica`, registering it (and its key) to `user` on first sight.
    /// - Throws: `APIError` when the replica belongs to another user or was revoked, or when the device already
    ///   has another key.
    public func device(for user: User, replica: ReplicaID, name: String, key: [UInt8]?, now: Int64) async throws -> Device {
        try await write { sql in
            // Two servers registering the same replica at once take turns.
            try await sql.lock("replica:" + replica.description)
            if var existing = try await Self.fetchDevice(sql, "d.replica = ?", [.blob(replica.bytes)]) {
                guard existing.userID == user.id else {
                    throw APIError(.conflict, "replica_taken",
                                   "replica \(replica.short) is registered to another user; run daiban init in a new home")
                }
                guard existing.revokedAt == nil else {
                    throw APIError.forbidden("device_revoked",
                                             "device \(existing.id) was revoked; ask the centre, then init a new replica")
                }
                if let key {
                    if existing.publicKey == nil {
                        try await Self.setKey(sql, device: existing.id, key, now: now)
                        existing.publicKey = key
                    } else if existing.publicKey != key {
                        throw APIError(.conflict, "device_key_mismatch",
                                       "device \(existing.id) signs with another key; rotate keys with `daiban key rotate` on the device that holds the old one, or ask the centre to revoke it")
                    }
                }
                return existing
            }
            // A replica whose bundles were relayed before it ever signed in is registered only with the key
            // those bundles were signed with.
            let relayed = try await sql.rows("SELECT public_key FROM relayed_key WHERE replica = ?", [.blob(replica.bytes)])
                .map { $0.blob("public_key") }
            if !relayed.isEmpty && !relayed.contains(where: { $0 == key }) {
                throw APIError(.conflict, "device_key_mismatch",
                               "bundles of replica \(replica.short) were relayed signed with another key; sign in from the device that made them")
            }
            let shortName = String(name.prefix(64))
            let id = try await sql.row("INSERT INTO device (user_id, replica, name, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                                       [.int(user.id), .blob(replica.bytes), .text(shortName), .int(now)])?.int("id") ?? 0
            if let key { try await Self.setKey(sql, device: id, key, now: now) }
            return Device(id: id, userID: user.id, userName: user.name, replica: replica, name: shortName,
                          createdAt: now, publicKey: key)
        }
    }

    /// Makes `key` the device's current key. Its previous one is retired: it still signs bundles of changes up to
    /// `retiredUpTo` (the device's sequence number at the rotation), which a township may relay later, and
    /// nothing after them.
    private static func setKey(_ sql: any AccountSQL, device: Int64, _ key: [UInt8], now: Int64, retiredUpTo: UInt64 = 0) async throws {
        // Two rotations of one device at once, on two servers, take turns: one key ends up current.
        try await sql.lock("device:\(device)")
        if let owner = try await sql.row("SELECT device_id FROM device_key WHERE public_key = ?", [.blob(key)]),
           owner.int("device_id") != device {
            throw APIError(.conflict, "device_key_mismatch", "this key belongs to another device")
        }
        try await sql.run("""
            UPDATE device_key SET retired_at = ?, valid_to_seq = ? WHERE device_id = ? AND retired_at IS NULL AND public_key <> ?
            """, [.int(now), .int(Int64(clamping: retiredUpTo)), .int(device), .blob(key)])
        try await sql.run("""
            INSERT INTO device_key (public_key, device_id, added_at) VALUES (?, ?, ?)
            ON CONFLICT (public_key) DO UPDATE SET retired_at = NULL, valid_to_seq = NULL
            """, [.blob(key), .int(device), .int(now)])
        try await sql.run("UPDATE device SET public_key = ? WHERE id = ?", [.blob(key), .int(device)])
    }

    /// Registers a device's first key, or rotates it (the caller checked the old key's proof).
    public func setKey(device: Int64, _ key: [UInt8], now: Int64, retiredUpTo: UInt64 = 0) async throws {
        try await write { sql in try await Self.setKey(sql, device: device, key, now: now, retiredUpTo: retiredUpTo) }
    }

    /// How long a retired key still signs the bundles made before its rotation (a township may carry one for a
    /// while): 30 days.
    static let retiredKeySeconds: Int64 = 30 * 86_400

    /// Whether `key` signs, for the device, a bundle of its changes up to `toSeq`: its current key signs
    /// anything, a retired one only what the device wrote before the rotation, and only for `retiredKeySeconds`.
    public func isKey(_ key: [UInt8], of device: Int64, forBundleUpTo toSeq: UInt64, now: Int64) async throws -> Bool {
        try await read { sql in
            guard let r = try await sql.row("SELECT device_id, retired_at, valid_to_seq FROM device_key WHERE public_key = ?",
                                            [.blob(key)]),
                  r.int("device_id") == device else { return false }
            guard let retired = r.optionalInt("retired_at") else { return true }
            guard let bound = r.optionalInt("valid_to_seq"), now - retired <= Self.retiredKeySeconds else { return false }
            return toSeq <= UInt64(max(0, bound))
        }
    }

    /// The keys relayed bundles of a replica no device has registered were signed with.
    public func relayedKeys(replica: ReplicaID) async throws -> [[UInt8]] {
        try await read { sql in
            try await sql.rows("SELECT public_key FROM relayed_key WHERE replica = ?", [.blob(replica.bytes)]).map { $0.blob("public_key") }
        }
    }

    /// Remembers the key that signed a relayed bundle of a replica no device has registered (at most 8 per
    /// replica): only that key's holder may register the replica later.
    public func noteRelayedKey(replica: ReplicaID, _ key: [UInt8], now: Int64) async throws {
        try await write { sql in
            try await sql.lock("replica:" + replica.description)
            let n = try await sql.row("SELECT count(*) AS n FROM relayed_key WHERE replica = ?", [.blob(replica.bytes)])?.int("n") ?? 0
            guard n < 8 else { return }
            try await sql.run("""
                INSERT INTO relayed_key (replica, public_key, first_seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING
                """, [.blob(replica.bytes), .blob(key), .int(now)])
        }
    }

    /// The device registered for a replica id.
    public func device(replica: ReplicaID) async throws -> Device? {
        try await read { sql in try await Self.fetchDevice(sql, "d.replica = ?", [.blob(replica.bytes)]) }
    }

    /// Records the device's clock against the server's.
    public func noteClock(deviceID: Int64, skewMillis: Int64) async throws {
        try await write { sql in
            try await sql.run("UPDATE device SET clock_skew_ms = ? WHERE id = ?", [.int(skewMillis), .int(deviceID)])
        }
    }

    public func devices() async throws -> [Device] {
        try await read { sql in try await Self.fetchDevices(sql, "1 = 1", []) }
    }

    public func device(id: Int64) async throws -> Device? {
        try await read { sql in try await Self.fetchDevice(sql, "d.id = ?", [.int(id)]) }
    }

    /// Revokes a device and its refresh tokens. Returns false when there is no such device.
    public func revoke(deviceID: Int64, now: Int64) async throws -> Bool {
        try await write { sql in
            guard try await sql.row("UPDATE device SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING id",
                                    [.int(now), .int(deviceID)]) != nil else { return false }
            try await sql.run("DELETE FROM refresh_token WHERE device_id = ?", [.int(deviceID)])
            return true
        }
    }

    public func touch(deviceID: Int64, now: Int64) async throws {
        try await write { sql in
            try await sql.run("UPDATE device SET last_seen_at = ? WHERE id = ?", [.int(now), .int(deviceID)])
        }
    }

    private static func fetchDevices(_ sql: any AccountSQL, _ condition: String, _ args: [SQLValue]) async throws -> [Device] {
        try await sql.rows("""
            SELECT d.id, d.user_id, u.name AS user_name, d.replica, d.name, d.created_at, d.last_seen_at, d.revoked_at,
                   d.public_key, d.clock_skew_ms
            FROM device d JOIN "user" u ON u.id = d.user_id WHERE \(condition) ORDER BY d.id
            """, args).map { r in
            Device(id: r.int("id"), userID: r.int("user_id"), userName: r.text("user_name"),
                   replica: ReplicaID(bytes: r.blob("replica")), name: r.text("name"), createdAt: r.int("created_at"),
                   lastSeenAt: r.optionalInt("last_seen_at"), revokedAt: r.optionalInt("revoked_at"),
                   publicKey: r.optionalBlob("public_key"), clockSkewMillis: r.optionalInt("clock_skew_ms"))
        }
    }

    private static func fetchDevice(_ sql: any AccountSQL, _ condition: String, _ args: [SQLValue]) async throws -> Device? {
        try await fetchDevices(sql, condition, args).first
    }

    // MARK: Refresh tokens

    /// How long a spent refresh token may be presented again and get the same successor: the answer to a
    /// refresh can be lost on a bad link, and the retry must not sign the device out.
    static let retryGraceSeconds: Int64 = 120

    /// A new token family for a device (at login): only its SHA-256 is stored.
    public func issueRefreshToken(deviceID: Int64, expiresAt: Int64) async throws -> String {
        let token = "dbr1." + base64URL(randomBytes(32))
        let family = randomBytes(16)
        try await write { sql in
            try await sql.run("DELETE FROM refresh_token WHERE expires_at < ?", [.int(expiresAt - 800 * 86400)])
            try await sql.run("INSERT INTO refresh_token (hash, device_id, family, expires_at) VALUES (?, ?, ?, ?)",
                              [.blob(Self.hash(token)), .int(deviceID), .blob(family), .int(expiresAt)])
        }
        return token
    }

    /// What redeeming a refresh token gave.
    public enum Redeemed: Sendable {
        /// The device and its next token.
        case next(deviceID: Int64, token: String)
        /// A spent token presented again after its successor was used, or after the grace period: the whole family is
        /// revoked (someone else holds a copy).
        case replayed
        /// Unknown or expired.
        case invalid
    }

    /// Spends a refresh token. Its successor is derived from it with the server's key, so a retry within
    /// `retryGraceSeconds` whose successor is still unused gets the same successor again; any other reuse revokes
    /// the token's family. Two servers redeeming the same token at once take turns.
    public func redeemRefreshToken(_ token: String, successorKey: SymmetricKey, now: Int64, lifetime: Int64) async throws -> Redeemed {
        let hash = Self.hash(token)
        let successor = "dbr1." + base64URL(Array(HMAC<SHA256>.authenticationCode(for: Data(("refresh:" + token).utf8),
                                                                                   using: successorKey)))
        let successorHash = Self.hash(successor)
        return try await write { sql in
            guard let row = try await sql.row("SELECT device_id, family, expires_at, spent_at FROM refresh_token WHERE hash = ?",
                                              [.blob(hash)]) else { return .invalid }
            // The user's refreshes and session ends take turns on every server (`setPassword`).
            let user = try await sql.row("SELECT user_id FROM device WHERE id = ?", [.int(row.int("device_id"))])?.int("user_id") ?? 0
            try await sql.lock("sessions:\(user)")
            // Read again under the lock: another server may have spent it, or ended the user's sessions, meanwhile.
            guard let row = try await sql.row("SELECT device_id, family, expires_at, spent_at FROM refresh_token WHERE hash = ?",
                                              [.blob(hash)]) else { return .invalid }
            let device = row.int("device_id")
            let family = row.blob("family")
            if let spent = row.optionalInt("spent_at") {
                let next = try await sql.row("SELECT spent_at FROM refresh_token WHERE hash = ?", [.blob(successorHash)])
                if now - spent <= Self.retryGraceSeconds, let next, next.optionalInt("spent_at") == nil {
                    return .next(deviceID: device, token: successor)
                }
                try await sql.run("DELETE FROM refresh_token WHERE family = ?", [.blob(family)])
                return .replayed
            }
            guard row.int("expires_at") >= now else {
                try await sql.run("DELETE FROM refresh_token WHERE hash = ?", [.blob(hash)])
                return .invalid
            }
            try await sql.run("UPDATE refresh_token SET spent_at = ? WHERE hash = ?", [.int(now), .blob(hash)])
            try await sql.run("""
                INSERT INTO refresh_token (hash, device_id, family, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING
                """, [.blob(successorHash), .int(device), .blob(family), .int(now + lifetime)])
            return .next(deviceID: device, token: successor)
        }
    }

    private static func hash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Data(token.utf8))) }

    // MARK: Sign-in counters

    /// Runs `body` on the sign-in counters of `keys` and stores what it leaves (a counter set to nil is deleted),
    /// in one transaction that every server on the database takes in turn for these keys. Counters that faded
    /// before `now` count as absent.
    public func withLoginCounters<T: Sendable>(_ keys: [String], now: Int64,
                                        _ body: @escaping @Sendable (inout [String: LoginCounter]) -> T) async throws -> T {
        // Now and then the counters that faded are swept, apart from any attempt (a failed sweep waits for the next).
        if UInt8.random(in: 0...63) == 0 {
            _ = try? await database.attemptTransaction { sql in
                try await sql.run("DELETE FROM login_counter WHERE fades_at < ?", [.int(now)])
            }
        }
        // Counters need no flush to disk: a power cut that loses the last ones costs a guesser nothing it had.
        return try await database.attemptTransaction { sql in
            for key in Set(keys).sorted() { try await sql.lock("login:" + key) }
            var counters: [String: LoginCounter] = [:]
            for key in keys {
                guard let r = try await sql.row("SELECT * FROM login_counter WHERE key = ?", [.text(key)]),
                      r.int("fades_at") >= now else { continue }
                counters[key] = LoginCounter(failures: Int(r.int("failures")), last: r.int("last_at"),
                                             blockedUntil: r.int("blocked_until"), credits: Int(r.int("credits")),
                                             fadesAt: r.int("fades_at"))
            }
            let before = counters
            let result = body(&counters)
            for key in Set(keys) where counters[key] != before[key] {
                guard let c = counters[key] else {
                    try await sql.run("DELETE FROM login_counter WHERE key = ?", [.text(key)])
                    continue
                }
                try await sql.run("""
                    INSERT INTO login_counter (key, failures, last_at, blocked_until, credits, fades_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at,
                        blocked_until = excluded.blocked_until, credits = excluded.credits, fades_at = excluded.fades_at
                    """, [.text(key), .int(Int64(c.failures)), .int(c.last), .int(c.blockedUntil), .int(Int64(c.credits)),
                          .int(c.fadesAt)])
            }
            return result
        }
    }
}

/// A sign-in counter as the operator sees it: what it counts, how many failures, and until when it blocks.
public struct LoginCounterEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case address, user, pair }
    public var kind: Kind
    public var user: String?
    public var address: String?
    public var failures: Int
    /// Unix seconds; 0 or in the past when the counter does not block now.
    public var blockedUntil: Int64
    public var fadesAt: Int64

    /// `a:ADDRESS`, `u:USER`, `p:USER ADDRESS` (`LoginLimiter`).
    init?(key: String, failures: Int, blockedUntil: Int64, fadesAt: Int64) {
        self.failures = failures
        self.blockedUntil = blockedUntil
        self.fadesAt = fadesAt
        let body = String(key.dropFirst(2))
        switch key.prefix(2) {
        case "a:": kind = .address; address = body
        case "u:": kind = .user; user = body
        case "p:":
            guard let space = body.firstIndex(of: " ") else { return nil }
            kind = .pair
            user = String(body[..<space])
            address = String(body[body.index(after: space)...])
        default: return nil
        }
    }
}

extension AccountStore {
    /// The sign-in counters that count failures or block at `now` (not faded), blocking ones first.
    public func loginCounters(now: Int64) async throws -> [LoginCounterEntry] {
        try await read { sql in
            try await sql.rows("""
                SELECT * FROM login_counter WHERE fades_at >= ? AND (failures > 0 OR blocked_until > ?)
                ORDER BY blocked_until DESC, key
                """, [.int(now), .int(now)]).compactMap { r in
                LoginCounterEntry(key: r.text("key"), failures: Int(r.int("failures")), blockedUntil: r.int("blocked_until"),
                                  fadesAt: r.int("fades_at"))
            }
        }
    }

    /// Forgets the sign-in counters of `user` (from every address) and of `address` (for every name): a training
    /// room behind one address, or a user locked out by someone else's guesses, signs in again at once. Returns how
    /// many counters were dropped. The name must match exactly; an IPv6 address counts by its /64, written either
    /// way (`2001:db8::5` or `2001:db8::/64`).
    public func clearLoginCounters(user: String?, address: String?) async throws -> Int {
        let address = address.map { a in
            LoginLimiter.addressKey(a.hasSuffix("/64") && a.contains(":") ? String(a.dropLast(3)) : a)
        }
        return try await write { sql in
            let entries = try await sql.rows("SELECT key, failures, blocked_until, fades_at FROM login_counter", []).compactMap { r in
                LoginCounterEntry(key: r.text("key"), failures: 0, blockedUntil: 0, fadesAt: 0).map { (r.text("key"), $0) }
            }
            let same = { (a: String?, b: String?) in a != nil && b != nil && a!.utf8.elementsEqual(b!.utf8) }
            let doomed = entries.filter { same($0.1.user, user) || same($0.1.address, address) }.map(\.0)
            for key in doomed.sorted() {
                try await sql.lock("login:" + key)
                try await sql.run("DELETE FROM login_counter WHERE key = ?", [.text(key)])
            }
            return doomed.count
        }
    }
}

/// The tables of the account store and their migrations, one list per backend. SQLite's go through GRDB's
/// migrator (the names are those files already carry); PostgreSQL's are recorded in `daiban_migration`.
enum AccountSchema {
    static var sqliteMigrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("accounts-v1") { db in
            try db.execute(sql: """
                CREATE TABLE user (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL UNIQUE,
                    role TEXT NOT NULL,
                    township TEXT,
                    department TEXT,
                    password_hash TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    disabled INTEGER NOT NULL DEFAULT 0
                ) STRICT;
                CREATE TABLE device (
                    id INTEGER PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES user (id),
                    replica BLOB NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    last_seen_at INTEGER,
                    revoked_at INTEGER
                ) STRICT;
                CREATE TABLE refresh_token (
                    hash BLOB PRIMARY KEY,
                    device_id INTEGER NOT NULL REFERENCES device (id),
                    expires_at INTEGER NOT NULL
                ) STRICT;
                """)
        }
        m.registerMigration("accounts-v2-keys") { db in
            try db.execute(sql: """
                ALTER TABLE user ADD COLUMN sessions_valid_after INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE device ADD COLUMN public_key BLOB;
                ALTER TABLE device ADD COLUMN clock_skew_ms INTEGER;
                CREATE TABLE device_key (
                    public_key BLOB PRIMARY KEY,
                    device_id INTEGER NOT NULL REFERENCES device (id),
                    added_at INTEGER NOT NULL,
                    retired_at INTEGER
                ) STRICT;
                DROP TABLE refresh_token;
                CREATE TABLE refresh_token (
                    hash BLOB PRIMARY KEY,
                    device_id INTEGER NOT NULL REFERENCES device (id),
                    family BLOB NOT NULL,
                    expires_at INTEGER NOT NULL,
                    spent_at INTEGER
                ) STRICT;
                CREATE INDEX refresh_token_family ON refresh_token (family);
                CREATE INDEX refresh_token_device ON refresh_token (device_id);
                """)
        }
        m.registerMigration("accounts-v3-key-bounds") { db in
            try db.execute(sql: """
                ALTER TABLE device_key ADD COLUMN valid_to_seq INTEGER;
                CREATE TABLE relayed_key (
                    replica BLOB NOT NULL,
                    public_key BLOB NOT NULL,
                    first_seen_at INTEGER NOT NULL,
                    PRIMARY KEY (replica, public_key)
                ) STRICT;
                """)
        }
        m.registerMigration("accounts-v4-login-counters") { db in
            try db.execute(sql: """
                CREATE TABLE login_counter (
                    key TEXT PRIMARY KEY,
                    failures INTEGER NOT NULL,
                    last_at INTEGER NOT NULL,
                    blocked_until INTEGER NOT NULL,
                    credits INTEGER NOT NULL,
                    fades_at INTEGER NOT NULL
                ) STRICT;
                CREATE INDEX login_counter_fades ON login_counter (fades_at);
                """)
        }
        return m
    }

    /// PostgreSQL's migrations, in order: a name and its statements (one per query: the extended protocol takes
    /// one statement at a time).
    static let postgresMigrations: [(name: String, statements: [String])] = [
        ("accounts-v1", [
            #"""
            CREATE TABLE "user" (
                id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                name text NOT NULL UNIQUE,
                role text NOT NULL,
                township text,
                department text,
                password_hash text NOT NULL,
                created_at bigint NOT NULL,
                disabled bigint NOT NULL DEFAULT 0,
                sessions_valid_after bigint NOT NULL DEFAULT 0
            )
            """#,
            #"""
            CREATE TABLE device (
                id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                user_id bigint NOT NULL REFERENCES "user" (id),
                replica bytea NOT NULL UNIQUE,
                name text NOT NULL,
                created_at bigint NOT NULL,
                last_seen_at bigint,
                revoked_at bigint,
                public_key bytea,
                clock_skew_ms bigint
            )
            """#,
            """
            CREATE TABLE device_key (
                public_key bytea PRIMARY KEY,
                device_id bigint NOT NULL REFERENCES device (id),
                added_at bigint NOT NULL,
                retired_at bigint,
                valid_to_seq bigint
            )
            """,
            """
            CREATE TABLE refresh_token (
                hash bytea PRIMARY KEY,
                device_id bigint NOT NULL REFERENCES device (id),
                family bytea NOT NULL,
                expires_at bigint NOT NULL,
                spent_at bigint
            )
            """,
            "CREATE INDEX refresh_token_family ON refresh_token (family)",
            "CREATE INDEX refresh_token_device ON refresh_token (device_id)",
            """
            CREATE TABLE relayed_key (
                replica bytea NOT NULL,
                public_key bytea NOT NULL,
                first_seen_at bigint NOT NULL,
                PRIMARY KEY (replica, public_key)
            )
            """,
            """
            CREATE TABLE login_counter (
                key text PRIMARY KEY,
                failures bigint NOT NULL,
                last_at bigint NOT NULL,
                blocked_until bigint NOT NULL,
                credits bigint NOT NULL,
                fades_at bigint NOT NULL
            )
            """,
            "CREATE INDEX login_counter_fades ON login_counter (fades_at)",
            "CREATE TABLE server_secret (name text PRIMARY KEY, value bytea NOT NULL)",
        ]),
        // The shared replica of several instances (`PostgresReplicaLog`): the head row (the write turn) and the
        // entries, one write transaction's changeset each, with the chain of the log up to it.
        ("replica-log-v1", [
            """
            CREATE TABLE replica_log_head (
                id int PRIMARY KEY CHECK (id = 1),
                position bigint NOT NULL,
                replica bytea NOT NULL,
                layout text NOT NULL
            )
            """,
            """
            CREATE TABLE replica_log (
                position bigint PRIMARY KEY,
                changes bytea NOT NULL,
                chain bytea NOT NULL,
                at timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]),
    ]

    /// Runs the migrations PostgreSQL lacks, in one transaction under an advisory lock: servers starting at once
    /// take turns, and the later ones find the work done.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(7263540142)", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS daiban_migration (name text PRIMARY KEY, applied_at bigint NOT NULL)
                """, logger: logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM daiban_migration", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for m in postgresMigrations where !applied.contains(m.name) {
                for statement in m.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let name = m.name
                let at = Int64(Date().timeIntervalSince1970)
                try await connection.query("INSERT INTO daiban_migration (name, applied_at) VALUES (\(name), \(at))", logger: logger)
            }
        }
    }
}

func randomBytes(_ n: Int) -> [UInt8] {
    var g = SystemRandomNumberGenerator()
    return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
}

/// A mistake in an account command (taken name, short password).
public struct AccountError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

func fromBase64URL(_ s: String) -> [UInt8]? {
    var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while b.count % 4 != 0 { b += "=" }
    return Data(base64Encoded: b).map { [UInt8]($0) }
}
