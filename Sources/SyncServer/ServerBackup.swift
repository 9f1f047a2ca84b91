import CaseDomain
import Foundation
import GRDB
import ReplicaStore
public import SyncCore
import TerminalText

/// Holds `<data>/serve.lock` (an advisory `flock`) for as long as it lives: one `serve` per data folder, and no
/// restore or new epoch under a running server. The lock goes with the process, however it ends.
public final class DataFolderLock {
    private let fd: Int32

    /// Takes the lock, or throws when another process holds it.
    /// - Parameter purpose: what the holder does, written into the file for the next one's message.
    public init(data: String, purpose: String) throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = data + "/serve.lock"
        // The descriptor becomes the object's only once it holds the lock: a failed init must not reach deinit,
        // which would close a number another thread may have reused meanwhile (another database's file).
        let held = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard held >= 0 else { throw ConfigError(L10n.t(.srvLockOpen, path, String(cString: strerror(errno)))) }
        guard flock(held, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(held)
            throw ConfigError(L10n.t(.srvLockHeld, data, holder.isEmpty ? "?" : holder))
        }
        fd = held
        ftruncate(fd, 0)
        let line = "\(purpose) pid \(getpid())\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

/// A consistent copy of a server's data folder, made while it serves, and its restore.
///
/// The copy is a folder with `replica.sqlite` and `accounts.sqlite`, each one SQLite snapshot (`VACUUM INTO`
/// over a read-only connection: writes made meanwhile are either wholly in it or not at all, and the live files
/// are never written), and `server.json` when the data folder has one. The token key is left out: whoever holds
/// a copy must not be able to sign access tokens, and a restore makes a new key anyway. The replica is copied
/// before the accounts, so a device the copy knows of may be newer than the data, never the other way round.
/// Every copy is checked (SQLite's `quick_check` and the replica id) and flushed to disk before the folder gets
/// its final name.
public enum ServerBackup {
    public struct Summary: Sendable {
        public var folder: String
        public var replica: String
        public var fieldStates: Int
        public var seq: UInt64
        public var users: Int
        public var devices: Int
        public var bytes: Int
    }

    /// The databases a backup holds.
    static let databases = ["replica.sqlite", "accounts.sqlite"]
    /// Written before a restore moves anything and removed when it is done: while it exists, `serve` refuses to
    /// start and `restore` may be run again.
    static let restoreMarker = "restore.incomplete"

    /// Copies the data folder of `config` to `folder` (which must not exist unless `force`, and must lie outside
    /// the data folder).
    public static func make(config: ServerConfig, to folder: String, force: Bool = false) throws -> Summary {
        let fm = FileManager.default
        let data = canonical(config.data), target = canonical(folder)
        guard fm.fileExists(atPath: config.replicaPath) else { throw ConfigError(L10n.t(.srvBackupNoData, config.data)) }
        guard target != data, !target.hasPrefix(data + "/"), !data.hasPrefix(target + "/") else {
            throw ConfigError(L10n.t(.srvBackupInside, folder, config.data))
        }
        if fm.fileExists(atPath: target) && !force { throw ConfigError(L10n.t(.srvBackupExists, folder)) }
        let tmp = target + ".partial-\(getpid())"
        try? fm.removeItem(atPath: tmp)
        umask(0o077)
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            for name in databases {
                try vacuum(config.data + "/" + name, into: tmp + "/" + name)
            }
            if fm.fileExists(atPath: config.data + "/server.json") {
                try fm.copyItem(atPath: config.data + "/server.json", toPath: tmp + "/server.json")
                try flush(tmp + "/server.json")
            }
            DaibanServer.secureDataFolder(tmp)
            var summary = try check(tmp, replica: try replicaID(config.replicaPath))
            try flush(tmp)
            // An old copy is replaced only once the new one is whole, and removed only after the new one has its name.
            let replaced = target + ".replaced-\(getpid())"
            if fm.fileExists(atPath: target) { try fm.moveItem(atPath: target, toPath: replaced) }
            try fm.moveItem(atPath: tmp, toPath: target)
            try flush((target as NSString).deletingLastPathComponent)
            try? fm.removeItem(atPath: replaced)
            summary.folder = folder
            return summary
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }

