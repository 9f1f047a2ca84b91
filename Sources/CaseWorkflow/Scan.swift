import Foundation
import GRDB
import GRDBSQLite
import SyncCore

/// The current row of a statement being stepped, read straight through SQLite's C API: no `Row` copies, no
/// column-name lookups, and dates parsed from the bytes. The centre's reports step through hundreds of
/// thousands of rows; this is what keeps them within seconds.
///
/// Valid only inside the `scan` body that received it.
struct ScanRow {
    fileprivate let statement: OpaquePointer

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(statement, column) else { return nil }
        let n = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func int(_ column: Int32) -> Int? { isNull(column) ? nil : Int(sqlite3_column_int64(statement, column)) }

    func real(_ column: Int32) -> Double? { isNull(column) ? nil : sqlite3_column_double(statement, column) }

    /// A 0/1 column as a Bool, NULL as false (one call instead of two).
    func flag(_ column: Int32) -> Bool { sqlite3_column_int64(statement, column) != 0 }

    /// Days since the epoch of a `YYYY-MM-DD` (or `YYYY-MM-DDTHH:MM…`) value; nil when NULL or not a date.
    func days(_ column: Int32) -> Int32? {
        guard let p = sqlite3_column_text(statement, column), sqlite3_column_bytes(statement, column) >= 10 else { return nil }
        return isoDays(UnsafeBufferPointer(start: p, count: 10))
    }
}

extension Reader {
    /// Steps through the rows of `sql`, handing each to `body` (columns by position).
    func scan(_ sql: String, _ arguments: [DatabaseValue] = [], _ body: (ScanRow) throws -> Void) throws {
        let statement = try db().cachedStatement(sql: sql)
        let cursor = try Row.fetchCursor(statement, arguments: StatementArguments(arguments))
        let row = ScanRow(statement: statement.sqliteStatement)
        while try cursor.next() != nil { try body(row) }
    }
}

/// Days since the epoch of `YYYY-MM-DD` in the first ten bytes; nil when they are not such a date.
func isoDays(_ b: UnsafeBufferPointer<UInt8>) -> Int32? {
    guard b.count >= 10, b[4] == 45, b[7] == 45 else { return nil }
    func number(_ range: Range<Int>) -> Int? {
        var n = 0
        for i in range {
            let c = b[i]
            guard c >= 48 && c <= 57 else { return nil }
            n = n * 10 + Int(c - 48)
        }
        return n
    }
    guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
    return CivilDate(year: y, month: m, day: d)?.daysSinceEpoch
}

/// A statement stepped alongside another scan: its rows, ordered by the key in column 0, are handed out key by key
/// as the main scan reaches each key (a merge join of two ordered scans: no lookups, no sort).
final class SideScan {
    private let cursor: RowCursor
    private let row: ScanRow
    private var done = false

    init(_ r: Reader, _ sql: String, _ arguments: [DatabaseValue] = []) throws {
        let statement = try r.db().cachedStatement(sql: sql)
        cursor = try Row.fetchCursor(statement, arguments: StatementArguments(arguments))
        row = ScanRow(statement: statement.sqliteStatement)
        done = try cursor.next() == nil
    }

    /// Calls `body` with each row whose key equals column `column` of `main`, after passing over smaller keys.
    func rows(matching main: ScanRow, _ column: Int32 = 0, _ body: (ScanRow) -> Void) throws {
        guard let key = sqlite3_column_text(main.statement, column) else { return }
        let n = Int(sqlite3_column_bytes(main.statement, column))
        while !done {
            // The side row's key against the main one, by bytes (SQLite's BINARY order).
            guard let k = sqlite3_column_text(row.statement, 0) else {
                done = try cursor.next() == nil  // a NULL key sorts first and matches nothing
                continue
            }
            let m = Int(sqlite3_column_bytes(row.statement, 0))
            let c = memcmp(k, key, min(n, m))
            let order = c != 0 ? Int(c) : m - n
            if order > 0 { return }
            if order == 0 { body(row) }
            done = try cursor.next() == nil
        }
    }
}
