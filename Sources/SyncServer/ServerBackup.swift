import CaseDomain
import Foundation
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
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConfigError(L10n.t(.srvLockOpen, path, String(cString: strerror(errno)))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw ConfigError(L10n.t(.srvLockHeld, data, holder.isEmpty ? "?" : holder))
        }
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
/// The copy is itself a data folder: `replica.sqlite` and `accounts.sqlite`, each one SQLite snapshot
/// (`VACUUM INTO`, so writes made meanwhile are either wholly in it or not at all), `token.key`, and
/// `server.json` when the folder has one. The replica is copied before the accounts, so a device the copy knows
/// of may be newer than the data, never the other way round. Every copy is checked (SQLite's `quick_check` and the
/// replica id) before the folder gets its final name.
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

    /// What a backup must hold (`token.key` and `server.json` too when the data folder had them).
    static let files = ["replica.sqlite", "accounts.sqlite"]

    /// Copies the data folder of `config` to `folder` (which must not exist unless `force`).
    public static func make(config: ServerConfig, to folder: String, force: Bool = false) throws -> Summary {
        let fm = FileManager.default
        guard fm.fileExists(atPath: config.replicaPath) else { throw ConfigError(L10n.t(.srvBackupNoData, config.data)) }
        if fm.fileExists(atPath: folder) && !force { throw ConfigError(L10n.t(.srvBackupExists, folder)) }
        let tmp = folder + ".partial"
        try? fm.removeItem(atPath: tmp)
        umask(0o077)
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        do {
            let replica = try ReplicaDatabase.open(at: config.replicaPath, schema: DaibanSchema.schema)
            try replica.backup(to: tmp + "/replica.sqlite")
            try AccountStore(path: config.accountsPath).backup(to: tmp + "/accounts.sqlite")
            for (from, name) in [(config.tokenKeyPath, "token.key"), (config.data + "/server.json", "server.json")]
            where fm.fileExists(atPath: from) {
                try fm.copyItem(atPath: from, toPath: tmp + "/" + name)
            }
            DaibanServer.secureDataFolder(tmp)
            var summary = try check(tmp, replica: replica.id)
            if fm.fileExists(atPath: folder) { try fm.removeItem(atPath: folder) }
            try fm.moveItem(atPath: tmp, toPath: folder)
            summary.folder = folder
            return summary
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }

    /// Opens a backup folder's databases on their own and checks them; `replica` is the id they must carry.
    public static func check(_ folder: String, replica expected: ReplicaID? = nil) throws -> Summary {
        let fm = FileManager.default
        for f in files where !fm.fileExists(atPath: folder + "/" + f) {
            throw ConfigError(L10n.t(.srvBackupMissing, folder, f))
        }
        if fm.fileExists(atPath: folder + "/token.key"), fm.contents(atPath: folder + "/token.key")?.count != 32 {
            throw ConfigError(L10n.t(.srvBackupBad, folder + "/token.key", "32 bytes"))
        }
        let copy = try ReplicaDatabase.open(at: folder + "/replica.sqlite", schema: DaibanSchema.schema)
        if let problem = try copy.integrityProblems().first {
            throw ConfigError(L10n.t(.srvBackupBad, folder + "/replica.sqlite", problem))
        }
        if let expected, copy.id != expected {
            throw ConfigError(L10n.t(.srvBackupBad, folder + "/replica.sqlite", "replica id \(copy.id), not \(expected)"))
        }
        let accounts = try AccountStore(path: folder + "/accounts.sqlite")
        if let problem = try accounts.integrityProblems().first {
            throw ConfigError(L10n.t(.srvBackupBad, folder + "/accounts.sqlite", problem))
        }
        let status = try copy.status()
        let bytes = files.reduce(0) { n, f in
            n + ((try? fm.attributesOfItem(atPath: folder + "/" + f)[.size] as? NSNumber)?.intValue ?? 0)
        }
        return Summary(folder: folder, replica: copy.id.description, fieldStates: status.fieldStates, seq: status.seq,
                       users: try accounts.userCount(), devices: try accounts.devices().count, bytes: bytes)
    }

    /// What a restore did.
    public struct Restored: Sendable {
        public var summary: Summary
        public var epoch: String
        /// Where the files the restore replaced were moved (nil when the data folder had none).
        public var keptAt: String?
    }

    /// Puts a backup folder's databases in place of the data folder's, with the server stopped (the caller holds
    /// the folder's `DataFolderLock`), and gives the replica a new epoch: every client then pulls from the start
    /// and pushes everything it has again, so the server gets back what it lost since the backup. The token key
    /// is not restored: the server makes a new one, so no access token issued before the restore (for a device the
    /// copy may not know, whose id it may give to another) is accepted after it; clients renew theirs with their
    /// refresh tokens. The files replaced are moved to `<data>/before-restore-<time>/`, never deleted.
    public static func restore(from folder: String, config: ServerConfig, now: Date = Date()) throws -> Restored {
        let fm = FileManager.default
        var summary = try check(folder)
        umask(0o077)
        try fm.createDirectory(atPath: config.data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Copied in beside the targets first: a failed copy leaves the data folder as it was.
        for f in files {
            try? fm.removeItem(atPath: config.data + "/" + f + ".restoring")
            try fm.copyItem(atPath: folder + "/" + f, toPath: config.data + "/" + f + ".restoring")
        }
        var keptAt: String?
        let present = (files + ["token.key"]).flatMap { f in ["", "-wal", "-shm"].map { f + $0 } }
            .filter { fm.fileExists(atPath: config.data + "/" + $0) }
        if !present.isEmpty {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyyMMdd-HHmmss"
            let aside = config.data + "/before-restore-" + f.string(from: now)
            try fm.createDirectory(atPath: aside, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            for f in present { try fm.moveItem(atPath: config.data + "/" + f, toPath: aside + "/" + f) }
            keptAt = aside
        }
        for f in files { try fm.moveItem(atPath: config.data + "/" + f + ".restoring", toPath: config.data + "/" + f) }
        _ = try TokenSigner.load(path: config.tokenKeyPath)
        if fm.fileExists(atPath: folder + "/server.json") && !fm.fileExists(atPath: config.data + "/server.json") {
            try fm.copyItem(atPath: folder + "/server.json", toPath: config.data + "/server.json")
        }
        DaibanServer.secureDataFolder(config.data)
        let replica = try ReplicaDatabase.open(at: config.replicaPath, schema: DaibanSchema.schema)
        let epoch = try DaibanServer.epoch(replica, renew: true)
        summary.folder = config.data
        return Restored(summary: summary, epoch: epoch, keptAt: keptAt)
    }
}
