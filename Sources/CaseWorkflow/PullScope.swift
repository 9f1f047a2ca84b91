import CaseDomain
import Foundation
public import GRDB
public import ReplicaStore
public import SyncCore
import Synchronization

/// Which rows a device receives (DOMAIN.md §3, "sync scope"): an agent's laptop its own and its team's cases
/// with their projects, enterprises and records, plus the reference data; a township node the cases of its
/// township; a liaison the cases where the department has items, with those items; the centre everything.
///
/// The server applies it to every pull chunk (`rowFilter`). Pulls are cursor-based, so a row that enters a
/// scope later (a case assigned to an agent after the agent's cursor passed its rows) must be sent again: the
/// server re-stamps a case's rows whenever its assignment changes (`restampOnAssignment`).
public enum PullScope {
    /// Reference data: everyone receives it.
    static let reference: Set<String> = ["rule", "calendar_day", "catalogue_item", "office", "township", "department",
                                         "person"]
    /// Tables whose rows belong to one case through `case_id`.
    static let caseChildren = ["plan_item", "item_pause", "work_log", "progress_report", "escalation", "completion_form",
                               "termination_form", "evaluation", "ticket", "material_use", "meeting_resolution",
                               "agreement", "registration", "complaint"]
    /// What a liaison sees of its cases (no work logs, reports, evaluations, tickets or forms).
    static let liaisonTables: Set<String> = ["case", "project", "enterprise", "plan_item", "item_pause", "escalation",
                                             "meeting", "meeting_attendee", "meeting_resolution"]
    /// Evaluator confidentiality: agents see aggregates, not other people's ratings of them.
    static let hiddenFromAgents: Set<String> = ["evaluation", "ticket", "complaint"]
    /// Case fields whose change moves the case into someone's scope.
    static let assignmentFields: Set<String> = ["agent_id", "chief_agent_id", "team", "liaisons", "township_id", "office_id"]

    /// Who is pulling.
    public enum Subject: Sendable {
        /// An agent: the roster person with this login.
        case agent(login: String)
        /// A township or park office.
        case township(String)
        /// A department liaison: the roster person with this login, in this department (nil: from the roster).
        case liaison(login: String, department: String?)
    }

    /// The per-row decision for one pull request (the in-scope case set is computed once, on first use).
    public static func rowFilter(_ subject: Subject) -> RowFilter {
        let cache = Mutex<Scope?>(nil)
        return { db, table, key in
            let scope = try cache.withLock { s -> Scope in
                if let s { return s }
                let new = try Scope(db, subject)
                s = new
                return new
            }
            return try scope.allows(db, table, key)
        }
    }

    struct Scope: Sendable {
        let cases: Set<String>
        let projects: Set<String>
        let enterprises: Set<String>
        let liaison: Bool
        let agent: Bool

        init(_ db: Database, _ subject: Subject) throws {
            var cases = Set<String>()
            switch subject {
            case .agent(let login):
                agent = true
                liaison = false
                for p in try String.fetchAll(db, sql: "SELECT _key FROM v_person WHERE login = ?", arguments: [login]) {
                    cases.formUnion(try String.fetchAll(db, sql: """
                        SELECT _key FROM v_case WHERE agent_id = ? UNION SELECT _key FROM v_case WHERE chief_agent_id = ?
                        UNION SELECT _key FROM v_case WHERE team > '' AND instr(',' || team || ',', ?) > 0
                        UNION SELECT case_id FROM v_registration WHERE received_by_person_id = ? AND case_id IS NOT NULL
                        """, arguments: [p, p, ",\(p),", p]))
                }
            case .township(let t):
                agent = false
                liaison = false
                cases.formUnion(try String.fetchAll(db, sql: """
                    SELECT _key FROM v_case WHERE township_id = ? UNION SELECT _key FROM v_case WHERE office_id = ?
                    """, arguments: [t, t]))
            case .liaison(let login, let department):
                agent = false
                liaison = true
                var departments = Set(department.map { [$0] } ?? [])
                let people = try Row.fetchAll(db, sql: "SELECT _key, department_id FROM v_person WHERE login = ?", arguments: [login])
                for p in people { if let d = p["department_id"] as String? { departments.insert(d) } }
                for d in departments {
                    cases.formUnion(try String.fetchAll(db, sql: "SELECT DISTINCT case_id FROM v_plan_item WHERE department_id = ? AND case_id IS NOT NULL",
                                                        arguments: [d]))
                }
                for p in people {
                    let id: String = p["_key"]
                    cases.formUnion(try String.fetchAll(db, sql: "SELECT _key FROM v_case WHERE instr(',' || liaisons || ',', ?) > 0",
                                                        arguments: [",\(id),"]))
                }
            }
            self.cases = cases
            var projects = Set<String>(), enterprises = Set<String>()
            for c in cases {
                if let r = try Row.fetchOne(db, sql: "SELECT project_id, enterprise_id FROM v_case WHERE _key = ?", arguments: [c]) {
                    if let p = r[0] as String? { projects.insert(p) }
                    if let e = r[1] as String? { enterprises.insert(e) }
                }
            }
            self.projects = projects
            self.enterprises = enterprises
        }

