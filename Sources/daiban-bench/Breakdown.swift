import Foundation
import GRDB
import GRDBSQLite
import ReplicaStore
import SyncCore
import SyncProtocol

/// `--breakdown`: sub-step timings that explain the headline figures (no profiler needed). Printed on stderr
/// as `breakdown:` lines and returned as extra metrics.
extension EngineRun {
    mutating func breakdown(initialBundle: [UInt8]) throws {
        let n = 2_000
        let r = try makeReplica("breakdown_31", 31)
        _ = try r.importBundle(initialBundle)
        _ = try r.list(table: benchTable)
        let ops = Array(w.phaseB[0].prefix(n))

        // 1. The transaction machinery alone: write { } with nothing in it.
        let (_, emptyS) = try timed { for _ in 0..<n { try r.write { _ in } } }
        // 2. One put per transaction (the Phase B local write).
        let (_, putS) = try timed { for op in ops { try r.write { tx in try put(tx, op) } } }
        // 3. The same puts, all in one transaction: the per-put cost without commit.
        let (_, batchS) = try timed { try r.write { tx in for op in ops { try put(tx, op) } } }
        m.set("breakdown_empty_write_tx_us", emptyS / Double(n) * 1e6)
        m.set("breakdown_put_per_tx_us", putS / Double(n) * 1e6)
        m.set("breakdown_put_in_batch_us", batchS / Double(n) * 1e6)

        // 4. Raw SQLite with the same durability, one upsert per transaction.
        let raw = try rawCommitCost(path: dir.appendingPathComponent("breakdown_raw.sqlite").path, ops: ops)
        m.set("breakdown_raw_upsert_per_tx_us", raw.perTx * 1e6)
        m.set("breakdown_raw_empty_tx_us", raw.empty * 1e6)
        // 5. The SQL the engine issues for those puts, replayed through the raw C API on the same file.
        let path = dir.appendingPathComponent("breakdown_31.sqlite").path
        let replay = try EngineSQLReplay(path: path, keys: w.keys)
        m.set("breakdown_replay_put_per_tx_us", try replay.run(ops, perTransaction: true, reprepare: false) * 1e6)
        m.set("breakdown_replay_put_per_tx_reprepare_us", try replay.run(ops, perTransaction: true, reprepare: true) * 1e6)
        m.set("breakdown_replay_put_in_batch_us", try replay.run(ops, perTransaction: false, reprepare: false) * 1e6)
        // 5b. The SQL `importBundle` issues for the Phase C delta, replayed raw on a replica in the Phase A
        //     state (decoding is done beforehand and not timed): the SQLite floor of the Phase C apply.
        if !phaseCBundle.isEmpty {
            let target = try makeReplica("breakdown_32", 32)
            _ = try target.importBundle(initialBundle)
            let cs = try ChangeSetReader.decode(phaseCBundle)
            let replayImport = try EngineSQLReplay(path: dir.appendingPathComponent("breakdown_32.sqlite").path,
                                                   keys: w.keys)
            let s = try replayImport.runImport(cs)
            m.set("breakdown_replay_phase_c_import_s", s)
            m.set("breakdown_replay_phase_c_import_updates_per_s", Double(w.phaseC.count) / s)
            m.set("breakdown_phase_c_apply_s_same_run", m["phase_c_apply_s"] ?? .nan)
        }

        // 5c. What the Phase B bytes pay for: re-encode the six deltas with parts of the metadata blanked.
        if !phaseBBundles.isEmpty { wireBreakdown(try phaseBBundles.map { try ChangeSetReader.decode($0) }) }

        // 6. GRDB alone on the same file: an empty write, and the engine's per-transaction statements
        //    (interner loads, meta read and update) prepared per call (`execute(sql:)`) or cached.
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = \(Durability.current.pragma)")
        }
        let queue = try DatabaseQueue(path: path, configuration: config)
        let (_, grdbEmpty) = try timed { for _ in 0..<n { try queue.write { _ in } } }
        let (_, grdbUncached) = try timed {
            for _ in 0..<n {
                try queue.write { db in
                    for sql in EngineSQLReplay.perTxSQL { _ = try Row.fetchAll(db, sql: sql) }
                    try db.execute(sql: "UPDATE meta SET seq = seq, hlc = hlc")
                }
            }
        }
        let (_, grdbCached) = try timed {
            for _ in 0..<n {
                try queue.write { db in
                    for sql in EngineSQLReplay.perTxSQL { _ = try Row.fetchAll(try db.cachedStatement(sql: sql)) }
                    try db.cachedStatement(sql: "UPDATE meta SET seq = seq, hlc = hlc").execute()
                }
            }
        }
        m.set("breakdown_grdb_empty_write_tx_us", grdbEmpty / Double(n) * 1e6)
        m.set("breakdown_grdb_tx_statements_uncached_us", grdbUncached / Double(n) * 1e6)
        m.set("breakdown_grdb_tx_statements_cached_us", grdbCached / Double(n) * 1e6)

