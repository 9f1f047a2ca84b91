import Foundation
import GRDB
public import SyncCore
public import SyncProtocol

/// What importing a change-set did.
public struct ImportReport: Hashable, Sendable {
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
    /// Versions not merged (kept in this replica's quarantine), with the reason of each.
    public var rejections: [RejectedVersion] = []
    /// Whether the sender's acknowledgement cursor advanced (false for a bundle with a gap).
    public var contiguous = true
    /// The sender's sequence range this change-set covered.
    public var fromSeq: UInt64 = 0
    public var toSeq: UInt64 = 0

    /// How many versions were refused.
    public var quarantined: Int { rejections.count }
}

/// One version an import refused, and why.
public struct RejectedVersion: Hashable, Sendable {
    public var table: String
    public var key: String
    public var field: String
    public var version: FieldVersion
    public var rejection: Rejection
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
            let review = ImportReview(options: options, toSeq: toSeq)
            func merge(_ row: RowChange) throws {
                try tx.apply(row, review, into: &report)
                try options.afterRow?(row, RowRestamper(tx: tx))
                if report.rows % 5000 == 0 { progress?(report.rows) }
            }
            if let rank = options.rowOrder, options.checks != nil {
                var rows: [(rank: Int, index: Int, row: RowChange)] = []
                while let row = try nextRow() { rows.append((rank(row.table), rows.count, row)) }
                rows.sort { ($0.rank, $0.index) < ($1.rank, $1.index) }
                for r in rows { try merge(r.row) }
            } else {
                while let row = try nextRow() { try merge(row) }
            }
            try options.beforeCommit?(RowRestamper(tx: tx))
            if options.recordsReceipt {
                try tx.recordReceipt(from: sender, fromSeq: fromSeq, toSeq: toSeq, acks: acks, seqBefore: seqBefore, report: &report)
            }
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

    /// `changeSet(for:)` encoded as one bundle, signed when the replica has a `signer`.
    /// - Throws: `SyncError` when the bundle would break the limits every peer enforces (then use
    ///   `exportBundles(for:maxBytes:)`, which splits).
    public func exportBundle(for peer: ReplicaID?, level: Int32 = 6) throws -> (bytes: [UInt8], changeSet: ChangeSet) {
        let cs = try changeSet(for: peer)
        let (bytes, violation) = ChunkedExporter.encode(cs, level: level, signer: signer)
        if let violation { throw violation }
        return (bytes, cs)
    }

    /// What `peer` lacks as bundles of at most `maxBytes` each (one field state larger than that travels
    /// alone), in sequence order: importing them in order leaves the peer's cursor contiguous.
    public func exportBundles(for peer: ReplicaID?, maxBytes: Int = 8 << 20) throws -> [ChangeChunk] {
        var parts: [ChangeChunk] = []
        try exportBundles(for: peer, maxBytes: maxBytes) { parts.append($0) }
        return parts
    }

    /// `exportBundles(for:maxBytes:)` as a stream: each bundle goes to `each` as soon as it is made, so memory holds
    /// one bundle (at most 65,536 field states) whatever the size of the export.
    public func exportBundles(for peer: ReplicaID?, maxBytes: Int = 8 << 20, _ each: (ChangeChunk) throws -> Void) throws {
        let since = try read { db -> UInt64 in
            guard let peer, let ordinal = try Int64.fetchOne(db, sql: "SELECT ordinal FROM replica WHERE id = ?",
                                                            arguments: [Data(peer.bytes)]) else { return 0 }
            return UInt64(try Int64.fetchOne(db, sql: "SELECT acked FROM peer WHERE replica = ?", arguments: [ordinal]) ?? 0)
        }
        var exporter = ChunkedExporter(targetBytes: maxBytes)
        var cursor = since
        var first = true
        while true {
            let chunk = try exporter.next(from: self, after: cursor)
            if !chunk.changeSet.rows.isEmpty || first { try each(chunk) }
            first = false
            cursor = chunk.next
            if !chunk.more { return }
        }
    }
}

