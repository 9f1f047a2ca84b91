public import SyncCore

/// Who reads and writes what (DOMAIN.md §3), as pure functions of facts the server looks up: the trust boundary's
/// rules, testable without SQLite.
///
/// The server judges every version it does not hold yet by the **account that wrote it** (for a relayed bundle,
/// the writing device's account, never the relayer's), the **row's scope** (the cases the row belongs to, the
/// same case set the account pulls) and the **field's owner**. Everything not granted here is refused: unknown
/// tables and fields are the centre's alone.

/// The account roles of the server.
public enum AccountRole: String, Sendable, CaseIterable, Codable {
    case agent, township, center, liaison
}

/// An authenticated account, with what the roster says about it.
public struct Account: Sendable, Hashable {
    public var role: AccountRole
    /// The server's user id (grants to an account are recorded by id).
    public var userID: String
    /// The user name; every version the account's devices write carries it as author.
    public var user: String
    /// Roster people whose `login` is the user name.
    public var persons: Set<String>
    /// The township or park of a township account.
    public var township: String?
    /// The departments of a liaison (the account's, and its people's).
    public var departments: Set<String>
    /// A device that never signed in, judged as an agent with no cases: it may only register.
    public var unverified: Bool

    public init(role: AccountRole, userID: String, user: String, persons: Set<String> = [], township: String? = nil,
                departments: Set<String> = [], unverified: Bool = false) {
        self.role = role
        self.userID = userID
        self.user = user
        self.persons = persons
        self.township = township
        self.departments = departments
        self.unverified = unverified
    }
}

/// Whether two texts are the same bytes (SQLite compares bytes; Swift's `==` treats canonically equivalent texts as
/// equal, so a lookalike id would pass a Swift comparison and name another row in SQL).
public func sameText(_ a: String?, _ b: String?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case (let x?, let y?): return x.utf8.elementsEqual(y.utf8)
    default: return false
    }
}

/// What decides who may see a case.
public struct CaseFacts: Sendable, Hashable {
    public var key: String
    public var agent: String?
    public var chief: String?
    public var team: [String]
    public var liaisons: [String]
    public var township: String?
    public var office: String?
    /// Departments with plan items in the case.
    public var departments: Set<String>
    /// The account (user id) that created the case, while no other account has written it.
    public var creator: String?

    public init(key: String, agent: String? = nil, chief: String? = nil, team: [String] = [], liaisons: [String] = [],
                township: String? = nil, office: String? = nil, departments: Set<String> = [], creator: String? = nil) {
        self.key = key
        self.agent = agent
        self.chief = chief
        self.team = team
        self.liaisons = liaisons
        self.township = township
        self.office = office
        self.departments = departments
        self.creator = creator
    }

    /// An agent, chief agent or team member is recorded.
    public var isAssigned: Bool { agent != nil || chief != nil || !team.isEmpty }

    /// Everyone who receives the case, as subjects (`person:`, `township:`, `department:`, `user:`): when the set
    /// loses a subject, that subject's devices purge the case; when it gains one, the case is sent again.
    public var subjects: Set<String> {
        var s = Set<String>()
        for p in [agent, chief].compactMap({ $0 }) + team + liaisons { s.insert("person:" + p) }
        for t in [township, office].compactMap({ $0 }) { s.insert("township:" + t) }
        for d in departments { s.insert("department:" + d) }
        if let creator, !isAssigned { s.insert("user:" + creator) }
        return s
    }
}

/// What the server knows about one row, gathered before a version is judged or a row is sent.
public struct RowFacts: Sendable, Equatable {
    public var table: String
    public var key: String
    /// The receiving replica holds the row already.
    public var exists: Bool
    /// The cases the row belongs to: the case itself, a child row's case, a meeting's cases, the cases of a
    /// project, enterprise, material or contact card.
    public var cases: [CaseFacts]
    /// Roots not linked to a case of the account: the townships they are in (a project's township, an
    /// enterprise's projects' townships, a material's or contact card's project's township; a new case's township
    /// and office).
    public var townships: Set<String>
    /// The department a row answers to: a plan item's, a clock pause's item's, an attendee line's, a resolution's
    /// responsible department, a ticket's responsible party.
    public var department: String?
    /// Evaluations: the direction and the person rated.
    public var direction: String?
    public var targetPerson: String?
    /// The account (user id) that created the row, while no other account has written it.
    public var creator: String?
    /// Current values of the row's scope fields (`AccessRules.scopeFields`), to tell a change from a repeat.
    public var scopeValues: [String: String]
    /// Projects, enterprises, materials and contact cards: the accounts that created the project and enterprise
    /// the row is (or names), each while no other account has written it (nil: shared). Rows that do not exist
    /// yet are left out.
    public var rootCreators: [String?] = []
    /// Why the row's links contradict each other, when they do (a clock pause naming another case than its
    /// item's, or an item that does not exist): such a row is the centre's to write.
    public var inconsistent: String?
    /// Meetings: the departments of their attendee lines.
    public var attendeeDepartments: Set<String> = []

