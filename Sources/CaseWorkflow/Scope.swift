public import CaseDomain
import Foundation
public import GRDB
public import ReplicaStore
public import SyncCore

/// The facts `AccessRules` judges, read from a replica: the server's before every write it judges and for every
/// row a pull would send. Live rows are read from the query tables; deleted rows, which the query tables drop,
/// from their stored field states, so a deletion reaches every device that held the row. One reader serves one
/// transaction or one read snapshot, on one thread at a time (hence `@unchecked Sendable`).
public final class FactsReader: @unchecked Sendable {
    private let raw: () throws -> Database
    private let query: () throws -> Database
    private var cases: [ExactText: CaseFacts] = [:]
    /// Facts kept across read snapshots, and the state they hold for when they serve this one (looked up once).
    private let shared: SharedFacts?
    private var sharedState: SharedFacts.State??

    /// - Parameters:
    ///   - db: the database as it is (stored rows).
    ///   - query: the database with the query tables current (in a push: after the rows merged so far).
    public init(db: @escaping () throws -> Database, query: @escaping () throws -> Database) {
        raw = db
        self.query = query
        shared = nil
    }

    /// A reader over one read snapshot (a pull chunk), with the facts `shared` keeps across snapshots.
    public init(snapshot db: Database, shared: SharedFacts? = nil) {
        raw = { db }
        query = { db }
        self.shared = shared
    }

    /// The state of the shared facts that serve this snapshot, if they do.
    private func served() throws -> SharedFacts.State? {
        if let s = sharedState { return s }
        let s = try shared?.enter(raw())
        sharedState = .some(s)
        return s
    }

    /// Forgets cached case facts (after this transaction changed cases).
    public func invalidate() { cases.removeAll() }

    /// Visible values of a row: from its query table when live, else from its stored states; nil when absent.
    func values(_ table: String, _ key: String, _ columns: [String]) throws -> [String: String]? {
        if DaibanSchema.schema.tables[table]?.projected == true {
            let cols = columns.isEmpty ? "1" : columns.map { "\"\($0)\"" }.joined(separator: ", ")
            if let r = try Row.fetchOne(query().cachedStatement(sql: "SELECT \(cols) FROM v_\(table) WHERE _key = ?"),
                                        arguments: [key]) {
                var out: [String: String] = [:]
                for (i, c) in columns.enumerated() where i < r.count {
                    let v = r[i] as DatabaseValue
                    if !v.isNull { out[c] = String.fromDatabaseValue(v) ?? Int64.fromDatabaseValue(v).map(String.init) }
                }
                return out
            }
        }
        guard let stored = try StoredRow.load(raw(), table: table, key: key) else { return nil }
        return stored.values.filter { columns.contains($0.key) }
    }

    /// Whether a stored row is deleted.
    public func isDeleted(_ table: String, _ key: String) throws -> Bool {
        try Bool.fetchOne(raw().cachedStatement(sql: "SELECT deleted FROM row WHERE tbl = ? AND key = ?"),
                          arguments: [table, key]) ?? false
    }

    /// The account that created a row and still alone wrote it.
    func creator(_ table: String, _ key: String) throws -> String? {
        guard let r = try Row.fetchOne(raw().cachedStatement(sql: """
            SELECT o.account, o.shared FROM row r JOIN row_origin o ON o.row = r.id WHERE r.tbl = ? AND r.key = ?
            """), arguments: [table, key]) else { return nil }
        return (r[1] as Bool) ? nil : r[0]
    }

