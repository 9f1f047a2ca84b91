public import CaseDomain
import Foundation
public import GRDB
import SyncCore
import Synchronization

/// The facts of rows, kept across the pulls of one server: every device's pull judges the same changed rows, so a
/// row's facts are read once per change instead of once per device.
///
/// Facts are cached for one state of the replica, named by its `meta.seq` and `meta.facts_generation`. A later
/// snapshot with the same generation differs from the cached state only by the rows stamped in between (the
/// generation counts every write a stamp does not show: a row's creator or its sharing, a removed field state or
/// row, a deletion), so the cache follows it by forgetting those rows, and every case when a plan item's case or
/// department changed. Any other difference clears it. A snapshot older than the cache's state is served without
/// it. Only what the pulls read is cached: case facts, and rows of a case whose facts come from their own values
/// and their case alone; everything else is read as before.
public final class SharedFacts: Sendable {
    /// The state of a replica the cached facts hold for.
    struct State: Equatable, Sendable {
        var seq: UInt64
        var generation: Int64

        /// Whether `self` was committed after `other` (both counters only grow).
        func isNewer(than other: State) -> Bool {
            generation != other.generation ? generation > other.generation : seq > other.seq
        }
    }

    private struct Entry {
        /// The row's facts without its cases (they change with the case, not with the row).
        var facts: RowFacts
        var cases: [String]
    }

    private struct Cache {
        var state: State?
        var cases: [ExactText: CaseFacts] = [:]
        var rows: [ExactText: Entry] = [:]
        var hits = 0

        /// Starts again when full.
        mutating func trim(_ maxEntries: Int) {
            if rows.count + cases.count >= maxEntries {
                rows.removeAll()
                cases.removeAll()
            }
        }
    }

    /// Child tables whose facts are their own values, their creator and their case (the others read other rows).
    /// Following a state forgets only the rows stamped, so a table whose facts read another row (a material's
    /// project and its creator, a clock pause's item) must not be added here without forgetting its dependants too.
    static let cachedTables = AccessRules.caseChildren.subtracting(["item_pause", "supplement_notice", "meeting_resolution", "ticket"])
    /// Plan item fields the facts of their case come from.
    static let caseFactFields: Set<String> = ["case_id", "department_id", Schema.deletedField]

    private let cache = Mutex(Cache())
    private let maxEntries: Int
    /// Beyond this many stamps between two states, the cache starts again rather than reading what changed.
    private let maxFollow: UInt64

    /// How many facts the cache has served (cases and rows).
    public var hits: Int { cache.withLock { $0.hits } }

    public init(maxEntries: Int = 200_000, maxFollow: UInt64 = 20_000) {
        self.maxEntries = maxEntries
        self.maxFollow = maxFollow
    }

    /// Brings the cache to the state of the snapshot `db` when that is newer; returns the snapshot's state when the
    /// cache serves it, nil when it does not (an older snapshot, or another pull moved the cache on meanwhile).
    func enter(_ db: Database) throws -> State? {
        guard let r = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, facts_generation FROM meta")) else { return nil }
        let now = State(seq: UInt64(r[0] as Int64), generation: r[1])
        let current = cache.withLock { $0.state }
        if let current, !now.isNewer(than: current) { return current == now ? now : nil }
        // Newer than the cache: what was stamped since, when the cache can follow it.
        var written: [(table: String, key: String, field: String?)]?
        if let current, current.generation == now.generation, now.seq - current.seq <= maxFollow {
            written = try Self.written(db, after: current.seq, upTo: now.seq)
        }
        return cache.withLock { c -> State? in
            guard c.state == current else { return c.state == now ? now : nil }
            if let written {
                for w in written {
                    c.rows[Self.id(w.table, w.key)] = nil
                    if w.table == "case" { c.cases[ExactText(w.key)] = nil }
                    if w.table == "plan_item" && (w.field.map { Self.caseFactFields.contains($0) } ?? true) { c.cases.removeAll() }
                }
            } else {
                c.cases.removeAll()
                c.rows.removeAll()
            }
            c.state = now
            return now
        }
    }

    /// The rows stamped in `(after, upTo]` with the fields stamped (nil: the row's deletion coverage).
    static func written(_ db: Database, after: UInt64, upTo: UInt64) throws -> [(table: String, key: String, field: String?)] {
        var out: [(String, String, String?)] = []
        let fields = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT r.tbl, r.key, n.name FROM field f JOIN row r ON r.id = f.row JOIN field_name n ON n.id = f.field
            WHERE f.seq > ? AND f.seq <= ?
            """), arguments: [Int64(after), Int64(upTo)])
        while let r = try fields.next() { out.append((r[0], r[1], r[2])) }
        let covered = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT tbl, key FROM row WHERE covered_seq > ? AND covered_seq <= ?
            """), arguments: [Int64(after), Int64(upTo)])
        while let r = try covered.next() { out.append((r[0], r[1], nil)) }
        return out
    }

    private static func id(_ table: String, _ key: String) -> ExactText { ExactText(table + "\u{0}" + key) }

    func caseFacts(_ key: String, at state: State) -> CaseFacts? {
        cache.withLock { c in
            guard c.state == state, let f = c.cases[ExactText(key)] else { return nil }
            c.hits += 1
            return f
        }
    }

    func store(_ facts: CaseFacts, at state: State) {
        cache.withLock { c in
            guard c.state == state else { return }
            c.trim(maxEntries)
            c.cases[ExactText(facts.key)] = facts
        }
    }

    /// A cached row's facts without their cases, and the keys of its cases.
    func rowFacts(_ table: String, _ key: String, at state: State) -> (facts: RowFacts, cases: [String])? {
        cache.withLock { c in
            guard c.state == state, let e = c.rows[Self.id(table, key)] else { return nil }
            c.hits += 1
            return (e.facts, e.cases)
        }
    }

    func store(_ facts: RowFacts, at state: State) {
        guard Self.cachedTables.contains(facts.table) else { return }
        var stripped = facts
        stripped.cases = []
        let entry = Entry(facts: stripped, cases: facts.cases.map(\.key))
        cache.withLock { c in
            guard c.state == state else { return }
            c.trim(maxEntries)
            c.rows[Self.id(facts.table, facts.key)] = entry
        }
    }
}