    public init(table: String, key: String, exists: Bool, cases: [CaseFacts] = [], townships: Set<String> = [],
                department: String? = nil, direction: String? = nil, targetPerson: String? = nil,
                creator: String? = nil, scopeValues: [String: String] = [:]) {
        self.table = table
        self.key = key
        self.exists = exists
        self.cases = cases
        self.townships = townships
        self.department = department
        self.direction = direction
        self.targetPerson = targetPerson
        self.creator = creator
        self.scopeValues = scopeValues
    }
}

public enum AccessRules {
    /// Reference data only the county centre publishes; everyone receives it.
    public static let referenceTables: Set<String> = ["rule", "calendar_day", "catalogue_item", "office", "department",
                                                      "person", "township"]
    /// Tables whose rows belong to one case through `case_id`.
    public static let caseChildren: Set<String> = ["plan_item", "item_pause", "supplement_notice", "intermediary_service", "work_log", "progress_report", "escalation",
                                                   "completion_form", "termination_form", "evaluation", "ticket",
                                                   "material_use", "meeting_resolution", "agreement", "registration",
                                                   "complaint"]
    /// Append-only records: written once by their creator, never by anyone else, deleted only by the centre.
    public static let appendOnly: Set<String> = ["work_log", "progress_report", "evaluation", "registration"]
    /// Records that stay their writer's: a 一次性告知 is what its department (or agent) told the owner, evidence
    /// in a 重复提交材料 complaint, so only its creator (or the centre) changes or deletes it.
    public static let creatorOwned: Set<String> = ["supplement_notice"]
    /// Evaluator confidentiality: agents see aggregates, not other people's ratings of them.
    public static let hiddenFromAgents: Set<String> = ["evaluation", "ticket", "complaint"]
    /// What a liaison receives of its cases.
    public static let liaisonTables: Set<String> = ["case", "project", "enterprise", "plan_item", "item_pause", "supplement_notice",
                                                    "escalation", "meeting", "meeting_attendee", "meeting_resolution"]
    /// Fields that decide who sees a row: set when the row is created, changed afterwards by the centre only.
    public static let scopeFields: [String: Set<String>] = {
        var m: [String: Set<String>] = [
            "case": ["township_id", "office_id", "project_id", "enterprise_id", "dedupe_key"],
            "project": ["township_id", "enterprise_id"],
            "material": ["project_id", "enterprise_id"],
            "contact_card": ["project_id", "enterprise_id"],
            "meeting": ["case_ids"],
            "meeting_attendee": ["meeting_id", "department_id"],
            "meeting_resolution": ["meeting_id", "case_id", "responsible_department_id"],
            "item_pause": ["plan_item_id", "case_id"],
            "supplement_notice": ["plan_item_id", "case_id"],
            "evaluation": ["case_id", "direction", "target_person_id", "target_department_id"],
            "ticket": ["case_id", "evaluation_id", "responsible"],
        ]
        for t in caseChildren where m[t] == nil { m[t] = ["case_id"] }
        return m
    }()
    /// Assignment: the office's, and the roles that decide which agents see a case.
    public static let assignmentFields: Set<String> = ["agent_id", "chief_agent_id", "team", "liaisons"]

