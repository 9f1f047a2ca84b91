import Foundation
import GRDB
public import SyncCore
import SyncProtocol

/// A change the server refused, as this replica keeps it: the value typed here is never lost, and the user
/// may revert it (take the server's value back) once they have read why.
public struct RejectedChange: Hashable, Sendable {
    public var id: Int64
    public var table: String
    public var key: String
    public var field: String
    public var value: FieldValue
    public var writer: ReplicaID
    public var author: String
    public var hlc: HLCTimestamp
    public var reason: String
    public var message: String
    /// Unix milliseconds when the refusal arrived.
    public var at: UInt64
    /// `open` (the replica still shows it), `reverted` (the user took the server's value back) or `superseded`
    /// (a later local write replaced it; that write travels on the next sync).
    public var state: String
}

/// One refusal as the server reports it: which version, and why.
public struct RefusedVersion: Hashable, Sendable {
    public var table: String
    public var key: String
    public var field: String
    public var writer: ReplicaID
    public var hlc: HLCTimestamp
    public var reason: String
    public var message: String

    public init(table: String, key: String, field: String, writer: ReplicaID, hlc: HLCTimestamp, reason: String,
                message: String) {
        self.table = table
        self.key = key
        self.field = field
        self.writer = writer
        self.hlc = hlc
        self.reason = reason
        self.message = message
    }
}

extension ReplicaDatabase {
    // MARK: Refused changes (client)