        // 7. The raw baseline again with a 64 MiB page cache instead of SQLite's default 2 MiB.
        let big = try runRawSQLite(path: dir.appendingPathComponent("breakdown_raw_cache.sqlite").path, workload: w,
                                   ops: w.phaseC, oracle: nil, cacheKiB: 65_536)
        let small = try runRawSQLite(path: dir.appendingPathComponent("breakdown_raw_cache_2mib.sqlite").path, workload: w,
                                     ops: w.phaseC, oracle: nil, cacheKiB: 2_048)
        m.set("breakdown_raw_upserts_per_s_cache_2mib", small.upsertsPerSecond)
        m.set("breakdown_raw_upserts_per_s_cache_64mib", big.upsertsPerSecond)

        for (k, v) in m.items where k.hasPrefix("breakdown_") {
            progress("breakdown: \(k) = " + String(format: "%.1f", v))
        }
    }

    /// Compressed bytes per update of the Phase B deltas: as sent; with every HLC set to one constant;
    /// also with every version vector cut to the writer's own entry; also with every value null.
    /// The differences are what the clocks, the vectors and the values cost on the wire after zlib.
    mutating func wireBreakdown(_ deltas: [ChangeSet]) {
        let updates = Double(w.phaseB.reduce(0) { $0 + $1.count } * 2)
        func size(level: Int32 = 6, _ transform: (FieldVersion) -> FieldVersion) -> Double {
            var total = 0
            for cs in deltas {
                var c = cs
                c.rows = cs.rows.map { row in
                    var r = row
                    r.fields = row.fields.map { f in
                        FieldChange(name: f.name, state: FieldState(normalizing: f.state.versions.map(transform)))
                    }
                    return r
                }
                total += ChangeSetEncoder(level: level).encode(c).count
            }
            return Double(total) / updates
        }
        let constant = HLCTimestamp(physical: fixedClockMillis, logical: 0)
        let asSent = size { $0 }
        let noClock = size { v in var v = v; v.hlc = constant; return v }
        let noClockOwnVV = size { v in
            var v = v; v.hlc = constant; v.vv = VersionVector([(v.writer, v.vv[v.writer])]); return v
        }
        let nothingButStructure = size { v in
            var v = v; v.hlc = constant; v.vv = VersionVector([(v.writer, 1)]); v.value = .null; return v
        }
        m.set("breakdown_wire_b_as_sent", asSent)
        var t0 = now()
        m.set("breakdown_wire_b_zlib_level_9", size(level: 9) { $0 })
        m.set("breakdown_wire_b_zlib_level_9_encode_s", now() - t0)
        t0 = now()
        _ = size(level: 6) { $0 }
        m.set("breakdown_wire_b_zlib_level_6_encode_s", now() - t0)
        m.set("breakdown_wire_b_hlc_cost", asSent - noClock)
        m.set("breakdown_wire_b_vv_other_entries_cost", noClock - noClockOwnVV)
        m.set("breakdown_wire_b_values_and_own_counter_cost", noClockOwnVV - nothingButStructure)
        m.set("breakdown_wire_b_structure_keys_names_rest", nothingButStructure)
    }

    private func rawCommitCost(path: String, ops: [Op]) throws -> (perTx: Double, empty: Double) {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil) == SQLITE_OK, let db else {
            throw CheckFailure("open \(path)")
        }
        defer { sqlite3_close_v2(db) }
        func exec(_ sql: String) { sqlite3_exec(db, sql, nil, nil, nil) }
        exec("PRAGMA journal_mode = WAL")
        exec("PRAGMA synchronous = \(Durability.current.pragma)")
        exec("CREATE TABLE t (id TEXT PRIMARY KEY, \(benchFields.map { "\($0)" }.joined(separator: ", ")))")
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        var stmts: [OpaquePointer] = []
        for f in benchFields {
            var s: OpaquePointer?
            sqlite3_prepare_v2(db, "INSERT INTO t (id, \(f)) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET \(f) = excluded.\(f)", -1, &s, nil)
            stmts.append(s!)
        }
        defer { for s in stmts { sqlite3_finalize(s) } }
        let t0 = now()
        for op in ops {
            exec("BEGIN")
            let s = stmts[Int(op.field)]
            sqlite3_bind_text(s, 1, w.keys[Int(op.record)], -1, transient)
            switch op.value {
            case .int(let i): sqlite3_bind_int64(s, 2, i)
            case .text(let t): sqlite3_bind_text(s, 2, t, -1, transient)
            default: sqlite3_bind_null(s, 2)
            }
            sqlite3_step(s)
            sqlite3_reset(s)
            exec("COMMIT")
        }
        let perTx = (now() - t0) / Double(ops.count)
        let t1 = now()
        for _ in ops { exec("BEGIN IMMEDIATE"); exec("COMMIT") }
        return (perTx, (now() - t1) / Double(ops.count))
    }
}