    /// Fields of the office (the case's township office or the centre) beyond the assignment.
    static let officeFields: [String: Set<String>] = [
        "case": ["lead_official_id", "supervising_head_id", "case_no", "reviewed_on", "reason", "handed_over_on",
                 "evaluated_on", "agreement_id", "signed_on"],
        "project": ["lead_official_id", "supervising_head_id"],
        "completion_form": ["received_by_office_id", "received_by_person_id", "received_at"],
        "termination_form": ["received_by_office_id", "received_by_person_id", "received_at"],
        "ticket": ["category", "verified", "malicious_or_mistaken", "callback_at", "callback_by", "feedback_at"],
    ]
    /// Tables only offices write.
    static let officeTables: Set<String> = ["agreement", "complaint", "contact_card"]
    /// What an agent may write of a ticket: only when a negative evaluation of a department opens it.
    static let agentTicketFields: Set<String> = ["evaluation_id", "case_id", "status", "responsible", "rectification_due",
                                                 "ticket_no"]
    /// Rows reached through the cases that name them (directly or through their project or enterprise).
    static let rootTables: Set<String> = ["project", "enterprise", "material", "contact_card"]
    /// What a device that never signed in may create: a registration with its case, project and enterprise, the
    /// work log of the visit, and materials.
    static let registeringTables: Set<String> = ["case", "project", "enterprise", "registration", "work_log", "material"]
    /// Rows a liaison reads by their department (`RowFacts.department`), whatever the case's items: the tickets it
    /// rectifies, the attendee lines it signs, the resolutions it answers for.
    static let liaisonDepartmentTables: Set<String> = ["ticket", "meeting_attendee", "meeting_resolution"]
    /// Links of a case's rows to other rows of the same case that are not scope fields (they may change later):
    /// each written value must name a row of the row's own case.
    public static let caseLinks: [String: [String: String]] = [
        "work_log": ["plan_item_id": "plan_item"],
        "escalation": ["plan_item_id": "plan_item", "meeting_id": "meeting"],
        "material_use": ["plan_item_id": "plan_item"],
        "intermediary_service": ["plan_item_id": "plan_item"],
    ]
    /// The order a trust boundary judges a bundle's rows in: rows before the rows that link to them (a bundle
    /// lists rows by table name, so an agreement would otherwise be judged before its case).
    public static func judgingOrder(_ table: String) -> Int {
        switch table {
        case _ where referenceTables.contains(table): 0
        case "enterprise": 1
        case "project": 2
        case "case": 3
        case "item_pause", "supplement_notice", "intermediary_service", "meeting_attendee", "meeting_resolution", "ticket", "material_use", "escalation": 5
        case _ where DaibanSchema.schema.tables[table] == nil: 6
        default: 4
        }
    }
    /// The case states an agent's own steps produce (registration, plan confirmed, completion, termination).
    static let agentCaseStatuses: Set<String> = ["REGISTERED", "EXECUTING", "COMPLETED", "TERMINATED"]
    /// Tables whose rows an agent may delete (its own plan and materials); others are the office's to delete.
    static let agentDeletes: Set<String> = ["plan_item", "item_pause", "supplement_notice", "intermediary_service", "material", "material_use"]
    /// Tables only the centre deletes.
    static let centreDeletes: Set<String> = appendOnly.union(["case", "agreement", "completion_form", "termination_form"])
    /// What a liaison's device may write, on rows of its departments ("*" = every field of the table).
    static let liaisonFields: [String: Set<String>] = [
        "plan_item": ["status", "accepted_on", "decided_on", "local_done_on", "report_up_due", "reported_up_on",
                      "reported_up_to", "elapsed_wd", "handling_class", "committed_due", "legal_due", "recorded_by",
                      "on_behalf", "had_supplement", "cert_no", "platform_case_no", "submitted_on"],
        "item_pause": ["*"],
        "supplement_notice": ["*"],
        "meeting_attendee": ["signed", "signed_at"],
        "meeting_resolution": ["status", "done_on"],
        "escalation": ["*"],
        "ticket": ["action", "rectified_at", "feedback_at"],
    ]
    static let liaisonForbiddenItemStatuses: Set<String> = ["PLANNED", "DISPATCHED", "PREPARING", "CANCELLED"]

    /// The fields whose values the facts of a row come from (`RowFacts`). A new row is judged by the values it
    /// arrives with, so when any version of one of these is refused, the whole new row is.
    public static func factFields(_ table: String) -> Set<String> {
        var f = scopeFields[table] ?? []
        switch table {
        case "case": f.formUnion(assignmentFields)
        case "plan_item": f.insert("department_id")
        case "meeting_attendee": f.insert("department_id")
        default: break
        }
        return f
    }

    // MARK: Reading

