import Foundation
import GRDB
public import SyncCore
import Crypto
import HTTPTypes

/// What a user may do. Relaying (pushing other replicas' writes) is for township offices and the centre.
public enum Role: String, Sendable, Codable, CaseIterable {
    case agent, township, center, liaison

    /// Whether devices of this role may push versions written by other replicas (an agent's imported bundle).
    public var mayRelay: Bool { self == .township || self == .center }
    /// Whether this role sees the device directory (who wrote a conflicting version).
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
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
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
        try m.migrate(queue)
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    // MARK: Users

    /// Adds a user; the password is hashed with bcrypt before it reaches the database.
    /// - Throws: `AccountError` when the name is taken or malformed.
    @discardableResult
    public func addUser(name: String, role: Role, township: String? = nil, department: String? = nil,
                        password: String, cost: Int, now: Int64) throws -> User {
        guard !name.isEmpty, name.utf8.count <= 64, !name.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw AccountError("user names are 1–64 bytes without spaces")
        }
        guard password.count >= 8 else { throw AccountError("passwords need at least 8 characters") }
        let hash = PasswordHasher.hash(password, cost: cost)
        return try queue.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM user WHERE name = ?", arguments: [name]) != nil {
                throw AccountError("user \(name) already exists")
            }
            try db.execute(sql: """
                INSERT INTO user (name, role, township, department, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [name, role.rawValue, township, department, hash, now])
            return User(id: db.lastInsertedRowID, name: name, role: role, township: township, department: department,
                        createdAt: now, disabled: false)
        }
    }

    /// Sets a new password (a forgotten one, or a routine change). Sessions already signed in stay valid.
    /// - Returns: false when there is no such user.
    public func setPassword(name: String, password: String, cost: Int) throws -> Bool {
        guard password.count >= 8 else { throw AccountError("passwords need at least 8 characters") }
        let hash = PasswordHasher.hash(password, cost: cost)
        return try queue.write { db in
            try db.execute(sql: "UPDATE user SET password_hash = ? WHERE name = ?", arguments: [hash, name])
            return db.changesCount > 0
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
             department: r["department"], createdAt: r["created_at"], disabled: r["disabled"])
    }

    // MARK: Devices

    /// The device of `replica`, registering it to `user` on first sight.
    /// - Throws: `APIError` when the replica belongs to another user or was revoked.
    func device(for user: User, replica: ReplicaID, name: String, now: Int64) throws -> Device {
        try queue.write { db in
            if let existing = try Self.fetchDevice(db, "d.replica = ?", [Data(replica.bytes)]) {
                guard existing.userID == user.id else {
                    throw APIError(.conflict, "replica_taken",
                                   "replica \(replica.short) is registered to another user; run daiban init in a new home")
                }
                guard existing.revokedAt == nil else {
                    throw APIError.forbidden("device_revoked",
                                             "device \(existing.id) was revoked; ask the centre, then init a new replica")
                }
                return existing
            }
            try db.execute(sql: "INSERT INTO device (user_id, replica, name, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [user.id, Data(replica.bytes), String(name.prefix(64)), now])
            return Device(id: db.lastInsertedRowID, userID: user.id, userName: user.name, replica: replica,
                          name: String(name.prefix(64)), createdAt: now)
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
                   lastSeenAt: r["last_seen_at"], revokedAt: r["revoked_at"])
        }
    }

    private static func fetchDevice(_ db: Database, _ condition: String, _ args: [any DatabaseValueConvertible]) throws -> Device? {
        try fetchDevices(db, condition, args).first
    }

    // MARK: Refresh tokens

    /// A new refresh token for a device (only its SHA-256 is stored).
    func issueRefreshToken(deviceID: Int64, expiresAt: Int64) throws -> String {
        let token = "dbr1." + base64URL(Array(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }))
        try queue.write { db in
            try db.execute(sql: "DELETE FROM refresh_token WHERE expires_at < ?", arguments: [expiresAt - 400 * 86400])
            try db.execute(sql: "INSERT INTO refresh_token (hash, device_id, expires_at) VALUES (?, ?, ?)",
                           arguments: [Data(SHA256.hash(data: Data(token.utf8))), deviceID, expiresAt])
        }
        return token
    }

    /// Spends a refresh token: returns its device and deletes it (tokens rotate on every refresh).
    func redeemRefreshToken(_ token: String, now: Int64) throws -> Int64? {
        try queue.write { db in
            let hash = Data(SHA256.hash(data: Data(token.utf8)))
            guard let row = try Row.fetchOne(db, sql: "SELECT device_id, expires_at FROM refresh_token WHERE hash = ?",
                                             arguments: [hash]) else { return nil }
            try db.execute(sql: "DELETE FROM refresh_token WHERE hash = ?", arguments: [hash])
            return (row[1] as Int64) >= now ? row[0] as Int64 : nil
        }
    }
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
