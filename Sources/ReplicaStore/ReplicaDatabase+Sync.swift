import Foundation
import GRDB
public import SyncCore
public import SyncProtocol

/// What importing a change-set did.
public struct ImportReport: Hashable, Sendable, Codable {
    /// The sending replica (hex).
    public var sender: String
    /// Rows the change-set touched.
    public var rows = 0
    /// Field states that changed something here.
    public var applied = 0
    /// Field states this replica already had (or newer): harmless duplicates.
    public var ignored = 0
    /// Rows created here by the import.
    public var newRows = 0
    /// Open conflicts before and after.
    public var conflictsBefore = 0
    public var conflictsAfter = 0
    /// Incoming timestamps more than the allowed drift ahead of this device's clock.
    public var skewedTimestamps = 0
    /// Whether the sender's acknowledgement cursor advanced (false for a bundle with a gap).
    public var contiguous = true
}

extension ReplicaDatabase {
    /// Applies a bundle in one transaction, streaming it row by row.
    /// - Parameter progress: called with the rows applied so far, every 5,000 rows.
    /// - Throws: `SyncError` for a bad bundle (nothing is applied), or a database error.
    public func importBundle(_ bytes: [UInt8], progress: ((Int) -> Void)? = nil) throws -> ImportReport {
        var reader = try ChangeSetReader(bytes: bytes, limits: limits)
        return try applyRows(sender: reader.sender, fromSeq: reader.fromSeq, toSeq: reader.toSeq, acks: reader.acks,
                             progress: progress) { try reader.next() }
    }

    /// Applies an in-memory change-set in one transaction.
    public func apply(_ cs: ChangeSet) throws -> ImportReport {
        var rows = cs.rows.makeIterator()
        return try applyRows(sender: cs.sender, fromSeq: cs.fromSeq, toSeq: cs.toSeq, acks: cs.acks, progress: nil) {
            rows.next()
        }
    }

    /// Merges every row `nextRow` yields, then records the receipt, in one transaction.
    private func applyRows(
        sender: ReplicaID, fromSeq: UInt64, toSeq: UInt64, acks: [ChangeSet.Ack], progress: ((Int) -> Void)?,
        nextRow: () throws -> RowChange?
    ) throws -> ImportReport {
        try write { tx in
            var report = ImportReport(sender: sender.description)
            report.conflictsBefore = try tx.openConflictCount()
            while let row = try nextRow() {
                try tx.apply(row, into: &report)
                if report.rows % 5000 == 0 { progress?(report.rows) }
            }
            try tx.recordReceipt(from: sender, fromSeq: fromSeq, toSeq: toSeq, acks: acks, report: &report)
            report.conflictsAfter = try tx.openConflictCount()
            report.skewedTimestamps = tx.skewedTimestamps
            return report
        }
    }