    /// Whether the account's devices receive this row.
    public static func mayRead(_ a: Account, _ row: RowFacts) -> Bool {
        if a.role == .center || referenceTables.contains(row.table) { return true }
        guard DaibanSchema.schema.tables[row.table] != nil else { return false }  // unknown tables: the centre's
        if a.role == .liaison && !liaisonTables.contains(row.table) && row.table != "ticket" { return false }
        if a.role == .agent && hiddenFromAgents.contains(row.table) { return false }
        if a.role == .liaison {
            if liaisonDepartmentTables.contains(row.table), let d = row.department, a.departments.contains(d) { return true }
            if row.table == "meeting", !a.departments.isDisjoint(with: row.attendeeDepartments) { return true }
            if row.table == "ticket" { return false }
        }
        guard rootTables.contains(row.table) else {
            if row.cases.contains(where: { reads(a, $0) }) { return true }
            return row.table == "complaint" && row.cases.isEmpty && a.role == .township && row.creator == a.userID
        }
        if rootCases(a, row).contains(where: { reads(a, $0) }) { return true }
        // A prospect (no case names it) is its township's. An agent's own creation stays its own, while no one
        // else has written it, until a case naming it is assigned; then it follows that case's readers.
        if a.role == .township, let t = a.township, row.cases.isEmpty, row.townships.contains(t) { return true }
        return row.creator == a.userID && !row.cases.contains(where: \.isAssigned)
    }

    /// The cases through which an account reaches a project, enterprise, material or contact card. For an agent,
    /// a case the office has not assigned yet counts only when the agent created the project and enterprise it
    /// names: a registration that names someone else's project or enterprise gives nothing until the office,
    /// reading the registration, assigns the case. (A township reaches what the cases of its jurisdiction name; a
    /// new case may name only a project of its own township, `FactsReader`. A liaison reaches the cases with items
    /// of its department, and an agent's unassigned case has no items, `writeRejection`.)
    static func rootCases(_ a: Account, _ row: RowFacts) -> [CaseFacts] {
        guard a.role == .agent else { return row.cases }
        let ownRoots = row.rootCreators.allSatisfy { $0 == a.userID }
        return row.cases.filter { $0.isAssigned || ownRoots }
    }

    /// Whether the account receives a case and its rows.
    public static func reads(_ a: Account, _ c: CaseFacts) -> Bool {
        switch a.role {
        case .center: return true
        case .township: return a.township != nil && (c.township == a.township || c.office == a.township)
        case .agent: return isCaseAgent(a, c)
        case .liaison:
            return !a.departments.isDisjoint(with: c.departments) || !a.persons.isDisjoint(with: c.liaisons)
        }
    }

    /// The case's agent, chief agent or team member, or its creator while it is unassigned and no other account has
    /// written it (a registration made in the field, before the office assigns it).
    static func isCaseAgent(_ a: Account, _ c: CaseFacts) -> Bool {
        isAssignedAgent(a, c) || !c.isAssigned && c.creator == a.userID
    }

    /// The case's agent, chief agent or team member.
    static func isAssignedAgent(_ a: Account, _ c: CaseFacts) -> Bool {
        if let x = c.agent, a.persons.contains(x) { return true }
        if let x = c.chief, a.persons.contains(x) { return true }
        return !a.persons.isDisjoint(with: c.team)
    }

    // MARK: Writing

    /// Why the account may not write this version of `field` in `row`, or nil when it may.
    /// - Parameters:
    ///   - incoming: the value the version writes (status rules depend on it).
    public static func rejection(_ a: Account, _ row: RowFacts, field: String, incoming: FieldValue) -> Rejection? {
        if a.role == .center { return nil }
        let r = writeRejection(a, row, field: field, incoming: incoming)
        // Links are judged only for rows inside the account's scope, so that refusals tell nothing of others' rows.
        if r?.reason == .outsideScope { return r }
        if let why = row.inconsistent { return Rejection(.scopeField, why) }
        return r
    }

