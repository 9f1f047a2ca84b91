public import CaseDomain
import Foundation
import GRDB
public import ReplicaStore
public import SyncCore

/// Follows, within one push, the cases whose readers may change (assignment, township, a plan item's department,
/// the creator's grant), and settles them before commit: a subject that gained the case gets all of its rows
/// again (they are re-stamped, so every cursor meets them); a subject that lost it gets a scope exit, and its
/// devices remove their copies. Work is proportional to the cases the push changed, never to the county.
public final class ScopeChanges: @unchecked Sendable {
    private var before: [ExactText: Set<String>] = [:]
    private var order: [String] = []
    private var rootsBefore: [ExactText: (table: String, key: String, subjects: Set<String>)] = [:]
    /// Deleted rows this push writes to: a write undeletes, and devices that never held the row then need all of it.
    private var deleted: [(table: String, key: String)] = []

    public init() {}

    /// Notes a row about to be merged; `facts` are its facts before the merge.
    public func touch(_ change: RowChange, _ facts: RowFacts, _ reader: FactsReader) throws {
        if facts.exists, try reader.isDeleted(change.table, change.key) { deleted.append((change.table, change.key)) }
        switch change.table {
        case "case":
            note(change.key, facts.exists ? facts.cases.first?.subjects ?? [] : [])
        case "plan_item":
            guard change.fields.contains(where: { ["department_id", "case_id", Schema.deletedField].contains($0.name) }) else { return }
            for c in facts.cases { note(c.key, c.subjects) }
        case "project", "enterprise":
            let id = ExactText(change.table + "\u{0}" + change.key)
            if rootsBefore[id] == nil { rootsBefore[id] = (change.table, change.key, Self.rootSubjects(facts)) }
        default:
            return
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
        let reader = FactsReader(db: { db }, query: { db })
        var exits: [(subject: String, table: String, key: String)] = []
        var restamped = 0
        for key in order {
            let old = before[ExactText(key)] ?? []
            let new = try reader.caseFacts(key).subjects
            if !new.subtracting(old).isEmpty {
                for (t, k) in try Self.rowsOfCase(db, key) { restamped += try stamper.restamp(table: t, key: k) }
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

    /// Every live row of a case on the server: the case, its children, its meetings with their attendee lines,
    /// its project and enterprise with their materials and contact cards.
    static func rowsOfCase(_ db: Database, _ caseKey: String) throws -> [(String, String)] {
        var out: [(String, String)] = [("case", caseKey)]
        for t in AccessRules.caseChildren.sorted() {
            out += try String.fetchAll(db, sql: "SELECT _key FROM v_\(t) WHERE case_id = ?", arguments: [caseKey]).map { (t, $0) }
        }
        for (m, _) in try ReadScope.meetings(db, of: caseKey) {
            out.append(("meeting", m))
            out += try String.fetchAll(db, sql: "SELECT _key FROM v_meeting_attendee WHERE meeting_id = ?", arguments: [m])
                .map { ("meeting_attendee", $0) }
        }
        if let r = try Row.fetchOne(db, sql: "SELECT project_id, enterprise_id FROM v_case WHERE _key = ?", arguments: [caseKey]) {
            if let p = r[0] as String? { out += try ReadScope.rowsOfRoot(db, "project", p) }
            if let e = r[1] as String? { out += try ReadScope.rowsOfRoot(db, "enterprise", e) }
        }
        return out
    }
}
