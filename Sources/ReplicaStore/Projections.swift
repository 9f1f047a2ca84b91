import Foundation
public import GRDB
public import SyncCore

/// Query tables: for every table the schema marks `projected`, the replica keeps `v_<table>` with one SQL column
/// per declared field holding the visible (winning) value, plus `_key` and `_conflicts`. Deleted rows are absent.
///
/// They are derived state, maintained in the same transaction as every local write and every import, so a
/// domain query never sees a half-applied change-set. They are rebuilt from the field states when a build
/// declares different fields or indexes (the `projection` table records what each was built from).
///
/// Column values: text and integers as they are, bools as 0/1, decimals as REAL (for comparisons only — the
/// exact decimal text stays in the field state), dates as `YYYY-MM-DD` text.
enum Projections {
    static func tableName(_ table: String) -> String { "v_" + table }

    /// What a query table was built from: its fields, then (after the first `|`) its indexes.
    static func signature(_ t: TableSchema) -> String {
        t.fields.map { "\($0.name):\($0.type.rawValue)" }.joined(separator: ",") + "|"
            + t.indexes.map { $0.columns.joined(separator: "+") + ($0.condition.map { "?" + $0 } ?? "") }.joined(separator: ",")
            + (t.searchable.isEmpty ? "" : "|search:" + t.searchable.joined(separator: ","))
    }

    /// The word index of the searchable fields (`TableSchema.searchable`): one FTS5 document per row, keyed by
    /// the row's id, holding the row's character pairs (see `SearchGrams`).
    static let searchTable = "v_search"

    private static func fieldsPart(_ signature: String) -> Substring {
        signature.prefix { $0 != "|" }
    }

    private static func createIndexes(_ db: Database, _ t: TableSchema) throws {
        let name = tableName(t.name)
        for (i, index) in t.indexes.enumerated() {
            let cols = index.columns.map { "\"\($0)\"" }.joined(separator: ", ")
            try db.execute(sql: "CREATE INDEX \(name)_\(i) ON \(name) (\(cols))" + (index.condition.map { " WHERE " + $0 } ?? ""))
        }
    }

    /// Drops a table's documents from the word index.
    private static func clearSearch(_ db: Database, _ t: TableSchema) throws {
        guard try db.tableExists(searchTable) else { return }
        try db.execute(sql: "DELETE FROM \(searchTable) WHERE rowid IN (SELECT id FROM row WHERE tbl = ?)", arguments: [t.name])
    }

    /// Rebuilds a table's documents in the word index (its searchable fields changed).
    private static func reindexSearch(_ db: Database, _ t: TableSchema, schema: Schema, interner: Interner) throws {
        try clearSearch(db, t)
        guard !t.searchable.isEmpty else { return }
        let writer = Writer(db: db, schema: schema, interner: interner)
        for id in try Int64.fetchAll(db, sql: "SELECT id FROM row WHERE tbl = ? AND deleted = 0", arguments: [t.name]) {
            try writer.refresh(rowID: id)
        }
    }

    static func sqlType(_ type: FieldType) -> String {
        switch type {
        case .text, .date: "TEXT"
        case .integer, .bool: "INTEGER"
        case .decimal: "REAL"
        }
    }

    /// Creates or rebuilds the query tables whose declaration changed.
    static func ensure(_ db: Database, schema: Schema) throws {
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS projection (tbl TEXT PRIMARY KEY, signature TEXT NOT NULL) STRICT")
        var built: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT tbl, signature FROM projection") { built[row[0]] = row[1] }
        let interner = try Interner(db)
        if schema.tables.values.contains(where: { $0.projected && !$0.searchable.isEmpty }) {
            try db.execute(sql: "CREATE VIRTUAL TABLE IF NOT EXISTS \(searchTable) USING fts5(grams, tokenize = 'unicode61')")
        }
        for t in schema.tables.values.sorted(by: { $0.name < $1.name }) where t.projected {
            let sig = signature(t)
            if built[t.name] == sig { continue }
            let name = tableName(t.name)
            if let old = built[t.name], fieldsPart(old) == fieldsPart(sig),
                try String.fetchOne(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [name]) != nil
            {
                // Same columns, other indexes: the rows stay, only the indexes are rebuilt.
                for index in try String.fetchAll(db, sql: """
                    SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL
                    """, arguments: [name]) {
                    try db.execute(sql: "DROP INDEX \"\(index)\"")
                }
                try createIndexes(db, t)
                try db.execute(sql: "UPDATE projection SET signature = ? WHERE tbl = ?", arguments: [sig, t.name])
                try reindexSearch(db, t, schema: schema, interner: interner)
                continue
            }
            try db.execute(sql: "DROP TABLE IF EXISTS \(name)")
            try clearSearch(db, t)
            let columns = t.fields.map { "\"\($0.name)\" \(sqlType($0.type))" }.joined(separator: ", ")
            try db.execute(sql: """
                CREATE TABLE \(name) (_key TEXT PRIMARY KEY, _conflicts INTEGER NOT NULL DEFAULT 0\
                \(columns.isEmpty ? "" : ", " + columns))
                """)
            try createIndexes(db, t)
            try db.execute(sql: "INSERT OR REPLACE INTO projection (tbl, signature) VALUES (?, ?)", arguments: [t.name, sig])
            let writer = Writer(db: db, schema: schema, interner: interner)
            for id in try Int64.fetchAll(db, sql: "SELECT id FROM row WHERE tbl = ? AND deleted = 0", arguments: [t.name]) {
                try writer.refresh(rowID: id)
            }
            // The query table's rows changed without a stamp: facts read from it before are stale.
            try db.execute(sql: "UPDATE meta SET facts_generation = facts_generation + 1")
        }
    }