    /// What decides who sees a case. An unknown case has no facts (only the centre sees it).
    public func caseFacts(_ key: String, incoming: [String: String] = [:]) throws -> CaseFacts {
        if incoming.isEmpty, let c = cases[ExactText(key)] { return c }
        let state = incoming.isEmpty ? try served() : nil
        if let state, let c = shared?.caseFacts(key, at: state) {
            cases[ExactText(key)] = c
            return c
        }
        var v = try values("case", key, ["agent_id", "chief_agent_id", "team", "liaisons", "township_id", "office_id"]) ?? [:]
        for (k, x) in incoming where v[k] == nil { v[k] = x }
        let departments = Set(try String.fetchAll(query().cachedStatement(sql: """
            SELECT DISTINCT department_id FROM v_plan_item WHERE case_id = ? AND department_id IS NOT NULL
            """), arguments: [key]))
        let c = CaseFacts(key: key, agent: v["agent_id"], chief: v["chief_agent_id"], team: list(v["team"]),
                          liaisons: list(v["liaisons"]), township: v["township_id"], office: v["office_id"],
                          departments: departments, creator: try creator("case", key))
        if incoming.isEmpty { cases[ExactText(key)] = c }
        if let state { shared?.store(c, at: state) }
        return c
    }

    /// The facts of one row. A row this replica holds is judged by its stored values; a new row by the values
    /// `incoming` (a pushed row change) creates it with (the import refuses the whole new row when one of those
    /// values is refused, see `AccessRules.factFields`).
    public func rowFacts(table: String, key: String, exists: Bool, incoming: RowChange? = nil) throws -> RowFacts {
        let state = exists && incoming == nil && SharedFacts.cachedTables.contains(table) ? try served() : nil
        if let state, let hit = shared?.rowFacts(table, key, at: state) {
            var facts = hit.facts
            facts.cases = try hit.cases.map { try caseFacts($0) }
            return facts
        }
        let facts = try readFacts(table: table, key: key, exists: exists, incoming: incoming)
        if let state { shared?.store(facts, at: state) }
        return facts
    }