    /// Opens a backup folder's databases read-only and checks them; `replica` is the id they must carry.
    public static func check(_ folder: String, replica expected: ReplicaID? = nil) throws -> Summary {
        let fm = FileManager.default
        for f in databases where !fm.fileExists(atPath: folder + "/" + f) {
            throw ConfigError(L10n.t(.srvBackupMissing, folder, f))
        }
        let replicaPath = folder + "/replica.sqlite", accountsPath = folder + "/accounts.sqlite"
        let (id, seq, fieldStates) = try inspect(replicaPath) { db -> (ReplicaID, UInt64, Int) in
            if let problem = try String.fetchAll(db, sql: "PRAGMA quick_check").first(where: { $0 != "ok" }) {
                throw ConfigError(L10n.t(.srvBackupBad, replicaPath, problem))
            }
            guard let meta = try Row.fetchOne(db, sql: "SELECT replica, seq FROM meta WHERE id = 1"),
                  let bytes = meta[0] as Data?, bytes.count == 16
            else { throw ConfigError(L10n.t(.srvBackupBad, replicaPath, "no replica id")) }
            return (ReplicaID(bytes: [UInt8](bytes)), UInt64(meta[1] as Int64),
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM field") ?? 0)
        }
        if let expected, id != expected {
            throw ConfigError(L10n.t(.srvBackupBad, replicaPath, "replica id \(id), not \(expected)"))
        }
        let (users, devices) = try inspect(accountsPath) { db -> (Int, Int) in
            if let problem = try String.fetchAll(db, sql: "PRAGMA quick_check").first(where: { $0 != "ok" }) {
                throw ConfigError(L10n.t(.srvBackupBad, accountsPath, problem))
            }
            return try accountCounts(db)
        }
        let bytes = databases.reduce(0) { n, f in
            n + ((try? fm.attributesOfItem(atPath: folder + "/" + f)[.size] as? NSNumber)?.intValue ?? 0)
        }
        return Summary(folder: folder, replica: id.description, fieldStates: fieldStates, seq: seq, users: users,
                       devices: devices, bytes: bytes)
    }

    /// What a restore did.
    public struct Restored: Sendable {
        public var summary: Summary
        public var epoch: String
        /// Where the files the restore replaced were moved (nil when the data folder had none).
        public var keptAt: String?
        /// Whether the accounts came from the backup (else the data folder's were kept).
        public var accountsRestored: Bool
    }

    /// Puts a backup's databases in place of the data folder's, with the server stopped (the caller holds the
    /// folder's `DataFolderLock`), under a new epoch: every client then pulls from the start and pushes
    /// everything it has again, so the server gets back what it lost since the backup.
    ///
    /// - The copies are made beside their targets, checked, flushed, and given the new epoch before anything is
    ///   moved; `restore.incomplete` marks the moves, so an interrupted restore leaves a folder that `serve`
    ///   refuses and that the same restore completes.
    /// - The files replaced are moved to `<data>/before-restore-<time>/`, never deleted.
    /// - With the backup's accounts comes a new token key: no access token issued before the restore (for a device
    ///   the copy may not know, whose id it may give to another) is accepted after it. With `keepAccounts` the
    ///   data folder's accounts and key stay, and only the replica is restored.
    public static func restore(from folder: String, config: ServerConfig, keepAccounts: Bool = false,
                               now: Date = Date()) throws -> Restored {
        let fm = FileManager.default
        var summary = try check(folder)
        if keepAccounts && !fm.fileExists(atPath: config.accountsPath) {
            throw ConfigError(L10n.t(.srvFileMissing, config.accountsPath))
        }
        umask(0o077)
        try fm.createDirectory(atPath: config.data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let restored = keepAccounts ? ["replica.sqlite"] : databases
        // Copied in beside the targets first, checked and given the new epoch there: until the moves, the data
        // folder is as it was.
        for f in restored {
            let copy = config.data + "/" + f + ".restoring"
            for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: copy + suffix) }
            try fm.copyItem(atPath: folder + "/" + f, toPath: copy)
        }
        let epoch: String
        do {
            let replica = try ReplicaDatabase.open(at: config.data + "/replica.sqlite.restoring", schema: DaibanSchema.schema)
            epoch = try DaibanServer.epoch(replica, renew: true)
        }
        for f in restored {
            let copy = config.data + "/" + f + ".restoring"
            try checkpoint(copy)
            try flush(copy)
        }
        let marker = config.data + "/" + restoreMarker
        guard fm.createFile(atPath: marker, contents: Data("restore from \(folder)\n".utf8)) else {
            throw ConfigError(L10n.t(.srvFileError, marker, String(cString: strerror(errno))))
        }
        try flush(config.data)
        var moved = restored + (keepAccounts ? [] : ["token.key"])
        moved = moved.flatMap { f in ["-wal", "-shm", ""].map { f + $0 } }.filter { fm.fileExists(atPath: config.data + "/" + $0) }
        var keptAt: String?
        if !moved.isEmpty {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyyMMdd-HHmmss"
            var aside = config.data + "/before-restore-" + f.string(from: now)
            var n = 1
            while fm.fileExists(atPath: aside) {
                n += 1
                aside = config.data + "/before-restore-" + f.string(from: now) + "-\(n)"
            }
            try fm.createDirectory(atPath: aside, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            // Side files first: a database is never left beside another one's write-ahead log.
            for name in moved { try fm.moveItem(atPath: config.data + "/" + name, toPath: aside + "/" + name) }
            keptAt = aside
        }
        for f in restored {
            try fm.moveItem(atPath: config.data + "/" + f + ".restoring", toPath: config.data + "/" + f)
        }
        if !keepAccounts { _ = try TokenSigner.load(path: config.tokenKeyPath) }
        if fm.fileExists(atPath: folder + "/server.json") && !fm.fileExists(atPath: config.data + "/server.json") {
            try fm.copyItem(atPath: folder + "/server.json", toPath: config.data + "/server.json")
        }
        DaibanServer.secureDataFolder(config.data)
        try flush(config.data)
        try fm.removeItem(atPath: marker)
        try flush(config.data)
        summary.folder = config.data
        if keepAccounts {
            (summary.users, summary.devices) = try readOnly(config.accountsPath, accountCounts)
        }
        return Restored(summary: summary, epoch: epoch, keptAt: keptAt, accountsRestored: !keepAccounts)
    }

    /// Throws when a restore of the data folder was interrupted (the server must not start on it).
    static func refuseIncompleteRestore(_ data: String) throws {
        if FileManager.default.fileExists(atPath: data + "/" + restoreMarker) {
            throw ConfigError(L10n.t(.srvRestoreIncomplete, data))
        }
    }

    // MARK: Files

    /// The absolute, symlink-free form of a path (of its existing part), without a trailing slash.
    static func canonical(_ path: String) -> String {
        let p = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        return p.count > 1 && p.hasSuffix("/") ? String(p.dropLast()) : p
    }

    /// `VACUUM INTO` from a read-only connection, then the copy flushed to disk.
    static func vacuum(_ source: String, into path: String) throws {
        try readOnly(source) { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        chmod(path, 0o600)
        try flush(path)
    }

    /// The replica id of a replica file, read without writing it.
    static func replicaID(_ path: String) throws -> ReplicaID {
        try readOnly(path) { db in
            guard let bytes = try Data.fetchOne(db, sql: "SELECT replica FROM meta WHERE id = 1"), bytes.count == 16 else {
                throw ConfigError(L10n.t(.srvBackupBad, path, "no replica id"))
            }
            return ReplicaID(bytes: [UInt8](bytes))
        }
    }

    /// `readOnly` for a file of a backup: SQLite's own refusal (not a database, not ours) says the file is damaged.
    static func inspect<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try readOnly(path, body)
        } catch let e as DatabaseError {
            throw ConfigError(L10n.t(.srvBackupBad, path, e.message ?? "SQLite error \(e.resultCode.rawValue)"))
        }
    }

    /// Users and devices of an accounts database.
    static func accountCounts(_ db: Database) throws -> (users: Int, devices: Int) {
        (try Int.fetchOne(db, sql: "SELECT count(*) FROM user") ?? 0, try Int.fetchOne(db, sql: "SELECT count(*) FROM device") ?? 0)
    }

    /// Runs `body` on a read-only connection that creates nothing (a missing file is an error).
    static func readOnly<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(L10n.t(.srvFileMissing, path))
        }
        var c = Configuration()
        c.readonly = true
        c.busyMode = .timeout(10)
        return try DatabaseQueue(path: path, configuration: c).inDatabase(body)
    }

    /// Folds a database's write-ahead log into its file, so that the file alone holds it.
    static func checkpoint(_ path: String) throws {
        try DatabaseQueue(path: path).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// `fsync` of a file or a folder (what a rename or a new file in it changed).
    static func flush(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConfigError(L10n.t(.srvFileError, path, String(cString: strerror(errno)))) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ConfigError(L10n.t(.srvFileError, path, String(cString: strerror(errno)))) }
    }
}
