import GRDB
import GRDBSQLite

/// `SQLITE_TRANSIENT`: SQLite copies bound text and blobs before `bind` returns (the C macro is not importable).
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A statement of the hot paths (merge, local write, audit) driven through the SQLite C API: arguments are bound
/// and columns read without boxing them as `DatabaseValue`s. GRDB prepares and caches the statement and owns its
/// lifetime; only the transaction that obtained it uses it, inside GRDB's serialized access.
struct RawStatement {
    /// Held so that the handle stays valid even if GRDB drops its cache meanwhile (a schema change does).
    private let statement: Statement
    private let handle: OpaquePointer
    private let db: Database

    init(_ db: Database, _ sql: String) throws {
        self.db = db
        statement = try db.cachedStatement(sql: sql)
        handle = statement.sqliteStatement
        sqlite3_reset(handle)
    }

    func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }
    func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(handle, i, Int64(v)) }
    func bindNull(_ i: Int32) { sqlite3_bind_null(handle, i) }

    func bind(_ i: Int32, _ v: String) {
        var s = v
        s.withUTF8 { p in
            p.withMemoryRebound(to: CChar.self) { c in
                if let base = c.baseAddress {
                    _ = sqlite3_bind_text(handle, i, base, Int32(c.count), transient)
                } else {
                    _ = sqlite3_bind_text(handle, i, "", 0, transient)  // a null pointer would bind NULL
                }
            }
        }
    }

    func bind(_ i: Int32, _ v: [UInt8]?) {
        guard let v else { bindNull(i); return }
        v.withUnsafeBytes { p in _ = sqlite3_bind_blob(handle, i, p.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(p.count), transient) }
    }

    /// A stored value in the `StoredValue` shape: nil, an integer or a text.
    func bind(_ i: Int32, stored v: StoredValue.Column) {
        switch v {
        case .none: bindNull(i)
        case .integer(let n): bind(i, n)
        case .text(let s): bind(i, s)
        }
    }

    /// Runs the statement to its end (an insert, update or delete).
    func run() throws {
        let rc = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw failure(rc) }
    }

    /// Steps to the next result row; false at the end (the statement is then reset).
    func next() throws -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        sqlite3_reset(handle)
        guard rc == SQLITE_DONE else { throw failure(rc) }
        return false
    }

    /// Resets the statement (a query stopped before its end, or one handed out again).
    func done() { sqlite3_reset(handle) }

    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }
    func int64(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }
    func int(_ i: Int32) -> Int { Int(sqlite3_column_int64(handle, i)) }

    func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(handle, i) else { return "" }
        let n = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func blob(_ i: Int32) -> [UInt8]? {
        guard sqlite3_column_type(handle, i) != SQLITE_NULL else { return nil }
        let n = Int(sqlite3_column_bytes(handle, i))
        guard n > 0, let p = sqlite3_column_blob(handle, i) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: p, count: n))
    }

    /// A value column as the `StoredValue` shape.
    func stored(_ i: Int32) -> StoredValue.Column {
        switch sqlite3_column_type(handle, i) {
        case SQLITE_INTEGER: .integer(int64(i))
        case SQLITE_TEXT: .text(text(i))
        default: .none
        }
    }

    private func failure(_ rc: Int32) -> DatabaseError {
        let message = db.sqliteConnection.map { String(cString: sqlite3_errmsg($0)) }
        return DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: String(cString: sqlite3_sql(handle)))
    }
}