/// Replays, with the raw C API and statements prepared once, the statements `ReplicaDatabase.write` + `put`
/// run for a one-field put on a row without conflicts (see `ReplicaTransaction.init/put/saveField/finish`),
/// so the SQLite share of a put can be told apart from the Swift/GRDB share.
final class EngineSQLReplay {
    let db: OpaquePointer
    let keys: [String]
    var fieldIDs: [Int64] = []
    let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    /// Read at the start of every transaction (the ordinal tables are kept from one committed transaction to the next).
    static let perTxSQL = ["SELECT seq, hlc FROM meta"]
    static let rowSQL = """
        SELECT r.id, r.deleted, r.conflicts, r.covered, o.account, o.shared
        FROM row r LEFT JOIN row_origin o ON o.row = r.id WHERE r.tbl = ? AND r.key = ?
        """
    static let fieldSQL = "SELECT tag, value, vv, hlc, writer, author, others FROM field WHERE row = ? AND field = ?"
    static let upsertSQL = """
        INSERT INTO field (row, field, tag, value, vv, hlc, writer, author, others, seq)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (row, field) DO UPDATE SET tag = excluded.tag, value = excluded.value, vv = excluded.vv,
            hlc = excluded.hlc, writer = excluded.writer, author = excluded.author, others = excluded.others,
            seq = excluded.seq
        """
    static let metaSQL = "UPDATE meta SET seq = ?, hlc = ?"
    static let conflictCountSQL = "SELECT coalesce(sum(conflicts), 0) FROM row WHERE conflicts > 0"

    init(path: String, keys: [String]) throws {
        var h: OpaquePointer?
        guard sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let h else {
            throw CheckFailure("open \(path)")
        }
        db = h
        self.keys = keys
        sqlite3_exec(db, "PRAGMA synchronous = \(Durability.current.pragma)", nil, nil, nil)
        let s = prepare("SELECT id, name FROM field_name WHERE tbl = 'bench_case'")
        var byName: [String: Int64] = [:]
        while sqlite3_step(s) == SQLITE_ROW {
            byName[String(cString: sqlite3_column_text(s, 1))] = sqlite3_column_int64(s, 0)
        }
        sqlite3_finalize(s)
        fieldIDs = try benchFields.map { f in
            guard let id = byName[f] else { throw CheckFailure("replay: no field id for \(f)") }
            return id
        }
    }

    deinit { sqlite3_close_v2(db) }

