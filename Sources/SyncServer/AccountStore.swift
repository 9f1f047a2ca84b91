import Foundation
import TerminalText
import GRDB
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

/// Users, devices and refresh tokens in `<data>/accounts.sqlite`.
///
/// Separate from the replica so account data never replicates. WAL mode with a busy timeout, so
/// `daiban-server user add` works while the server runs.
public struct AccountStore: Sendable {
    let queue: DatabaseQueue

    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        let sync = Durability.current.pragma
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // Sessions and refresh tokens as durable as the data: a token the client was given survives a power cut.
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
        }
        queue = try DatabaseQueue(path: path, configuration: config)
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
        try m.migrate(queue)
    }

    // MARK: Users

    /// Adds a user; the password is hashed with bcrypt before it reaches the database.
    /// - Throws: `AccountError` when the name is taken or malformed.
    @discardableResult
    public func addUser(name: String, role: Role, township: String? = nil, department: String? = nil,
                        password: String, cost: Int, now: Int64) throws -> User {
        guard !name.isEmpty, name.utf8.count <= 64, !name.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw AccountError(L10n.t(.srvBadUserName))
        }
        guard password.count >= 8 else { throw AccountError(L10n.t(.srvShortPassword)) }
        let hash = PasswordHasher.hash(password, cost: cost)
        return try queue.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM user WHERE name = ?", arguments: [name]) != nil {
                throw AccountError(L10n.t(.srvUserExists, name))
            }
            try db.execute(sql: """
                INSERT INTO user (name, role, township, department, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [name, role.rawValue, township, department, hash, now])
            return User(id: db.lastInsertedRowID, name: name, role: role, township: township, department: department,
                        createdAt: now, disabled: false)
        }
    }

    /// Sets a new password (a forgotten one, or a routine change). With `revokeSessions` every device of the
    /// user must sign in again: its refresh tokens are deleted and access tokens issued before `now` are refused.
    /// - Returns: false when there is no such user.
    public func setPassword(name: String, password: String, cost: Int, revokeSessions: Bool = false,
                            now: Int64 = Int64(Date().timeIntervalSince1970)) throws -> Bool {
        guard password.count >= 8 else { throw AccountError(L10n.t(.srvShortPassword)) }
        let hash = PasswordHasher.hash(password, cost: cost)
        return try queue.write { db in
            try db.execute(sql: "UPDATE user SET password_hash = ? WHERE name = ?", arguments: [hash, name])
            guard db.changesCount > 0 else { return false }
            if revokeSessions {
                try db.execute(sql: "UPDATE user SET sessions_valid_after = ? WHERE name = ?", arguments: [now + 1, name])
                try db.execute(sql: """
                    DELETE FROM refresh_token WHERE device_id IN
                        (SELECT d.id FROM device d JOIN user u ON u.id = d.user_id WHERE u.name = ?)
                    """, arguments: [name])
            }
            return true
        }
    }

    /// Disables or re-enables a user. A disabled user can neither sign in nor use tokens already issued; the
    /// devices stay registered, so re-enabling restores them.
    /// - Returns: false when there is no such user.
    public func setDisabled(name: String, _ disabled: Bool) throws -> Bool {
        try queue.write { db in
            try db.execute(sql: "UPDATE user SET disabled = ? WHERE name = ?", arguments: [disabled, name])
            return db.changesCount > 0
        }
    }

    public func users() throws -> [User] {
        try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM user ORDER BY id").map(Self.user) }
    }

    public func user(id: Int64) throws -> User? {
        try queue.read { db in try Row.fetchOne(db, sql: "SELECT * FROM user WHERE id = ?", arguments: [id]).map(Self.user) }
    }

    /// A consistent copy of the accounts database in one file (`VACUUM INTO`), readable by its owner only.
    public func backup(to path: String) throws {
        try queue.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        chmod(path, 0o600)
    }

    /// SQLite's own check of the file (`PRAGMA quick_check`): empty when it is sound.
    public func integrityProblems() throws -> [String] {
        try queue.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check").filter { $0 != "ok" } }
    }

    public func userCount() throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM user") ?? 0 }
    }

    /// The user when the password matches. Unknown users cost a bcrypt check too, so timing does not reveal
    /// which names exist.
    func authenticate(name: String, password: String, cost: Int) throws -> User? {
        let row = try queue.read { db in try Row.fetchOne(db, sql: "SELECT * FROM user WHERE name = ?", arguments: [name]) }
        guard let row else {
            _ = PasswordHasher.verify(password, hash: PasswordHasher.decoy(cost: cost))
            return nil
        }
        guard PasswordHasher.verify(password, hash: row["password_hash"]) else { return nil }
        return Self.user(row)
    }

    private static func user(_ r: Row) -> User {
        User(id: r["id"], name: r["name"], role: Role(rawValue: r["role"]) ?? .agent, township: r["township"],
             department: r["department"], createdAt: r["created_at"], disabled: r["disabled"],
             sessionsValidAfter: r["sessions_valid_after"])
    }

    /// Whether `replica` is a device of the user that signs with `key` (a login from a known device, proved by
    /// its key, is not slowed by other people's failed guesses at the user name).
    func isKnownDevice(user name: String, replica: ReplicaID, key: [UInt8]) throws -> Bool {
        try queue.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM device d JOIN user u ON u.id = d.user_id
                               WHERE u.name = ? AND d.replica = ? AND d.public_key = ? AND d.revoked_at IS NULL)
                """, arguments: [name, Data(replica.bytes), Data(key)]) ?? false
        }
    }

    // MARK: Devices

    /// The device of `replica`, registering it (and its key) to `user` on first sight.
    /// - Throws: `APIError` when the replica belongs to another user or was revoked, or when the device already
    ///   has another key.
    func device(for user: User, replica: ReplicaID, name: String, key: [UInt8]?, now: Int64) throws -> Device {
        try queue.write { db in
            if var existing = try Self.fetchDevice(db, "d.replica = ?", [Data(replica.bytes)]) {
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
                        try Self.setKey(db, device: existing.id, key, now: now)
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
            let relayed = try Data.fetchAll(db, sql: "SELECT public_key FROM relayed_key WHERE replica = ?",
                                            arguments: [Data(replica.bytes)])
            let presented: Data? = key.map { Data($0) }
            if !relayed.isEmpty && !relayed.contains(where: { $0 == presented }) {
                throw APIError(.conflict, "device_key_mismatch",
                               "bundles of replica \(replica.short) were relayed signed with another key; sign in from the device that made them")
            }
            try db.execute(sql: "INSERT INTO device (user_id, replica, name, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [user.id, Data(replica.bytes), String(name.prefix(64)), now])
            let id = db.lastInsertedRowID
            if let key { try Self.setKey(db, device: id, key, now: now) }
            return Device(id: id, userID: user.id, userName: user.name, replica: replica, name: String(name.prefix(64)),
                          createdAt: now, publicKey: key)
        }
    }

    /// Makes `key` the device's current key. Its previous one is retired: it still signs bundles of changes up to
    /// `retiredUpTo` (the device's sequence number at the rotation), which a township may relay later, and
    /// nothing after them.
    private static func setKey(_ db: Database, device: Int64, _ key: [UInt8], now: Int64, retiredUpTo: UInt64 = 0) throws {
        if try Int64.fetchOne(db, sql: "SELECT device_id FROM device_key WHERE public_key = ?", arguments: [Data(key)]).map({ $0 != device }) == true {
            throw APIError(.conflict, "device_key_mismatch", "this key belongs to another device")
        }
        try db.execute(sql: """
            UPDATE device_key SET retired_at = ?, valid_to_seq = ? WHERE device_id = ? AND retired_at IS NULL AND public_key <> ?
            """, arguments: [now, Int64(clamping: retiredUpTo), device, Data(key)])
        try db.execute(sql: """
            INSERT INTO device_key (public_key, device_id, added_at) VALUES (?, ?, ?)
            ON CONFLICT (public_key) DO UPDATE SET retired_at = NULL, valid_to_seq = NULL
            """, arguments: [Data(key), device, now])
        try db.execute(sql: "UPDATE device SET public_key = ? WHERE id = ?", arguments: [Data(key), device])
    }

    /// Registers a device's first key, or rotates it (the caller checked the old key's proof).
    func setKey(device: Int64, _ key: [UInt8], now: Int64, retiredUpTo: UInt64 = 0) throws {
        try queue.write { db in try Self.setKey(db, device: device, key, now: now, retiredUpTo: retiredUpTo) }
    }

    /// How long a retired key still signs the bundles made before its rotation (a township may carry one for a
    /// while): 30 days.
    static let retiredKeySeconds: Int64 = 30 * 86_400

    /// Whether `key` signs, for the device, a bundle of its changes up to `toSeq`: its current key signs
    /// anything, a retired one only what the device wrote before the rotation, and only for `retiredKeySeconds`.
    func isKey(_ key: [UInt8], of device: Int64, forBundleUpTo toSeq: UInt64, now: Int64) throws -> Bool {
        try queue.read { db in
            guard let r = try Row.fetchOne(db, sql: """
                SELECT device_id, retired_at, valid_to_seq FROM device_key WHERE public_key = ?
                """, arguments: [Data(key)]), (r[0] as Int64) == device else { return false }
            guard let retired = r[1] as Int64? else { return true }
            guard let bound = r[2] as Int64?, now - retired <= Self.retiredKeySeconds else { return false }
            return toSeq <= UInt64(max(0, bound))
        }
    }

    /// The keys relayed bundles of a replica no device has registered were signed with.
    func relayedKeys(replica: ReplicaID) throws -> [[UInt8]] {
        try queue.read { db in
            try Data.fetchAll(db, sql: "SELECT public_key FROM relayed_key WHERE replica = ?", arguments: [Data(replica.bytes)])
                .map { [UInt8]($0) }
        }
    }

    /// Remembers the key that signed a relayed bundle of a replica no device has registered (at most 8 per
    /// replica): only that key's holder may register the replica later.
    func noteRelayedKey(replica: ReplicaID, _ key: [UInt8], now: Int64) throws {
        try queue.write { db in
            let n = try Int.fetchOne(db, sql: "SELECT count(*) FROM relayed_key WHERE replica = ?", arguments: [Data(replica.bytes)]) ?? 0
            guard n < 8 else { return }
            try db.execute(sql: "INSERT OR IGNORE INTO relayed_key (replica, public_key, first_seen_at) VALUES (?, ?, ?)",
                           arguments: [Data(replica.bytes), Data(key), now])
        }
    }

    /// The device registered for a replica id.
    func device(replica: ReplicaID) throws -> Device? {
        try queue.read { db in try Self.fetchDevice(db, "d.replica = ?", [Data(replica.bytes)]) }
    }

    /// Records the device's clock against the server's.
    func noteClock(deviceID: Int64, skewMillis: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE device SET clock_skew_ms = ? WHERE id = ?", arguments: [skewMillis, deviceID])
        }
    }

    public func devices() throws -> [Device] {
        try queue.read { db in try Self.fetchDevices(db, "1", []) }
    }

    public func device(id: Int64) throws -> Device? {
        try queue.read { db in try Self.fetchDevice(db, "d.id = ?", [id]) }
    }

    /// Revokes a device and its refresh tokens. Returns false when there is no such device.
    public func revoke(deviceID: Int64, now: Int64) throws -> Bool {
        try queue.write { db in
            try db.execute(sql: "UPDATE device SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                           arguments: [now, deviceID])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "DELETE FROM refresh_token WHERE device_id = ?", arguments: [deviceID])
            return true
        }
    }

    func touch(deviceID: Int64, now: Int64) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE device SET last_seen_at = ? WHERE id = ?", arguments: [now, deviceID])
        }
    }

    private static func fetchDevices(_ db: Database, _ condition: String, _ args: [any DatabaseValueConvertible]) throws -> [Device] {
        try Row.fetchAll(db, sql: """
            SELECT d.*, u.name AS user_name FROM device d JOIN user u ON u.id = d.user_id WHERE \(condition) ORDER BY d.id
            """, arguments: StatementArguments(args)).map { r in
            Device(id: r["id"], userID: r["user_id"], userName: r["user_name"],
                   replica: ReplicaID(bytes: [UInt8](r["replica"] as Data)), name: r["name"], createdAt: r["created_at"],
                   lastSeenAt: r["last_seen_at"], revokedAt: r["revoked_at"],
                   publicKey: (r["public_key"] as Data?).map { [UInt8]($0) }, clockSkewMillis: r["clock_skew_ms"])
        }
    }

    private static func fetchDevice(_ db: Database, _ condition: String, _ args: [any DatabaseValueConvertible]) throws -> Device? {
        try fetchDevices(db, condition, args).first
    }

    // MARK: Refresh tokens

    /// How long a spent refresh token may be presented again and get the same successor: the answer to a
    /// refresh can be lost on a bad link, and the retry must not sign the device out.
    static let retryGraceSeconds: Int64 = 120

    /// A new token family for a device (at login): only its SHA-256 is stored.
    func issueRefreshToken(deviceID: Int64, expiresAt: Int64) throws -> String {
        let token = "dbr1." + base64URL(randomBytes(32))
        try queue.write { db in
            try db.execute(sql: "DELETE FROM refresh_token WHERE expires_at < ?", arguments: [expiresAt - 800 * 86400])
            try db.execute(sql: "INSERT INTO refresh_token (hash, device_id, family, expires_at) VALUES (?, ?, ?, ?)",
                           arguments: [Self.hash(token), deviceID, Data(randomBytes(16)), expiresAt])
        }
        return token
    }

    /// What redeeming a refresh token gave.
    enum Redeemed {
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
    /// the token's family.
    func redeemRefreshToken(_ token: String, successorKey: SymmetricKey, now: Int64, lifetime: Int64) throws -> Redeemed {
        try queue.write { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT device_id, family, expires_at, spent_at FROM refresh_token WHERE hash = ?
                """, arguments: [Self.hash(token)]) else { return .invalid }
            let device: Int64 = row[0]
            let family: Data = row[1]
            let successor = "dbr1." + base64URL(Array(HMAC<SHA256>.authenticationCode(for: Data(("refresh:" + token).utf8),
                                                                                       using: successorKey)))
            if let spent = row[3] as Int64? {
                let next = try Row.fetchOne(db, sql: "SELECT spent_at FROM refresh_token WHERE hash = ?",
                                            arguments: [Self.hash(successor)])
                if now - spent <= Self.retryGraceSeconds, let next, (next[0] as Int64?) == nil {
                    return .next(deviceID: device, token: successor)
                }
                try db.execute(sql: "DELETE FROM refresh_token WHERE family = ?", arguments: [family])
                return .replayed
            }
            guard (row[2] as Int64) >= now else {
                try db.execute(sql: "DELETE FROM refresh_token WHERE hash = ?", arguments: [Self.hash(token)])
                return .invalid
            }
            try db.execute(sql: "UPDATE refresh_token SET spent_at = ? WHERE hash = ?", arguments: [now, Self.hash(token)])
            try db.execute(sql: """
                INSERT OR IGNORE INTO refresh_token (hash, device_id, family, expires_at) VALUES (?, ?, ?, ?)
                """, arguments: [Self.hash(successor), device, family, now + lifetime])
            return .next(deviceID: device, token: successor)
        }
    }

    private static func hash(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }
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
