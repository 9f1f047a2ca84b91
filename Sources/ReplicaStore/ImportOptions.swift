import Foundation
import GRDB
public import SyncCore
public import SyncProtocol

/// How `ReplicaDatabase.importBundle` treats one incoming change-set.
///
/// A plain import (a bundle file) merges everything that passes the bundle's own checks, except versions that
/// claim writes of this replica beyond its own sequence number (`vv_claim`) and versions that would break the
/// merged-state bounds (`StateBounds`). A trust boundary (the server) adds `checks` and `authorize`: every
/// version the store does not hold yet is then judged, and what fails stays in the quarantine with a reason,
/// reported in `ImportReport.rejections`, while the rest of the change-set lands.
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
    /// The checks of a trust boundary on every version it does not hold yet (see `VersionChecks`).
    public var checks: VersionChecks?
    /// Domain write authorization: called once per incoming row with what the store knows of it; the returned
    /// function judges each new version by field and value (nil: allowed).
    public var authorize: (@Sendable (RowReview) throws -> @Sendable (_ field: String, _ value: FieldValue) -> Rejection?)?
    /// With `checks`: the fields of a table whose values `authorize` judges a new row by. They are judged first,
    /// and when a version of one of them is refused, nothing of the new row is accepted: a row never lands with
    /// other links than the ones it was judged by.
    public var factFields: (@Sendable (String) -> Set<String>)?
    /// With `checks`: the rank of a table in the order rows are judged (lower first, stable within a rank). A
    /// change-set lists rows by table name; a trust boundary judges a row after the rows it links to, so that a
    /// bundle creating both is judged as one. The whole change-set is then held in memory (a push is bounded).
    public var rowOrder: (@Sendable (String) -> Int)?
    /// Whether the sender's receipt is recorded (`peer.received`): not for a change-set whose provenance is
    /// unproved, whose sequence range would otherwise tell that replica what it never sent.
    public var recordsReceipt = true
    /// Called after each row is merged, inside the import's transaction: may re-stamp rows (see `RowRestamper`).
    public var afterRow: (@Sendable (RowChange, RowRestamper) throws -> Void)?
    /// Called once after the last row, inside the import's transaction.
    public var beforeCommit: (@Sendable (RowRestamper) throws -> Void)?
    /// Runs last inside the import's transaction: sync cursors saved here commit with the data or not at all.
    public var inTransaction: (@Sendable (SyncStateWriter) throws -> Void)?
    /// The change-set comes from a source this replica trusts to have checked it (its server's pull): claims
    /// about this replica beyond its own sequence number are taken as its own earlier writes (the replica was
    /// restored from an older copy), and its sequence number moves past them instead of refusing them.
    public var trusted = false

    public init(attribution: Attribution? = nil, limits: ChangeSetLimits? = nil) {
        self.attribution = attribution
        self.limits = limits
    }
}

/// What a trust boundary checks on every version it does not hold yet, before the domain rules.
public struct VersionChecks: Sendable {
    /// The replica whose writes the change-set may carry: the device that signed or delivered it. A version
    /// written by any other replica is refused (`unsigned_relay`): relays forward the writer's own bundle.
    public var writer: ReplicaID
    /// The account judged (the writer's), recorded as the creator of rows it creates.
    public var account: String
    /// The author rule for the writer's versions (nil: allowed).
    public var author: @Sendable (String) -> Rejection?
    /// Refuse versions stamped more than this many milliseconds after `now()` (`clock_ahead`).
    public var maxAheadMillis: UInt64
    /// This replica's wall clock in Unix milliseconds.
    public var now: @Sendable () -> UInt64
    /// Whether the writer device is unverified (an unregistered replica relayed without a signature): its
    /// versions then do not count as seen from it when later claims are checked.
    public var unverifiedWriter = false
    /// When set, every new version is refused for this reason (a relayed bundle whose signature fails, a
    /// revoked writer): the change-set is still read through, so each refusal is reported and kept.
    public var refuseAll: Rejection?

    public init(writer: ReplicaID, account: String, author: @escaping @Sendable (String) -> Rejection?,
                maxAheadMillis: UInt64, now: @escaping @Sendable () -> UInt64) {
        self.writer = writer
        self.account = account
        self.author = author
        self.maxAheadMillis = maxAheadMillis
        self.now = now
    }
}

/// One incoming row as `ImportOptions.authorize` sees it.
public struct RowReview {
    /// The incoming row change.
    public let change: RowChange
    /// Whether this replica holds the row already.
    public let exists: Bool
    /// Whether the row it holds is deleted.
    public let deleted: Bool
    /// The account that created the row here, and whether another account has written it since.
    public let origin: (account: String, shared: Bool)?
    let tx: ReplicaTransaction

