import Foundation
import GRDB
public import SyncCore

/// A row as people see it: the winning value of every field.
public struct Record: Hashable, Sendable {
    public var table: String
    public var key: String
    public var deleted: Bool
    /// Field values, declared fields first in schema order, then unknown fields by name.
    public var fields: [(name: String, value: FieldValue)]

    public static func == (a: Record, b: Record) -> Bool {
        a.table == b.table && a.key == b.key && a.deleted == b.deleted
            && a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
    }
    public func hash(into h: inout Hasher) {
        h.combine(table); h.combine(key)
    }
}

/// Counts for `daiban status`.
public struct ReplicaStatus: Hashable, Sendable {
    public struct Peer: Hashable, Sendable {
        public var replica: ReplicaID
        /// Their highest sequence number we imported contiguously.
        public var received: UInt64
        /// Our highest sequence number they acknowledged.
        public var acked: UInt64
        /// Our field changes they have not acknowledged.
        public var unacknowledged: Int
    }
    public var replica: ReplicaID
    public var seq: UInt64
    /// Live and deleted rows per table.
    public var tables: [(table: String, live: Int, deleted: Int)]
    public var openConflicts: Int
    /// Field states in the replica (the most an export can carry).
    public var fieldStates: Int
    public var peers: [Peer]

    public static func == (a: ReplicaStatus, b: ReplicaStatus) -> Bool {
        a.replica == b.replica && a.seq == b.seq && a.openConflicts == b.openConflicts && a.peers == b.peers
    }
    public func hash(into h: inout Hasher) { h.combine(replica); h.combine(seq) }
}

extension ReplicaDatabase {
    /// One row, or nil when it was never written here.
    public func get(table: String, key: String) throws -> Record? {
        _ = try schema.table(table)
        return try read { db in
            let interner = try interner(db)
            guard let r = try Row.fetchOne(db, sql: "SELECT id, deleted FROM row WHERE tbl = ? AND key = ?",
                                           arguments: [table, key])
            else { return nil }
            return try record(db, interner, table: table, key: key, rowID: r[0], deleted: r[1])
        }
    }

