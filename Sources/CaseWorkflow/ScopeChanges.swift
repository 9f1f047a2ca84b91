public import CaseDomain
import Foundation
import GRDB
public import ReplicaStore
public import SyncCore

/// Follows, within one push, the cases whose readers may change (assignment, township, a plan item's department,
/// the creator's grant), and settles them before commit: a subject that gained the case gets all of its rows
/// again (they are re-stamped, so every cursor meets them); a subject that lost it gets a scope exit, and its
/// devices remove their copies. Work is proportional to the cases the push changed, never to the county's live
/// rows (a case's deleted rows are found among the deleted rows of its tables).
public final class ScopeChanges: @unchecked Sendable {
    private var before: [ExactText: Set<String>] = [:]
    private var order: [String] = []
    private var rootsBefore: [ExactText: (table: String, key: String, subjects: Set<String>)] = [:]
    /// Deleted rows this push writes to: a write undeletes, and devices that never held the row then need all of it.
    private var deleted: [(table: String, key: String)] = []
    /// The account whose push this is (nil: not known).
    private let account: String?
    /// New rows of cases that their creator alone had written: once such a row lands, the case is no longer its
    /// creator's alone (an office's registration of a case an agent made up in advance ends the agent's claim).
    private var claimed: [(caseKey: String, table: String, key: String)] = []
    /// Roster people whose login or department the push may change, with their values before.
    private var people: [(key: String, login: String?, department: String?)] = []

    /// - Parameter account: the account (user id) whose push this is.
    public init(account: String? = nil) { self.account = account }

    /// Notes a row about to be merged; `facts` are its facts before the merge, `isDeleted` whether it is deleted.
    public func touch(_ change: RowChange, _ facts: RowFacts, _ reader: FactsReader, isDeleted: Bool) throws {
        if facts.exists && isDeleted { deleted.append((change.table, change.key)) }
        switch change.table {
        case "case":
            note(change.key, facts.exists ? facts.cases.first?.subjects ?? [] : [])
        case "plan_item":
            guard change.fields.contains(where: { ["department_id", "case_id", Schema.deletedField].contains($0.name) }) else { return }
            for c in facts.cases { note(c.key, c.subjects) }
        case "project", "enterprise":
            let id = ExactText(change.table + "\u{0}" + change.key)
            if rootsBefore[id] == nil { rootsBefore[id] = (change.table, change.key, Self.rootSubjects(facts)) }
        case "person":
            guard change.fields.contains(where: { ["login", "department_id", Schema.deletedField].contains($0.name) }) else { return }
            let v = try reader.values("person", change.key, ["login", "department_id"])
            people.append((change.key, v?["login"], v?["department_id"]))
        default:
            if !facts.exists, AccessRules.caseChildren.contains(change.table), let c = facts.cases.first,
               let creator = c.creator, creator != account, !c.isAssigned {
                note(c.key, c.subjects)
                claimed.append((c.key, change.table, change.key))
            }
        }
    }

    private func note(_ key: String, _ subjects: Set<String>) {
        let id = ExactText(key)
        if before[id] == nil {
            before[id] = subjects
            order.append(key)
        }
    }

    /// Who receives a project or enterprise beyond the cases that name it: while no case names it, its townships;
    /// until a case naming it is assigned, its creator while it alone wrote it.
    static func rootSubjects(_ facts: RowFacts) -> Set<String> {
        var s = facts.cases.isEmpty ? Set(facts.townships.map { "township:" + $0 }) : []
        if !facts.cases.contains(where: \.isAssigned), let c = facts.creator { s.insert("user:" + c) }
        return s
    }