    private func readFacts(table: String, key: String, exists: Bool, incoming: RowChange?) throws -> RowFacts {
        var facts = RowFacts(table: table, key: key, exists: exists)
        guard DaibanSchema.schema.tables[table] != nil, !AccessRules.referenceTables.contains(table) else { return facts }
        let scope = AccessRules.scopeFields[table] ?? []
        let extra: [String] = switch table {
        case "plan_item": ["case_id", "department_id"]
        case "item_pause", "supplement_notice": ["case_id", "plan_item_id"]
        case "meeting_attendee": ["meeting_id", "department_id"]
        case "meeting_resolution": ["case_id", "meeting_id", "responsible_department_id"]
        case "ticket": ["case_id", "evaluation_id", "responsible"]
        case "evaluation": ["case_id", "direction", "target_person_id"]
        case "meeting": ["case_ids"]
        case "project": ["township_id", "enterprise_id"]
        case "material", "contact_card": ["project_id", "enterprise_id"]
        case "case": ["township_id", "office_id"]
        default: AccessRules.caseChildren.contains(table) ? ["case_id"] : []
        }
        let columns = Array(scope.union(extra)).sorted()
        var v: [String: String] = [:]
        var overlay: [String: String] = [:]
        if exists {
            v = try values(table, key, columns) ?? [:]
            facts.scopeValues = v.filter { scope.contains($0.key) }
            facts.creator = try creator(table, key)
        } else if let incoming {
            for f in incoming.fields {
                let w = f.state.winner(policy: DaibanSchema.schema.policy(table: table, field: f.name)).value
                guard w != .null else { continue }
                if columns.contains(f.name) { v[f.name] = w.displayText }
                if table == "case" { overlay[f.name] = w.displayText }
            }
        }
        switch table {
        case "case":
            facts.cases = [try caseFacts(key, incoming: overlay)]
            facts.townships = Set([v["township_id"], v["office_id"]].compactMap { $0 })
            if !exists, let p = v["project_id"], let project = try values("project", p, ["township_id", "enterprise_id"]) {
                // A new case joins its project's readers: it may name only a project of its own township, with
                // that project's enterprise.
                if let t = project["township_id"], !facts.townships.contains(t) {
                    facts.inconsistent = "case \(key) names project \(p) of another township"
                } else if let e = project["enterprise_id"], let mine = v["enterprise_id"], !sameText(e, mine) {
                    facts.inconsistent = "case \(key) names another enterprise than its project's"
                }
            }
        case "meeting":
            facts.cases = try list(v["case_ids"]).map { try caseFacts($0) }
            facts.attendeeDepartments = Set(try String.fetchAll(query().cachedStatement(sql: """
                SELECT DISTINCT department_id FROM v_meeting_attendee WHERE meeting_id = ? AND department_id IS NOT NULL
                """), arguments: [key]))
        case "meeting_attendee":
            facts.department = v["department_id"]
            if let m = v["meeting_id"], let mv = try values("meeting", m, ["case_ids"]) {
                facts.cases = try list(mv["case_ids"]).map { try caseFacts($0) }
            }
        case "project":
            facts.cases = try casesLinking("project_id", key)
            facts.townships = Set([v["township_id"]].compactMap { $0 })
            if exists { facts.rootCreators = [facts.creator] }
        case "enterprise":
            facts.cases = try casesLinking("enterprise_id", key)
            facts.townships = Set(try String.fetchAll(query().cachedStatement(sql: """
                SELECT DISTINCT township_id FROM v_project WHERE enterprise_id = ? AND township_id IS NOT NULL
                """), arguments: [key]))
            if exists { facts.rootCreators = [facts.creator] }
        case "material", "contact_card":
            var cs: [CaseFacts] = []
            if let p = v["project_id"] {
                cs += try casesLinking("project_id", p)
                if let t = try values("project", p, ["township_id"])?["township_id"] { facts.townships.insert(t) }
                if try rowExists("project", p) { facts.rootCreators.append(try creator("project", p)) }
            }
            if let e = v["enterprise_id"] {
                cs += try casesLinking("enterprise_id", e)
                if try rowExists("enterprise", e) { facts.rootCreators.append(try creator("enterprise", e)) }
            }
            facts.cases = cs
        default:
            if let c = v["case_id"] { facts.cases = [try caseFacts(c)] }
            switch table {
            case "plan_item": facts.department = v["department_id"]
            case "item_pause", "supplement_notice":
                if let i = v["plan_item_id"] {
                    let item = try values("plan_item", i, ["case_id", "department_id"])
                    facts.department = item?["department_id"]
                    if item == nil || !sameText(item?["case_id"], v["case_id"]) { facts.inconsistent = Self.mismatch(table, key) }
                }
            case "meeting_resolution":
                facts.department = v["responsible_department_id"]
                if let m = v["meeting_id"] {
                    let meeting = try values("meeting", m, ["case_ids"])
                    if meeting == nil || !list(meeting?["case_ids"]).contains(where: { sameText($0, v["case_id"]) }) {
                        facts.inconsistent = Self.mismatch(table, key)
                    }
                }
            case "ticket":
                facts.department = v["responsible"]
                if let e = v["evaluation_id"] {
                    let evaluation = try values("evaluation", e, ["case_id"])
                    if evaluation == nil || !sameText(evaluation?["case_id"], v["case_id"]) { facts.inconsistent = Self.mismatch(table, key) }
                }
            case "evaluation":
                facts.direction = v["direction"]
                facts.targetPerson = v["target_person_id"]
            default: break
            }
        }
        return facts
    }

    /// Whether `key` names a row of `table` that belongs to case `caseKey` (a plan item of the case, a meeting
    /// about it).
    public func belongs(_ table: String, _ key: String, toCase caseKey: String) throws -> Bool {
        switch table {
        case "plan_item": return sameText(try values("plan_item", key, ["case_id"])?["case_id"], caseKey)
        case "meeting": return list(try values("meeting", key, ["case_ids"])?["case_ids"]).contains { sameText($0, caseKey) }
        default: return false
        }
    }

    /// The refusal of a row whose links do not belong together (the same words whether the row it names is
    /// another case's or does not exist, so that the answer tells nothing of rows outside the account's scope).
    static func mismatch(_ table: String, _ key: String) -> String {
        "\(table) \(key) names rows that do not belong to its case"
    }

    /// Whether the replica holds a row (live or deleted).
    private func rowExists(_ table: String, _ key: String) throws -> Bool {
        try Bool.fetchOne(raw().cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM row WHERE tbl = ? AND key = ?)"),
                          arguments: [table, key]) ?? false
    }

    /// The live cases that name a project or enterprise.
    private func casesLinking(_ column: String, _ key: String) throws -> [CaseFacts] {
        try String.fetchAll(query().cachedStatement(sql: "SELECT _key FROM v_case WHERE \(column) = ?"), arguments: [key])
            .map { try caseFacts($0) }
    }
}

