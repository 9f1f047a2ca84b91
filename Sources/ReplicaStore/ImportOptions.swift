import Foundation
import GRDB
public import SyncCore
public import SyncProtocol

/// How `ReplicaDatabase.importBundle` treats one incoming change-set.
public struct ImportOptions: Sendable {
    /// The authenticated user and device that delivered a change-set (which may relay other replicas' writes).
    public struct Attribution: Hashable, Sendable {
        public var user: String
        public var device: String
        public init(user: String, device: String) {
            self.user = user
            self.device = device
        }
    }

    /// When set, every version the import adds is recorded in the audit trail with this attribution.
    public var attribution: Attribution?
    /// Limits that replace the replica's own for this import (a server bounds pushes tighter than files).
    public var limits: ChangeSetLimits?
    /// Called with the sender before anything is applied; throwing rejects the change-set.
    public var checkSender: (@Sendable (ReplicaID) throws -> Void)?
    /// Called for every row before it is merged; throwing rolls back the whole change-set.
    public var checkRow: (@Sendable (RowChange) throws -> Void)?
    /// Per-field write authorisation: a field state for which this returns false is not merged; each of its
    /// versions is kept in the `quarantine` table instead (nothing typed is lost, nothing unauthorised spreads)
    /// and counted in `ImportReport.quarantined`.
    public var authorizeField: (@Sendable (_ table: String, _ field: String, _ state: FieldState) -> Bool)?
    /// Called after each row is merged, inside the import's transaction: may re-stamp rows (see `RowRestamper`).
    public var afterRow: (@Sendable (RowChange, RowRestamper) throws -> Void)?
    /// Runs last inside the import's transaction: sync cursors saved here commit with the data or not at all.
    public var inTransaction: (@Sendable (SyncStateWriter) throws -> Void)?

    public init(attribution: Attribution? = nil, limits: ChangeSetLimits? = nil) {
        self.attribution = attribution
        self.limits = limits
    }
}

/// Small named values stored in the replica next to its data (sync cursors, the server's id), written in the
/// same transaction as an import.
public struct SyncStateWriter {
    let db: Database
    /// The local sequence number before and after the import.
    public let seqBefore: UInt64
    public let seqAfter: UInt64

    public func get(_ key: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM sync_state WHERE key = ?", arguments: [key])
    }

    public func set(_ key: String, _ value: String) throws {
        try db.execute(sql: "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       arguments: [key, value])
    }
}

/// One entry of the audit trail: a version some device delivered.
public struct AuditEntry: Hashable, Sendable {
    public var seq: UInt64
    public var table: String
    public var key: String
    public var field: String
    public var writer: ReplicaID
    public var author: String
    public var hlc: HLCTimestamp
    public var viaUser: String
    public var viaDevice: String
    /// Unix milliseconds when it was applied here.
    public var appliedAt: UInt64
}

extension ReplicaDatabase {
    /// A stored sync-state value.
    public func syncState(_ key: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM sync_state WHERE key = ?", arguments: [key]) }
    }

    /// Stores sync-state values in one transaction (outside any import).
    public func setSyncState(_ values: [String: String]) throws {
        try queue.write { db in
            let w = SyncStateWriter(db: db, seqBefore: 0, seqAfter: 0)
            for (k, v) in values { try w.set(k, v) }
        }
    }

    /// Field states changed locally after `seq` (what a peer that has everything up to `seq` still lacks).
    public func fieldStates(after seq: UInt64) throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM field WHERE seq > ?", arguments: [Int64(seq)]) ?? 0 }
    }

    /// The highest local sequence number.
    public func currentSeq() throws -> UInt64 {
        try read { db in UInt64(try Int64.fetchOne(db, sql: "SELECT seq FROM meta")!) }
    }

    /// Changes the name recorded as author of later local writes (the signed-in user after `daiban login`).
    public func setAuthor(_ name: String) throws {
        try queue.write { db in try db.execute(sql: "UPDATE meta SET author = ?", arguments: [name]) }
    }

