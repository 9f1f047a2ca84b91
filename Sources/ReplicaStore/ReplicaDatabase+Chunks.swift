import Foundation
import GRDB
public import SyncCore
public import SyncProtocol

/// Which versions of a field state a chunk carries.
public enum WriterFilter: Sendable, Equatable {
    /// Every version.
    case all
    /// Leave out versions this replica wrote (the receiver has them: it is their origin).
    case excluding(ReplicaID)
    /// Only versions this replica wrote (a device that may not relay others' writes).
    case only(ReplicaID)

    func keeps(_ writer: ReplicaID) -> Bool {
        switch self {
        case .all: return true
        case .excluding(let r): return writer != r
        case .only(let r): return writer == r
        }
    }
}

/// Which rows a reader may receive (pull scoping): called once per read snapshot a chunk is read from, with the
/// query tables available; the judge it returns is called once per row the chunk would carry, inside that snapshot.
/// Rows it refuses are skipped (their field states still advance the cursor).
public typealias RowFilter = @Sendable (_ db: Database) throws -> RowAdmits
/// Whether a row goes to the reader (see `RowFilter`).
public typealias RowAdmits = (_ table: String, _ key: String) throws -> Bool

/// One size-bounded slice of a replica's changes, for sync over a network.
public struct ChangeChunk: Sendable {
    /// The encoded bundle (header + zlib payload).
    public var bytes: [UInt8]
    /// The changes it carries (`fromSeq` is the cursor it starts after, `toSeq` the cursor to resume from).
    public var changeSet: ChangeSet
    /// Whether changes after `changeSet.toSeq` were already committed when the chunk was read.
    public var more: Bool
    /// The cursor after this chunk: every local change with a sequence number up to it is in this chunk or an
    /// earlier one.
    public var next: UInt64 { changeSet.toSeq }
}

/// Cuts a replica's changes after a cursor into bundles of at most `targetBytes` compressed bytes.
///
/// Every field state and every delete coverage carries the local sequence number of the transaction step that
/// last changed it; sequence numbers are unique and assigned under SQLite's single writer lock, so a reader's
/// snapshot holds every number up to `meta.seq` and no later commit can take a smaller one. A chunk covers the
/// numbers in `(cursor, next]`, read from one snapshot, so resuming after `next` can never skip a change.
public struct ChunkedExporter: Sendable {
    /// Upper bound for one chunk's compressed size, in bytes.
    public var targetBytes: Int
    /// Field states per attempt; adapts to the data so that most chunks need one encoding.
    public private(set) var fieldsPerChunk: Int
    /// zlib level.
    public var level: Int32 = 6
    /// When set, the chunks acknowledge only what this replica received from that one replica (a server tells
    /// each device what it holds of the device's own writes, and nothing of other devices).
    public var acksFor: ReplicaID?
    /// A row's run of field states normally travels whole; with this set, a row too large for one bundle is
    /// carried one field state per chunk instead of stopping the stream (a server's pulls: what they carry is
    /// merged, not judged).
    public var splitsOversizedRows = false
    /// The limits the chunks keep to: every peer's (tests narrow them).
    public var limits = ChangeSetLimits.default

    public init(targetBytes: Int = 256 << 10, fieldsPerChunk: Int = 4096) {
        self.targetBytes = targetBytes
        self.fieldsPerChunk = max(1, fieldsPerChunk)
    }

