import Foundation
import GRDB
import SyncCore
import SyncProtocol

/// Ordinals for replica ids, field names and authors.
///
/// The three tables only grow, and a row of them never changes once committed, so what a committed transaction
/// knew stays true: a writer starts from the tables the last committed write left (`InternerTables`), and a miss
/// asks SQLite (another process, or another connection, may have added a name since). Entries added by a
/// transaction that rolls back are never kept: they are handed on only after the commit.
final class Interner {
    private let db: Database
    private(set) var tables: InternerTables
    /// Whether these tables know entries the ones it started from lacked (loaded whole, added, or looked up).
    private(set) var grew = false

    init(_ db: Database) throws {
        self.db = db
        tables = try InternerTables.load(db)
        grew = true
    }

    init(_ db: Database, tables: InternerTables) {
        self.db = db
        self.tables = tables
    }

    func ordinal(_ id: ReplicaID) throws -> Int64 {
        if let o = tables.ordinalByReplica[id] { return o }
        let bytes = Data(id.bytes)
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO replica (id) VALUES (?)").execute(arguments: [bytes])
        let o = try Int64.fetchOne(db.cachedStatement(sql: "SELECT ordinal FROM replica WHERE id = ?"), arguments: [bytes])!
        tables.add(replica: id, o)
        grew = true
        return o
    }

    func replica(_ ordinal: Int64) throws -> ReplicaID {
        if let id = tables.replicaByOrdinal[ordinal] { return id }
        guard let bytes = try Data.fetchOne(db.cachedStatement(sql: "SELECT id FROM replica WHERE ordinal = ?"),
                                            arguments: [ordinal])
        else { throw StoreCorruption("unknown replica ordinal \(ordinal)") }
        let id = ReplicaID(bytes: [UInt8](bytes))
        tables.add(replica: id, ordinal)
        grew = true
        return id
    }

    func fieldID(table: String, name: String) throws -> Int64 {
        if let id = tables.fieldIDs[table]?[name] { return id }
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO field_name (tbl, name) VALUES (?, ?)").execute(arguments: [table, name])
        let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM field_name WHERE tbl = ? AND name = ?"),
                                    arguments: [table, name])!
        tables.add(field: id, table: table, name: name)
        grew = true
        return id
    }

    func fieldName(_ id: Int64) throws -> String {
        if let f = tables.fieldByID[id] { return f.name }
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT tbl, name FROM field_name WHERE id = ?"),
                                         arguments: [id])
        else { throw StoreCorruption("unknown field id \(id)") }
        tables.add(field: id, table: row[0], name: row[1])
        grew = true
        return row[1]
    }

    func authorID(_ name: String) throws -> Int64 {
        if name.isEmpty { return 0 }
        if let id = tables.authorIDs[ExactText(name)] { return id }
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO author (name) VALUES (?)").execute(arguments: [name])
        // `name` is compared by bytes in SQLite too (BINARY collation), as `ExactText` does here.
        let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM author WHERE name = ?"), arguments: [name])!
        tables.add(author: name, id)
        grew = true
        return id
    }

    func author(_ id: Int64) throws -> String {
        if let a = tables.authorByID[id] { return a }
        guard let name = try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM author WHERE id = ?"), arguments: [id])
        else { throw StoreCorruption("unknown author id \(id)") }
        tables.add(author: name, id)
        grew = true
        return name
    }

    /// A stored field from a raw statement's columns `tag, value, vv, hlc, writer, author, others` starting at `o`.
    func decodeField(_ r: RawStatement, offset o: Int32) throws -> FieldState {
        let winner = FieldVersion(
            value: try StoredValue.value(tag: r.int(o), r.stored(o + 1)),
            vv: try decodeVV(r.blob(o + 2) ?? []),
            hlc: HLCTimestamp(rawValue: UInt64(bitPattern: r.int64(o + 3))),
            writer: try replica(r.int64(o + 4)),
            author: try author(r.int64(o + 5)))
        guard let others = r.blob(o + 6) else { return FieldState(winner) }
        return FieldState(normalizing: [winner] + (try decodeOthers(others)))
    }

    /// A stored version vector as its blob.
    func encodeBytes(_ vv: VersionVector) throws -> [UInt8] {
        var w = ByteWriter(capacity: 2 + 4 * vv.entries.count)
        try encode(vv, into: &w)
        return w.bytes
    }

    // MARK: Version vectors and versions as blobs (ordinals, not ids).

    func encode(_ vv: VersionVector, into w: inout ByteWriter) throws {
        w.varint(UInt64(vv.entries.count))
        for e in vv.entries {
            w.varint(UInt64(try ordinal(e.replica)))
            w.varint(e.counter)
        }
    }

    func encode(_ vv: VersionVector) throws -> Data { Data(try encodeBytes(vv)) }

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

    func decodeVV(_ bytes: [UInt8]) throws -> VersionVector {
        var r = BlobReader(bytes)
        return try decodeVV(&r)
    }

    /// The non-winning versions of a field, or nil when there are none.
    func encodeOthers(_ versions: [FieldVersion]) throws -> Data? {
        try encodeOtherBytes(versions).map { Data($0) }
    }

    func encodeOtherBytes(_ versions: [FieldVersion]) throws -> [UInt8]? {
        if versions.isEmpty { return nil }
        var w = ByteWriter()
        w.varint(UInt64(versions.count))
        for v in versions {
            try encode(v.vv, into: &w)
            w.varint(v.hlc.rawValue)
            w.varint(UInt64(try ordinal(v.writer)))
            w.varint(UInt64(try authorID(v.author)))
            let (tag, value) = StoredValue.column(v.value)
            w.byte(UInt8(tag))
            switch value {
            case .integer(let i): w.zigzag(i)
            case .text(let s): w.varint(UInt64(s.utf8.count)); w.raw(s.utf8)
            case .none: break
            }
        }
        return w.bytes
    }

    func decodeOthers(_ data: Data) throws -> [FieldVersion] {
        try decodeOthers([UInt8](data))
    }

    func decodeOthers(_ bytes: [UInt8]) throws -> [FieldVersion] {
        var r = BlobReader(bytes)
        var out: [FieldVersion] = []
        for _ in 0..<(try r.varint()) {
            let vv = try decodeVV(&r)
            let hlc = HLCTimestamp(rawValue: try r.varint())
            let writer = try replica(Int64(try r.varint()))
            let author = try self.author(Int64(try r.varint()))
            let tag = Int(try r.byte())
            let value: StoredValue.Column
            switch StoredValue.storageKind(tag) {
            case .integer: value = .integer(unzigzagged(try r.varint()))
            case .text: value = .text(try r.string())
            case .none: value = .none
            }
            out.append(FieldVersion(value: try StoredValue.value(tag: tag, value), vv: vv, hlc: hlc, writer: writer,
                                    author: author))
        }
        return out
    }
}

