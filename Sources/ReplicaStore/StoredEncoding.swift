import Foundation
import GRDB
import SyncCore
import SyncProtocol

/// Ordinals for replica ids, field names and authors inside one write transaction.
///
/// The tables are small (dozens of rows), so each transaction loads them on first use; nothing stale can
/// survive a rollback.
final class Interner {
    private let db: Database
    private var replicaByOrdinal: [Int64: ReplicaID] = [:]
    private var ordinalByReplica: [ReplicaID: Int64] = [:]
    private var fieldByID: [Int64: (table: String, name: String)] = [:]
    private var fieldIDs: [String: [String: Int64]] = [:]
    private var authorByID: [Int64: String] = [0: ""]
    /// By bytes: two authors that differ only in Unicode normalization are two authors.
    private var authorIDs: [ExactText: Int64] = ["": 0]

    init(_ db: Database) throws {
        self.db = db
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT ordinal, id FROM replica")) {
            let id = ReplicaID(bytes: [UInt8](row[1] as Data))
            replicaByOrdinal[row[0]] = id
            ordinalByReplica[id] = row[0]
        }
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, tbl, name FROM field_name")) {
            let (id, table, name): (Int64, String, String) = (row[0], row[1], row[2])
            fieldByID[id] = (table, name)
            fieldIDs[table, default: [:]][name] = id
        }
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, name FROM author")) {
            authorByID[row[0]] = row[1]
            authorIDs[ExactText(row[1])] = row[0]
        }
    }

    func ordinal(_ id: ReplicaID) throws -> Int64 {
        if let o = ordinalByReplica[id] { return o }
        try db.execute(sql: "INSERT INTO replica (id) VALUES (?)", arguments: [Data(id.bytes)])
        let o = db.lastInsertedRowID
        ordinalByReplica[id] = o
        replicaByOrdinal[o] = id
        return o
    }

    func replica(_ ordinal: Int64) throws -> ReplicaID {
        guard let id = replicaByOrdinal[ordinal] else { throw StoreCorruption("unknown replica ordinal \(ordinal)") }
        return id
    }

    func fieldID(table: String, name: String) throws -> Int64 {
        if let id = fieldIDs[table]?[name] { return id }
        try db.execute(sql: "INSERT INTO field_name (tbl, name) VALUES (?, ?)", arguments: [table, name])
        let id = db.lastInsertedRowID
        fieldIDs[table, default: [:]][name] = id
        fieldByID[id] = (table, name)
        return id
    }

    func fieldName(_ id: Int64) throws -> String {
        guard let f = fieldByID[id] else { throw StoreCorruption("unknown field id \(id)") }
        return f.name
    }

    func authorID(_ name: String) throws -> Int64 {
        if let id = authorIDs[ExactText(name)] { return id }
        try db.execute(sql: "INSERT INTO author (name) VALUES (?)", arguments: [name])
        let id = db.lastInsertedRowID
        authorIDs[ExactText(name)] = id
        authorByID[id] = name
        return id
    }

    func author(_ id: Int64) throws -> String {
        guard let a = authorByID[id] else { throw StoreCorruption("unknown author id \(id)") }
        return a
    }

    /// A stored field from the columns `tag, value, vv, hlc, writer, author, others` starting at `o`.
    func decodeField(_ r: Row, offset o: Int) throws -> FieldState {
        let winner = FieldVersion(
            value: try StoredValue.value(tag: r[o], r[o + 1]),
            vv: try decodeVV(r[o + 2] as Data),
            hlc: HLCTimestamp(rawValue: UInt64(bitPattern: r[o + 3] as Int64)),
            writer: try replica(r[o + 4]),
            author: try author(r[o + 5]))
        guard let others = r[o + 6] as Data? else { return FieldState(winner) }
        return FieldState(normalizing: [winner] + (try decodeOthers(others)))
    }

    // MARK: Version vectors and versions as blobs (ordinals, not ids).

    func encode(_ vv: VersionVector, into w: inout ByteWriter) throws {
        w.varint(UInt64(vv.entries.count))
        for e in vv.entries {
            w.varint(UInt64(try ordinal(e.replica)))
            w.varint(e.counter)
        }
    }

    func encode(_ vv: VersionVector) throws -> Data {
        var w = ByteWriter()
        try encode(vv, into: &w)
        return Data(w.bytes)
    }

    func decodeVV(_ r: inout BlobReader) throws -> VersionVector {
        let n = try r.varint()
        var entries: [VersionVector.Entry] = []
        entries.reserveCapacity(Int(min(n, 64)))
        for _ in 0..<n {
            entries.append(VersionVector.Entry(replica: try replica(Int64(try r.varint())), counter: try r.varint()))
        }
        // Stored ordinals are not in replica-id order; sort (n is tiny) and let the vector check the rest.
        entries.sort { $0.replica < $1.replica }
        guard let vv = VersionVector(sortedEntries: entries) else { throw StoreCorruption("a stored version vector is invalid") }
        return vv
    }

    func decodeVV(_ data: Data) throws -> VersionVector {
        var r = BlobReader(data)
        return try decodeVV(&r)
    }

    /// The non-winning versions of a field, or nil when there are none.
    func encodeOthers(_ versions: [FieldVersion]) throws -> Data? {
        if versions.isEmpty { return nil }
        var w = ByteWriter()
        w.varint(UInt64(versions.count))
        for v in versions {
            try encode(v.vv, into: &w)
            w.varint(v.hlc.rawValue)
            w.varint(UInt64(try ordinal(v.writer)))
            w.varint(UInt64(try authorID(v.author)))
            let (tag, value) = StoredValue.columns(v.value)
            w.byte(UInt8(tag))
            switch value?.databaseValue.storage {
            case .int64(let i): w.zigzag(i)
            case .string(let s): w.varint(UInt64(s.utf8.count)); w.raw(s.utf8)
            default: break
            }
        }
        return Data(w.bytes)
    }

    func decodeOthers(_ data: Data) throws -> [FieldVersion] {
        var r = BlobReader([UInt8](data))
        var out: [FieldVersion] = []
        for _ in 0..<(try r.varint()) {
            let vv = try decodeVV(&r)
            let hlc = HLCTimestamp(rawValue: try r.varint())
            let writer = try replica(Int64(try r.varint()))
            let author = try self.author(Int64(try r.varint()))
            let tag = Int(try r.byte())
            let dbValue: DatabaseValue
            switch StoredValue.storageKind(tag) {
            case .integer: dbValue = unzigzagged(try r.varint()).databaseValue
            case .text: dbValue = try r.string().databaseValue
            case .none: dbValue = .null
            }
            out.append(FieldVersion(value: try StoredValue.value(tag: tag, dbValue), vv: vv, hlc: hlc, writer: writer,
                                    author: author))
        }
        return out
    }
}