    /// The next chunk after `cursor`, or an empty chunk (`more == false`) when there is nothing after it.
    /// - Parameter filter: which versions of each field state to send.
    /// A single field state larger than `targetBytes` (a long text with many concurrent versions) travels alone
    /// in an oversized chunk rather than blocking the stream.
    public mutating func next(from replica: ReplicaDatabase, after cursor: UInt64,
                              filter: WriterFilter = .all, rows rowFilter: RowFilter? = nil) throws -> ChangeChunk {
        var limit = fieldsPerChunk
        var split = false
        while true {
            let (cs, more) = try replica.read { db in
                try replica.collectChanges(db, after: cursor, limit: limit, filter: filter, rows: rowFilter, acksFor: acksFor,
                                           splitRows: split)
            }
            let (bytes, violation) = Self.encode(cs, level: level, signer: replica.signer, limits: limits)
            if let violation {
                // A chunk no peer could read: fewer field states per chunk, down to one (a whole row); then, where
                // allowed, one field state of the row; one that still does not fit cannot be sent at all, and the
                // sender is told which.
                if limit > 1 {
                    limit = max(1, limit / 2)
                    fieldsPerChunk = limit
                    continue
                }
                guard splitsOversizedRows && !split && cs.fieldCount > 1 else { throw violation }
                split = true
                continue
            }
            if bytes.count <= targetBytes || limit == 1 {
                // Aim the next attempt at ~85% of the target from what this one cost per field.
                let fields = max(1, cs.fieldCount)
                if more && fields >= limit / 2 {
                    let perField = max(1, bytes.count / fields)
                    fieldsPerChunk = max(64, min(1 << 16, targetBytes * 85 / 100 / perField))
                }
                return ChangeChunk(bytes: bytes, changeSet: cs, more: more)
            }
            limit = max(1, limit * targetBytes * 85 / 100 / bytes.count)
            fieldsPerChunk = limit
        }
    }
}

extension ChunkedExporter {
    /// Encodes a change-set within the limits every peer enforces (`ChangeSetLimits.default`), or says why it
    /// cannot be: too many replicas, authors, characters or field names, or too large. A payload that compresses
    /// beyond the expansion ratio a reader accepts is compressed less.
    static func encode(_ cs: ChangeSet, level: Int32, signer: DeviceKey?,
                       limits: ChangeSetLimits = .default) -> (bytes: [UInt8], violation: SyncError?) {
        var level = level
        while true {
            let (bytes, stats) = ChangeSetEncoder(level: level).encodeWithStats(cs, signer: signer)
            let what = "\(cs.rows.count) rows from \(cs.rows.first.map { "\($0.table) \($0.key)" } ?? "")"
            if stats.replicas > limits.maxReplicas {
                return (bytes, SyncError(.tooManyItems, "\(what) name \(stats.replicas) replicas; a bundle holds \(limits.maxReplicas)"))
            }
            if stats.authors > limits.maxNames || stats.fieldNames > limits.maxNames {
                return (bytes, SyncError(.tooManyItems, "\(what) name too many authors or fields for one bundle"))
            }
            if stats.characters > limits.maxCharacters {
                return (bytes, SyncError(.tooManyItems, "\(what) use \(stats.characters) distinct characters; a bundle holds \(limits.maxCharacters)"))
            }
            if stats.payloadBytes > limits.maxDecompressedBytes || bytes.count > limits.maxCompressedBytes {
                return (bytes, SyncError(.decompressedTooLarge, "\(what) are larger than one bundle may be"))
            }
            // The compressed payload alone (header bytes 28–31, big-endian), as a reader measures the ratio: the
            // signature trailer does not count.
            let compressed = bytes[28..<32].reduce(0) { $0 << 8 | Int($1) }
            if stats.payloadBytes > max(compressed, 1) * limits.maxExpansionRatio && level > 0 {
                level = level > 1 ? 1 : 0
                continue
            }
            return (bytes, nil)
        }
    }
}