/// The domain judge of one row, asked for only when a version needs judging (a repeated push costs nothing).
final class RowJudge {
    private let make: (() throws -> (@Sendable (String, FieldValue) -> Rejection?))?
    private var judge: (@Sendable (String, FieldValue) -> Rejection?)?
    init(_ make: (() throws -> (@Sendable (String, FieldValue) -> Rejection?))?) { self.make = make }

    func callAsFunction(_ field: String, _ value: FieldValue) throws -> Rejection? {
        guard let make else { return nil }
        if judge == nil { judge = try make() }
        return judge!(field, value)
    }
}

/// The per-import part of the version checks.
struct ImportReview {
    let options: ImportOptions
    /// The change-set's `to_seq`: no counter of its writer can exceed it.
    let toSeq: UInt64
    /// The trust boundary's clock when the import began (one reading per import).
    let now: UInt64

    init(options: ImportOptions, toSeq: UInt64) {
        self.options = options
        self.toSeq = toSeq
        now = options.checks?.now() ?? 0
    }
}

extension ReplicaTransaction {
    /// Keeps a refused version aside (never merged, never sent), once.
    func quarantine(_ table: String, _ key: String, _ field: String, _ v: FieldVersion, _ r: Rejection,
                    account: String?, seen: Bool) throws {
        let (tag, value) = StoredValue.columns(v.value)
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO quarantine (delivery, tbl, key, field, tag, value, writer, author, hlc, reason, message,
                vv, writer_counter, account, at, seen)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [delivery, table, key, field, tag, value, Data(v.writer.bytes), v.author,
                                     Int64(bitPattern: v.hlc.rawValue), r.reason.rawValue, r.message,
                                     try interner.encode(v.vv), Int64(v.vv[v.writer]), account, Int64(replica.now()), seen])
    }

    /// The highest counter of `writer`'s own versions of a field that this replica refused but did see (they
    /// count as seen from it when later versions claim them).
    func quarantinedCounter(_ table: String, _ key: String, _ field: String, _ writer: ReplicaID) throws -> UInt64 {
        let c = try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT max(writer_counter) FROM quarantine WHERE tbl = ? AND key = ? AND field = ? AND writer = ? AND seen = 1
            """), arguments: [table, key, field, Data(writer.bytes)]) ?? 0
        return UInt64(max(0, c))
    }

    /// Why `v` may not be merged, by where it comes from: the delivering device, the author (nil: it may).
    func provenanceRejection(_ v: FieldVersion, _ review: ImportReview) -> Rejection? {
        guard let checks = review.options.checks else { return nil }
        if let all = checks.refuseAll { return all }
        if v.writer != checks.writer {
            return Rejection(.unsignedRelay,
                             "written by replica \(v.writer.short), not by the device whose bundle carried it; relays forward the writer's own signed bundle")
        }
        return checks.author(v.author)
    }

    /// Why `v` may not be merged into `local`, by its clock and version vector (nil: it may). Asked after the
    /// domain rules, so that a device learns nothing of fields outside its scope from these answers.
    func claimRejection(_ v: FieldVersion, table: String, key: String, field: String, local: FieldState?,
                        _ review: ImportReview) throws -> Rejection? {
        guard let checks = review.options.checks else {
            // A plain import: only claims about this replica can be judged here, against its own sequence number.
            let mine = v.vv[replica.id]
            if mine > seq {
                if review.options.trusted {
                    seq = mine  // our own writes from before a restore: continue after them
                } else {
                    return Rejection(.vvClaim, "a version claims \(mine) writes of this replica, which has made \(seq)")
                }
            }
            return nil
        }
        let now = review.now
        if v.hlc.physical > now &+ checks.maxAheadMillis {
            let ahead = (v.hlc.physical - now) / 1000
            return Rejection(.clockAhead, "stamped \(ahead) s ahead of the server's clock (the limit is \(checks.maxAheadMillis / 1000) s)")
        }
        let own = v.vv[v.writer]
        if own > review.toSeq {
            return Rejection(.vvClaim, "the writer's counter \(own) exceeds its own sequence number \(review.toSeq)")
        }
        for e in v.vv.entries where e.replica != v.writer {
            var known = local?.vv[e.replica] ?? 0
            if e.counter > known && e.replica != replica.id {
                known = max(known, try quarantinedCounter(table, key, field, e.replica))
            }
            if e.counter > known {
                return Rejection(.vvClaim,
                                 "claims \(e.counter) writes of replica \(e.replica.short) to this field; \(known) were seen from it")
            }
        }
        return nil
    }

    /// Merges one incoming row: every version this replica does not hold yet is checked; what passes is merged,
    /// what fails is quarantined and reported. A row of which nothing is accepted is not created.
    func apply(_ change: RowChange, _ review: ImportReview, into report: inout ImportReport) throws {
        try validate(change)
        report.rows += 1
        for f in change.fields {
            for v in f.state.versions where !clock.observe(v.hlc) { skewedTimestamps += 1 }
        }
        let options = review.options
        guard let ref = try rowRef(table: change.table, key: change.key, create: false) else {
            try applyNew(change, review, into: &report)
            return
        }
        let origin = ref.origin
        let judge = RowJudge(options.authorize.map { authorize in
            { try authorize(RowReview(change: change, exists: true, deleted: ref.deleted, origin: origin, tx: self)) }
        })
        let touchesDeletion = !change.covered.isEmpty || change.fields.contains { $0.name == Schema.deletedField }
        var accepted = false
        if ref.isSimple && !touchesDeletion {
            var conflicts = 0
            // A row whose change names several fields is read in one range read.
            let stored = change.fields.count > 2 ? try loadFields(row: ref.id) : nil
            for f in change.fields {
                let fieldID = try interner.fieldID(table: change.table, name: f.name)
                let local = try stored.map { $0[fieldID] } ?? loadField(row: ref.id, field: fieldID)
                guard let merged = try admitted(f, local: local, change, review, judge, into: &report,
                                                otherBytes: { try storedValueBytes(row: ref.id, excluding: fieldID) }) else {
                    report.ignored += 1
                    continue
                }
                accepted = true
                report.applied += 1
                if merged.hasValueConflict { conflicts += 1 }
                try saveField(row: ref.id, fieldID: fieldID, table: change.table, name: f.name, merged)
                try audit(row: ref.id, field: fieldID, before: local, after: merged)
            }
            if conflicts > 0 { try setConflicts(conflicts, row: ref.id, table: change.table) }
            if accepted { try noteWriter(ref.id, origin, options) }
            return
        }
        var row = try loadRow(ref)
        var changed = Set<String>()
        var audited: [(String, FieldState?)] = []
        for f in change.fields {
            let before = row.fields[f.name]
            let others = { [row] in row.fields.reduce(0) { $0 + ($1.key == f.name ? 0 : StateBounds.valueBytes($1.value)) } }
            if let merged = try admitted(f, local: before, change, review, judge, into: &report, otherBytes: others) {
                row.fields[f.name] = merged
                changed.insert(f.name)
                report.applied += 1
                if delivery != nil { audited.append((f.name, before)) }
            } else {
                report.ignored += 1
            }
        }
        var coveredChanged = false
        if change.covered.contains(where: { c in !(row.covered[c.field].map { c.vv.isDominated(by: $0) } ?? false) }) {
            if let r = try coveredRejection(change, row, review, judge) {
                try refuseCovered(change, r, options, into: &report)
            } else {
                for c in change.covered where row.merge(covered: c.field, c.vv) { coveredChanged = true }
            }
        }
        accepted = !changed.isEmpty || coveredChanged
        try save(row, ref: ref, table: change.table, key: change.key, changedFields: changed,
                 coveredChanged: coveredChanged)
        for (name, before) in audited {
            try audit(row: ref.id, field: try interner.fieldID(table: change.table, name: name), before: before,
                      after: row.fields[name]!)
        }
        if accepted { try noteWriter(ref.id, origin, options) }
    }

    /// A row this replica does not hold yet: created only when something of it is accepted. Under a trust
    /// boundary its fact fields (`ImportOptions.factFields`) are judged first, and when one of their versions is
    /// refused, so is everything else of the row.
    private func applyNew(_ change: RowChange, _ review: ImportReview, into report: inout ImportReport) throws {
        let options = review.options
        let judge = RowJudge(options.authorize.map { authorize in
            { try authorize(RowReview(change: change, exists: false, deleted: false, origin: nil, tx: self)) }
        })
        let facts = options.checks == nil ? [] : options.factFields?(change.table) ?? []
        let fields = facts.isEmpty ? change.fields
            : change.fields.filter { facts.contains($0.name) } + change.fields.filter { !facts.contains($0.name) }
        var admitted: [(String, FieldState)] = []
        var bytes = 0
        var whole: Rejection?
        for f in fields {
            if let whole {
                for v in f.state.versions { try refuse(change, f.name, v, whole, options, into: &report) }
                continue
            }
            let refusedBefore = report.rejections.count
            let merged = try self.admitted(f, local: nil, change, review, judge, into: &report, otherBytes: { bytes })
            if let merged {
                admitted.append((f.name, merged))
                bytes += StateBounds.valueBytes(merged)
            } else {
                report.ignored += 1
            }
            if facts.contains(f.name) && report.rejections.count > refusedBefore {
                // The rest of the row is refused for the same reason, named after the field.
                let first = report.rejections[refusedBefore].rejection
                let r = Rejection(first.reason, "the new row's \(f.name) was refused (\(first.message)); the row is judged by it, so nothing of it is accepted")
                whole = r
                for (name, state) in admitted {
                    for v in state.versions { try refuse(change, name, v, r, options, into: &report) }
                }
                admitted.removeAll()
            }
        }
        // The row as a whole is needed only for its deletion and coverage.
        var row = RowState()
        let hasDeletion = admitted.contains { $0.0 == Schema.deletedField }
        if hasDeletion || !change.covered.isEmpty {
            for (name, state) in admitted { row.fields[name] = state }
        }
        var coveredChanged = false
        if change.covered.contains(where: { c in !(row.covered[c.field].map { c.vv.isDominated(by: $0) } ?? false) }) {
            if let r = try whole ?? coveredRejection(change, row, review, judge) {
                try refuseCovered(change, r, options, into: &report)
            } else {
                for c in change.covered where row.merge(covered: c.field, c.vv) { coveredChanged = true }
            }
        }
        guard !admitted.isEmpty || coveredChanged else { return }
        let ref = try rowRef(table: change.table, key: change.key, create: true)!
        report.newRows += 1
        report.applied += admitted.count
        if !coveredChanged && !hasDeletion {
            // A plain new row (no deletion, no coverage): its fields in name order, as `save` writes them, and
            // its open conflicts are those of its fields.
            var conflicts = 0
            for (name, state) in admitted.sorted(by: { $0.0 < $1.0 }) {
                try saveField(row: ref.id, table: change.table, name: name, state)
                if state.hasValueConflict { conflicts += 1 }
            }
            if conflicts > 0 { try setConflicts(conflicts, row: ref.id, table: change.table) }
        } else {
            try save(row, ref: ref, table: change.table, key: change.key, changedFields: Set(admitted.map(\.0)),
                     coveredChanged: coveredChanged)
        }
        for (name, state) in admitted {
            try audit(row: ref.id, field: try interner.fieldID(table: change.table, name: name), before: nil, after: state)
        }
        if let account = options.checks?.account {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO row_origin (row, account) VALUES (?, ?)")
                .execute(arguments: [ref.id, account])
        }
    }

    /// The field state after merging the versions of `f` that pass every check, or nil when nothing changes.
    /// Refused versions are quarantined and reported.
    private func admitted(_ f: FieldChange, local: FieldState?, _ change: RowChange, _ review: ImportReview,
                          _ judge: RowJudge, into report: inout ImportReport,
                          otherBytes: () throws -> Int) throws -> FieldState? {
        // Versions this replica holds already (or that something it holds dominates) need no judgement.
        // The common case: one incoming version that dominates the one stored (or there is none stored). It is
        // fresh, and if it passes, it alone is the merged state.
        let supersedes = f.state.versions.count == 1
            && (local.map { $0.versions.count == 1 && f.state.versions[0].vv.compare($0.versions[0].vv) == .after } ?? true)
        let fresh = supersedes ? f.state.versions
            : f.state.versions.filter { v in !(local?.versions.contains { v.vv.isDominated(by: $0.vv) && (v.vv != $0.vv || v == $0) } ?? false) }
        if fresh.isEmpty { return nil }
        var ok: [FieldVersion] = []
        for v in fresh {
            var r = provenanceRejection(v, review)
            if r == nil { r = try judge(f.name, v.value) }
            if r == nil { r = try claimRejection(v, table: change.table, key: change.key, field: f.name, local: local, review) }
            if let r {
                try refuse(change, f.name, v, r, review.options, into: &report)
            } else {
                ok.append(v)
            }
        }
        if ok.isEmpty { return nil }
        let merged: FieldState
        if supersedes {
            merged = FieldState(ok[0])
        } else {
            merged = FieldState(normalizing: (local?.versions ?? []) + ok)
            if merged == local { return nil }
        }
        var bound = StateBounds.violation(merged)
        if bound == nil, review.options.checks != nil {
            bound = try rowBoundViolation(change.table, f.name, merged, otherBytes)
        }
        if let bound {
            for v in ok { try refuse(change, f.name, v, bound, review.options, into: &report) }
            return nil
        }
        return merged
    }

    /// Why a row would grow past `StateBounds.maxRowValueBytes` with `merged` as its state of `field`, or nil.
    /// `otherBytes` gives the value bytes of the row's other fields; it is asked only for a field state larger
    /// than `StateBounds.rowCheckThreshold` (smaller ones cannot add up to the bound in any declared table; the
    /// fields this build does not declare are the centre's alone).
    private func rowBoundViolation(_ table: String, _ field: String, _ merged: FieldState,
                                   _ otherBytes: () throws -> Int) throws -> Rejection? {
        let bytes = StateBounds.valueBytes(merged)
        guard bytes > StateBounds.rowCheckThreshold else { return nil }
        return StateBounds.violation(rowValueBytes: bytes + (try otherBytes()))
    }

    /// Value bytes stored in a row's field states other than `field` (the winners' values and the encoded other
    /// versions: an upper bound).
    func storedValueBytes(row: Int64, excluding field: Int64) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: """
            SELECT coalesce(sum(length(CAST(value AS BLOB))), 0) + coalesce(sum(length(others)), 0) FROM field WHERE row = ? AND field <> ?
            """), arguments: [row, field]) ?? 0
    }

    private func refuse(_ change: RowChange, _ field: String, _ v: FieldVersion, _ r: Rejection, _ options: ImportOptions,
                        into report: inout ImportReport) throws {
        // Versions refused for their provenance or their vector were not seen from their writer.
        let seen = ![Rejection.Reason.unsignedRelay, .badSignature, .vvClaim].contains(r.reason)
            && !(options.checks?.unverifiedWriter ?? false) && options.checks?.refuseAll == nil
        try quarantine(change.table, change.key, field, v, r, account: options.checks?.account, seen: seen)
        report.rejections.append(RejectedVersion(table: change.table, key: change.key, field: field, version: v, rejection: r))
    }

    /// Why the row's delete coverage may not be merged (the deletion rights, and the claims of its vectors).
    private func coveredRejection(_ change: RowChange, _ row: RowState, _ review: ImportReview,
                                  _ judge: RowJudge) throws -> Rejection? {
        if let all = review.options.checks?.refuseAll { return all }
        if let r = try judge(Schema.deletedField, .bool(true)) { return r }
        for c in change.covered {
            let merged = row.covered[c.field].map { $0.joined(with: c.vv) } ?? c.vv
            if let bound = StateBounds.violation(covered: merged) { return bound }
            guard review.options.checks != nil else {
                if c.vv[replica.id] > seq && !review.options.trusted {
                    return Rejection(.vvClaim, "a deletion claims writes of this replica it never made")
                }
                continue
            }
            let known = row.fields[c.field]?.vv ?? VersionVector()
            for e in c.vv.entries where e.counter > known[e.replica] {
                let q = e.replica == replica.id ? 0 : try quarantinedCounter(change.table, change.key, c.field, e.replica)
                if e.counter > q {
                    return Rejection(.vvClaim, "a deletion claims \(e.counter) writes of replica \(e.replica.short) to \(c.field); fewer were seen")
                }
            }
        }
        return nil
    }

    /// Keeps a refused delete coverage aside and reports it (as versions of the writer, `_covered.<field>`).
    private func refuseCovered(_ change: RowChange, _ r: Rejection, _ options: ImportOptions,
                               into report: inout ImportReport) throws {
        for c in change.covered {
            let v = FieldVersion(value: .bool(true), vv: c.vv, hlc: .zero, writer: options.checks?.writer ?? replica.id)
            try quarantine(change.table, change.key, "_covered." + c.field, v, r, account: options.checks?.account, seen: false)
            report.rejections.append(RejectedVersion(table: change.table, key: change.key, field: c.field, version: v,
                                                     rejection: r))
        }
    }

    /// After an accepted write to an existing row: the row is no longer its creator's alone when someone else wrote it.
    private func noteWriter(_ row: Int64, _ origin: (account: String, shared: Bool)?, _ options: ImportOptions) throws {
        guard let account = options.checks?.account else { return }
        if let origin {
            if !origin.shared && origin.account != account {
                try db.cachedStatement(sql: "UPDATE row_origin SET shared = 1 WHERE row = ?").execute(arguments: [row])
            }
        }
    }

    /// Records a row's count of open conflicts (a row without deletion or coverage: those of its fields).
    private func setConflicts(_ count: Int, row: Int64, table: String) throws {
        try db.execute(sql: "UPDATE row SET conflicts = ? WHERE id = ?", arguments: [count, row])
        markStale(row, table: table)
    }

    /// Records, for the 全程留痕 trail, each version this import added; the delivery row says who brought it.
    private func audit(row: Int64, field: Int64, before: FieldState?, after: FieldState) throws {
        guard let delivery else { return }
        let insert = try statement(.audit)
        for v in after.versions where !(before?.versions.contains(v) ?? false) {
            insert.bind(1, Int64(seq))
            insert.bind(2, row)
            insert.bind(3, field)
            insert.bind(4, try interner.ordinal(v.writer))
            insert.bind(5, try interner.authorID(v.author))
            insert.bind(6, Int64(bitPattern: v.hlc.rawValue))
            insert.bind(7, delivery)
            try insert.run()
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
    func recordReceipt(from sender: ReplicaID, fromSeq: UInt64, toSeq: UInt64, acks: [ChangeSet.Ack], seqBefore: UInt64,
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
        // Who writes on that replica: the author of the newest of its own versions this import stored.
        if let author = try String.fetchOne(db.cachedStatement(sql: """
            SELECT a.name FROM field f JOIN author a ON a.id = f.author WHERE f.seq > ? AND f.writer = ? ORDER BY f.seq DESC LIMIT 1
            """), arguments: [Int64(seqBefore), ordinal]) {
            try db.execute(sql: "UPDATE peer SET author = ? WHERE replica = ?", arguments: [author, ordinal])
        }
    }

    func openConflictCount() throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT coalesce(sum(conflicts), 0) FROM row WHERE conflicts > 0")) ?? 0
    }
}