private func unzigzagged(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

/// How typed values map to SQLite columns: a tag plus a readable value (dates as `YYYY-MM-DD` text,
/// decimals as text, bools as 0/1), so the replica stays queryable with plain SQL.
enum StoredValue {
    enum Kind { case integer, text }

    static func columns(_ v: FieldValue) -> (Int, (any DatabaseValueConvertible)?) {
        switch v {
        case .null: (0, nil)
        case .bool(let b): (b ? 2 : 1, b ? 1 : 0)
        case .int(let i): (3, i)
        case .text(let s): (4, s)
        case .decimal(let s): (5, s)
        case .date(let d): (6, CivilDate(daysSinceEpoch: d).description)
        }
    }

    static func storageKind(_ tag: Int) -> Kind? {
        switch tag {
        case 1, 2, 3: .integer
        case 4, 5, 6: .text
        default: nil
        }
    }

    static func value(tag: Int, _ db: DatabaseValue) throws -> FieldValue {
        switch (tag, db.storage) {
        case (0, _): return .null
        case (1, _): return .bool(false)
        case (2, _): return .bool(true)
        case (3, .int64(let i)): return .int(i)
        case (4, .string(let s)): return .text(s)
        case (5, .string(let s)): return .decimal(s)
        case (6, .string(let s)):
            guard let d = CivilDate(iso: s) else { throw StoreCorruption("bad stored date") }
            return .date(d.daysSinceEpoch)
        default: throw StoreCorruption("stored value tag \(tag) does not match its column")
        }
    }
}

/// Reads the store's own blobs.
struct BlobReader {
    private let bytes: [UInt8]
    private var pos = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(_ data: Data) { bytes = [UInt8](data) }

    mutating func byte() throws -> UInt8 {
        guard pos < bytes.count else { throw StoreCorruption("a stored blob is truncated") }
        defer { pos += 1 }
        return bytes[pos]
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw StoreCorruption("a stored varint overflows") }
        }
    }

    mutating func string() throws -> String {
        let n = Int(try varint())
        guard pos + n <= bytes.count else { throw StoreCorruption("a stored blob is truncated") }
        defer { pos += n }
        return String(decoding: bytes[pos..<pos + n], as: UTF8.self)
    }
}

/// The replica file holds something this build did not write.
public struct StoreCorruption: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = "replica store is damaged: \(d)" }
}
