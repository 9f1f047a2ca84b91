public import Foundation
public import GRDB
public import SyncCore
import SyncProtocol

/// A SQLite replica: the only way to read or change replicated data.
///
/// Every write goes through `write(_:)`, which ticks the hybrid logical clock, bumps version vectors and
/// stamps the change with the next local sequence number, all in one transaction. Applying a change-set is
/// one transaction too. `Sendable`: a GRDB `DatabasePool` (SQLite in WAL mode) serialises writes and lets reads
/// (a server's pull chunks, `status`) run beside them on their own snapshots. Another process may use the same
/// file (the CLI while `daiban sync` runs): writers wait up to 10 s for each other.
///
/// ```swift
/// let replica = try ReplicaDatabase.create(at: "/tmp/a/replica.sqlite", schema: DaibanSchema.schema)
/// try replica.write { tx in
///     try tx.put(table: "township", key: "T01", ["name": .text("棠下镇")])
/// }
/// let bundle = try replica.exportBundle(for: nil)
/// ```
public struct ReplicaDatabase: Sendable {
    /// This replica's id.
    public let id: ReplicaID
    /// The schema registry in force.
    public let schema: Schema
    /// The name recorded as author of local writes.
    public let author: String
    /// Bundle limits applied on import.
    public var limits: ChangeSetLimits = .default
    /// The device key that signs every bundle this replica makes (exports and push chunks), when set.
    public var signer: DeviceKey?
    /// The shared log this copy follows and appends every write to (several server instances on PostgreSQL);
    /// nil for a replica of its own.
    public var log: (any ReplicaLog)?
    let queue: DatabasePool
    /// What the last committed write knew of the ordinal tables (shared by every copy of this value).
    let committed = CommittedTables()
    /// The wall clock this replica stamps writes with, in Unix milliseconds (tests inject one).
    public let now: @Sendable () -> UInt64
    let maxDrift: UInt64

    /// Creates a new replica file with a fresh random id.
    /// - Parameters:
    ///   - path: the SQLite file (its folder must exist).
    ///   - id: the replica id (random when nil; tests pass fixed ids).
    ///   - author: the name recorded as author of local writes.
    ///   - now: the wall clock in Unix milliseconds.
    /// - Throws: when the file already holds a replica, or SQLite fails.
    public static func create(
        at path: String, schema: Schema, id: ReplicaID = .random(), author: String = "",
        maxDrift: UInt64 = 5 * 60 * 1000, now: @escaping @Sendable () -> UInt64 = wallClockMillis
    ) throws -> ReplicaDatabase {
        let queue = try prepared(openQueue(path), schema)
        try queue.write { db in
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM meta") ?? 0 > 0 {
                throw SyncError(.malformed, "\(path) already holds a replica")
            }
            try db.execute(
                sql: "INSERT INTO meta (id, replica, seq, hlc, author) VALUES (1, ?, 0, 0, ?)",
                arguments: [Data(id.bytes), author])
            try db.execute(sql: "INSERT INTO replica (ordinal, id) VALUES (1, ?)", arguments: [Data(id.bytes)])
        }
        return ReplicaDatabase(id: id, schema: schema, author: author, queue: queue, now: now, maxDrift: maxDrift)
    }

    /// Opens an existing replica file.
    /// - Throws: when there is no replica at `path`.
    public static func open(
        at path: String, schema: Schema, maxDrift: UInt64 = 5 * 60 * 1000,
        now: @escaping @Sendable () -> UInt64 = wallClockMillis
    ) throws -> ReplicaDatabase {
        let queue = try prepared(openQueue(path), schema)
        let row = try queue.read { db in try Row.fetchOne(db, sql: "SELECT replica, author FROM meta") }
        guard let row else { throw SyncError(.malformed, "\(path) holds no replica") }
        return ReplicaDatabase(id: ReplicaID(bytes: [UInt8](row[0] as Data)), schema: schema, author: row[1],
                               queue: queue, now: now, maxDrift: maxDrift)
    }

    private static func openQueue(_ path: String) throws -> DatabasePool {
        var config = Configuration()
        config.busyMode = .timeout(10)
        let sync = Durability.current.pragma
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync)")
            try db.execute(sql: "PRAGMA cache_size = -\(pageCacheKiB)")
        }
        #if DEBUG
        config.publicStatementArguments = false
        #endif
        let queue = try DatabasePool(path: path, configuration: config)
        try migrator.migrate(queue)
        return queue
    }

    private static func prepared(_ queue: DatabasePool, _ schema: Schema) throws -> DatabasePool {
        try queue.write { db in try Projections.ensure(db, schema: schema) }
        return queue
    }

    /// Runs `body` in one write transaction; its changes commit together or not at all.
    public func write<T>(_ body: (ReplicaTransaction) throws -> T) throws -> T {
        var handOn: (tables: InternerTables, token: UInt64)?
        let result = try transaction { db in
            let tx = try ReplicaTransaction(db: db, replica: self, tables: committed.tables)
            let result = try body(tx)
            try tx.finish()
            if tx.interner.grew { handOn = (tx.interner.tables, committed.propose()) }
            return result
        }
        // Only after the commit: what a rolled-back transaction added never reaches the next one.
        if let handOn { committed.accept(handOn.tables, token: handOn.token) }
        return result
    }

    /// An interner for a read, starting from what the last committed write knew (a miss asks SQLite).
    func interner(_ db: Database) throws -> Interner {
        if let tables = committed.tables { return Interner(db, tables: tables) }
        return try Interner(db)
    }

    /// Runs `body` with read access.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.read(body)
    }

    /// SQLite's page cache per connection, in KiB (SQLite's default is 2 MiB: a county's replica of 100 MB would
    /// re-read most of its pages in every large import). Memory is taken only as pages are read.
    public static let pageCacheKiB = 16_384

    /// Unix milliseconds from the system clock.
    @Sendable public static func wallClockMillis() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}

