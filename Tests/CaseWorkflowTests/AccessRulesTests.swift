import CaseDomain
import SyncCore
import Testing

/// The authorisation matrix: role × table × kind of field × inside or outside the account's scope, against the
/// rules as SECURITY.md states them. Pure: no SQLite, no server (the server's own tests show each refusal is
/// reported and kept).
@Suite struct AccessRulesTests {
    // The county: agent A (person P-A) works case IN (township T1); case OUT belongs to agent B in T2.
    static let agent = Account(role: .agent, userID: "7", user: "a", persons: ["P-A"])
    static let township = Account(role: .township, userID: "8", user: "t1", township: "T1")
    static let liaison = Account(role: .liaison, userID: "9", user: "l1", persons: ["P-L"], departments: ["D1"])
    static let centre = Account(role: .center, userID: "1", user: "admin")
    static let inCase = CaseFacts(key: "IN", agent: "P-A", township: "T1", office: "T1", departments: ["D1"])
    static let outCase = CaseFacts(key: "OUT", agent: "P-B", township: "T2", office: "T2", departments: ["D2"])

    enum Scope: CustomStringConvertible {
        case inside, outside
        var facts: CaseFacts { self == .inside ? AccessRulesTests.inCase : AccessRulesTests.outCase }
        var description: String { self == .inside ? "in scope" : "out of scope" }
    }

    /// What each account may do, as the documented policy says (true = allowed).
    struct Cell: CustomStringConvertible {
        var table: String
        var field: String
        var value: FieldValue = .text("x")
        var department: String? = nil
        var direction: String? = nil
        var targetPerson: String? = nil
        var exists = true
        /// Expected for centre, township, agent, liaison: inside the scope, then outside.
        var inside: [Bool]
        var outside: [Bool]
        var description: String { "\(table).\(field)=\(value.displayText)" }
    }

    static let cells: [Cell] = [
        //                                                   centre township agent liaison
        Cell(table: "township", field: "name", inside: [true, false, false, false], outside: [true, false, false, false]),
        Cell(table: "person", field: "login", inside: [true, false, false, false], outside: [true, false, false, false]),
        Cell(table: "rule", field: "value", inside: [true, false, false, false], outside: [true, false, false, false]),
        Cell(table: "secret_notes", field: "text", inside: [true, false, false, false], outside: [true, false, false, false]),
        Cell(table: "case", field: "no_such_field", inside: [true, false, false, false], outside: [true, false, false, false]),
        // A case: agents write their own steps, offices the rest; nobody outside writes anything.
        Cell(table: "case", field: "status", value: .text("EXECUTING"), inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "case", field: "status", value: .text("HANDED_OVER"), inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "case", field: "agent_id", value: .text("P-A"), inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "case", field: "team", inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "case", field: "case_no", inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "case", field: "township_id", value: .text("T9"), inside: [true, false, false, false], outside: [true, false, false, false]),
        Cell(table: "case", field: "_deleted", value: .bool(true), inside: [true, false, false, false], outside: [true, false, false, false]),
        // Plan items: the agent's plan; the department's decision fields on its own items.
        Cell(table: "plan_item", field: "planned_due", department: "D1", inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "plan_item", field: "decided_on", value: .date(20_000), department: "D1", inside: [true, true, true, true], outside: [true, false, false, false]),
        Cell(table: "plan_item", field: "decided_on", value: .date(20_000), department: "D2", inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "plan_item", field: "status", value: .text("CANCELLED"), department: "D1", inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "plan_item", field: "case_id", value: .text("OTHER"), department: "D1", inside: [true, false, false, false], outside: [true, false, false, false]),
        Cell(table: "plan_item", field: "_deleted", value: .bool(true), department: "D1", inside: [true, true, true, false], outside: [true, false, false, false]),
        // Work logs: append-only records of their creator (here: someone else's).
        Cell(table: "work_log", field: "content", inside: [true, false, false, false], outside: [true, false, false, false]),
        Cell(table: "work_log", field: "content", exists: false, inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "work_log", field: "_deleted", value: .bool(true), inside: [true, false, false, false], outside: [true, false, false, false]),
        // Evaluations: agents rate departments, never themselves, never as the owner.
        Cell(table: "evaluation", field: "grade", direction: "AGENT_TO_DEPARTMENT", exists: false, inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "evaluation", field: "grade", direction: "OWNER_TO_AGENT", targetPerson: "P-A", exists: false, inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "evaluation", field: "grade", direction: "AGENT_TO_DEPARTMENT", targetPerson: "P-A", exists: false, inside: [true, true, false, false], outside: [true, false, false, false]),
        // Office records.
        Cell(table: "agreement", field: "sign_state", value: .text("SIGNED"), inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "completion_form", field: "received_at", inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "completion_form", field: "completed_on", value: .date(20_000), inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "ticket", field: "status", value: .text("CLOSED"), department: "D1", inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "ticket", field: "action", department: "D1", inside: [true, true, false, true], outside: [true, false, false, false]),
        // A negative evaluation of a department opens a ticket (the agent's device writes it with the evaluation).
        Cell(table: "ticket", field: "rectification_due", value: .date(20_000), department: "D1", exists: false, inside: [true, true, true, false], outside: [true, false, false, false]),
        Cell(table: "ticket", field: "action", department: "D1", exists: false, inside: [true, true, false, false], outside: [true, false, false, false]),
        Cell(table: "escalation", field: "status", value: .text("RESOLVED"), inside: [true, true, true, true], outside: [true, false, false, false]),
        Cell(table: "meeting_attendee", field: "signed", value: .bool(true), department: "D1", inside: [true, true, true, true], outside: [true, false, false, false]),
    ]