    /// Records refusals the server reported, with the server's current state of those fields when it sent them
    /// (`current`: rows the account may see). Versions this replica no longer holds are skipped.
    /// - Returns: how many refusals were recorded (new ones; a repeated report adds nothing).
    @discardableResult
    public func recordRefusals(_ refusals: [RefusedVersion], current: ChangeSet?) throws -> Int {
        guard !refusals.isEmpty else { return 0 }
        var serverStates: [ExactText: FieldState] = [:]
        var serverRows = Set<ExactText>()
        for row in current?.rows ?? [] {
            serverRows.insert(ExactText(row.table + "\u{0}" + row.key))
            for f in row.fields { serverStates[ExactText(row.table + "\u{0}" + row.key + "\u{0}" + f.name)] = f.state }
        }
        return try write { tx in
            var added = 0
            for r in refusals {
                guard let ref = try tx.rowRef(table: r.table, key: r.key, create: false),
                      let state = try tx.loadField(row: ref.id, field: try tx.interner.fieldID(table: r.table, name: r.field)),
                      let v = state.versions.first(where: { $0.writer == r.writer && $0.hlc == r.hlc })
                else { continue }
                let (tag, value) = StoredValue.columns(v.value)
                let fieldKey = ExactText(r.table + "\u{0}" + r.key + "\u{0}" + r.field)
                let known = serverRows.contains(ExactText(r.table + "\u{0}" + r.key))
                let serverState = try serverStates[fieldKey].map { try tx.interner.encodeOthers($0.versions) } ?? nil
                try tx.db.execute(sql: """
                    INSERT OR IGNORE INTO rejected (tbl, key, field, writer, hlc, tag, value, author, reason, message, at,
                        server_state, server_known)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [r.table, r.key, r.field, Data(r.writer.bytes), Int64(bitPattern: r.hlc.rawValue), tag,
                                     value, v.author, r.reason, r.message, Int64(now()), serverState, known])
                added += tx.db.changesCount
            }
            return added
        }
    }

    /// Refused changes, newest first; `open` ones only unless `all`. A refusal whose version this replica no
    /// longer holds (a later write replaced it) is reported as `superseded`.
    public func refusals(all: Bool = false) throws -> [RejectedChange] {
        try write { tx in
            var out: [RejectedChange] = []
            for r in try Row.fetchAll(tx.db, sql: """
                SELECT id, tbl, key, field, tag, value, writer, author, hlc, reason, message, at, state
                FROM rejected ORDER BY id DESC
                """) {
                var c = RejectedChange(id: r[0], table: r[1], key: r[2], field: r[3], value: try StoredValue.value(tag: r[4], r[5]),
                                       writer: ReplicaID(bytes: [UInt8](r[6] as Data)), author: r[7],
                                       hlc: HLCTimestamp(rawValue: UInt64(bitPattern: r[8] as Int64)), reason: r[9],
                                       message: r[10], at: UInt64(r[11] as Int64), state: r[12])
                if c.state == "open", try !tx.holds(c) {
                    c.state = "superseded"
                    try tx.db.execute(sql: "UPDATE rejected SET state = 'superseded' WHERE id = ?", arguments: [c.id])
                }
                if all || c.state == "open" { out.append(c) }
            }
            return out
        }
    }

    /// Takes the server's value back for refused changes: the refused version leaves this replica's field state
    /// (its value stays listed in `refusals(all:)`), and the server's state as it was reported takes its place;
    /// a field the server does not hold, or a row this account may not see, is removed here.
    /// - Parameter ids: the refusals to revert (nil: every open one).
    /// - Returns: how many were reverted.
    @discardableResult
    public func revertRefusals(_ ids: [Int64]?) throws -> Int {
        try write { tx in
            var n = 0
            let rows = try Row.fetchAll(tx.db, sql: """
                SELECT id, tbl, key, field, writer, hlc, server_state FROM rejected WHERE state = 'open' ORDER BY id
                """)
            for r in rows {
                let id: Int64 = r[0]
                if let ids, !ids.contains(id) { continue }
                let (table, key, field): (String, String, String) = (r[1], r[2], r[3])
                let writer = ReplicaID(bytes: [UInt8](r[4] as Data))
                let hlc = HLCTimestamp(rawValue: UInt64(bitPattern: r[5] as Int64))
                let server = try (r[6] as Data?).map { try tx.interner.decodeOthers($0) } ?? []
                try tx.replaceVersion(table: table, key: key, field: field, removing: { $0.writer == writer && $0.hlc == hlc },
                                      adding: server)
                try tx.db.execute(sql: "UPDATE rejected SET state = 'reverted' WHERE id = ?", arguments: [id])
                n += 1
            }
            return n
        }
    }

    // MARK: Relays (client)

    /// Keeps an imported bundle of another replica as it arrived, so that a relaying device delivers the
    /// writer's own signed bytes to the server (`daiban sync` forwards and then drops it).
    public func keepForRelay(_ bytes: [UInt8], sender: ReplicaID) throws {
        try transaction { db in
            try db.execute(sql: "INSERT INTO outbox (sender, bytes, added_at) VALUES (?, ?, ?)",
                           arguments: [Data(sender.bytes), Data(bytes), Int64(now())])
        }
    }

    /// Bundles waiting to be relayed, oldest first.
    public func relayOutbox() throws -> [(id: Int64, sender: ReplicaID, bytes: [UInt8])] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, sender, bytes FROM outbox ORDER BY id").map {
                ($0[0], ReplicaID(bytes: [UInt8]($0[1] as Data)), [UInt8]($0[2] as Data))
            }
        }
    }

    /// Drops relayed (or unrelayable) bundles.
    public func dropFromOutbox(_ ids: [Int64]) throws {
        try transaction { db in
            for id in ids { try db.execute(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id]) }
        }
    }

    // MARK: Scope (client)

    /// Removes rows from this replica entirely (not a deletion: nothing replicates): the rows of a case that
    /// left this device's scope. Refused changes of those rows stay listed.
    /// - Returns: how many rows were removed.
    @discardableResult
    public func purge(rows: [(table: String, key: String)]) throws -> Int {
        try write { tx in
            var n = 0
            for (table, key) in rows {
                guard let id = try Int64.fetchOne(tx.db, sql: "SELECT id FROM row WHERE tbl = ? AND key = ?",
                                                  arguments: [table, key]) else { continue }
                try tx.purgeRow(id, table: table, key: key)
                n += 1
            }
            return n
        }
    }

    /// Field states written here that the server has not acknowledged yet, among these rows.
    public func pendingChanges(rows: [(table: String, key: String)], after cursor: UInt64) throws -> Int {
        try read { db in
            var n = 0
            for (table, key) in rows {
                n += try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM field f JOIN row r ON r.id = f.row WHERE r.tbl = ? AND r.key = ? AND f.seq > ?
                    """, arguments: [table, key, Int64(cursor)]) ?? 0
            }
            return n
        }
    }

    // MARK: Clocks and authorship (client)

