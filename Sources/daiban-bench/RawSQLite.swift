import Foundation
import GRDBSQLite
import ReplicaStore
import SyncCore

/// `SQLITE_TRANSIENT`: SQLite copies bound text before `bind` returns (the C macro is not importable).
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The raw-SQLite baseline: a plain wide table driven through the C API with prepared statements.
struct RawSQLiteResult {
    /// Inserting the 10,000 initial rows (one transaction).
    var loadSeconds: Double
    /// Upserting the Phase C ops (one transaction, commit included).
    var upsertSeconds: Double
    var upserts: Int
    var upsertsPerSecond: Double { Double(upserts) / upsertSeconds }
    var loadRowsPerSecond: Double
    /// One upsert per transaction (commit included), the local-write counterpart.
    var oneUpsertTxSeconds = 0.0
    var oneUpsertTxCount = 0
    var oneUpsertTxPerSecond: Double { Double(oneUpsertTxCount) / oneUpsertTxSeconds }
}

/// A thin wrapper over one `sqlite3*` that throws on any unexpected result code.
private final class RawDB {
    let handle: OpaquePointer

    init(path: String) throws {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard rc == SQLITE_OK, let db else {
            if let db { sqlite3_close_v2(db) }
            throw CheckFailure("sqlite3_open_v2(\(path)) failed: \(rc)")
        }
        handle = db
    }

    deinit { sqlite3_close_v2(handle) }

    func exec(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "rc \(rc)"
            sqlite3_free(err)
            throw CheckFailure("sqlite3_exec(\(sql)) failed: \(msg)")
        }
    }

    func prepare(_ sql: String) throws -> OpaquePointer {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw CheckFailure("sqlite3_prepare_v2 failed (\(rc)): \(String(cString: sqlite3_errmsg(handle)))")
        }
        return stmt
    }

    func step(_ stmt: OpaquePointer) throws {
        let rc = sqlite3_step(stmt)
        guard rc == SQLITE_DONE else {
            throw CheckFailure("sqlite3_step failed (\(rc)): \(String(cString: sqlite3_errmsg(handle)))")
        }
        sqlite3_reset(stmt)
    }
}

@inline(__always)
private func bind(_ stmt: OpaquePointer, _ index: Int32, _ value: FieldValue) {
    switch value {
    case .int(let i): sqlite3_bind_int64(stmt, index, i)
    case .text(let s): sqlite3_bind_text(stmt, index, s, -1, sqliteTransient)
    default: sqlite3_bind_null(stmt, index)
    }
}

/// The SQLite library version in use (the one GRDB links).
var sqliteVersion: String { String(cString: sqlite3_libversion()) }

/// Loads the initial rows, then upserts `ops` in one transaction, one prepared
/// `INSERT … ON CONFLICT(id) DO UPDATE SET <col> = excluded.<col>` per column.
/// Optionally checks the final table against `oracle` (the expected values, `[record][field]`).
/// The engine's own settings apply: `synchronous` from `DAIBAN_DURABILITY` and the engine's page cache, unless
/// `cacheKiB` says otherwise. `oneTxOps`, when given, are then upserted one transaction each.
func runRawSQLite(path: String, workload w: Workload, ops: [Op], oracle: [[FieldValue]]?,
                  cacheKiB: Int = ReplicaDatabase.pageCacheKiB, oneTxOps: [Op] = []) throws -> RawSQLiteResult {
    let db = try RawDB(path: path)
    try db.exec("PRAGMA journal_mode = WAL")
    try db.exec("PRAGMA synchronous = \(Durability.current.pragma)")
    try db.exec("PRAGMA cache_size = -\(cacheKiB)")
    let columns = benchFields.map { "\($0) \(integerFields.contains($0) ? "INTEGER" : "TEXT")" }
    try db.exec("CREATE TABLE bench_case (id TEXT PRIMARY KEY, \(columns.joined(separator: ", ")))")

    // Load: one INSERT statement, one transaction.
    let insert = try db.prepare("INSERT INTO bench_case (id, \(benchFields.joined(separator: ", "))) VALUES (?\(String(repeating: ", ?", count: benchFields.count)))")
    let t0 = now()
    try db.exec("BEGIN")
    for (r, key) in w.keys.enumerated() {
        sqlite3_bind_text(insert, 1, key, -1, sqliteTransient)
        for (f, v) in w.initial[r].enumerated() { bind(insert, Int32(f + 2), v) }
        try db.step(insert)
    }
    try db.exec("COMMIT")
    let loadSeconds = now() - t0
    sqlite3_finalize(insert)

    // Upsert: one prepared statement per column, bound and stepped per op, one transaction.
    let upserts = try benchFields.map { f in
        try db.prepare("INSERT INTO bench_case (id, \(f)) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET \(f) = excluded.\(f)")
    }
    defer { for s in upserts { sqlite3_finalize(s) } }
    let t1 = now()
    try db.exec("BEGIN")
    for op in ops {
        let stmt = upserts[Int(op.field)]
        sqlite3_bind_text(stmt, 1, w.keys[Int(op.record)], -1, sqliteTransient)
        bind(stmt, 2, op.value)
        try db.step(stmt)
    }
    try db.exec("COMMIT")
    let upsertSeconds = now() - t1

    if let oracle {
        let select = try db.prepare("SELECT id, \(benchFields.joined(separator: ", ")) FROM bench_case ORDER BY id")
        defer { sqlite3_finalize(select) }
        let index = Dictionary(uniqueKeysWithValues: w.keys.enumerated().map { ($1, $0) })
        var seen = 0
        while sqlite3_step(select) == SQLITE_ROW {
            let key = String(cString: sqlite3_column_text(select, 0))
            guard let r = index[key] else { throw CheckFailure("raw SQLite holds unknown row \(key)") }
            for f in benchFields.indices {
                let c = Int32(f + 1)
                let got: FieldValue = sqlite3_column_type(select, c) == SQLITE_INTEGER
                    ? .int(sqlite3_column_int64(select, c)) : .text(String(cString: sqlite3_column_text(select, c)))
                try check(got == oracle[r][f], "raw SQLite \(key).\(benchFields[f]) differs from the oracle")
            }
            seen += 1
        }
        try check(seen == w.keys.count, "raw SQLite holds \(seen) rows, expected \(w.keys.count)")
    }
    var result = RawSQLiteResult(loadSeconds: loadSeconds, upsertSeconds: upsertSeconds, upserts: ops.count,
                                 loadRowsPerSecond: Double(w.keys.count) / loadSeconds)
    if !oneTxOps.isEmpty {
        let t2 = now()
        for op in oneTxOps {
            try db.exec("BEGIN")
            let stmt = upserts[Int(op.field)]
            sqlite3_bind_text(stmt, 1, w.keys[Int(op.record)], -1, sqliteTransient)
            bind(stmt, 2, op.value)
            try db.step(stmt)
            try db.exec("COMMIT")
        }
        result.oneUpsertTxSeconds = now() - t2
        result.oneUpsertTxCount = oneTxOps.count
    }
    return result
}
