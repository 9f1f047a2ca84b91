import Foundation
import Logging
import ReplicaStore
import CaseDomain
import TerminalText

/// An instance's copy of the replica kept in a PostgreSQL database (`PostgresReplicaLog`): the data folder's
/// `replica.sqlite`, following the database's log. The copy is only a cache of the log: a copy of another store's
/// log, or one ahead of the log (the database was restored from an older backup), is removed and rebuilt by
/// applying the log from its start. A replica of its own (one that never followed a log and holds data) is never
/// removed: the instance refuses to start on it.
enum SharedReplica {
    /// - Parameter mayRebuild: whether a stale copy may be removed and rebuilt (not by an admin command, which may
    ///   run beside an instance serving from the same folder).
    static func open(config: ServerConfig, url: String, wallClock: @escaping @Sendable () -> UInt64 = ReplicaDatabase.wallClockMillis,
                     mayRebuild: Bool = true, logger: Logger) throws -> ReplicaDatabase {
        umask(0o077)
        try FileManager.default.createDirectory(atPath: config.data, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = config.replicaPath
        let exists = FileManager.default.fileExists(atPath: path)
        let log: PostgresReplicaLog
        var stale: String?
        // The log went back (the database restored from an older backup, or it lost commits): sequence numbers
        // will be handed out again, so the clients' cursors must be renewed (a new epoch).
        var rewound = false
        do {
            // Opened in this scope only: the copy's handle is gone before a rebuild removes its files.
            let copy = exists
                ? try ReplicaDatabase.open(at: path, schema: DaibanSchema.schema, now: wallClock)
                : try ReplicaDatabase.create(at: path, schema: DaibanSchema.schema, author: "server", now: wallClock)
            let layout = try copy.layoutSignature()
            log = try PostgresReplicaLog(url: url, layout: layout)
            guard log.layout == layout else {
                log.close()
                throw ConfigError(L10n.t(.srvLayoutMismatch, PostgresURL.redacted(url), log.layout, layout))
            }
            let position = try copy.logPosition()
            if try copy.id != log.replica || position > log.head() {
                if try exists && position == 0 && copy.currentSeq() > 0 {
                    log.close()
                    throw ConfigError(L10n.t(.srvOwnReplicaInData, config.data))
                }
                stale = copy.id != log.replica ? "a copy of another store" : "ahead of the log"
                rewound = copy.id == log.replica
            } else if try position > 0 && log.chain(at: position) != copy.logChain() {
                // The log was cut back and written again since this copy applied its entry at `position`.
                stale = "another history than the log's"
                rewound = true
            } else if mayRebuild {
                // (Without leave to rebuild, the catch-up below reports what it meets.)
                var following = copy
                following.log = log
                do {
                    try following.catchUp()
                } catch let mismatch as ReplicaLogMismatch {
                    stale = mismatch.description
                    rewound = true
                }
            }
        }
        if stale != nil && exists && !mayRebuild {
            log.close()
            throw ConfigError(L10n.t(.srvStaleCopy, config.data))
        }
        if let stale {
            if exists { logger.notice("replica copy rebuilt from the shared log", metadata: ["reason": "\(stale)"]) }
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            _ = try ReplicaDatabase.create(at: path, schema: DaibanSchema.schema, id: log.replica, author: "server",
                                           now: wallClock)
        }
        var replica = try ReplicaDatabase.open(at: path, schema: DaibanSchema.schema, now: wallClock)
        replica.log = log
        let before = try replica.logPosition()
        try replica.catchUp()
        let after = try replica.logPosition()
        if after > before { logger.info("replica copy caught up", metadata: ["entries": "\(after - before)"]) }
        if rewound && mayRebuild {
            let epoch = try DaibanServer.epoch(replica, renew: true)
            logger.notice("the database's replica went back (restored?): new epoch, every client pulls from the start and pushes again",
                          metadata: ["epoch": "\(epoch)"])
        }
        return replica
    }
}

extension DaibanServer {
    /// The copy of the replica in `data` (made when missing), brought up to the log of the PostgreSQL database at
    /// `url`: what every instance serves, for checks made beside the instances (the load test's, the crash
    /// campaign's). A stale copy is not rebuilt.
    public static func sharedReplicaCopy(data: String, database url: String) throws -> ReplicaDatabase {
        var config = ServerConfig()
        config.data = data
        return try SharedReplica.open(config: config, url: url, mayRebuild: false, logger: Logger(label: "daiban.check"))
    }
}