/// What an `Interner` knows: immutable entries of the `replica`, `field_name` and `author` tables.
struct InternerTables: Sendable {
    fileprivate(set) var replicaByOrdinal: [Int64: ReplicaID] = [:]
    fileprivate(set) var ordinalByReplica: [ReplicaID: Int64] = [:]
    fileprivate(set) var fieldByID: [Int64: FieldName] = [:]
    fileprivate(set) var fieldIDs: [String: [String: Int64]] = [:]
    fileprivate(set) var authorByID: [Int64: String] = [0: ""]
    /// By bytes: two authors that differ only in Unicode normalization are two authors.
    fileprivate(set) var authorIDs: [ExactText: Int64] = [ExactText(""): 0]

    struct FieldName: Sendable { var table: String; var name: String }

    static func load(_ db: Database) throws -> InternerTables {
        var t = InternerTables()
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT ordinal, id FROM replica")) {
            t.add(replica: ReplicaID(bytes: [UInt8](row[1] as Data)), row[0])
        }
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, tbl, name FROM field_name")) {
            t.add(field: row[0], table: row[1], name: row[2])
        }
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT id, name FROM author")) { t.add(author: row[1], row[0]) }
        return t
    }

    fileprivate mutating func add(replica id: ReplicaID, _ ordinal: Int64) {
        replicaByOrdinal[ordinal] = id
        ordinalByReplica[id] = ordinal
    }

    fileprivate mutating func add(field id: Int64, table: String, name: String) {
        fieldByID[id] = FieldName(table: table, name: name)
        fieldIDs[table, default: [:]][name] = id
    }

    fileprivate mutating func add(author name: String, _ id: Int64) {
        authorByID[id] = name
        authorIDs[ExactText(name)] = id
    }
}

private func unzigzagged(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

/// How typed values map to SQLite columns: a tag plus a readable value (dates as `YYYY-MM-DD` text,
/// decimals as text, bools as 0/1), so the replica stays queryable with plain SQL.
enum StoredValue {
    enum Kind { case integer, text }

    static func columns(_ v: FieldValue) -> (Int, (any DatabaseValueConvertible)?) {
        let (tag, c) = column(v)
        switch c {
        case .none: return (tag, nil)
        case .integer(let i): return (tag, i)
        case .text(let s): return (tag, s)
        }
    }

    /// A value column as the C API binds and reads it.
    enum Column { case none, integer(Int64), text(String) }

    static func column(_ v: FieldValue) -> (tag: Int, value: Column) {
        switch v {
        case .null: (0, .none)
        case .bool(let b): (b ? 2 : 1, .integer(b ? 1 : 0))
        case .int(let i): (3, .integer(i))
        case .text(let s): (4, .text(s))
        case .decimal(let s): (5, .text(s))
        case .date(let d): (6, .text(CivilDate(daysSinceEpoch: d).description))
        }
    }

    static func value(tag: Int, _ c: Column) throws -> FieldValue {
        switch (tag, c) {
        case (0, _): return .null
        case (1, _): return .bool(false)
        case (2, _): return .bool(true)
        case (3, .integer(let i)): return .int(i)
        case (4, .text(let s)): return .text(s)
        case (5, .text(let s)): return .decimal(s)
        case (6, .text(let s)):
            guard let d = CivilDate(iso: s) else { throw StoreCorruption("bad stored date") }
            return .date(d.daysSinceEpoch)
        default: throw StoreCorruption("stored value tag \(tag) does not match its column")
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
        switch db.storage {
        case .int64(let i): try value(tag: tag, Column.integer(i))
        case .string(let s): try value(tag: tag, Column.text(s))
        default: try value(tag: tag, Column.none)
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