    /// After the device clock was corrected: writes again, with fresh clocks, this replica's own field states
    /// stamped after `ceiling` (Unix milliseconds), and those of rows with an open `clock_ahead` refusal (a new
    /// row refused whole because one of its links was stamped ahead travels again whole), and moves the
    /// replica's clock back to the wall clock. Values do not change; the new versions dominate the old ones. States
    /// with concurrent versions are left as they are.
    /// - Returns: how many field states were re-stamped.
    @discardableResult
    public func restampFuture(after ceiling: UInt64) throws -> Int {
        try write { tx in
            tx.clock.reset(to: HLCTimestamp(physical: min(now(), ceiling), logical: 0))
            return try tx.rewriteOwn(where: """
                f.others IS NULL AND (f.hlc > ? OR EXISTS (SELECT 1 FROM rejected j WHERE j.tbl = r.tbl AND j.key = r.key
                                                           AND j.reason = 'clock_ahead' AND j.state = 'open'))
                """, [Int64(bitPattern: HLCTimestamp(physical: ceiling, logical: UInt16.max).rawValue)], author: nil)
        }
    }

    /// Writes again, as `author`, this replica's own field states changed after `cursor` that carry another
    /// author (writes made before the user signed in), so that they travel under the signed-in account.
    /// - Returns: how many field states were rewritten.
    @discardableResult
    public func reauthorPending(after cursor: UInt64, author: String) throws -> Int {
        try write { tx in
            let id = try tx.interner.authorID(author)
            return try tx.rewriteOwn(where: "f.seq > ? AND f.author <> ? AND f.others IS NULL", [Int64(cursor), id],
                                     author: author)
        }
    }

    // MARK: Trust bookkeeping (server)

    /// Makes `to` the creator of the rows `from` created (a device that proved, at its first sign-in, the key its
    /// relayed bundles carried). Returns how many rows changed hands.
    @discardableResult
    public func adoptOrigin(from: String, to: String) throws -> Int {
        try write { tx in
            try tx.db.execute(sql: "UPDATE row_origin SET account = ? WHERE account = ?", arguments: [to, from])
            return tx.db.changesCount
        }
    }

    /// Records that rows (a case, or a project or enterprise outside any case) left subjects' scope
    /// (`person:…`, `township:…`, `department:…`, `user:…`).
    public func recordScopeExits(_ exits: [(subject: String, table: String, key: String)], in restamper: RowRestamper) throws {
        for e in exits {
            try restamper.tx.db.execute(sql: "INSERT INTO scope_exit (subject, tbl, key, at) VALUES (?, ?, ?, ?)",
                                        arguments: [e.subject, e.table, e.key, Int64(now())])
        }
    }

    /// Scope exits of any of `subjects` after event `after`, oldest first, and the last event id to resume from.
    public func scopeExits(subjects: [String], after: Int64, limit: Int = 10_000) throws
        -> (exits: [(id: Int64, table: String, key: String)], last: Int64)
    {
        try read { db in
            let last = try Int64.fetchOne(db, sql: "SELECT coalesce(max(id), 0) FROM scope_exit") ?? 0
            guard !subjects.isEmpty else { return ([], last) }
            let marks = subjects.map { _ in "?" }.joined(separator: ", ")
            var args: [any DatabaseValueConvertible] = [after]
            args.append(contentsOf: subjects)
            args.append(limit)
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, tbl, key FROM scope_exit WHERE id > ? AND subject IN (\(marks)) ORDER BY id LIMIT ?
                """, arguments: StatementArguments(args))
            let exits = rows.map { (id: $0[0] as Int64, table: $0[1] as String, key: $0[2] as String) }
            return (exits, exits.count == limit ? exits.last!.id : last)
        }
    }

    /// Marks a replica whose versions arrived without proof of who wrote them (an unregistered device's bundle
    /// relayed by a township): pulls by a device that later claims that replica include those versions.
    public func markUnverifiedWriter(_ id: ReplicaID, in restamper: RowRestamper) throws {
        try restamper.tx.db.execute(sql: "INSERT OR IGNORE INTO unverified_writer (replica) VALUES (?)",
                                    arguments: [try restamper.tx.interner.ordinal(id)])
    }

    /// Whether versions of `id` ever arrived without proof of their writer.
    public func isUnverifiedWriter(_ id: ReplicaID) throws -> Bool {
        try read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS (SELECT 1 FROM unverified_writer u JOIN replica r ON r.ordinal = u.replica WHERE r.id = ?)
                """, arguments: [Data(id.bytes)]) ?? false
        }
    }

    /// Whether any version written by `id` is stored here (a replica id the server already knows as a writer).
    public func holdsVersions(of id: ReplicaID) throws -> Bool {
        try read { db in
            guard let ordinal = try Int64.fetchOne(db, sql: "SELECT ordinal FROM replica WHERE id = ?", arguments: [Data(id.bytes)])
            else { return false }
            return try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM field WHERE writer = ?)", arguments: [ordinal]) ?? false
        }
    }
}

