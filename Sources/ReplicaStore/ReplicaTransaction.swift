import Foundation
import GRDB
public import SyncCore
import SyncProtocol

/// One write transaction on a replica. Obtain it from `ReplicaDatabase.write(_:)`.
public final class ReplicaTransaction {
    let db: Database
    let replica: ReplicaDatabase
    let interner: Interner
    var seq: UInt64
    var clock: HybridLogicalClock
    /// Incoming timestamps further ahead than the allowed drift (see `HybridLogicalClock.observe`).
    var skewedTimestamps = 0
    /// The `delivery` row of the change-set being applied; when set, every version it adds is written to `audit`.
    var delivery: Int64?
    /// Rows whose query-table row (`v_<table>`) is stale; refreshed before commit or before a domain read.
    var dirtyRows = Set<Int64>()
    /// The hot statements of this transaction, found in GRDB's cache (by their SQL text) once, not at every use.
    private var hot = [RawStatement?](repeating: nil, count: HotStatement.allCases.count)
    /// Whether the last table `markStale` was asked about is projected.
    private var lastStaleTable: (name: String, projected: Bool) = ("", false)

    enum HotStatement: Int, CaseIterable {
        case rowRef, insertRow, loadField, loadFields, upsertField, audit

        var sql: String {
            switch self {
            case .rowRef: """
                SELECT r.id, r.deleted, r.conflicts, r.covered, o.account, o.shared
                FROM row r LEFT JOIN row_origin o ON o.row = r.id WHERE r.tbl = ? AND r.key = ?
                """
            case .insertRow: "INSERT INTO row (tbl, key) VALUES (?, ?)"
            case .loadField: "SELECT tag, value, vv, hlc, writer, author, others FROM field WHERE row = ? AND field = ?"
            case .loadFields: "SELECT field, tag, value, vv, hlc, writer, author, others FROM field WHERE row = ?"
            case .upsertField: """
                INSERT INTO field (row, field, tag, value, vv, hlc, writer, author, others, seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (row, field) DO UPDATE SET tag = excluded.tag, value = excluded.value, vv = excluded.vv,
                    hlc = excluded.hlc, writer = excluded.writer, author = excluded.author, others = excluded.others,
                    seq = excluded.seq
                """
            case .audit: "INSERT INTO audit (seq, row, field, writer, author, hlc, delivery) VALUES (?, ?, ?, ?, ?, ?, ?)"
            }
        }
    }

    /// A hot statement, reset and ready to bind.
    func statement(_ which: HotStatement) throws -> RawStatement {
        if let s = hot[which.rawValue] {
            s.done()
            return s
        }
        let s = try RawStatement(db, which.sql)
        hot[which.rawValue] = s
        return s
    }

    /// - Parameter tables: what the last committed write knew of the ordinal tables (nil: load them).
    init(db: Database, replica: ReplicaDatabase, tables: InternerTables? = nil) throws {
        self.db = db
        self.replica = replica
        interner = try tables.map { Interner(db, tables: $0) } ?? Interner(db)
        let meta = try RawStatement(db, "SELECT seq, hlc FROM meta")
        guard try meta.next() else { throw StoreCorruption("the meta row is missing") }
        seq = UInt64(meta.int64(0))
        clock = HybridLogicalClock(last: HLCTimestamp(rawValue: UInt64(bitPattern: meta.int64(1))),
                                   maxDrift: replica.maxDrift, now: replica.now)
        meta.done()
    }

    func finish() throws {
        try flushProjections()
        let update = try RawStatement(db, "UPDATE meta SET seq = ?, hlc = ?")
        update.bind(1, Int64(seq))
        update.bind(2, Int64(bitPattern: clock.last.rawValue))
        try update.run()
    }

    /// Notes that a row's query-table row needs rewriting (only projected tables have one).
    func markStale(_ row: Int64, table: String) {
        if table != lastStaleTable.name {
            lastStaleTable = (table, replica.schema.tables[table]?.projected == true)
        }
        if lastStaleTable.projected { dirtyRows.insert(row) }
    }

    func nextSeq() -> Int64 {
        seq += 1
        return Int64(seq)
    }

    // MARK: Local writes

    /// Writes fields of one row, creating the row if needed. Writing a deleted row undeletes it.
    /// - Parameters:
    ///   - values: field values, checked against the schema.
    /// - Throws: `SyncError` (`unknown_table`, `unknown_field`, `type_mismatch`, `null_not_allowed`,
    ///   `invalid_key`) and nothing is written.
    public func put(table: String, key: String, _ values: [String: FieldValue]) throws {
        let id = try write(table: table, key: key, values)
        // A row travels whole: one larger than a push may carry would never leave this replica.
        let large = values.values.contains { v in
            if case .text(let t) = v { return t.utf8.count > StateBounds.rowCheckThreshold }
            return false
        }
        if large {
            let bytes = try storedValueBytes(row: id, excluding: -1)
            if bytes > StateBounds.maxRowValueBytes {
                throw SyncError(.valueTooLarge, "\(table) \(key) would hold \(bytes) bytes of text; the limit for one record is \(StateBounds.maxRowValueBytes)")
            }
        }
    }

