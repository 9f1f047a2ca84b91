import CSQLiteSession
import Crypto
import Foundation
import GRDB
import SyncCore

/// A shared, ordered log of a replica's committed writes: how several server instances keep one replica.
///
/// Each instance holds a copy of the replica (an ordinary replica file) and the log holds, in order, SQLite's own
/// record of every row each write transaction changed (a *changeset* of the session extension). A write takes the
/// log's **write turn** first; under it the copy applies the entries it lacks, runs the transaction, and appends the
/// transaction's changeset as the next entry before its own commit. A copy that applies the entries in log order
/// therefore holds, row for row, what the writer's copy held: the same field states, sequence numbers, audit trail,
/// quarantine, origins and cursors. Reads first apply what they lack (`catchUp`).
///
/// The replica's rules (the merge, the checks of a push, the stamps) run unchanged on whichever copy writes; the log
/// only orders and carries their effects. Implementations block the calling thread (SQLite's work is synchronous);
/// callers keep them off event-loop threads.
public protocol ReplicaLog: Sendable {
    /// Waits for the write turn (no other copy, and no other transaction of this one, appends until the turn ends
    /// by `append` or `endWrite`) and returns the log's head under it.
    func beginWrite() throws -> Int64
    /// Appends `changes` as entry `position`, with its `chain`, inside the turn and makes it durable; a throw
    /// leaves nothing appended (the transaction then rolls back).
    func append(_ changes: [UInt8], at position: Int64, chain: [UInt8]) throws
    /// Ends the write turn (committed, rolled back, or nothing appended).
    func endWrite()
    /// The position of the last entry appended.
    func head() throws -> Int64
    /// The next entries after `position`, none past `head` (a page: call again from the last one returned).
    func entries(after position: Int64, upTo head: Int64) throws -> [ReplicaLogEntry]
}

/// One entry of a replica log: the changeset of one write transaction, and the chain of the log up to it:
/// SHA-256 of the previous entry's chain followed by this entry's changes (the chain before the first entry is
/// empty). A copy keeps the chain of the last entry it applied and applies an entry only if it continues that
/// chain, so a copy whose history differs from the log's (the database restored from an older backup and
/// written again since) is refused, not silently mixed.
public struct ReplicaLogEntry: Sendable {
    public var position: Int64
    public var changes: [UInt8]
    public var chain: [UInt8]
    public init(position: Int64, changes: [UInt8], chain: [UInt8]) {
        self.position = position
        self.changes = changes
        self.chain = chain
    }

    /// The chain of an entry of `changes` that follows an entry whose chain is `previous`.
    public static func chain(after previous: [UInt8], _ changes: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: previous)
        h.update(data: changes)
        return Array(h.finalize())
    }
}

/// A copy that cannot follow its log: it differs from what the entries expect, or an entry is missing.
public struct ReplicaLogMismatch: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

extension ReplicaDatabase {
    /// The log position this copy has applied up to (0 for a replica that follows no log).
    public func logPosition() throws -> Int64 {
        try read { db in try Self.logPosition(db) }
    }

    /// The chain of the last log entry this copy applied (empty before the first).
    public func logChain() throws -> [UInt8] {
        try read { db in try Self.logChain(db) }
    }

    static func logPosition(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT position FROM log_position WHERE id = 1") ?? 0
    }

    static func logChain(_ db: Database) throws -> [UInt8] {
        try Data.fetchOne(db, sql: "SELECT chain FROM log_position WHERE id = 1").map { [UInt8]($0) } ?? []
    }

    static func setLogPosition(_ db: Database, _ position: Int64, chain: [UInt8]) throws {
        try db.execute(sql: "UPDATE log_position SET position = ?, chain = ? WHERE id = 1", arguments: [position, Data(chain)])
    }