    /// Rewrites the query-table row of replica rows.
    final class Writer {
        let db: Database
        let schema: Schema
        let interner: Interner
        /// The upsert of each query table, built once per writer.
        private var upserts: [String: String] = [:]

        init(db: Database, schema: Schema, interner: Interner) {
            self.db = db
            self.schema = schema
            self.interner = interner
        }

        private func upsert(_ t: TableSchema) -> String {
            if let sql = upserts[t.name] { return sql }
            let names = t.fields.map(\.name)
            let sql = "INSERT OR REPLACE INTO \(Projections.tableName(t.name)) (_key, _conflicts"
                + names.map { ", \"\($0)\"" }.joined() + ") VALUES (?, ?" + String(repeating: ", ?", count: names.count) + ")"
            upserts[t.name] = sql
            return sql
        }

        func refresh(rowID: Int64) throws {
            guard let r = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT tbl, key, deleted, conflicts FROM row WHERE id = ?"), arguments: [rowID])
            else { return }
            let tableName: String = r[0]
            guard let t = schema.tables[tableName], t.projected else { return }
            let key: String = r[1]
            let view = Projections.tableName(tableName)
            if r[2] as Bool {
                try db.cachedStatement(sql: "DELETE FROM \(view) WHERE _key = ?").execute(arguments: [key])
                if !t.searchable.isEmpty {
                    try db.cachedStatement(sql: "DELETE FROM \(Projections.searchTable) WHERE rowid = ?").execute(arguments: [rowID])
                }
                return
            }
            var values: [String: DatabaseValue] = [:]
            let fields = try db.cachedStatement(sql: "SELECT field, tag, value FROM field WHERE row = ?")
            for f in try Row.fetchAll(fields, arguments: [rowID]) {
                let name = try interner.fieldName(f[0])
                let tag: Int = f[1]
                let raw: DatabaseValue = f[2]
                switch tag {
                case 0: values[name] = .null
                case 1: values[name] = 0.databaseValue
                case 2: values[name] = 1.databaseValue
                case 5: values[name] = (String.fromDatabaseValue(raw).flatMap(Double.init))?.databaseValue ?? .null
                default: values[name] = raw
                }
            }
            var arguments: [DatabaseValue] = [key.databaseValue, (r[3] as Int64).databaseValue]
            for f in t.fields { arguments.append(values[f.name] ?? .null) }
            try db.cachedStatement(sql: upsert(t)).execute(arguments: StatementArguments(arguments))
            if !t.searchable.isEmpty {
                let grams = SearchGrams.document(t.searchable.compactMap { String.fromDatabaseValue(values[$0] ?? .null) })
                try db.cachedStatement(sql: "DELETE FROM \(Projections.searchTable) WHERE rowid = ?").execute(arguments: [rowID])
                if !grams.isEmpty {
                    try db.cachedStatement(sql: "INSERT INTO \(Projections.searchTable) (rowid, grams) VALUES (?, ?)")
                        .execute(arguments: [rowID, grams])
                }
            }
        }
    }
}

extension ReplicaTransaction {
    /// The transaction's database with every query table (`v_<table>`) brought up to date with this
    /// transaction's own writes: read the domain's tables here before deciding what to write.
    public func queryDatabase() throws -> Database {
        try flushProjections()
        return db
    }

    func flushProjections() throws {
        guard !dirtyRows.isEmpty else { return }
        let writer = Projections.Writer(db: db, schema: replica.schema, interner: interner)
        for id in dirtyRows.sorted() { try writer.refresh(rowID: id) }
        dirtyRows.removeAll(keepingCapacity: true)
    }
}

extension ReplicaDatabase {
    /// Runs `body` on a read snapshot: the query tables (`v_<table>`) hold the visible values of every
    /// projected table as of one committed transaction.
    public func query<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.read(body)
    }
}