    static func writeRejection(_ a: Account, _ row: RowFacts, field: String, incoming: FieldValue) -> Rejection? {
        if !row.exists {
            if row.key.contains(where: { $0 == "," || $0.isWhitespace }) {
                return Rejection(.scopeField, "row ids may not contain commas or spaces (lists of ids would read them wrongly)")
            }
            if row.key.isEmpty || row.key.utf8.count > 128 {
                return Rejection(.scopeField, "row ids are 1 to 128 bytes")
            }
        }
        if a.unverified {
            if !registeringTables.contains(row.table) || field == Schema.deletedField {
                return Rejection(.forbidden, "a device that never signed in may only register cases; sign it in to record more")
            }
            if row.table == "case" && field == "status" && incoming.displayText != "REGISTERED" {
                return Rejection(.forbidden, "a device that never signed in may only register cases; sign it in to record more")
            }
        }
        guard let table = DaibanSchema.schema.tables[row.table] else {
            return Rejection(.unknownField, "table \(row.table) is not declared by this server; only the centre writes it")
        }
        if field != Schema.deletedField && table.field(field) == nil {
            return Rejection(.unknownField, "\(row.table).\(field) is not declared by this server; only the centre writes it")
        }
        if referenceTables.contains(row.table) {
            return Rejection(.forbidden, "\(row.table) is reference data the county centre publishes")
        }
        if row.exists && creatorOwned.contains(row.table) && row.creator != a.userID {
            return Rejection(.forbidden, "\(row.table) \(row.key) is another account's record")
        }
        if a.role == .liaison { return liaisonRejection(a, row, field: field, incoming: incoming) }
        if let scope = scopeRejection(a, row) { return scope }
        if field == Schema.deletedField { return deleteRejection(a, row) }
        if let f = scopeFields[row.table], f.contains(field), row.exists, !sameText(row.scopeValues[field], incoming.displayText) {
            return Rejection(.scopeField, "\(row.table).\(field) decides who sees the row; it is set when the row is created, and only the centre changes it")
        }
        if row.exists && appendOnly.contains(row.table) && row.creator != a.userID {
            return Rejection(.forbidden, "\(row.table) \(row.key) is an append-only record of another account")
        }
        if a.role == .township { return nil }
        return agentRejection(a, row, field: field, incoming: incoming)
    }

    /// Rows outside the account's write scope.
    static func scopeRejection(_ a: Account, _ row: RowFacts) -> Rejection? {
        switch row.table {
        case "case", "project", "enterprise":
            // New roots may be created (a registration); existing ones only within scope.
            if !row.exists && (row.table != "case" || row.cases.allSatisfy({ !$0.isAssigned })) {
                if a.role == .township, row.table != "enterprise", let t = a.township, !row.townships.contains(t) {
                    return Rejection(.outsideScope, "\(row.table) \(row.key) belongs to another township")
                }
                return nil
            }
            guard row.table == "case" else { return rootWriteRejection(a, row) }
            if row.cases.contains(where: { writes(a, $0) }) { return nil }
            return Rejection(.outsideScope, "case \(row.key) is outside this account's scope")
        case "registration" where a.role == .agent && !row.exists:
            // A field registration may name any case: duplicate registrations of one project land on one case.
            return nil
        case "material", "contact_card":
            return rootWriteRejection(a, row)
        case "meeting":
            // A meeting is convened for cases all of which the account writes.
            if !row.cases.isEmpty && row.cases.allSatisfy({ writes(a, $0) }) { return nil }
            return Rejection(.outsideScope, "meeting \(row.key) names cases outside this account's scope")
        default:
            if row.cases.contains(where: { writes(a, $0) }) {
                // A case registered in the field, not assigned yet, takes its registration records only: its plan,
                // evaluations and the rest follow the office's assignment.
                if a.role == .agent, !registeringTables.contains(row.table),
                   !row.cases.contains(where: { isAssignedAgent(a, $0) }) {
                    return Rejection(.forbidden, "until the office assigns case \(row.cases.first?.key ?? ""), it takes only its registration records")
                }
                return nil
            }
            // A complaint about no particular case: the office records it and keeps it.
            if row.table == "complaint", row.cases.isEmpty, a.role == .township, !row.exists || row.creator == a.userID {
                return nil
            }
            return Rejection(.outsideScope, "\(row.table) \(row.key) is outside this account's scope")
        }
    }

    /// Existing projects and enterprises, materials and contact cards: written through the cases that reach them
    /// (`rootCases`); prospects by their township; until a case naming them is assigned, by their creator; an
    /// agent adds materials of its own registrations and of no project.
    static func rootWriteRejection(_ a: Account, _ row: RowFacts) -> Rejection? {
        if rootCases(a, row).contains(where: { writes(a, $0) }) { return nil }
        if row.cases.isEmpty, a.role == .township, let t = a.township, row.townships.contains(t) { return nil }
        if !row.cases.contains(where: \.isAssigned) {
            if row.exists, row.creator == a.userID { return nil }
            if !row.exists, a.role == .agent, row.table == "material", row.cases.isEmpty,
               row.rootCreators.allSatisfy({ $0 == a.userID }) { return nil }
        }
        return Rejection(.outsideScope, "\(row.table) \(row.key) is outside this account's scope")
    }