/// Who the server's accounts are in the roster, read from the replica.
public enum AccountDirectory {
    /// The account with its roster people and, for a liaison, its departments.
    public static func account(_ db: Database, role: AccountRole, userID: String, user: String, township: String?,
                               department: String?) throws -> Account {
        let people = try Row.fetchAll(db.cachedStatement(sql: "SELECT _key, department_id FROM v_person WHERE login = ?"),
                                      arguments: [user])
        var departments = Set(department.map { [$0] } ?? [])
        if role == .liaison { for p in people { if let d = p["department_id"] as String? { departments.insert(d) } } }
        return Account(role: role, userID: userID, user: user, persons: Set(people.map { $0["_key"] as String }),
                       township: township, departments: departments)
    }

    /// The subjects whose scope exits concern the account (see `CaseFacts.subjects`).
    public static func subjects(_ a: Account) -> [String] {
        var s = a.persons.map { "person:" + $0 } + ["user:" + a.userID, "login:" + a.user]
        if let t = a.township, a.role == .township { s.append("township:" + t) }
        if a.role == .liaison { s += a.departments.map { "department:" + $0 } }
        return s.sorted()
    }
}

/// What a device receives (DOMAIN.md §3 sync scope), deny by default: `AccessRules.mayRead` on the facts of every
/// row a pull chunk would carry.
public enum ReadScope {
    /// The per-row decision of one pull request (facts are cached for each snapshot it reads).
    /// - Parameter shared: facts kept across the pulls of one server (nil: read for each request).
    public static func rowFilter(_ account: Account, shared: SharedFacts? = nil) -> RowFilter {
        return { db in
            let reader = FactsReader(snapshot: db, shared: shared)
            return { table, key in AccessRules.mayRead(account, try reader.rowFacts(table: table, key: key, exists: true)) }
        }
    }

    /// The rows of a case a device holds, to remove when the case leaves its scope: the case, its child rows
    /// (deleted ones too), meetings of no other held case with their attendee lines, and its project, enterprise
    /// and materials unless another held case names them.
    public static func rowsOfCase(_ db: Database, _ caseKey: String, deleted: DeletedRows = DeletedRows())
        throws -> [(table: String, key: String)]
    {
        var out: [(String, String)] = [("case", caseKey)]
        let link = try Row.fetchOne(db, sql: "SELECT project_id, enterprise_id FROM v_case WHERE _key = ?", arguments: [caseKey])
        for t in AccessRules.caseChildren.sorted() {
            out += try String.fetchAll(db, sql: "SELECT _key FROM v_\(t) WHERE case_id = ?", arguments: [caseKey]).map { (t, $0) }
            out += try deleted.keys(db, t, "case_id", caseKey).map { (t, $0) }
        }
        for (id, cases) in try meetings(db, of: caseKey, deleted: deleted) {
            let others = cases.filter { $0 != caseKey }
            let held = try others.contains { try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM v_case WHERE _key = ?)", arguments: [$0]) ?? false }
            if held { continue }
            out += try rowsOfMeeting(db, id, deleted: deleted)
        }
        if let p = link?[0] as String?,
           try Int.fetchOne(db, sql: "SELECT count(*) FROM v_case WHERE project_id = ? AND _key <> ?", arguments: [p, caseKey]) == 0 {
            out += try rowsOfRoot(db, "project", p, deleted: deleted)
        }
        if let e = link?[1] as String?,
           try Int.fetchOne(db, sql: "SELECT count(*) FROM v_case WHERE enterprise_id = ? AND _key <> ?", arguments: [e, caseKey]) == 0 {
            out += try rowsOfRoot(db, "enterprise", e, deleted: deleted)
        }
        return out
    }