    /// Everything changed locally after `since` (exclusive), up to now, as one change-set.
    /// - Parameter peer: when given, starts after what that peer acknowledged (everything on first contact).
    public func changeSet(for peer: ReplicaID? = nil) throws -> ChangeSet {
        try read { db in
            let interner = try Interner(db)
            var since: UInt64 = 0
            if let peer, let ordinal = try Int64.fetchOne(db, sql: "SELECT ordinal FROM replica WHERE id = ?",
                                                          arguments: [Data(peer.bytes)]) {
                since = UInt64(try Int64.fetchOne(db, sql: "SELECT acked FROM peer WHERE replica = ?",
                                                   arguments: [ordinal]) ?? 0)
            }
            let upTo = UInt64(try Int64.fetchOne(db, sql: "SELECT seq FROM meta")!)
            let acks = try Row.fetchAll(db, sql: """
                SELECT r.id, p.received FROM peer p JOIN replica r ON r.ordinal = p.replica WHERE p.received > 0
                """).map { ChangeSet.Ack(replica: ReplicaID(bytes: [UInt8]($0[0] as Data)), seq: UInt64($0[1] as Int64)) }
            var rows: [Int64: RowChange] = [:]
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT f.row, r.tbl, r.key, f.field, f.tag, f.value, f.vv, f.hlc, f.writer, f.author, f.others
                FROM field f JOIN row r ON r.id = f.row WHERE f.seq > ?
                """, arguments: [Int64(since)])
            while let r = try cursor.next() {
                let rowID: Int64 = r[0]
                let change = FieldChange(name: try interner.fieldName(r[3]), state: try interner.decodeField(r, offset: 4))
                rows[rowID, default: RowChange(table: r[1], key: r[2], fields: [])].fields.append(change)
            }
            let covered = try Row.fetchCursor(db, sql: """
                SELECT id, tbl, key, covered FROM row WHERE covered_seq > ?
                """, arguments: [Int64(since)])
            while let r = try covered.next() {
                var reader = BlobReader([UInt8](r[3] as Data))
                var list: [CoveredChange] = []
                for _ in 0..<(try reader.varint()) {
                    let name = try interner.fieldName(Int64(try reader.varint()))
                    list.append(CoveredChange(field: name, vv: try interner.decodeVV(&reader)))
                }
                rows[r[0], default: RowChange(table: r[1], key: r[2], fields: [])].covered = list
            }
            let changes = rows.values.map { RowChange(table: $0.table, key: $0.key, fields: $0.fields, covered: $0.covered) }
            return ChangeSet(sender: id, fromSeq: since, toSeq: upTo, acks: acks, rows: changes)
        }
    }

    /// `changeSet(for:)` encoded as a bundle.
    public func exportBundle(for peer: ReplicaID?, level: Int32 = 6) throws -> (bytes: [UInt8], changeSet: ChangeSet) {
        let cs = try changeSet(for: peer)
        return (ChangeSetEncoder(level: level).encode(cs), cs)
    }
}

extension ReplicaTransaction {
    /// Merges one incoming row.
    func apply(_ change: RowChange, into report: inout ImportReport) throws {
        try validate(change)
        report.rows += 1
        for f in change.fields {
            for v in f.state.versions where !clock.observe(v.hlc) { skewedTimestamps += 1 }
        }
        let ref = try rowRef(table: change.table, key: change.key, create: true)!
        let touchesDeletion = !change.covered.isEmpty || change.fields.contains { $0.name == Schema.deletedField }
        if ref.isNew {
            report.newRows += 1
        }
        if ref.isSimple && !touchesDeletion {
            var conflicts = 0
            for f in change.fields {
                let fieldID = try interner.fieldID(table: change.table, name: f.name)
                let local = ref.isNew ? nil : try loadField(row: ref.id, field: fieldID)
                let merged = local?.merged(with: f.state) ?? f.state
                if merged == local {
                    report.ignored += 1
                    continue
                }
                report.applied += 1
                if merged.hasValueConflict { conflicts += 1 }
                try saveField(row: ref.id, fieldID: fieldID, table: change.table, name: f.name, merged)
            }
            if conflicts > 0 {
                try db.execute(sql: "UPDATE row SET conflicts = ? WHERE id = ?", arguments: [conflicts, ref.id])
            }
            return
        }
        var row = ref.isNew ? RowState() : try loadRow(ref)
        var changed = Set<String>()
        for f in change.fields {
            if row.merge(field: f.name, f.state) {
                changed.insert(f.name)
                report.applied += 1
            } else {
                report.ignored += 1
            }
        }
        var coveredChanged = false
        for c in change.covered where row.merge(covered: c.field, c.vv) { coveredChanged = true }
        try save(row, ref: ref, table: change.table, key: change.key, changedFields: changed,
                 coveredChanged: coveredChanged)
    }

    /// Incoming values of declared fields must have the declared type; unknown tables and fields pass.
    private func validate(_ change: RowChange) throws {
        let table = replica.schema.tables[change.table]
        for f in change.fields {
            if f.name == Schema.deletedField {
                for v in f.state.versions {
                    guard case .bool = v.value else {
                        throw SyncError(.typeMismatch, "row \(change.key) carries a non-boolean deletion flag")
                    }
                }
            } else if let schema = table?.field(f.name) {
                for v in f.state.versions {
                    do { try schema.validate(v.value) } catch {
                        throw SyncError(error.code, "\(change.table).\(f.name) of row \(change.key): \(error.message)")
                    }
                }
            }
        }
    }

    /// Records what the sender sent and what it says it has received from us.
    func recordReceipt(from sender: ReplicaID, fromSeq: UInt64, toSeq: UInt64, acks: [ChangeSet.Ack],
                       report: inout ImportReport) throws {
        guard sender != replica.id else { return }
        let ordinal = try interner.ordinal(sender)
        try db.execute(sql: "INSERT OR IGNORE INTO peer (replica) VALUES (?)", arguments: [ordinal])
        let received = UInt64(try Int64.fetchOne(db, sql: "SELECT received FROM peer WHERE replica = ?",
                                                 arguments: [ordinal])!)
        report.contiguous = fromSeq <= received
        let newReceived = report.contiguous ? max(received, toSeq) : received
        let ackedUs = acks.first { $0.replica == replica.id }.map { Int64($0.seq) } ?? 0
        try db.execute(sql: """
            UPDATE peer SET received = ?, acked = max(acked, min(?, (SELECT seq FROM meta))), last_import_at = ?
            WHERE replica = ?
            """, arguments: [Int64(newReceived), ackedUs, Int64(replica.now()), ordinal])
    }

    func openConflictCount() throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT coalesce(sum(conflicts), 0) FROM row WHERE conflicts > 0")) ?? 0
    }
}