    /// `put` without the row's size check; returns the row's id.
    private func write(table: String, key: String, _ values: [String: FieldValue]) throws -> Int64 {
        let tableSchema = try replica.schema.table(table)
        try checkKey(key)
        guard !values.isEmpty else { throw SyncError(.unknownField, "a write needs at least one field") }
        for (name, value) in values {
            try replica.schema.field(table: table, name).validate(value)
            if case .text(let t) = value, t.unicodeScalars.contains("\u{0}") {
                // SQLite's text reads stop at NUL: the value would come back cut short.
                throw SyncError(.typeMismatch, "\(table).\(name) holds the NUL character (U+0000), which no text may contain")
            }
            switch value {
            case .text(let t), .decimal(let t):
                // What a peer would refuse to read (`value_too_large`) is refused here, before it is written.
                guard t.utf8.count <= replica.limits.maxValueBytes else {
                    throw SyncError(.valueTooLarge, "\(table).\(name) is \(t.utf8.count) bytes; the limit is \(replica.limits.maxValueBytes)")
                }
            default: break
            }
        }
        let hlc = clock.tick()
        let author = replica.author
        // Fields in name order, so field ids, sequence numbers and bundles do not depend on hash seeds.
        let ordered = values.sorted { $0.key < $1.key }
        guard let ref = try rowRef(table: table, key: key, create: false) else {
            for f in tableSchema.fields where !f.nullable && values[f.name] == nil {
                throw SyncError(.nullNotAllowed, "a new \(table) needs field \(f.name)")
            }
            let ref = try rowRef(table: table, key: key, create: true)!
            for (name, value) in ordered {
                let state = try FieldState.localWrite(after: nil, value: value, replica: replica.id, hlc: hlc, author: author)
                try saveField(row: ref.id, table: table, name: name, state)
            }
            return ref.id
        }
        if ref.isSimple {
            for (name, value) in ordered {
                let fieldID = try interner.fieldID(table: table, name: name)
                let previous = try loadField(row: ref.id, field: fieldID)
                let state = try FieldState.localWrite(after: previous, value: value, replica: replica.id, hlc: hlc,
                                                  author: author)
                try saveField(row: ref.id, fieldID: fieldID, table: table, name: name, state)
            }
            return ref.id
        }
        var row = try loadRow(ref)
        var changed = Set<String>()
        for (name, value) in ordered {
            changed.formUnion(try row.write(field: name, value: value, replica: replica.id, hlc: hlc, author: author))
        }
        try save(row, ref: ref, table: table, key: key, changedFields: changed, coveredChanged: false)
        return ref.id
    }

    /// Deletes a row: it stays stored (with a tombstone) and can be undeleted by a later write.
    /// - Throws: `unknown_table` or `unknown_row`.
    public func delete(table: String, key: String) throws {
        _ = try replica.schema.table(table)
        guard let ref = try rowRef(table: table, key: key, create: false) else {
            throw SyncError(.unknownRow, "\(table) has no row \(key)")
        }
        var row = try loadRow(ref)
        let changed = try row.delete(replica: replica.id, hlc: clock.tick(), author: replica.author)
        try save(row, ref: ref, table: table, key: key, changedFields: [Schema.deletedField],
                 coveredChanged: changed.count > 1)
    }

    /// Undeletes a row without changing its fields (resolving a deletion conflict in favour of the row).
    public func undelete(table: String, key: String) throws {
        guard let ref = try rowRef(table: table, key: key, create: false) else {
            throw SyncError(.unknownRow, "\(table) has no row \(key)")
        }
        var row = try loadRow(ref)
        row.fields[Schema.deletedField] = try FieldState.localWrite(
            after: row.fields[Schema.deletedField], value: .bool(false), replica: replica.id, hlc: clock.tick(),
            author: replica.author)
        try save(row, ref: ref, table: table, key: key, changedFields: [Schema.deletedField], coveredChanged: false)
    }