    /// The meetings whose case list names the case, read as the access rules read it (`list`), with their case
    /// lists: live ones from the query table, deleted ones from their stored states.
    public static func meetings(_ db: Database, of caseKey: String, deleted: DeletedRows = DeletedRows())
        throws -> [(key: String, cases: [String])]
    {
        let live = try Row.fetchAll(db, sql: "SELECT _key, case_ids FROM v_meeting WHERE instr(case_ids, ?) > 0", arguments: [caseKey])
            .map { ($0[0] as String, list($0[1])) }
        return (live + (try deleted.meetings(db))).filter { $0.1.contains { sameText($0, caseKey) } }.map { (key: $0.0, cases: $0.1) }
    }

    /// A meeting with its attendee lines, deleted ones too.
    static func rowsOfMeeting(_ db: Database, _ key: String, deleted: DeletedRows) throws -> [(table: String, key: String)] {
        var out: [(String, String)] = [("meeting", key)]
        out += try String.fetchAll(db, sql: "SELECT _key FROM v_meeting_attendee WHERE meeting_id = ?", arguments: [key])
            .map { ("meeting_attendee", $0) }
        out += try deleted.keys(db, "meeting_attendee", "meeting_id", key).map { ("meeting_attendee", $0) }
        return out
    }

    /// The rows a device removes when `table`/`key` leaves its scope: a case with its rows (`rowsOfCase`), or a
    /// project or enterprise with its own (`rowsOfRoot`). What `Synchronizer.rowsOfExit` takes.
    public static func rowsOfExit(_ replica: ReplicaDatabase, _ table: String, _ key: String) throws
        -> [(table: String, key: String)]
    {
        try replica.query { db in table == "case" ? try rowsOfCase(db, key) : try rowsOfRoot(db, table, key) }
    }

    /// A project or enterprise with the materials and contact cards that name it, deleted ones too.
    public static func rowsOfRoot(_ db: Database, _ table: String, _ key: String, deleted: DeletedRows = DeletedRows())
        throws -> [(table: String, key: String)]
    {
        var out: [(String, String)] = [(table, key)]
        let column = table == "project" ? "project_id" : "enterprise_id"
        for t in ["material", "contact_card"] {
            out += try String.fetchAll(db, sql: "SELECT _key FROM v_\(t) WHERE \(column) = ?", arguments: [key]).map { (t, $0) }
            out += try deleted.keys(db, t, column, key).map { (t, $0) }
        }
        return out
    }
}

/// Deleted rows by the stored value of one of their fields (the query tables hold live rows only), each table and
/// field read once, through the index of deleted rows, for all the cases one push or one purge looks up: a push
/// that moves many cases reads a table's deleted rows once, not once per case. Valid while no row is deleted or
/// undeleted (a push's scope settlement runs after its merges).
public final class DeletedRows {
    private var byLink: [String: [ExactText: [String]]] = [:]
    private var meetingLists: [(String, [String])]?

    public init() {}

    /// The deleted rows of `table` whose stored `column` is `value`.
    func keys(_ db: Database, _ table: String, _ column: String, _ value: String) throws -> [String] {
        let id = table + "." + column
        if byLink[id] == nil {
            var found: [ExactText: [String]] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT r.key, f.value FROM row r JOIN field f ON f.row = r.id JOIN field_name n ON n.id = f.field
                WHERE r.tbl = ? AND r.deleted = 1 AND n.tbl = ? AND n.name = ?
                """, arguments: [table, table, column])
            while let r = try rows.next() {
                if let v = String.fromDatabaseValue(r[1]) { found[ExactText(v), default: []].append(r[0]) }
            }
            byLink[id] = found
        }
        return byLink[id]![ExactText(value)] ?? []
    }

    /// Every deleted meeting with its stored case list.
    func meetings(_ db: Database) throws -> [(String, [String])] {
        if let m = meetingLists { return m }
        let m = try Row.fetchAll(db, sql: """
            SELECT r.key, f.value FROM row r JOIN field f ON f.row = r.id JOIN field_name n ON n.id = f.field
            WHERE r.tbl = 'meeting' AND r.deleted = 1 AND n.tbl = 'meeting' AND n.name = 'case_ids'
            """).map { ($0[0] as String, list(String.fromDatabaseValue($0[1]))) }
        meetingLists = m
        return m
    }
}