extension ReplicaDatabase {
    /// Reads the changes in `(since, end]` where `end` is the stamp of the `limit`-th field state kept by `filter`
    /// after `since` (or `meta.seq`). States the filter drops do not count, so a device pulling after its own big
    /// push skips them in a few requests instead of many empty ones; at most `64 × limit` are scanned per call.
    func collectChanges(_ db: Database, after since: UInt64, limit: Int?, filter: WriterFilter,
                        rows rowFilter: RowFilter? = nil, acksFor: ReplicaID? = nil,
                        splitRows: Bool = false) throws -> (changeSet: ChangeSet, more: Bool)
    {
        var allowed: [Int64: Bool] = [:]
        let judge = try rowFilter?(db)
        func admits(_ rowID: Int64, _ table: String, _ key: String) throws -> Bool {
            guard let judge else { return true }
            if let a = allowed[rowID] { return a }
            let a = try judge(table, key)
            allowed[rowID] = a
            return a
        }
        let interner = try interner(db)
        let upTo = UInt64(try Int64.fetchOne(db, sql: "SELECT seq FROM meta")!)
        let acks = try Row.fetchAll(db, sql: """
            SELECT r.id, p.received FROM peer p JOIN replica r ON r.ordinal = p.replica
            WHERE p.received > 0 AND (? IS NULL OR r.id = ?)
            """, arguments: [acksFor.map { Data($0.bytes) }, acksFor.map { Data($0.bytes) }])
            .map { ChangeSet.Ack(replica: ReplicaID(bytes: [UInt8]($0[0] as Data)), seq: UInt64($0[1] as Int64)) }
        var rows: [Int64: RowChange] = [:]
        var order: [Int64] = []
        var end = upTo
        var scanned = 0
        var kept = 0
        var lastRow: Int64 = -1
        let scanLimit = limit.map { $0 * 64 }
        let scan = try RawStatement(db, """
            SELECT f.row, r.tbl, r.key, f.field, f.tag, f.value, f.vv, f.hlc, f.writer, f.author, f.others, f.seq
            FROM field f JOIN row r ON r.id = f.row WHERE f.seq > ? ORDER BY f.seq LIMIT ?
            """)
        scan.bind(1, Int64(since))
        scan.bind(2, scanLimit.map(Int64.init) ?? -1)
        defer { scan.done() }
        var lastScanned = since
        var lastKept = since
        var stoppedAtLimit = false
        // The row's table and key, read once per run of its fields.
        var current: (id: Int64, table: String, key: String) = (-1, "", "")
        while try scan.next() {
            scanned += 1
            let seq = UInt64(scan.int64(11))
            defer { lastScanned = max(lastScanned, seq) }
            let rowID = scan.int64(0)
            if rowID != current.id { current = (rowID, scan.text(1), scan.text(2)) }
            guard try admits(rowID, current.table, current.key) else { continue }
            var state = try interner.decodeField(scan, offset: 4)
            if filter != .all, state.versions.contains(where: { !filter.keeps($0.writer) }) {
                let versions = state.versions.filter { filter.keeps($0.writer) }
                if versions.isEmpty { continue }
                state = FieldState(normalizing: versions)
            }
            // At the limit, a row's run of fields is finished first: a row written in one transaction travels
            // whole, so a receiver never judges half of a new row (unless `splitRows`: a row too large for one
            // bundle).
            if let limit, kept >= limit, rowID != lastRow || splitRows {
                stoppedAtLimit = true
                break
            }
            kept += 1
            lastRow = rowID
            lastKept = seq
            if rows[rowID] == nil {
                rows[rowID] = RowChange(table: current.table, key: current.key, fields: [])
                order.append(rowID)
            }
            rows[rowID]!.fields.append(FieldChange(name: try interner.fieldName(scan.int64(3)), state: state))
        }
        if stoppedAtLimit {
            end = lastKept
        } else if let scanLimit, scanned >= scanLimit {
            end = lastScanned
        }
        let covered = try Row.fetchCursor(db, sql: """
            SELECT id, tbl, key, covered FROM row WHERE covered_seq > ? AND covered_seq <= ?
            """, arguments: [Int64(since), Int64(end)])
        while let r = try covered.next() {
            var reader = BlobReader([UInt8](r[3] as Data))
            var list: [CoveredChange] = []
            for _ in 0..<(try reader.varint()) {
                let name = try interner.fieldName(Int64(try reader.varint()))
                list.append(CoveredChange(field: name, vv: try interner.decodeVV(&reader)))
            }
            let rowID: Int64 = r[0]
            guard try admits(rowID, r[1], r[2]) else { continue }
            if rows[rowID] == nil {
                rows[rowID] = RowChange(table: r[1], key: r[2], fields: [])
                order.append(rowID)
            }
            rows[rowID]!.covered = list
        }
        let changes = order.map { id in
            let c = rows[id]!
            return RowChange(table: c.table, key: c.key, fields: c.fields, covered: c.covered)
        }
        return (ChangeSet(sender: self.id, fromSeq: since, toSeq: end, acks: acks, rows: changes), end < upTo)
    }
}