    /// Whether the account writes the case's rows (agents: their own and team cases; townships: their jurisdiction).
    static func writes(_ a: Account, _ c: CaseFacts) -> Bool {
        switch a.role {
        case .center: true
        case .township: a.township != nil && (c.township == a.township || c.office == a.township)
        case .agent: isCaseAgent(a, c)
        case .liaison: false
        }
    }

    static func deleteRejection(_ a: Account, _ row: RowFacts) -> Rejection? {
        if centreDeletes.contains(row.table) {
            return Rejection(.forbidden, "only the centre deletes \(row.table) rows")
        }
        if a.role == .agent && !agentDeletes.contains(row.table) {
            return Rejection(.forbidden, "an agent may not delete \(row.table) rows")
        }
        return nil
    }

    static func agentRejection(_ a: Account, _ row: RowFacts, field: String, incoming: FieldValue) -> Rejection? {
        if officeTables.contains(row.table) {
            return Rejection(.forbidden, "\(row.table) is the office's to record")
        }
        if assignmentFields.contains(field) && row.table == "case" || officeFields[row.table]?.contains(field) == true {
            return Rejection(.forbidden, "\(row.table).\(field) is the office's to set")
        }
        switch (row.table, field) {
        case ("case", "status"):
            if !agentCaseStatuses.contains(incoming.displayText) {
                return Rejection(.forbidden, "an agent's steps do not set a case to \(incoming.displayText)")
            }
            if incoming.displayText != "REGISTERED", !row.cases.contains(where: { isAssignedAgent(a, $0) }) {
                return Rejection(.forbidden, "until the office assigns case \(row.key), it stays REGISTERED")
            }
        case ("ticket", _):
            // A negative evaluation of a department opens a ticket; what follows is the office's and the department's.
            if row.exists || !agentTicketFields.contains(field) {
                return Rejection(.forbidden, "a ticket's follow-up is the office's and the department's to record")
            }
            if field == "status" && incoming.displayText != "OPEN" { return Rejection(.forbidden, "only the office closes a ticket") }
        case ("evaluation", _):
            if row.direction != "AGENT_TO_DEPARTMENT" {
                return Rejection(.forbidden, "an agent records only its evaluations of departments")
            }
            if let p = row.targetPerson, a.persons.contains(p) {
                return Rejection(.forbidden, "an evaluation of oneself is not the agent's to record")
            }
        default:
            break
        }
        return nil
    }

    static func liaisonRejection(_ a: Account, _ row: RowFacts, field: String, incoming: FieldValue) -> Rejection? {
        guard let fields = liaisonFields[row.table] else {
            return Rejection(.forbidden, "a liaison does not write \(row.table)")
        }
        if field == Schema.deletedField { return Rejection(.forbidden, "a liaison does not delete rows") }
        switch row.table {
        case "escalation":
            guard row.cases.contains(where: { reads(a, $0) }) else {
                return Rejection(.outsideScope, "escalation \(row.key) is outside this account's scope")
            }
        default:
            guard let d = row.department, a.departments.contains(d) else {
                return Rejection(.outsideScope, "\(row.table) \(row.key) is outside this account's scope")
            }
            if !row.exists && row.table != "item_pause" && row.table != "supplement_notice" {
                return Rejection(.forbidden, "a liaison does not create \(row.table) rows")
            }
        }
        if let f = scopeFields[row.table], f.contains(field), row.exists, !sameText(row.scopeValues[field], incoming.displayText) {
            return Rejection(.scopeField, "\(row.table).\(field) decides who sees the row; it is set when the row is created, and only the centre changes it")
        }
        guard fields.contains("*") || fields.contains(field) else {
            return Rejection(.forbidden, "\(row.table).\(field) is not the department's to set")
        }
        if row.table == "plan_item" && field == "status" && liaisonForbiddenItemStatuses.contains(incoming.displayText) {
            return Rejection(.forbidden, "a department's steps do not set an item to \(incoming.displayText)")
        }
        return nil
    }
}