    /// The transaction's database (stored rows as of this row, query tables possibly behind: see `queryDatabase`).
    public var db: Database { tx.db }
    /// The database with the query tables brought up to date with the import so far.
    public func queryDatabase() throws -> Database { try tx.queryDatabase() }
    /// The winning values of a row's fields as stored (deleted rows too), by field name, as display text.
    public func storedValues(table: String, key: String) throws -> StoredRow? {
        try StoredRow.load(tx.db, table: table, key: key)
    }
}

/// A row's stored winning values, whether it is deleted or not.
public struct StoredRow: Sendable {
    public var deleted: Bool
    /// Field name → display text of the visible value (null values are absent).
    public var values: [String: String]
    /// The account that created the row (server), and whether another account has written it since.
    public var origin: (account: String, shared: Bool)?

    /// Reads a row's stored values straight from the field states (no query table involved).
    public static func load(_ db: Database, table: String, key: String) throws -> StoredRow? {
        guard let r = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT r.id, r.deleted, o.account, o.shared FROM row r LEFT JOIN row_origin o ON o.row = r.id
            WHERE r.tbl = ? AND r.key = ?
            """), arguments: [table, key])
        else { return nil }
        var values: [String: String] = [:]
        let rows = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT n.name, f.tag, f.value FROM field f JOIN field_name n ON n.id = f.field WHERE f.row = ?
            """), arguments: [r[0] as Int64])
        while let f = try rows.next() {
            let value = try StoredValue.value(tag: f[1], f[2])
            if value != .null { values[f[0]] = value.displayText }
        }
        let account: String? = r[2]
        return StoredRow(deleted: r[1], values: values, origin: account.map { ($0, r[3] as Bool) })
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
        try transaction { db in
            let w = SyncStateWriter(db: db, seqBefore: 0, seqAfter: 0)
            for (k, v) in values { try w.set(k, v) }
        }
    }

    /// The stored value of `key`, storing `value` first when there is none, in one transaction: of several
    /// instances on one shared log that start at once, every one gets the first one's value.
    public func syncState(_ key: String, storingWhenMissing value: String) throws -> String {
        try transaction { db in
            let w = SyncStateWriter(db: db, seqBefore: 0, seqAfter: 0)
            if let stored = try w.get(key) { return stored }
            try w.set(key, value)
            return value
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

    /// Whether this replica has written anything itself (imports do not count).
    public func hasOwnWrites() throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM field WHERE writer = (SELECT ordinal FROM replica WHERE id = ?))
                """, arguments: [Data(id.bytes)]) ?? false
        }
    }

    /// Changes the name recorded as author of later local writes (the signed-in user after `daiban login`).
    public func setAuthor(_ name: String) throws {
        try transaction { db in try db.execute(sql: "UPDATE meta SET author = ?", arguments: [name]) }
    }

    /// The audit trail, newest first, optionally for one row.
    public func audit(table: String? = nil, key: String? = nil, limit: Int = 1000) throws -> [AuditEntry] {
        try read { db in
            let interner = try interner(db)
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
    /// Why it was refused.
    public var reason: String
    public var message: String
    /// The account it was judged as (the writer's), when known.
    public var account: String?
    /// Unix milliseconds when it was refused.
    public var at: UInt64?
}

extension ReplicaDatabase {
    /// Refused versions, newest first.
    public func quarantine(limit: Int = 1000) throws -> [QuarantinedVersion] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT q.tbl, q.key, q.field, q.tag, q.value, q.writer, q.author, q.hlc, d.via_user, d.via_device,
                       q.reason, q.message, q.account, q.at
                FROM quarantine q LEFT JOIN delivery d ON d.id = q.delivery ORDER BY q.id DESC LIMIT ?
                """, arguments: [limit]).map { r in
                QuarantinedVersion(table: r[0], key: r[1], field: r[2], value: try StoredValue.value(tag: r[3], r[4]),
                                   writer: ReplicaID(bytes: [UInt8](r[5] as Data)), author: r[6],
                                   hlc: HLCTimestamp(rawValue: UInt64(bitPattern: r[7] as Int64)), viaUser: r[8],
                                   viaDevice: r[9], reason: r[10], message: r[11], account: r[12],
                                   at: (r[13] as Int64?).map { UInt64($0) })
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

    /// Ends the creator's sole claim on a row (another account wrote something that belongs to it).
    public func markShared(table: String, key: String) throws {
        try tx.db.execute(sql: """
            UPDATE row_origin SET shared = 1 WHERE shared = 0 AND row = (SELECT id FROM row WHERE tbl = ? AND key = ?)
            """, arguments: [table, key])
    }

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