    /// Every row of a table, ordered by key.
    public func list(table: String, includeDeleted: Bool = false) throws -> [Record] {
        _ = try schema.table(table)
        return try read { db in
            let interner = try interner(db)
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, key, deleted FROM row WHERE tbl = ? AND (? OR deleted = 0) ORDER BY key",
                arguments: [table, includeDeleted])
            return try rows.map { try record(db, interner, table: table, key: $0[1], rowID: $0[0], deleted: $0[2]) }
        }
    }

    private func record(_ db: Database, _ interner: Interner, table: String, key: String, rowID: Int64,
                        deleted: Bool) throws -> Record {
        var values: [String: FieldValue] = [:]
        let select = try RawStatement(db, "SELECT field, tag, value FROM field WHERE row = ?")
        select.bind(1, rowID)
        defer { select.done() }  // also when a decode throws: a statement left running holds its snapshot
        while try select.next() {
            let name = try interner.fieldName(select.int64(0))
            if name != Schema.deletedField { values[name] = try StoredValue.value(tag: select.int(1), select.stored(2)) }
        }
        let declared = schema.tables[table]?.fields.map(\.name) ?? []
        var fields: [(String, FieldValue)] = declared.compactMap { name in values[name].map { (name, $0) } }
        fields += values.keys.filter { !declared.contains($0) }.sorted().map { ($0, values[$0]!) }
        return Record(table: table, key: key, deleted: deleted, fields: fields)
    }

    /// The full replicated state of one row (every version, clock and tombstone).
    public func rowState(table: String, key: String) throws -> RowState? {
        try read { db in
            let tx = try ReplicaTransactionReadView(db: db)
            return try tx.rowState(table: table, key: key)
        }
    }

    /// Every open conflict, ordered by table, row and field.
    public func conflicts() throws -> [Conflict] {
        try read { db in try conflicts(try ReplicaTransactionReadView(db: db)) }
    }

    private func conflicts(_ view: ReplicaTransactionReadView) throws -> [Conflict] {
        var out: [Conflict] = []
        for r in try Row.fetchAll(view.db, sql: "SELECT tbl, key FROM row WHERE conflicts > 0 ORDER BY tbl, key") {
            let (table, key): (String, String) = (r[0], r[1])
            let state = try view.rowState(table: table, key: key)!
            out += state.conflicts(table: table, key: key) { schema.policy(table: table, field: $0) }
        }
        return out
    }

    /// The open conflict with this id (or unique id prefix).
    /// - Throws: `unknown_conflict`.
    public func conflict(id: String) throws -> Conflict {
        let matches = try conflicts().filter { $0.id.hasPrefix(id.lowercased()) }
        guard matches.count == 1, !id.isEmpty else {
            throw SyncError(.unknownConflict, matches.isEmpty ? "no open conflict \(id)" : "\(id) matches several conflicts")
        }
        return matches[0]
    }

    /// Resolves a conflict by writing `value`; the write dominates every version in the conflict (and the
    /// deletion, which undeletes the row). Passing nil confirms a deletion instead.
    /// - Throws: `unknown_conflict`, or the schema errors of `put`.
    public func resolve(conflictID: String, value: FieldValue?) throws -> Conflict {
        let c = try conflict(id: conflictID)
        try resolve(c, value: value)
        return c
    }

    /// Resolves a conflict already looked up (see `resolve(conflictID:value:)`).
    public func resolve(_ c: Conflict, value: FieldValue?) throws {
        try write { tx in
            if let value {
                if c.field == Schema.deletedField {
                    guard case .bool(let deleted) = value else {
                        throw SyncError(.typeMismatch, "a deletion conflict resolves to true or false")
                    }
                    if deleted { try tx.delete(table: c.table, key: c.key) } else { try tx.undelete(table: c.table, key: c.key) }
                } else {
                    try tx.put(table: c.table, key: c.key, [c.field: value])
                }
            } else {
                try tx.delete(table: c.table, key: c.key)
            }
        }
    }

    /// Counts for `daiban status`.
    public func status() throws -> ReplicaStatus {
        try read { db in
            let seq = UInt64(try Int64.fetchOne(db, sql: "SELECT seq FROM meta")!)
            let tables = try Row.fetchAll(db, sql: """
                SELECT tbl, sum(deleted = 0), sum(deleted) FROM row GROUP BY tbl ORDER BY tbl
                """).map { (table: $0[0] as String, live: $0[1] as Int, deleted: $0[2] as Int) }
            let conflicts = try Int.fetchOne(db, sql: "SELECT coalesce(sum(conflicts), 0) FROM row") ?? 0
            let fieldStates = try Int.fetchOne(db, sql: "SELECT count(*) FROM field") ?? 0
            var peers: [ReplicaStatus.Peer] = []
            for r in try Row.fetchAll(db, sql: """
                SELECT r.id, p.received, p.acked FROM peer p JOIN replica r ON r.ordinal = p.replica ORDER BY r.id
                """) {
                let acked: Int64 = r[2]
                let pending = try Int.fetchOne(db, sql: "SELECT count(*) FROM field WHERE seq > ?", arguments: [acked]) ?? 0
                peers.append(.init(replica: ReplicaID(bytes: [UInt8](r[0] as Data)), received: UInt64(r[1] as Int64),
                                   acked: UInt64(acked), unacknowledged: pending))
            }
            return ReplicaStatus(replica: id, seq: seq, tables: tables, openConflicts: conflicts,
                                 fieldStates: fieldStates, peers: peers)
        }
    }

    /// The whole replicated state, for convergence checks: every row's state and the open conflicts.
    public func snapshot() throws -> ReplicaSnapshot {
        try read { db in
            let view = try ReplicaTransactionReadView(db: db)
            var rows: [String: RowState] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT tbl, key FROM row") {
                let (table, key): (String, String) = (r[0], r[1])
                rows[table + "/" + key] = try view.rowState(table: table, key: key)
            }
            return ReplicaSnapshot(rows: rows, conflicts: try conflicts(view))
        }
    }
}

/// Everything a replica holds that must converge.
public struct ReplicaSnapshot: Hashable, Sendable {
    /// `table/key` → state.
    public var rows: [String: RowState]
    /// Open conflicts.
    public var conflicts: [Conflict]
}

extension ReplicaDatabase {
    /// A row's whole replicated state read inside a `query` (or any read) of this replica.
    public static func rowState(_ db: Database, table: String, key: String) throws -> RowState? {
        try ReplicaTransactionReadView(db: db).rowState(table: table, key: key)
    }
}