        func allows(_ db: Database, _ table: String, _ key: String) throws -> Bool {
            if reference.contains(table) { return true }
            if liaison && !liaisonTables.contains(table) && DaibanSchema.schema.tables[table] != nil { return false }
            if agent && hiddenFromAgents.contains(table) { return false }
            switch table {
            case "case":
                return cases.contains(key)
            case "project", "enterprise":
                // Not yet part of any case (a prospect): shared; else with its cases.
                if (table == "project" ? projects : enterprises).contains(key) { return true }
                return try Bool.fetchOne(db, sql: "SELECT NOT EXISTS (SELECT 1 FROM v_case WHERE \(table)_id = ?)", arguments: [key]) ?? true
            case "meeting":
                let ids = try String.fetchOne(db, sql: "SELECT case_ids FROM v_meeting WHERE _key = ?", arguments: [key]) ?? ""
                return ids.split(separator: ",").contains { cases.contains(String($0)) }
            case "meeting_attendee":
                guard let m = try String.fetchOne(db, sql: "SELECT meeting_id FROM v_meeting_attendee WHERE _key = ?", arguments: [key])
                else { return false }
                return try allows(db, "meeting", m)
            case "material":
                guard let r = try Row.fetchOne(db, sql: "SELECT project_id, enterprise_id FROM v_material WHERE _key = ?", arguments: [key])
                else { return false }
                if let p = r[0] as String? { return projects.contains(p) }
                if let e = r[1] as String? { return enterprises.contains(e) }
                return false
            default:
                guard caseChildren.contains(table) else { return true }  // a table a newer build declares
                guard let c = try String.fetchOne(db, sql: "SELECT case_id FROM v_\(table) WHERE _key = ?", arguments: [key])
                else { return false }
                return cases.contains(c)
            }
        }
    }

    /// After a pushed row is merged: when a case's assignment changed, or a plan item names a department,
    /// re-stamp the rows that may have entered someone's scope so every cursor receives them again.
    public static func restampOnAssignment(_ row: RowChange, _ stamper: RowRestamper) throws {
        let caseID: String
        if row.table == "case", row.fields.contains(where: { assignmentFields.contains($0.name) }) {
            caseID = row.key
        } else if row.table == "plan_item", row.fields.contains(where: { $0.name == "department_id" }) {
            // A liaison's scope grows by this item's case: its header, project and enterprise.
            let db = try stamper.queryDatabase()
            guard let c = try String.fetchOne(db, sql: "SELECT case_id FROM v_plan_item WHERE _key = ?", arguments: [row.key])
            else { return }
            try restampHeader(c, stamper)
            return
        } else {
            return
        }
        let db = try stamper.queryDatabase()
        try restampHeader(caseID, stamper)
        for table in caseChildren {
            for key in try String.fetchAll(db, sql: "SELECT _key FROM v_\(table) WHERE case_id = ?", arguments: [caseID]) {
                try stamper.restamp(table: table, key: key)
            }
        }
        for m in try String.fetchAll(db, sql: "SELECT _key FROM v_meeting WHERE instr(',' || case_ids || ',', ?) > 0", arguments: [",\(caseID),"]) {
            try stamper.restamp(table: "meeting", key: m)
            for a in try String.fetchAll(db, sql: "SELECT _key FROM v_meeting_attendee WHERE meeting_id = ?", arguments: [m]) {
                try stamper.restamp(table: "meeting_attendee", key: a)
            }
        }
        if let r = try Row.fetchOne(db, sql: "SELECT project_id, enterprise_id FROM v_case WHERE _key = ?", arguments: [caseID]) {
            for m in try String.fetchAll(db, sql: "SELECT _key FROM v_material WHERE project_id = ? OR enterprise_id = ?",
                                         arguments: [r[0] as String?, r[1] as String?]) {
                try stamper.restamp(table: "material", key: m)
            }
        }
    }

    private static func restampHeader(_ caseID: String, _ stamper: RowRestamper) throws {
        let db = try stamper.queryDatabase()
        try stamper.restamp(table: "case", key: caseID)
        if let r = try Row.fetchOne(db, sql: "SELECT project_id, enterprise_id FROM v_case WHERE _key = ?", arguments: [caseID]) {
            if let p = r[0] as String? { try stamper.restamp(table: "project", key: p) }
            if let e = r[1] as String? { try stamper.restamp(table: "enterprise", key: e) }
        }
    }
}