    /// Re-stamps the cases that gained readers and records the exits of those that lost some.
    /// - Returns: the number of rows re-stamped and of exits recorded.
    @discardableResult
    public func settle(_ replica: ReplicaDatabase, _ stamper: RowRestamper) throws -> (restamped: Int, exits: Int) {
        let db = try stamper.queryDatabase()
        var exits: [(subject: String, table: String, key: String)] = []
        var restamped = 0
        for c in claimed where try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM row WHERE tbl = ? AND key = ?)",
                                                 arguments: [c.table, c.key]) == true {
            try stamper.markShared(table: "case", key: c.caseKey)
        }
        let reader = FactsReader(db: { db }, query: { db })
        let deletedRows = DeletedRows()
        for p in people {
            let now = try reader.values("person", p.key, ["login", "department_id"])
            let deleted = try reader.isDeleted("person", p.key)
            let login = deleted ? nil : now?["login"], department = deleted ? nil : now?["department_id"]
            // The cases the person's account reaches change with the login (as agent, chief, team member or
            // liaison) and, for a liaison, with the department: the new holder gets them, the old loses them.
            if !sameText(login, p.login) {
                for key in try Self.casesOfPerson(db, p.key) {
                    if login != nil { for (t, k) in try Self.rowsOfCase(db, key, deletedRows) { restamped += try stamper.restamp(table: t, key: k) } }
                    if let old = p.login { exits.append(("login:" + old, "case", key)) }
                }
            }
            if !sameText(department, p.department) {
                if let old = p.department, let l = p.login ?? login {
                    for key in try Self.casesOfDepartment(db, old) { exits.append(("login:" + l, "case", key)) }
                }
                if let new = department, login != nil {
                    for key in try Self.casesOfDepartment(db, new) {
                        for (t, k) in try Self.rowsOfCase(db, key, deletedRows) { restamped += try stamper.restamp(table: t, key: k) }
                    }
                }
            }
        }
        for key in order {
            let old = before[ExactText(key)] ?? []
            let new = try reader.caseFacts(key).subjects
            if !new.subtracting(old).isEmpty {
                for (t, k) in try Self.rowsOfCase(db, key, deletedRows) { restamped += try stamper.restamp(table: t, key: k) }
            }
            for s in old.subtracting(new) { exits.append((s, "case", key)) }
        }
        for row in deleted where try !reader.isDeleted(row.table, row.key) {
            restamped += try stamper.restamp(table: row.table, key: row.key)
        }
        for (_, root) in rootsBefore {
            let facts = try reader.rowFacts(table: root.table, key: root.key, exists: true)
            for s in root.subjects.subtracting(Self.rootSubjects(facts)) { exits.append((s, root.table, root.key)) }
        }
        try replica.recordScopeExits(exits, in: stamper)
        return (restamped, exits.count)
    }

    /// The live cases that name a person as agent, chief agent, team member or liaison.
    static func casesOfPerson(_ db: Database, _ person: String) throws -> [String] {
        try Row.fetchAll(db, sql: """
            SELECT _key, agent_id, chief_agent_id, team, liaisons FROM v_case
            WHERE agent_id = ? OR chief_agent_id = ? OR instr(team, ?) > 0 OR instr(liaisons, ?) > 0
            """, arguments: [person, person, person, person]).compactMap { r in
            let named = [r[1] as String?, r[2] as String?].compactMap { $0 } + list(r[3]) + list(r[4])
            return named.contains { sameText($0, person) } ? r[0] as String : nil
        }
    }

    /// The live cases with a plan item of a department.
    static func casesOfDepartment(_ db: Database, _ department: String) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT DISTINCT case_id FROM v_plan_item WHERE department_id = ? AND case_id IS NOT NULL",
                            arguments: [department])
    }

    /// Every row of a case on the server, deleted ones too: the case, its children, its meetings with their
    /// attendee lines, its project and enterprise with their materials and contact cards. A reader that gains the
    /// case receives them whole, as a device pulling from the start would, never a deletion without the fields it
    /// covers.
    static func rowsOfCase(_ db: Database, _ caseKey: String, _ deleted: DeletedRows) throws -> [(String, String)] {
        var out: [(String, String)] = [("case", caseKey)]
        for t in AccessRules.caseChildren.sorted() {
            out += try String.fetchAll(db, sql: "SELECT _key FROM v_\(t) WHERE case_id = ?", arguments: [caseKey]).map { (t, $0) }
            out += try deleted.keys(db, t, "case_id", caseKey).map { (t, $0) }
        }
        for (m, _) in try ReadScope.meetings(db, of: caseKey, deleted: deleted) {
            out += try ReadScope.rowsOfMeeting(db, m, deleted: deleted)
        }
        if let r = try Row.fetchOne(db, sql: "SELECT project_id, enterprise_id FROM v_case WHERE _key = ?", arguments: [caseKey]) {
            if let p = r[0] as String? { out += try ReadScope.rowsOfRoot(db, "project", p, deleted: deleted) }
            if let e = r[1] as String? { out += try ReadScope.rowsOfRoot(db, "enterprise", e, deleted: deleted) }
        }
        return out
    }
}