extension ReplicaTransaction {
    /// Whether the replica still holds the refused version.
    func holds(_ c: RejectedChange) throws -> Bool {
        guard let ref = try rowRef(table: c.table, key: c.key, create: false),
              let state = try loadField(row: ref.id, field: try interner.fieldID(table: c.table, name: c.field))
        else { return false }
        return state.versions.contains { $0.writer == c.writer && $0.hlc == c.hlc }
    }

    /// Replaces a field's state: the versions `removing` matches leave, `adding` merges in; an empty result removes
    /// the field, and a row left without fields is removed. Not a replicated write: no clock moves.
    func replaceVersion(table: String, key: String, field: String, removing: (FieldVersion) -> Bool,
                        adding: [FieldVersion]) throws {
        guard let ref = try rowRef(table: table, key: key, create: false) else { return }
        var row = try loadRow(ref)
        let kept = (row.fields[field]?.versions ?? []).filter { !removing($0) }
        let versions = kept + adding
        if versions.isEmpty {
            row.fields[field] = nil
            let fieldID = try interner.fieldID(table: table, name: field)
            try db.execute(sql: "DELETE FROM field WHERE row = ? AND field = ?", arguments: [ref.id, fieldID])
            if row.fields.isEmpty {
                try purgeRow(ref.id, table: table, key: key)
                return
            }
            try save(row, ref: ref, table: table, key: key, changedFields: [], coveredChanged: false, forceFlags: true)
        } else {
            row.fields[field] = FieldState(normalizing: versions)
            try save(row, ref: ref, table: table, key: key, changedFields: [field], coveredChanged: false, forceFlags: true)
        }
    }

    /// Removes a row and everything derived from it.
    func purgeRow(_ id: Int64, table: String, key: String) throws {
        try db.execute(sql: "DELETE FROM field WHERE row = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM row_origin WHERE row = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM row WHERE id = ?", arguments: [id])
        dirtyRows.remove(id)
        if let t = replica.schema.tables[table], t.projected {
            try db.execute(sql: "DELETE FROM \(Projections.tableName(table)) WHERE _key = ?", arguments: [key])
            // The word index holds the row's names as character pairs: they leave with the row.
            if !t.searchable.isEmpty {
                try db.execute(sql: "DELETE FROM \(Projections.searchTable) WHERE rowid = ?", arguments: [id])
            }
        }
    }

    /// Writes again, with the current clock, every single-version field state of this replica matching a SQL
    /// condition over `field f`; keeps the value, sets `author` when given.
    func rewriteOwn(where condition: String, _ arguments: [any DatabaseValueConvertible], author: String?) throws -> Int {
        let me = try interner.ordinal(replica.id)
        var args: [any DatabaseValueConvertible] = [me]
        args.append(contentsOf: arguments)
        let targets = try Row.fetchAll(db, sql: """
            SELECT f.row, f.field, r.tbl, r.key FROM field f JOIN row r ON r.id = f.row
            WHERE f.writer = ? AND \(condition) ORDER BY f.seq
            """, arguments: StatementArguments(args))
        for t in targets {
            let (rowID, fieldID, table): (Int64, Int64, String) = (t[0], t[1], t[2])
            guard let state = try loadField(row: rowID, field: fieldID) else { continue }
            let v = state.versions[0]
            let next = try FieldState.localWrite(after: state, value: v.value, replica: replica.id, hlc: clock.tick(),
                                                 author: author ?? v.author)
            try saveField(row: rowID, fieldID: fieldID, table: table, name: try interner.fieldName(fieldID), next)
        }
        return targets.count
    }
}