    private func checkKey(_ key: String) throws {
        guard !key.isEmpty, key.utf8.count <= 128, !key.contains(where: { $0.isWhitespace || $0.isNewline }),
              !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw SyncError(.invalidKey, "row ids are 1–128 bytes without spaces or control characters")
        }
    }

    // MARK: Rows and fields in SQLite

    struct RowRef {
        var id: Int64
        var deleted: Bool
        var conflicts: Int
        var covered: Data?
        var isNew: Bool
        /// The account that created the row (a trust boundary records it), and whether another has written it.
        var origin: (account: String, shared: Bool)?
        /// No tombstone and no open conflict: fields can be merged one by one.
        var isSimple: Bool { !deleted && conflicts == 0 && covered == nil }
    }

    func rowRef(table: String, key: String, create: Bool) throws -> RowRef? {
        let select = try statement(.rowRef)
        select.bind(1, table)
        select.bind(2, key)
        if try select.next() {
            defer { select.done() }
            let account: String? = select.isNull(4) ? nil : select.text(4)
            return RowRef(id: select.int64(0), deleted: select.int64(1) != 0, conflicts: select.int(2),
                          covered: select.blob(3).map { Data($0) }, isNew: false,
                          origin: account.map { ($0, select.int64(5) != 0) })
        }
        guard create else { return nil }
        let insert = try statement(.insertRow)
        insert.bind(1, table)
        insert.bind(2, key)
        try insert.run()
        return RowRef(id: db.lastInsertedRowID, deleted: false, conflicts: 0, covered: nil, isNew: true)
    }

    func loadField(row: Int64, field: Int64) throws -> FieldState? {
        let select = try statement(.loadField)
        select.bind(1, row)
        select.bind(2, field)
        guard try select.next() else { return nil }
        defer { select.done() }
        return try interner.decodeField(select, offset: 0)
    }

    /// Every stored field state of a row, by field id (one range read instead of a lookup per field).
    func loadFields(row: Int64) throws -> [Int64: FieldState] {
        let select = try statement(.loadFields)
        select.bind(1, row)
        defer { select.done() }  // also when a decode throws: a statement left running holds its snapshot
        var out: [Int64: FieldState] = [:]
        while try select.next() { out[select.int64(0)] = try interner.decodeField(select, offset: 1) }
        return out
    }

    func loadRow(_ ref: RowRef) throws -> RowState {
        try loadRowState(db, interner, rowID: ref.id, covered: ref.covered)
    }

    func saveField(row: Int64, table: String, name: String, _ state: FieldState) throws {
        try saveField(row: row, fieldID: try interner.fieldID(table: table, name: name), table: table, name: name, state)
    }

    func saveField(row: Int64, fieldID: Int64, table: String, name: String, _ state: FieldState) throws {
        // Almost every field has one version: no policy lookup, no sibling blob.
        let winner: FieldVersion
        var others: [FieldVersion] = []
        if state.versions.count == 1 {
            winner = state.versions[0]
        } else {
            winner = state.winner(policy: replica.schema.policy(table: table, field: name))
            others = state.versions
            others.removeAll { $0 == winner }
        }
        let (tag, value) = StoredValue.column(winner.value)
        markStale(row, table: table)
        let upsert = try statement(.upsertField)
        upsert.bind(1, row)
        upsert.bind(2, fieldID)
        upsert.bind(3, tag)
        upsert.bind(4, stored: value)
        upsert.bind(5, try interner.encodeBytes(winner.vv))
        upsert.bind(6, Int64(bitPattern: winner.hlc.rawValue))
        upsert.bind(7, try interner.ordinal(winner.writer))
        upsert.bind(8, try interner.authorID(winner.author))
        upsert.bind(9, try interner.encodeOtherBytes(others))
        upsert.bind(10, nextSeq())
        try upsert.run()
    }

    /// Persists the changed fields of a fully loaded row and its derived flags.
    func save(_ row: RowState, ref: RowRef, table: String, key: String, changedFields: Set<String>,
              coveredChanged: Bool, forceFlags: Bool = false) throws {
        for name in changedFields.sorted() {
            try saveField(row: ref.id, table: table, name: name, row.fields[name]!)
        }
        let conflicts = row.conflicts(table: table, key: key, policy: { _ in .lww }).count
        var covered = ref.covered
        if coveredChanged {
            var w = ByteWriter()
            w.varint(UInt64(row.covered.count))
            for (name, vv) in row.covered.sorted(by: { $0.key < $1.key }) {
                w.varint(UInt64(try interner.fieldID(table: table, name: name)))
                try interner.encode(vv, into: &w)
            }
            covered = Data(w.bytes)
        }
        if forceFlags { markStale(ref.id, table: table) }
        if row.isDeleted != ref.deleted || conflicts != ref.conflicts || coveredChanged || forceFlags {
            markStale(ref.id, table: table)
            try db.execute(
                sql: """
                    UPDATE row SET deleted = ?, conflicts = ?, covered = ?,
                        covered_seq = CASE WHEN ? THEN ? ELSE covered_seq END
                    WHERE id = ?
                    """,
                arguments: [row.isDeleted, conflicts, covered, coveredChanged, coveredChanged ? nextSeq() : 0, ref.id])
        }
    }
}