/// Read-only access to stored rows.
struct ReplicaTransactionReadView {
    let db: Database
    let interner: Interner
    init(db: Database) throws {
        self.db = db
        interner = try Interner(db)
    }

    func rowState(table: String, key: String) throws -> RowState? {
        guard let r = try Row.fetchOne(db, sql: "SELECT id, covered FROM row WHERE tbl = ? AND key = ?",
                                       arguments: [table, key])
        else { return nil }
        return try loadRowState(db, interner, rowID: r[0], covered: r[1])
    }
}

/// Loads a full row: every field state and the delete coverage.
func loadRowState(_ db: Database, _ interner: Interner, rowID: Int64, covered: Data?) throws -> RowState {
    var state = RowState()
    let select = try RawStatement(db, ReplicaTransaction.HotStatement.loadFields.sql)
    select.bind(1, rowID)
    defer { select.done() }
    while try select.next() {
        state.fields[try interner.fieldName(select.int64(0))] = try interner.decodeField(select, offset: 1)
    }
    if let covered {
        var reader = BlobReader([UInt8](covered))
        for _ in 0..<(try reader.varint()) {
            let name = try interner.fieldName(Int64(try reader.varint()))
            state.covered[name] = try interner.decodeVV(&reader)
        }
    }
    return state
}

/// A replica this one has exchanged changes with, as `daiban peers` lists it.
public struct PeerInfo: Hashable, Sendable {
    public var replica: ReplicaID
    /// The name given here with `daiban peers name` (unique on this replica), if any.
    public var alias: String?
    /// The author of the newest of the peer's own versions received here (its user), if any came.
    public var author: String?
    /// Their highest sequence number we imported contiguously.
    public var received: UInt64
    /// Our highest sequence number they acknowledged.
    public var acked: UInt64
    /// When we last imported from it (Unix milliseconds).
    public var lastImportAt: Int64?

    public init(replica: ReplicaID, alias: String? = nil, author: String? = nil, received: UInt64 = 0, acked: UInt64 = 0,
                lastImportAt: Int64? = nil) {
        self.replica = replica
        self.alias = alias
        self.author = author
        self.received = received
        self.acked = acked
        self.lastImportAt = lastImportAt
    }
}

/// `setPeerAlias` refused: another peer already has that name here.
public struct PeerNameTaken: Error, Sendable {
    public var name: String
    public var holder: ReplicaID
}

extension ReplicaDatabase {
    /// Every peer, by replica id.
    public func peers() throws -> [PeerInfo] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.id, p.alias, p.author, p.received, p.acked, p.last_import_at FROM peer p
                JOIN replica r ON r.ordinal = p.replica ORDER BY r.id
                """).map { r in
                PeerInfo(replica: ReplicaID(bytes: [UInt8](r[0] as Data)), alias: r[1], author: r[2],
                         received: UInt64(r[3] as Int64), acked: UInt64(r[4] as Int64), lastImportAt: r[5])
            }
        }
    }

    /// Names a peer on this replica (nil clears the name). A name is unique here; naming a replica not yet met
    /// makes it a peer with nothing received.
    public func setPeerAlias(_ alias: String?, for peer: ReplicaID) throws {
        try write { tx in
            let ordinal = try tx.interner.ordinal(peer)
            if let alias, let other = try Data.fetchOne(tx.db, sql: """
                SELECT r.id FROM peer p JOIN replica r ON r.ordinal = p.replica WHERE p.alias = ? AND p.replica != ?
                """, arguments: [alias, ordinal]) {
                throw PeerNameTaken(name: alias, holder: ReplicaID(bytes: [UInt8](other)))
            }
            try tx.db.execute(sql: "INSERT OR IGNORE INTO peer (replica) VALUES (?)", arguments: [ordinal])
            try tx.db.execute(sql: "UPDATE peer SET alias = ? WHERE replica = ?", arguments: [alias, ordinal])
        }
    }
}

extension ReplicaDatabase {
    /// SQLite's own check of the replica file (`PRAGMA quick_check`): empty when the file is sound, else the
    /// problems SQLite names.
    public func integrityProblems() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "PRAGMA quick_check").filter { $0 != "ok" } }
    }

    /// A consistent copy of the whole replica in one file (`VACUUM INTO`: one snapshot, compacted, with its
    /// own header), readable by its owner only. Writes made meanwhile are either all in it or not at all.
    public func backup(to path: String) throws {
        try queue.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        chmod(path, 0o600)
    }
}