    /// The audit trail, newest first, optionally for one row.
    public func audit(table: String? = nil, key: String? = nil, limit: Int = 1000) throws -> [AuditEntry] {
        try read { db in
            let interner = try Interner(db)
            var sql = """
                SELECT a.seq, r.tbl, r.key, a.field, a.writer, a.author, a.hlc, d.via_user, d.via_device, d.at
                FROM audit a JOIN row r ON r.id = a.row JOIN delivery d ON d.id = a.delivery
                """
            var args: [any DatabaseValueConvertible] = []
            if let table {
                sql += " WHERE r.tbl = ?"
                args.append(table)
                if let key {
                    sql += " AND r.key = ?"
                    args.append(key)
                }
            }
            sql += " ORDER BY a.id DESC LIMIT ?"
            args.append(limit)
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { r in
                AuditEntry(seq: UInt64(r[0] as Int64), table: r[1], key: r[2], field: try interner.fieldName(r[3]),
                           writer: try interner.replica(r[4]), author: try interner.author(r[5]),
                           hlc: HLCTimestamp(rawValue: UInt64(bitPattern: r[6] as Int64)), viaUser: r[7],
                           viaDevice: r[8], appliedAt: UInt64(r[9] as Int64))
            }
        }
    }
}

/// A version an import refused to merge (`ImportOptions.authorizeField`), kept for the centre to review.
public struct QuarantinedVersion: Hashable, Sendable {
    public var table: String
    public var key: String
    public var field: String
    public var value: FieldValue
    public var writer: ReplicaID
    public var author: String
    public var hlc: HLCTimestamp
    /// Who delivered it, when the import was attributed.
    public var viaUser: String?
    public var viaDevice: String?
}

extension ReplicaDatabase {
    /// Refused versions, newest first.
    public func quarantine(limit: Int = 1000) throws -> [QuarantinedVersion] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT q.tbl, q.key, q.field, q.tag, q.value, q.writer, q.author, q.hlc, d.via_user, d.via_device
                FROM quarantine q LEFT JOIN delivery d ON d.id = q.delivery ORDER BY q.id DESC LIMIT ?
                """, arguments: [limit]).map { r in
                QuarantinedVersion(table: r[0], key: r[1], field: r[2], value: try StoredValue.value(tag: r[3], r[4]),
                                   writer: ReplicaID(bytes: [UInt8](r[5] as Data)), author: r[6],
                                   hlc: HLCTimestamp(rawValue: UInt64(bitPattern: r[7] as Int64)), viaUser: r[8], viaDevice: r[9])
            }
        }
    }
}

/// Gives rows fresh sequence numbers inside an import, so that every cursor-based reader receives them again:
/// a server does this to rows that just entered someone's pull scope (a case assigned to an agent), whose
/// older states that reader skipped. Receivers already holding them ignore them (merging is idempotent).
public struct RowRestamper {
    let tx: ReplicaTransaction

    /// The transaction's database with the query tables current (to find the rows to re-stamp).
    public func queryDatabase() throws -> Database { try tx.queryDatabase() }

    /// Re-stamps every field state (and the delete coverage) of a row; returns how many states were re-stamped.
    @discardableResult
    public func restamp(table: String, key: String) throws -> Int {
        guard let id = try Int64.fetchOne(tx.db, sql: "SELECT id FROM row WHERE tbl = ? AND key = ?", arguments: [table, key])
        else { return 0 }
        let fields = try Int64.fetchAll(tx.db, sql: "SELECT field FROM field WHERE row = ? ORDER BY field", arguments: [id])
        for f in fields {
            try tx.db.execute(sql: "UPDATE field SET seq = ? WHERE row = ? AND field = ?", arguments: [tx.nextSeq(), id, f])
        }
        if try Bool.fetchOne(tx.db, sql: "SELECT covered_seq IS NOT NULL FROM row WHERE id = ?", arguments: [id]) == true {
            try tx.db.execute(sql: "UPDATE row SET covered_seq = ? WHERE id = ?", arguments: [tx.nextSeq(), id])
        }
        return fields.count
    }
}