    /// A digest of this file's layout (every table, index and trigger as SQLite stores it): copies that share a log
    /// must have the same one, or an entry may not mean the same rows on both.
    public func layoutSignature() throws -> String {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT type, name, coalesce(sql, '') FROM sqlite_master
                WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name
                """)
            var h = SHA256()
            for r in rows { h.update(data: Array(((r[0] as String) + "\u{1}" + (r[1] as String) + "\u{1}" + (r[2] as String) + "\u{0}").utf8)) }
            return h.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
        }
    }

    /// Applies the log's entries this copy lacks (nothing when it follows no log). Reads that must see every
    /// committed write of every instance call it first.
    /// - Throws: `ReplicaLogMismatch` when this copy is past the log's head (the database was restored from an
    ///   older backup) or its history differs from the log's: it must not serve.
    public func catchUp() throws {
        guard let log else { return }
        // This copy's position first: a write of this instance may move both on in between, never the head back.
        let position = try logPosition()
        let head = try log.head()
        guard position != head else { return }
        guard position < head else {
            throw ReplicaLogMismatch("this copy of the replica is at entry \(position), past the shared log's last entry \(head) (was the database restored from a backup?): restart the instance to rebuild it")
        }
        try queue.write { db in
            _ = try Self.follow(log, db, to: head, exact: false)
        }
    }

    /// Runs `body` in one write transaction; with a log, inside its write turn and appended to it before the commit.
    /// The turn is taken before SQLite's write lock: a write waiting for another instance's turn holds nothing of
    /// this copy, so its reads catch up meanwhile. One turn at a time per instance (`ReplicaLog.beginWrite`).
    func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        guard let log else { return try queue.write(body) }
        let head = try log.beginWrite()
        var appended = false
        defer { if !appended { log.endWrite() } }
        return try queue.write { db in
            let at = try Self.follow(log, db, to: head, exact: true)
            var recorder = try ChangeRecorder(db)
            defer { recorder.discard() }
            let result = try body(db)
            let changes = try recorder.finish()
            if !changes.isEmpty {
                let chain = ReplicaLogEntry.chain(after: try Self.logChain(db), changes)
                try log.append(changes, at: at + 1, chain: chain)
                appended = true
                try Self.setLogPosition(db, at + 1, chain: chain)
            }
            return result
        }
    }

    /// Applies the entries after this copy's position up to `head`, page by page.
    /// - Returns: the position reached (`head`).
    /// - Parameter exact: `head` was read under the write turn, so this copy cannot be past it (outside the turn,
    ///   this instance's own writes may have moved it past a head read a moment before).
    static func follow(_ log: any ReplicaLog, _ db: Database, to head: Int64, exact: Bool) throws -> Int64 {
        var at = try logPosition(db)
        guard at <= head || !exact else {
            throw ReplicaLogMismatch("this copy of the replica is at entry \(at), past the shared log's last entry \(head) (was the database restored from a backup?): remove the copy and start the instance again to rebuild it")
        }
        while at < head {
            let page = try log.entries(after: at, upTo: head)
            guard !page.isEmpty else { throw ReplicaLogMismatch("the shared log lacks entries \(at + 1)…\(head)") }
            at = try applyEntries(page, to: db, from: at)
        }
        return at
    }

    /// Applies `entries` (which must follow `position` without a gap) with triggers off: their changesets hold
    /// what the triggers did on the writer's copy.
    /// - Returns: the position reached.
    static func applyEntries(_ entries: [ReplicaLogEntry], to db: Database, from position: Int64) throws -> Int64 {
        var at = position
        guard !entries.isEmpty else { return at }
        var chain = try logChain(db)
        let connection = db.sqliteConnection
        guard daiban_sqlite_set_triggers(connection, 0) == 0 else {
            throw StoreCorruption("SQLite would not turn triggers off to apply the shared log")
        }
        defer { _ = daiban_sqlite_set_triggers(connection, 1) }
        for entry in entries {
            guard entry.position == at + 1 else {
                throw ReplicaLogMismatch("the shared log has no entry \(at + 1) (next found: \(entry.position))")
            }
            let next = ReplicaLogEntry.chain(after: chain, entry.changes)
            guard next == entry.chain else {
                throw ReplicaLogMismatch("this copy of the replica has another history than the shared log from entry \(entry.position) on (was the database restored from a backup?): remove the copy and start the instance again to rebuild it")
            }
            chain = next
            var bytes = entry.changes
            let conflict = ConflictNote()
            let rc = bytes.withUnsafeMutableBytes { buffer in
                sqlite3changeset_apply(connection, Int32(buffer.count), buffer.baseAddress, nil, { context, kind, change in
                    var table: UnsafePointer<CChar>?
                    var columns: Int32 = 0, op: Int32 = 0, indirect: Int32 = 0
                    _ = sqlite3changeset_op(change, &table, &columns, &op, &indirect)
                    let note = Unmanaged<ConflictNote>.fromOpaque(context!).takeUnretainedValue()
                    note.text = "\(table.map { String(cString: $0) } ?? "?"), change \(op), conflict \(kind)"
                    return 2 /* SQLITE_CHANGESET_ABORT */
                }, Unmanaged.passUnretained(conflict).toOpaque())
            }
            guard rc == 0 else {
                throw ReplicaLogMismatch("this copy of the replica differs from the shared log at entry \(entry.position) (SQLite \(rc); \(conflict.text)): remove the copy and start the instance again to rebuild it")
            }
            at = entry.position
        }
        try setLogPosition(db, at, chain: chain)
        return at
    }
}

/// What `sqlite3changeset_apply` met: the table, the kind of change and of conflict (SQLite's codes).
private final class ConflictNote {
    var text = "no conflict"
}

/// Records every row change of one transaction on one connection (SQLite's session extension, all tables).
struct ChangeRecorder {
    private var session: OpaquePointer?

    init(_ db: Database) throws {
        var s: OpaquePointer?
        guard sqlite3session_create(db.sqliteConnection, "main", &s) == 0, let s else {
            throw StoreCorruption("SQLite could not start recording a transaction's changes")
        }
        // The full-text index is left out: FTS5 writes its tables at commit (after the changeset is taken) and caches
        // their structure per connection, so applying another copy's index pages could corrupt this one's. The
        // server never searches; each copy's index is its own.
        sqlite3session_table_filter(s, { _, table in
            guard let table else { return 1 }
            return strncmp(table, "v_search", 8) == 0 ? 0 : 1
        }, nil)
        guard sqlite3session_attach(s, nil) == 0 else {
            sqlite3session_delete(s)
            throw StoreCorruption("SQLite could not record the replica's tables")
        }
        session = s
    }

    /// The changeset of everything recorded (empty when nothing changed); ends the recording.
    mutating func finish() throws -> [UInt8] {
        guard let s = session else { return [] }
        session = nil
        defer { sqlite3session_delete(s) }
        var count: Int32 = 0
        var bytes: UnsafeMutableRawPointer?
        guard sqlite3session_changeset(s, &count, &bytes) == 0 else {
            daiban_sqlite_free(bytes)
            throw StoreCorruption("SQLite could not hand over a transaction's changes")
        }
        defer { daiban_sqlite_free(bytes) }
        guard let bytes, count > 0 else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: bytes, count: Int(count)))
    }

    mutating func discard() {
        if let s = session { sqlite3session_delete(s) }
        session = nil
    }
}