    func prepare(_ sql: String) -> OpaquePointer {
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &s, nil)
        precondition(rc == SQLITE_OK, "replay prepare failed: \(String(cString: sqlite3_errmsg(db)))")
        return s!
    }

    /// Steps a statement to the end, touching every column, and resets it.
    @discardableResult
    func drain(_ s: OpaquePointer) -> Int64 {
        var first: Int64 = 0
        var rows = 0
        while sqlite3_step(s) == SQLITE_ROW {
            if rows == 0 { first = sqlite3_column_int64(s, 0) }
            for c in 0..<sqlite3_column_count(s) { _ = sqlite3_column_bytes(s, c); _ = sqlite3_column_blob(s, c) }
            rows += 1
        }
        sqlite3_reset(s)
        return first
    }

    /// Replays `importBundle`'s statements for `cs` in one transaction (rows must exist, as after Phase A).
    /// - Returns: seconds.
    func runImport(_ cs: ChangeSet) throws -> Double {
        let perTx = (Self.perTxSQL + [Self.conflictCountSQL, Self.conflictCountSQL]).map(prepare)
        let meta = prepare(Self.metaSQL)
        let row = prepare(Self.rowSQL), field = prepare(Self.fieldSQL), upsert = prepare(Self.upsertSQL)
        defer { for s in perTx + [meta, row, field, upsert] { sqlite3_finalize(s) } }
        let byName = Dictionary(uniqueKeysWithValues: zip(benchFields, fieldIDs))
        var seq: Int64 = 1_000_000
        let t0 = now()
        sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil)
        for s in perTx { drain(s) }
        for change in cs.rows {
            sqlite3_bind_text(row, 1, change.table, -1, transient)
            sqlite3_bind_text(row, 2, change.key, -1, transient)
            let rowID = drain(row)
            for f in change.fields {
                let fieldID = byName[f.name]!
                sqlite3_bind_int64(field, 1, rowID)
                sqlite3_bind_int64(field, 2, fieldID)
                drain(field)
                let v = f.state.versions[0]
                var vv: [UInt8] = [UInt8(v.vv.entries.count)]
                for (i, e) in v.vv.entries.enumerated() { vv += [UInt8(i + 1), UInt8(truncatingIfNeeded: e.counter)] }
                seq += 1
                try stepFieldUpsert(upsert, db, row: rowID, field: fieldID, value: v.value, vv: vv,
                                    hlc: Int64(bitPattern: v.hlc.rawValue), seq: seq)
            }
        }
        sqlite3_bind_int64(meta, 1, seq)
        sqlite3_bind_int64(meta, 2, seq)
        drain(meta)
        sqlite3_exec(db, "COMMIT", nil, nil, nil)
        return now() - t0
    }

    /// Seconds per put.
    func run(_ ops: [Op], perTransaction: Bool, reprepare: Bool) throws -> Double {
        var perTx = Self.perTxSQL.map(prepare)
        var meta = prepare(Self.metaSQL)
        let row = prepare(Self.rowSQL), field = prepare(Self.fieldSQL), upsert = prepare(Self.upsertSQL)
        defer { for s in perTx + [meta, row, field, upsert] { sqlite3_finalize(s) } }
        let seqStmt = prepare("SELECT seq FROM meta")
        var seq = drain(seqStmt)
        sqlite3_finalize(seqStmt)
        let vv: [UInt8] = [2, 1, 1, 2, 1]
        let t0 = now()
        func begin() {
            sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil)
            if reprepare {
                for s in perTx + [meta] { sqlite3_finalize(s) }
                perTx = Self.perTxSQL.map(prepare)
                meta = prepare(Self.metaSQL)
            }
            for s in perTx { drain(s) }
        }
        func commit() {
            sqlite3_bind_int64(meta, 1, seq)
            sqlite3_bind_int64(meta, 2, seq)
            drain(meta)
            sqlite3_exec(db, "COMMIT", nil, nil, nil)
        }
        if !perTransaction { begin() }
        for op in ops {
            if perTransaction { begin() }
            sqlite3_bind_text(row, 1, benchTable, -1, transient)
            sqlite3_bind_text(row, 2, keys[Int(op.record)], -1, transient)
            let rowID = drain(row)
            let fieldID = fieldIDs[Int(op.field)]
            sqlite3_bind_int64(field, 1, rowID)
            sqlite3_bind_int64(field, 2, fieldID)
            drain(field)
            seq += 1
            try stepFieldUpsert(upsert, db, row: rowID, field: fieldID, value: op.value, vv: vv,
                                hlc: Int64(bitPattern: fixedClockMillis << 16) &+ seq, seq: seq)
            if perTransaction { commit() }
        }
        if !perTransaction { commit() }
        return (now() - t0) / Double(ops.count)
    }
}

/// Binds and steps the engine's field upsert exactly as `ReplicaTransaction.saveField` issues it.
private func stepFieldUpsert(_ upsert: OpaquePointer, _ db: OpaquePointer, row: Int64, field: Int64,
                             value: FieldValue, vv: [UInt8], hlc: Int64, seq: Int64) throws {
    let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    sqlite3_bind_int64(upsert, 1, row)
    sqlite3_bind_int64(upsert, 2, field)
    switch value {
    case .int(let i): sqlite3_bind_int64(upsert, 3, 3); sqlite3_bind_int64(upsert, 4, i)
    case .text(let t): sqlite3_bind_int64(upsert, 3, 4); sqlite3_bind_text(upsert, 4, t, -1, transient)
    default: sqlite3_bind_int64(upsert, 3, 0); sqlite3_bind_null(upsert, 4)
    }
    _ = vv.withUnsafeBytes { sqlite3_bind_blob(upsert, 5, $0.baseAddress, Int32($0.count), transient) }
    sqlite3_bind_int64(upsert, 6, hlc)
    sqlite3_bind_int64(upsert, 7, 1)
    sqlite3_bind_int64(upsert, 8, 0)
    sqlite3_bind_null(upsert, 9)
    sqlite3_bind_int64(upsert, 10, seq)
    guard sqlite3_step(upsert) == SQLITE_DONE else {
        throw CheckFailure("replay upsert: \(String(cString: sqlite3_errmsg(db)))")
    }
    sqlite3_reset(upsert)
}