extension ReplicaDatabase {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    replica BLOB NOT NULL,
                    seq INTEGER NOT NULL,
                    hlc INTEGER NOT NULL,
                    author TEXT NOT NULL
                ) STRICT;
                CREATE TABLE replica (ordinal INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE) STRICT;
                CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE) STRICT;
                CREATE TABLE field_name (
                    id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, name TEXT NOT NULL, UNIQUE (tbl, name)
                ) STRICT;
                CREATE TABLE row (
                    id INTEGER PRIMARY KEY,
                    tbl TEXT NOT NULL,
                    key TEXT NOT NULL,
                    deleted INTEGER NOT NULL DEFAULT 0,
                    conflicts INTEGER NOT NULL DEFAULT 0,
                    covered BLOB,
                    covered_seq INTEGER,
                    UNIQUE (tbl, key)
                ) STRICT;
                CREATE INDEX row_conflicts ON row (conflicts) WHERE conflicts > 0;
                CREATE INDEX row_covered_seq ON row (covered_seq) WHERE covered_seq IS NOT NULL;
                CREATE TABLE field (
                    row INTEGER NOT NULL REFERENCES row (id),
                    field INTEGER NOT NULL REFERENCES field_name (id),
                    tag INTEGER NOT NULL,
                    value ANY,
                    vv BLOB NOT NULL,
                    hlc INTEGER NOT NULL,
                    writer INTEGER NOT NULL REFERENCES replica (ordinal),
                    author INTEGER NOT NULL,
                    others BLOB,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (row, field)
                ) STRICT, WITHOUT ROWID;
                CREATE INDEX field_seq ON field (seq);
                CREATE TABLE peer (
                    replica INTEGER PRIMARY KEY REFERENCES replica (ordinal),
                    received INTEGER NOT NULL DEFAULT 0,
                    acked INTEGER NOT NULL DEFAULT 0,
                    last_import_at INTEGER
                ) STRICT;
                """)
        }
        m.registerMigration("v2-sync") { db in
            try db.execute(sql: """
                CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
                CREATE TABLE delivery (
                    id INTEGER PRIMARY KEY,
                    via_user TEXT NOT NULL,
                    via_device TEXT NOT NULL,
                    at INTEGER NOT NULL
                ) STRICT;
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY,
                    seq INTEGER NOT NULL,
                    row INTEGER NOT NULL REFERENCES row (id),
                    field INTEGER NOT NULL REFERENCES field_name (id),
                    writer INTEGER NOT NULL REFERENCES replica (ordinal),
                    author INTEGER NOT NULL,
                    hlc INTEGER NOT NULL,
                    delivery INTEGER NOT NULL REFERENCES delivery (id)
                ) STRICT;
                CREATE INDEX audit_row ON audit (row);
                """)
        }
        m.registerMigration("v3-quarantine") { db in
            try db.execute(sql: """
                CREATE TABLE quarantine (
                    id INTEGER PRIMARY KEY,
                    delivery INTEGER REFERENCES delivery (id),
                    tbl TEXT NOT NULL,
                    key TEXT NOT NULL,
                    field TEXT NOT NULL,
                    tag INTEGER NOT NULL,
                    value ANY,
                    writer BLOB NOT NULL,
                    author TEXT NOT NULL,
                    hlc INTEGER NOT NULL
                ) STRICT;
                CREATE UNIQUE INDEX quarantine_version ON quarantine (tbl, key, field, writer, hlc);
                """)
        }
        m.registerMigration("v4-trust") { db in
            try db.execute(sql: """
                ALTER TABLE quarantine ADD COLUMN reason TEXT NOT NULL DEFAULT 'forbidden';
                ALTER TABLE quarantine ADD COLUMN message TEXT NOT NULL DEFAULT '';
                ALTER TABLE quarantine ADD COLUMN vv BLOB;
                ALTER TABLE quarantine ADD COLUMN writer_counter INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE quarantine ADD COLUMN account TEXT;
                ALTER TABLE quarantine ADD COLUMN at INTEGER;
                ALTER TABLE quarantine ADD COLUMN seen INTEGER NOT NULL DEFAULT 1;
                CREATE TABLE row_origin (
                    row INTEGER PRIMARY KEY REFERENCES row (id),
                    account TEXT NOT NULL,
                    shared INTEGER NOT NULL DEFAULT 0
                ) STRICT;
                CREATE INDEX row_origin_account ON row_origin (account) WHERE shared = 0;
                CREATE TABLE rejected (
                    id INTEGER PRIMARY KEY,
                    tbl TEXT NOT NULL,
                    key TEXT NOT NULL,
                    field TEXT NOT NULL,
                    writer BLOB NOT NULL,
                    hlc INTEGER NOT NULL,
                    tag INTEGER NOT NULL,
                    value ANY,
                    author TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    message TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    server_state BLOB,
                    server_known INTEGER NOT NULL DEFAULT 0,
                    state TEXT NOT NULL DEFAULT 'open',
                    UNIQUE (tbl, key, field, writer, hlc)
                ) STRICT;
                CREATE TABLE outbox (
                    id INTEGER PRIMARY KEY,
                    sender BLOB NOT NULL,
                    bytes BLOB NOT NULL,
                    added_at INTEGER NOT NULL
                ) STRICT;
                CREATE TABLE scope_exit (
                    id INTEGER PRIMARY KEY,
                    subject TEXT NOT NULL,
                    tbl TEXT NOT NULL,
                    key TEXT NOT NULL,
                    at INTEGER NOT NULL
                ) STRICT;
                CREATE INDEX scope_exit_subject ON scope_exit (subject, id);
                CREATE TABLE unverified_writer (replica INTEGER PRIMARY KEY REFERENCES replica (ordinal)) STRICT;
                """)
        }
        m.registerMigration("v5-peer-names") { db in
            // A peer's local alias (`daiban peers name`) and the author of its latest own writes.
            try db.execute(sql: """
                ALTER TABLE peer ADD COLUMN alias TEXT;
                ALTER TABLE peer ADD COLUMN author TEXT;
                CREATE UNIQUE INDEX peer_alias ON peer (alias) WHERE alias IS NOT NULL;
                """)
        }
        m.registerMigration("v6-deleted-rows") { db in
            // The deleted rows of a table, found without a scan of the live ones: a case entering or leaving a
            // device's scope carries its deleted child rows along.
            try db.execute(sql: "CREATE INDEX row_deleted ON row (tbl) WHERE deleted = 1")
        }
        m.registerMigration("v7-facts-generation") { db in
            // Counts the writes a sequence number does not show: who created a row (an origin given to a row held
            // before this transaction, or handed over), a row shared by a write to another row, a removed field
            // state or row, a deletion flag; `Projections.ensure` counts a rebuilt query table. Between two
            // snapshots with the same `seq` and `facts_generation`, the rows whose facts changed are among those
            // stamped in between (`SharedFacts`). A row shared by a write to itself is stamped by that write: its fields stamped in
            // this transaction are past `meta.seq`, which moves on at commit.
            try db.execute(sql: """
                ALTER TABLE meta ADD COLUMN facts_generation INTEGER NOT NULL DEFAULT 0;
                CREATE TRIGGER facts_origin_changed AFTER UPDATE ON row_origin
                    WHEN NEW.account IS NOT OLD.account OR NEW.row IS NOT OLD.row
                        OR NOT EXISTS (SELECT 1 FROM field WHERE row = NEW.row AND seq > (SELECT seq FROM meta))
                    BEGIN UPDATE meta SET facts_generation = facts_generation + 1; END;
                CREATE TRIGGER facts_origin_added AFTER INSERT ON row_origin
                    WHEN EXISTS (SELECT 1 FROM field WHERE row = NEW.row AND seq <= (SELECT seq FROM meta))
                    BEGIN UPDATE meta SET facts_generation = facts_generation + 1; END;
                CREATE TRIGGER facts_origin_removed AFTER DELETE ON row_origin
                    BEGIN UPDATE meta SET facts_generation = facts_generation + 1; END;
                CREATE TRIGGER facts_field_removed AFTER DELETE ON field
                    BEGIN UPDATE meta SET facts_generation = facts_generation + 1; END;
                CREATE TRIGGER facts_field_unstamped AFTER UPDATE ON field WHEN NEW.seq <= OLD.seq
                    BEGIN UPDATE meta SET facts_generation = facts_generation + 1; END;
                CREATE TRIGGER facts_row_removed AFTER DELETE ON row
                    BEGIN UPDATE meta SET facts_generation = facts_generation + 1; END;
                CREATE TRIGGER facts_row_deletion AFTER UPDATE OF deleted ON row WHEN NEW.deleted IS NOT OLD.deleted
                    BEGIN UPDATE meta SET facts_generation = facts_generation + 1; END;
                """)
        }
        m.registerMigration("v8-log-position") { db in
            // How far this copy has applied a shared replica log (`ReplicaLog`), and the chain of the last entry
            // applied; 0 for a replica of its own. Never part of a log entry: it is set after the entry's changes
            // are taken.
            try db.execute(sql: """
                CREATE TABLE log_position (
                    id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL, chain BLOB NOT NULL
                ) STRICT;
                INSERT INTO log_position (id, position, chain) VALUES (1, 0, x'');
                """)
        }
        return m
    }
}

/// The ordinal tables as the last committed write left them. Entries never change once committed, so a stale copy is
/// only incomplete (the interner asks SQLite on a miss), never wrong.
final class CommittedTables: @unchecked Sendable {
    private let lock = NSLock()
    private var current: InternerTables?
    private var proposal: UInt64 = 0

    var tables: InternerTables? { lock.withLock { current } }

    /// A token for tables a transaction will hand on once it has committed; a later proposal supersedes it.
    func propose() -> UInt64 { lock.withLock { proposal += 1; return proposal } }

    func accept(_ tables: InternerTables, token: UInt64) {
        lock.withLock { if token == proposal { current = tables } }
    }
}

/// What a committed write survives. `full` (the default): every commit is on the disk before it is reported, so
/// neither a power cut nor a dead laptop battery takes back a write the user saw accepted or a push the server
/// acknowledged (SQLite WAL with `synchronous=FULL`: the log is synced at every commit). `normal` syncs only at
/// checkpoints: a crash of the process loses nothing, a power cut may lose the last commits (never corrupts).
/// `DAIBAN_DURABILITY=normal` chooses it, for benchmarks and throwaway replicas only.
public enum Durability: String, Sendable {
    case full, normal

    public static let current: Durability = {
        ProcessInfo.processInfo.environment["DAIBAN_DURABILITY"].flatMap { Durability(rawValue: $0.lowercased()) } ?? .full
    }()

    /// The SQLite `synchronous` setting.
    public var pragma: String { self == .full ? "FULL" : "NORMAL" }
}

