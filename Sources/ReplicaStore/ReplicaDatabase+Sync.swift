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
    /// Field states refused by `ImportOptions.authorizeField` and kept in quarantine.
    public var quarantined = 0
    /// Whether the sender's acknowledgement cursor advanced (false for a bundle with a gap).
    public var contiguous = true
    /// The sender's sequence range this change-set covered.
    public var fromSeq: UInt64 = 0
    public var toSeq: UInt64 = 0
}

extension ReplicaDatabase {
    /// Applies a bundle in one transaction, streaming it row by row.
    /// - Parameter progress: called with the rows applied so far, every 5,000 rows.
    /// - Throws: `SyncError` for a bad bundle (nothing is applied), or a database error.
    public func importBundle(_ bytes: [UInt8], options: ImportOptions = ImportOptions(),
                             progress: ((Int) -> Void)? = nil) throws -> ImportReport {
        var reader = try ChangeSetReader(bytes: bytes, limits: options.limits ?? limits)
        return try applyRows(sender: reader.sender, fromSeq: reader.fromSeq, toSeq: reader.toSeq, acks: reader.acks,
                             options: options, progress: progress) { try reader.next() }
    }

    /// Applies an in-memory change-set in one transaction.
    public func apply(_ cs: ChangeSet, options: ImportOptions = ImportOptions()) throws -> ImportReport {
        var rows = cs.rows.makeIterator()
        return try applyRows(sender: cs.sender, fromSeq: cs.fromSeq, toSeq: cs.toSeq, acks: cs.acks,
                             options: options, progress: nil) { rows.next() }
    }

    /// Merges every row `nextRow` yields, then records the receipt, in one transaction.
    private func applyRows(
        sender: ReplicaID, fromSeq: UInt64, toSeq: UInt64, acks: [ChangeSet.Ack], options: ImportOptions,
        progress: ((Int) -> Void)?, nextRow: () throws -> RowChange?
    ) throws -> ImportReport {
        try options.checkSender?(sender)
        return try write { tx in
            var report = ImportReport(sender: sender.description, fromSeq: fromSeq, toSeq: toSeq)
            let seqBefore = tx.seq
            if let a = options.attribution {
                try tx.db.execute(sql: "INSERT INTO delivery (via_user, via_device, at) VALUES (?, ?, ?)",
                                  arguments: [a.user, a.device, Int64(now())])
                tx.delivery = tx.db.lastInsertedRowID
            }
            report.conflictsBefore = try tx.openConflictCount()
            while var row = try nextRow() {
                try options.checkRow?(row)
                if let authorize = options.authorizeField {
                    let refused = row.fields.filter { !authorize(row.table, $0.name, $0.state) }
                    if !refused.isEmpty {
                        try tx.quarantine(row, refused)
                        report.quarantined += refused.count
                        row.fields.removeAll { f in refused.contains { $0.name == f.name } }
                        if row.fields.isEmpty && row.covered.isEmpty { continue }
                    }
                }
                try tx.apply(row, into: &report)
                try options.afterRow?(row, RowRestamper(tx: tx))
                if report.rows % 5000 == 0 { progress?(report.rows) }
            }
            try tx.recordReceipt(from: sender, fromSeq: fromSeq, toSeq: toSeq, acks: acks, report: &report)
            report.conflictsAfter = try tx.openConflictCount()
            report.skewedTimestamps = tx.skewedTimestamps
            if let then = options.inTransaction {
                try then(SyncStateWriter(db: tx.db, seqBefore: seqBefore, seqAfter: tx.seq))
            }
            return report
        }
    }

    /// Everything changed locally after what `peer` acknowledged (everything on first contact), as one change-set.
    public func changeSet(for peer: ReplicaID? = nil) throws -> ChangeSet {
        try read { db in
            var since: UInt64 = 0
            if let peer, let ordinal = try Int64.fetchOne(db, sql: "SELECT ordinal FROM replica WHERE id = ?",
                                                          arguments: [Data(peer.bytes)]) {
                since = UInt64(try Int64.fetchOne(db, sql: "SELECT acked FROM peer WHERE replica = ?",
                                                   arguments: [ordinal]) ?? 0)
            }
            return try collectChanges(db, after: since, limit: nil, filter: .all).changeSet
        }
    }

    /// `changeSet(for:)` encoded as a bundle.
    public func exportBundle(for peer: ReplicaID?, level: Int32 = 6) throws -> (bytes: [UInt8], changeSet: ChangeSet) {
        let cs = try changeSet(for: peer)
        return (ChangeSetEncoder(level: level).encode(cs), cs)
    }
}

extension ReplicaTransaction {
    /// Keeps refused versions (see `ImportOptions.authorizeField`).
    func quarantine(_ row: RowChange, _ fields: [FieldChange]) throws {
        for f in fields {
            for v in f.state.versions {
                let (tag, value) = StoredValue.columns(v.value)
                try db.execute(sql: """
                    INSERT OR IGNORE INTO quarantine (delivery, tbl, key, field, tag, value, writer, author, hlc)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [delivery, row.table, row.key, f.name, tag, value, Data(v.writer.bytes), v.author,
                                     Int64(bitPattern: v.hlc.rawValue)])
            }
        }
    }

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
                try audit(row: ref.id, field: fieldID, before: local, after: merged)
            }
            if conflicts > 0 {
                try db.execute(sql: "UPDATE row SET conflicts = ? WHERE id = ?", arguments: [conflicts, ref.id])
                dirtyRows.insert(ref.id)
            }
            return
        }
        var row = ref.isNew ? RowState() : try loadRow(ref)
        var changed = Set<String>()
        var audited: [(String, FieldState?)] = []
        for f in change.fields {
            let before = row.fields[f.name]
            if row.merge(field: f.name, f.state) {
                changed.insert(f.name)
                report.applied += 1
                if delivery != nil { audited.append((f.name, before)) }
            } else {
                report.ignored += 1
            }
        }
        var coveredChanged = false
        for c in change.covered where row.merge(covered: c.field, c.vv) { coveredChanged = true }
        try save(row, ref: ref, table: change.table, key: change.key, changedFields: changed,
                 coveredChanged: coveredChanged)
        for (name, before) in audited {
            try audit(row: ref.id, field: try interner.fieldID(table: change.table, name: name), before: before,
                      after: row.fields[name]!)
        }
    }

    /// Records, for the 全程留痕 trail, each version this import added; the delivery row says who brought it.
    private func audit(row: Int64, field: Int64, before: FieldState?, after: FieldState) throws {
        guard let delivery else { return }
        let stmt = try db.cachedStatement(sql: """
            INSERT INTO audit (seq, row, field, writer, author, hlc, delivery) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for v in after.versions where !(before?.versions.contains(v) ?? false) {
            try stmt.execute(arguments: [
                Int64(seq), row, field, try interner.ordinal(v.writer), try interner.authorID(v.author),
                Int64(bitPattern: v.hlc.rawValue), delivery,
            ])
        }
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