    @Test(arguments: cells)
    func matrix(_ cell: Cell) {
        let accounts = [Self.centre, Self.township, Self.agent, Self.liaison]
        for (scope, expected) in [(Scope.inside, cell.inside), (Scope.outside, cell.outside)] {
            for (account, allowed) in zip(accounts, expected) {
                var facts = RowFacts(table: cell.table, key: "R", exists: cell.exists, cases: [scope.facts],
                                     department: scope == .inside ? cell.department : cell.department.map { _ in "D2" },
                                     direction: cell.direction,
                                     targetPerson: cell.targetPerson, creator: "someone-else",
                                     scopeValues: ["case_id": scope.facts.key, "township_id": scope.facts.township ?? ""])
                if cell.table == "case" { facts.townships = [scope.facts.township ?? ""] }
                let r = AccessRules.rejection(account, facts, field: cell.field, incoming: cell.value)
                #expect((r == nil) == allowed,
                        "\(account.role) \(cell) \(scope): \(r.map { "refused \($0)" } ?? "allowed")")
            }
        }
    }

    @Test func readScope() {
        func reads(_ a: Account, _ table: String, _ scope: Scope, creator: String? = nil, townships: Set<String> = []) -> Bool {
            AccessRules.mayRead(a, RowFacts(table: table, key: "R", exists: true, cases: [scope.facts], townships: townships,
                                            creator: creator))
        }
        // Reference data reaches everyone; unknown tables only the centre.
        for a in [Self.agent, Self.township, Self.liaison] {
            #expect(AccessRules.mayRead(a, RowFacts(table: "calendar_day", key: "2025-10-01", exists: true)))
            #expect(!AccessRules.mayRead(a, RowFacts(table: "secret_notes", key: "n", exists: true)))
        }
        #expect(AccessRules.mayRead(Self.centre, RowFacts(table: "secret_notes", key: "n", exists: true)))
        // Cases and their rows follow assignment, township and departments.
        #expect(reads(Self.agent, "work_log", .inside) && !reads(Self.agent, "work_log", .outside))
        #expect(reads(Self.township, "work_log", .inside) && !reads(Self.township, "work_log", .outside))
        #expect(!reads(Self.liaison, "work_log", .inside), "liaisons see items, not logs")
        #expect(reads(Self.liaison, "plan_item", .inside) && !reads(Self.liaison, "plan_item", .outside))
        // Evaluator confidentiality.
        #expect(!reads(Self.agent, "evaluation", .inside) && reads(Self.township, "evaluation", .inside))
        // Prospects: a project no case names is its township's and its creator's.
        let prospect = RowFacts(table: "project", key: "PX", exists: true, townships: ["T1"], creator: "7")
        #expect(AccessRules.mayRead(Self.township, prospect) && AccessRules.mayRead(Self.agent, prospect))
        var other = prospect
        other.creator = nil
        #expect(!AccessRules.mayRead(Self.agent, other), "another agent's prospect stays with its township")
        // A case created in the field is its creator's until the office assigns it.
        var unassigned = CaseFacts(key: "NEW", township: "T2", creator: "7")
        #expect(AccessRules.reads(Self.agent, unassigned))
        unassigned.agent = "P-B"
        #expect(!AccessRules.reads(Self.agent, unassigned))
    }

    /// A registration may name an existing project or enterprise (a second project of one company), but the name
    /// alone gives nothing: until the office assigns the case, only the root's creator and its township reach it.
    @Test func rootsAreReachedThroughAssignedCasesOrTheirCreator() {
        let mine = CaseFacts(key: "MINE", township: "T1", creator: "7")  // agent A's registration, not yet assigned
        let theirs = CaseFacts(key: "THEIRS", agent: "P-B", township: "T2")
        // Someone else's enterprise, named by A's registration and by B's assigned case.
        var enterprise = RowFacts(table: "enterprise", key: "E", exists: true, cases: [mine, theirs], townships: ["T2"],
                                  creator: nil)
        enterprise.rootCreators = [nil]
        #expect(!AccessRules.mayRead(Self.agent, enterprise), "naming an enterprise in a registration reads nothing")
        #expect(AccessRules.rejection(Self.agent, enterprise, field: "name", incoming: .text("x"))?.reason == .outsideScope)
        let material = RowFacts(table: "material", key: "M", exists: false, cases: [mine, theirs], creator: nil)
        var foreignMaterial = material
        foreignMaterial.rootCreators = ["9"]
        #expect(AccessRules.rejection(Self.agent, foreignMaterial, field: "title", incoming: .text("x"))?.reason == .outsideScope)
        // Once the office assigns A's case, the enterprise is A's to read like the case.
        var assigned = mine
        assigned.agent = "P-A"
        enterprise.cases = [assigned, theirs]
        #expect(AccessRules.mayRead(Self.agent, enterprise))
        // A's own new project and enterprise are A's while unassigned, and the township's.
        var own = RowFacts(table: "project", key: "P", exists: true, cases: [mine], townships: ["T1"], creator: "7")
        own.rootCreators = ["7"]
        #expect(AccessRules.mayRead(Self.agent, own) && AccessRules.mayRead(Self.township, own))
        #expect(AccessRules.rejection(Self.agent, own, field: "name", incoming: .text("x")) == nil)
        var ownMaterial = material
        ownMaterial.cases = [mine]
        ownMaterial.rootCreators = ["7"]
        #expect(AccessRules.rejection(Self.agent, ownMaterial, field: "title", incoming: .text("x")) == nil)
        // Once assigned to someone else, A loses it.
        var reassigned = mine
        reassigned.agent = "P-B"
        own.cases = [reassigned]
        #expect(!AccessRules.mayRead(Self.agent, own))
    }

    @Test func meetingsAndLinkedRowsStayWithinScope() {
        // A meeting is convened for cases the account writes, all of them.
        let both = RowFacts(table: "meeting", key: "MT", exists: false, cases: [Self.inCase, Self.outCase])
        #expect(AccessRules.rejection(Self.agent, both, field: "venue", incoming: .text("x"))?.reason == .outsideScope)
        #expect(AccessRules.rejection(Self.township, both, field: "venue", incoming: .text("x"))?.reason == .outsideScope)
        let own = RowFacts(table: "meeting", key: "MT", exists: false, cases: [Self.inCase])
        #expect(AccessRules.rejection(Self.agent, own, field: "venue", incoming: .text("x")) == nil)
        // Links that contradict each other are the centre's to write.
        var pause = RowFacts(table: "item_pause", key: "IP", exists: false, cases: [Self.inCase], department: "D1")
        pause.inconsistent = "item_pause IP names case IN but its item belongs to another"
        for a in [Self.township, Self.agent, Self.liaison] {
            #expect(AccessRules.rejection(a, pause, field: "reason", incoming: .text("x"))?.reason == .scopeField)
        }
        #expect(AccessRules.rejection(Self.centre, pause, field: "reason", incoming: .text("x")) == nil)
        // Ids that a list of ids would misread are refused for new rows.
        let comma = RowFacts(table: "work_log", key: "A,B", exists: false, cases: [Self.inCase])
        #expect(AccessRules.rejection(Self.agent, comma, field: "content", incoming: .text("x"))?.reason == .scopeField)
        // A scope field is set once: not changed, not filled in later.
        let log = RowFacts(table: "work_log", key: "W", exists: true, cases: [Self.inCase], creator: "7", scopeValues: [:])
        #expect(AccessRules.rejection(Self.agent, log, field: "case_id", incoming: .text("IN"))?.reason == .scopeField)
    }

    @Test func noticesAndServicesBelongToTheirCaseAndDepartment() {
        // A 一次性告知 is the department's (or the case's agent's) to give, for its own items only.
        let notice = RowFacts(table: "supplement_notice", key: "N", exists: false, cases: [Self.inCase], department: "D1")
        for a in [Self.agent, Self.liaison, Self.township] {
            #expect(AccessRules.rejection(a, notice, field: "missing", incoming: .text("营业执照")) == nil, "\(a.role)")
        }
        #expect(AccessRules.mayRead(Self.liaison, notice))
        // Once given, it stays its writer's: nobody else rewrites or deletes it (the centre may).
        let given = RowFacts(table: "supplement_notice", key: "N", exists: true, cases: [Self.inCase], department: "D1", creator: "9")
        #expect(AccessRules.rejection(Self.liaison, given, field: "missing", incoming: .text("更少")) == nil)
        for a in [Self.agent, Self.township] {
            #expect(AccessRules.rejection(a, given, field: "missing", incoming: .text("更少"))?.reason == .forbidden)
            #expect(AccessRules.rejection(a, given, field: Schema.deletedField, incoming: .bool(true))?.reason == .forbidden)
        }
        #expect(AccessRules.rejection(Self.centre, given, field: "missing", incoming: .text("x")) == nil)
        let otherDepartment = RowFacts(table: "supplement_notice", key: "N2", exists: false, cases: [Self.inCase], department: "D2")
        #expect(AccessRules.rejection(Self.liaison, otherDepartment, field: "missing", incoming: .text("x"))?.reason == .outsideScope)
        let elsewhere = RowFacts(table: "supplement_notice", key: "N3", exists: false, cases: [Self.outCase], department: "D2")
        #expect(AccessRules.rejection(Self.agent, elsewhere, field: "missing", incoming: .text("x"))?.reason == .outsideScope)
        // 中介服务 are the case's records: its agent and office write them, a liaison does not, nobody else sees them.
        let service = RowFacts(table: "intermediary_service", key: "S", exists: false, cases: [Self.inCase])
        #expect(AccessRules.rejection(Self.agent, service, field: "provider", incoming: .text("云岭环科")) == nil)
        #expect(AccessRules.rejection(Self.township, service, field: "provider", incoming: .text("云岭环科")) == nil)
        #expect(AccessRules.rejection(Self.liaison, service, field: "provider", incoming: .text("x")) != nil)
        let foreign = RowFacts(table: "intermediary_service", key: "S2", exists: false, cases: [Self.outCase])
        #expect(!AccessRules.mayRead(Self.agent, foreign))
        #expect(AccessRules.rejection(Self.agent, foreign, field: "provider", incoming: .text("x"))?.reason == .outsideScope)
    }

    /// The row bound is checked only when a large field state is merged; the small ones of the widest table must
    /// still leave every row within one default push (8 MiB).
    @Test func theWidestTableStaysWithinOnePush() {
        let widest = DaibanSchema.schema.tables.values.map(\.fields.count).max() ?? 0
        #expect(widest <= 30, "StateBounds and SPEC §7.1 say the widest table has 30 fields")
        #expect(StateBounds.maxRowValueBytes + widest * StateBounds.rowCheckThreshold <= 7 << 20)
    }

    @Test func subjectsNameEveryReader() {
        let c = CaseFacts(key: "C", agent: "P-A", chief: "P-C", team: ["P-T"], liaisons: ["P-L"], township: "T1", office: "O1",
                          departments: ["D1"], creator: "7")
        #expect(c.subjects == ["person:P-A", "person:P-C", "person:P-T", "person:P-L", "township:T1", "township:O1", "department:D1"])
        let field = CaseFacts(key: "F", township: "T1", creator: "7")
        #expect(field.subjects == ["township:T1", "user:7"])
    }
}
