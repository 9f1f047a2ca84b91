public import CaseDomain
import Foundation
import GRDB
import ReplicaStore
import SyncCore
import TerminalText

/// What `case register` records (代办登记表, T2).
public struct RegistrationInput: Sendable {
    public var uscc: String
    public var enterpriseName: String
    public var projectName: String
    public var township: String
    public var channel: String
    public var scope: String = "FULL"
    public var items: [String] = []
    public var stages: [String] = []
    public var regNo: String?
    public var projectCode: String?
    public var category: String?
    public var industrial: Bool?
    public var investmentWan: String?
    public var major: Bool?
    public var contactCard: String?
    public var form: String?
    public var on: Int32?
    /// When the registration was received, if a time of day was given: `YYYY-MM-DDTHH:MM`, county time.
    public var at: String?
    public init(uscc: String, enterpriseName: String, projectName: String, township: String, channel: String) {
        self.uscc = uscc
        self.enterpriseName = enterpriseName
        self.projectName = projectName
        self.township = township
        self.channel = channel
    }
}

/// The outcome of a registration.
public struct RegistrationResult: Sendable {
    public var registrationID: String
    public var caseID: String
    /// The registration this one duplicates, when the project was already registered here.
    public var duplicateOf: String?
}

public enum Channel: String, CaseIterable, Sendable {
    case onlinePortal = "ONLINE_PORTAL", phone = "PHONE", window = "WINDOW", contactCard = "CONTACT_CARD"
    case assignedByUpper = "ASSIGNED_BY_UPPER", deptReferral = "DEPT_REFERRAL", fieldVisit = "FIELD_VISIT"
}

extension Reader {
    func caseRow(_ id: String) throws -> Row { try require("case", id, .whatCase) }

    func status(_ c: Row) -> CaseStatus { CaseStatus(rawValue: c["status"] ?? "") ?? .prospect }

    /// The office admin of the case's office, or of the centre.
    func isOfficeAdmin(_ a: Actor, for c: Row) -> Bool {
        a.isCentreAdmin || (a.has(.officeAdmin) && a.officeID != nil && a.officeID == (c["office_id"] as String?))
    }

    /// The case's agent, chief agent or a team member.
    func isCaseAgent(_ a: Actor, for c: Row) -> Bool {
        a.id == (c["agent_id"] as String?) || a.id == (c["chief_agent_id"] as String?) || list(c["team"] as String?).contains(a.id)
    }

    func requireOfficeAdmin(_ a: Actor, _ c: Row, _ step: String) throws {
        guard isOfficeAdmin(a, for: c) else { throw WorkflowError("forbidden", .needOfficeAdmin, step, a.id) }
    }

    func requireAgentOrOffice(_ a: Actor, _ c: Row, _ step: String) throws {
        guard isCaseAgent(a, for: c) || isOfficeAdmin(a, for: c) else {
            throw WorkflowError("forbidden", .needCaseAgent, step, a.id, c["_key"] as String)
        }
    }

    func requireStatus(_ c: Row, _ allowed: [CaseStatus], _ step: String) throws {
        let s = status(c)
        guard allowed.contains(s) else {
            throw WorkflowError("illegal_transition", .illegalCaseStep, step, c["_key"] as String, s.rawValue,
                                allowed.map(\.rawValue).joined(separator: "/"))
        }
    }
}

extension Workflow {
    // MARK: T2 registration

    /// T2: records a 代办登记表. The enterprise, project and case ids are derived from the duplicate key
    /// (uscc, normalised project name, township), so a field registration made offline and an online one for
    /// the same project land on the same case; the later registration is linked as a duplicate.
    public func register(_ input: RegistrationInput) throws -> RegistrationResult {
        try perform { s in
            let a = try s.actor()
            guard a.has(.agent) || a.has(.chiefAgent) || a.has(.officeAdmin) || a.has(.windowStaff) || a.has(.windowLead)
            else { throw WorkflowError("forbidden", .needRegistrar, a.id) }
            guard Channel(rawValue: input.channel) != nil else {
                throw WorkflowError("bad_value", .badChoice, "--channel", Channel.allCases.map(\.rawValue).joined(separator: ", "))
            }
            guard ["FULL", "PARTIAL"].contains(input.scope) else {
                throw WorkflowError("bad_value", .badChoice, "--scope", "FULL, PARTIAL")
            }
            guard let township = try s.row("township", input.township) else {
                throw WorkflowError("not_found", .notFound, L10n.t(.whatTownship), input.township)
            }
            let uscc = input.uscc.trimmingCharacters(in: .whitespaces).uppercased()
            guard uscc.count == 18 else { throw WorkflowError("bad_value", .badUSCC, input.uscc) }
            let key = dedupeKey(uscc: uscc, projectName: input.projectName, township: input.township)
            let enterpriseID = stableID("ent", uscc)
            let projectID = stableID("prj", key)
            let caseID = stableID("case", key)
            let on = input.on ?? today()
            let existing = try s.rows("registration", where: "dedupe_key = ?", [key], orderBy: "received_at, _key").first
            if try s.row("enterprise", enterpriseID) == nil {
                try s.put("enterprise", enterpriseID, ["name": .text(input.enterpriseName), "uscc": .text(uscc)])
            }
            var project: [String: FieldValue] = [:]
            if try s.row("project", projectID) == nil {
                project = ["name": .text(input.projectName), "enterprise_id": .text(enterpriseID),
                           "township_id": .text(input.township)]
            }
            if let c = input.projectCode { project["project_code"] = .text(c) }
            if let c = input.category { project["category"] = .text(c) }
            if let i = input.industrial { project["is_industrial"] = .bool(i) }
            if let m = input.major { project["is_major"] = .bool(m) }
            if let w = input.investmentWan {
                guard let d = FieldValue.canonicalDecimal(w) else { throw WorkflowError("bad_value", .badAmount, w) }
                project["total_investment_wan"] = .decimal(d)
            }
            if !project.isEmpty { try s.put("project", projectID, project) }
            // The case before the registration that names it: rows travel in the order they were written, and the
            // server judges a registration by its case.
            if try s.row("case", caseID) == nil {
                // Only facts every device derives identically, so concurrent offline registrations merge cleanly.
                try s.put("case", caseID, [
                    "status": .text(CaseStatus.registered.rawValue), "project_id": .text(projectID),
                    "enterprise_id": .text(enterpriseID), "township_id": .text(input.township),
                    "office_id": text(township["office_id"]), "dedupe_key": .text(key),
                ])
            }
            let regID = newID("reg")
            var reg: [String: FieldValue] = [
                "channel": .text(input.channel), "enterprise_id": .text(enterpriseID), "project_id": .text(projectID),
                "township_id": .text(input.township), "dedupe_key": .text(key), "requested_scope": .text(input.scope),
                "requested_items": .text(input.items.joined(separator: ",")),
                "requested_stages": .text(input.stages.joined(separator: ",")),
                "received_by_office_id": text(a.officeID), "received_by_person_id": .text(a.id),
                "received_at": .date(on), "case_id": .text(caseID),
                // As typed when a time was given; a paper form entered later keeps its date; else now.
                "occurred_at": .text(input.at ?? (input.on == nil ? now() : CivilDate.iso(on))),
            ]
            if let n = input.regNo { reg["reg_no"] = .text(n) }
            if let c = input.contactCard { reg["contact_card_id"] = .text(c) }
            if let f = input.form { reg["form"] = .text(f) }
            if let existing { reg["duplicate_of"] = .text(existing["_key"]) }
            try s.put("registration", regID, reg)
            return RegistrationResult(registrationID: regID, caseID: caseID, duplicateOf: existing?["_key"])
        }
    }

    // MARK: T3–T5, T7 review

    public enum ReviewDecision: Sendable { case start, eligible, reject(String) }

    /// T3 (pick up), T5 (eligible → agreement pending) or T4 (reject with a reason).
    public func review(caseID: String, _ decision: ReviewDecision, caseNo: String? = nil, on: Int32? = nil) throws -> CaseStatus {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireOfficeAdmin(a, c, "case review")
            var values: [String: FieldValue] = [:]
            if let caseNo { values["case_no"] = .text(caseNo) }
            let status: CaseStatus
            switch decision {
            case .start:
                try s.requireStatus(c, [.registered], "case review")
                status = .underReview
            case .eligible:
                try s.requireStatus(c, [.registered, .underReview], "case review --eligible")
                status = .agreementPending
                values["reviewed_on"] = .date(on ?? today())
            case .reject(let reason):
                try s.requireStatus(c, [.registered, .underReview], "case review --reject")
                guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw WorkflowError("missing", .needReason) }
                status = .rejected
                values["reviewed_on"] = .date(on ?? today())
                values["reason"] = .text(reason)
            }
            values["status"] = .text(status.rawValue)
            try s.put("case", caseID, values)
            return status
        }
    }

    /// T7: the owner declines to sign.
    public func withdraw(caseID: String, reason: String, on: Int32? = nil) throws {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireOfficeAdmin(a, c, "case withdraw")
            try s.requireStatus(c, [.agreementPending], "case withdraw")
            try s.put("case", caseID, ["status": .text(CaseStatus.withdrawn.rawValue), "reason": .text(reason)])
        }
    }

    // MARK: T6 agreement and assignment

    public struct AgreementInput: Sendable {
        public var code: String
        public var scope: String
        public var stages: [String] = []
        public var items: [String] = []
        public var signState: String = "SIGNED"
        public var signedOn: Int32?
        public var fee: String?
        public init(code: String, scope: String) {
            self.code = code
            self.scope = scope
        }
    }

    /// Records the 委托代办协议 (T5's draft or the signed agreement). The agreement code is unique; the fee is
    /// always zero. When the agreement is signed and an agent is assigned the case becomes ACTIVE (T6).
    public func agree(caseID: String, _ input: AgreementInput) throws -> CaseStatus {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireOfficeAdmin(a, c, "case agree")
            try s.requireStatus(c, [.agreementPending], "case agree")
            guard ["FULL", "PARTIAL"].contains(input.scope) else {
                throw WorkflowError("bad_value", .badChoice, "--scope", "FULL, PARTIAL")
            }
            if let fee = input.fee, FieldValue.canonicalDecimal(fee) != "0" {
                throw WorkflowError("fee_not_zero", .feeNotZero)
            }
            if input.scope == "PARTIAL" && input.items.isEmpty && input.stages.isEmpty {
                throw WorkflowError("missing", .partialNeedsScope)
            }
            guard ["WAIT_SIGNING", "SIGNING", "APPLICANT_SIGNING", "SIGNED"].contains(input.signState) else {
                throw WorkflowError("bad_value", .badChoice, "--sign-state", "WAIT_SIGNING, SIGNING, APPLICANT_SIGNING, SIGNED")
            }
            let agreementID = stableID("agr", caseID)
            for other in try s.rows("agreement", where: "agreement_code = ? AND _key <> ?", [input.code, agreementID]) {
                throw WorkflowError("duplicate", .agreementCodeTaken, input.code, other["case_id"] as String? ?? "?")
            }
            let signed = input.signState == "SIGNED"
            var values: [String: FieldValue] = [
                "agreement_code": .text(input.code), "case_id": .text(caseID), "project_id": text(c["project_id"]),
                "enterprise_id": text(c["enterprise_id"]), "office_id": text(c["office_id"]),
                "scope": .text(input.scope), "stages": .text(input.stages.joined(separator: ",")),
                "items": .text(input.items.joined(separator: ",")), "fee": .decimal("0"), "principle_ack": .bool(true),
                "sign_state": .text(input.signState),
            ]
            if let reg = try s.rows("registration", where: "case_id = ?", [caseID], orderBy: "received_at, _key").first {
                values["registration_id"] = .text(reg["_key"])
            }
            if signed { values["signed_on"] = .date(input.signedOn ?? today()) }
            try s.put("agreement", agreementID, values)
            var caseValues: [String: FieldValue] = ["agreement_id": .text(agreementID)]
            if signed { caseValues["signed_on"] = .date(input.signedOn ?? today()) }
            try s.put("case", caseID, caseValues)
            return try activateIfReady(s, caseID)
        }
    }

    public struct Assignment: Sendable {
        public var agent: String?
        public var chiefAgent: String?
        public var team: [String]?
        public var liaisons: [String]?
        public var leadOfficial: String?
        public var supervisingHead: String?
        public init() {}
    }

    /// 指派: agent, chief agent, team, liaisons and the threshold officials (the office's fields; the
    /// officials are also recorded on the project). May complete T6.
    public func assign(caseID: String, _ input: Assignment) throws -> CaseStatus {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireOfficeAdmin(a, c, "case assign")
            if s.status(c).isClosed || [.completed, .terminated, .handedOver].contains(s.status(c)) {
                try s.requireStatus(c, [.registered, .underReview, .agreementPending, .planning, .executing], "case assign")
            }
            var values: [String: FieldValue] = [:]
            func person(_ id: String, _ role: PersonRole?) throws -> String {
                guard let p = try s.row("person", id) else {
                    throw WorkflowError("not_found", .notFound, L10n.t(.whatPerson), id)
                }
                if let role, !list(p["roles"]).contains(role.rawValue) {
                    throw WorkflowError("wrong_role", .wrongRole, id, role.rawValue)
                }
                return id
            }
            if let x = input.agent { values["agent_id"] = .text(try person(x, .agent)) }
            if let x = input.chiefAgent { values["chief_agent_id"] = .text(try person(x, .chiefAgent)) }
            if let x = input.team { values["team"] = .text(try x.map { try person($0, .agent) }.joined(separator: ",")) }
            if let x = input.liaisons { values["liaisons"] = .text(try x.map { try person($0, .liaison) }.joined(separator: ",")) }
            var project: [String: FieldValue] = [:]
            /// The threshold officials hold their role and rank, and a lead official with an office sits in the
            /// case's township (a 乡科级 leader of another township cannot lead this one).
            func official(_ id: String, _ role: PersonRole, rank: String) throws -> String {
                _ = try person(id, role)
                let p = try s.row("person", id)
                if let r = p?["rank"] as String?, !r.isEmpty, r != rank {
                    throw WorkflowError("wrong_role", .wrongRank, id, r, rank)
                }
                if role == .leadOfficial, let office = p?["office_id"] as String?, !office.isEmpty,
                   let township = c["township_id"] as String? {
                    let seat: String = try s.row("township", township)?["office_id"] ?? township
                    if office != seat { throw WorkflowError("wrong_role", .wrongJurisdiction, id, office, township) }
                }
                return id
            }
            if let x = input.leadOfficial {
                values["lead_official_id"] = .text(try official(x, .leadOfficial, rank: "XIANG_KE"))
                project["lead_official_id"] = .text(x)
            }
            if let x = input.supervisingHead {
                values["supervising_head_id"] = .text(try official(x, .supervisingHead, rank: "COUNTY_DEPT_HEAD"))
                project["supervising_head_id"] = .text(x)
            }
            guard !values.isEmpty else { throw WorkflowError("missing", .nothingToAssign) }
            try s.put("case", caseID, values)
            if !project.isEmpty, let p = c["project_id"] as String? { try s.put("project", p, project) }
            return try activateIfReady(s, caseID)
        }
    }

    /// T6 when its conditions hold: AGREEMENT_PENDING, the agreement signed, an agent (or chief agent) assigned.
    private func activateIfReady(_ s: Session, _ caseID: String) throws -> CaseStatus {
        let c = try s.caseRow(caseID)
        let status = s.status(c)
        guard status == .agreementPending else { return status }
        guard let agr = (c["agreement_id"] as String?).flatMap({ try? s.row("agreement", $0) }),
            (agr["sign_state"] as String?) == "SIGNED", (c["agent_id"] as String?) != nil || (c["chief_agent_id"] as String?) != nil
        else { return status }
        try s.put("case", caseID, ["status": .text(CaseStatus.planning.rawValue)])
        return .planning
    }

    // MARK: T13–T16

    /// T13: every delegated item final; records the 办结单 and its handover due date.
    public func complete(caseID: String, formNo: String?, on: Int32? = nil, materialsHandedOn: Int32? = nil) throws -> Int32 {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireAgentOrOffice(a, c, "case complete")
            try s.requireStatus(c, [.executing], "case complete")
            let open = try s.rows("plan_item", where: "case_id = ?", [caseID], orderBy: "n").filter {
                !(ItemStatus(rawValue: $0["status"] ?? "")?.isFinal ?? false)
            }
            if !open.isEmpty {
                throw WorkflowError("items_open", .itemsOpen, open.count,
                                    open.map { "#\($0["n"] as Int64? ?? 0)" }.joined(separator: ", "))
            }
            let day = on ?? today()
            let due = try s.calendar().addingWorkdays(try s.rules().handoverWorkdays, to: day)
            try s.put("completion_form", stableID("cf", caseID), [
                "case_id": .text(caseID), "form_no": text(formNo), "completed_on": .date(day),
                "materials_handed_on": .date(materialsHandedOn ?? day), "owner_signed": .bool(true),
                "handover_due": .date(due),
            ])
            try s.put("case", caseID, ["status": .text(CaseStatus.completed.rawValue), "completed_on": .date(day)])
            try closeServices(s, caseID: caseID, reason: "办结 / completed")
            return due
        }
    }

    /// T14: the project's own reasons or the client's request; open items are cancelled.
    public func terminate(caseID: String, formNo: String?, reasonType: String, reason: String, on: Int32? = nil) throws -> Int32 {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireAgentOrOffice(a, c, "case terminate")
            try s.requireStatus(c, [.planning, .executing], "case terminate")
            guard ["PROJECT_REASON", "CLIENT_REQUEST"].contains(reasonType) else {
                throw WorkflowError("bad_value", .badChoice, "--reason-type", "PROJECT_REASON, CLIENT_REQUEST")
            }
            let day = on ?? today()
            for item in try s.rows("plan_item", where: "case_id = ?", [caseID]) {
                if !(ItemStatus(rawValue: item["status"] ?? "")?.isFinal ?? false) {
                    try s.put("plan_item", item["_key"], ["status": .text(ItemStatus.cancelled.rawValue)])
                }
            }
            let due = try s.calendar().addingWorkdays(try s.rules().handoverWorkdays, to: day)
            try s.put("termination_form", stableID("tf", caseID), [
                "case_id": .text(caseID), "form_no": text(formNo), "reason_type": .text(reasonType),
                "reason_text": .text(reason), "terminated_on": .date(day), "owner_signed": .bool(true),
                "handover_due": .date(due),
            ])
            try s.put("case", caseID, ["status": .text(CaseStatus.terminated.rawValue), "terminated_on": .date(day)])
            try closeServices(s, caseID: caseID, reason: "终止 / terminated")
            return due
        }
    }

    /// T15: the office receives the 办结单/终止单. `receivedAt` is when it happened (`YYYY-MM-DDTHH:MM` or a
    /// date), judged against the 2-WD rule whenever it syncs. Returns whether it was on time.
    public func handover(caseID: String, receivedAt: String?) throws -> Bool {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireOfficeAdmin(a, c, "case handover")
            try s.requireStatus(c, [.completed, .terminated], "case handover")
            let at = receivedAt ?? now()
            guard let day = CivilDate.days(String(at.prefix(10))) else { throw WorkflowError("bad_value", .badDate, at) }
            let table = s.status(c) == .completed ? "completion_form" : "termination_form"
            let formID = stableID(table == "completion_form" ? "cf" : "tf", caseID)
            let form = try s.require(table, formID, .whatForm)
            try s.put(table, formID, ["received_by_office_id": text(a.officeID), "received_by_person_id": .text(a.id),
                                      "received_at": .text(at)])
            try s.put("case", caseID, ["status": .text(CaseStatus.handedOver.rawValue), "handed_over_on": .date(day)])
            return day <= (days(form, "handover_due") ?? .max)
        }
    }

    /// T16: evaluation filed (at least one evaluation of the case recorded).
    /// T16: the case closes as EVALUATED once it was completed (not terminated) and handed over, and both
    /// 回访 directions are on file: the owner's evaluation of the agent and the agent's of the departments. Open
    /// escalations and meeting resolutions not yet carried out keep it open, unless the office closes it anyway
    /// with `override` (the reason is kept in the work log, with who and when).
    public func closeEvaluated(caseID: String, on: Int32? = nil, override: String? = nil) throws {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireOfficeAdmin(a, c, "case evaluate")
            try s.requireStatus(c, [.handedOver], "case evaluate")
            guard c["completed_on"] as String? != nil else { throw WorkflowError("illegal_transition", .evaluateTerminated, caseID) }
            let directions = Set(try s.rows("evaluation", where: "case_id = ?", [caseID]).compactMap { $0["direction"] as String? })
            let missing = [Direction.ownerToAgent, .agentToDepartment].filter { !directions.contains($0.rawValue) }
            guard missing.isEmpty else {
                throw WorkflowError("missing", .needEvaluation, caseID,
                                    missing.map { L10n.chinese ? CodeLabels.zh($0.rawValue, in: CodeLabels.direction) : $0.rawValue }.joined(separator: "、"))
            }
            let escalations = try s.rows("escalation", where: "case_id = ? AND status = 'OPEN'", [caseID]).count
            let resolutions = try s.rows("meeting_resolution", where: "case_id = ? AND status = 'OPEN'", [caseID]).count
            if escalations + resolutions > 0 {
                guard let override, !override.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw WorkflowError("items_open", .closeBlocked, caseID, escalations, resolutions)
                }
                try s.put("work_log", newID("log"), [
                    "case_id": .text(caseID), "author_id": .text(a.id), "occurred_at": .text(now()),
                    "recorded_at": .text(now()), "kind": .text("CLOSE_OVERRIDE"),
                    "content": .text(override),
                ])
            }
            try s.put("case", caseID, ["status": .text(CaseStatus.evaluated.rawValue), "evaluated_on": .date(on ?? today())])
        }
    }
}

extension Workflow {
    /// 企业: keyed by its USCC, so every device writes the same row for the same enterprise.
    public func saveEnterprise(uscc: String, _ values: [String: String]) throws -> String {
        let code = uscc.trimmingCharacters(in: .whitespaces).uppercased()
        guard code.count == 18 else { throw WorkflowError("bad_value", .badUSCC, uscc) }
        return try perform { s in
            let a = try s.actor()
            guard a.has(.agent) || a.has(.chiefAgent) || a.has(.officeAdmin) || a.has(.windowStaff) || a.has(.referrer) else {
                throw WorkflowError("forbidden", .needRegistrar, a.id)
            }
            let id = stableID("ent", code)
            var v = try typed("enterprise", values)
            v["uscc"] = .text(code)
            try s.put("enterprise", id, v)
            return id
        }
    }

    /// 项目: keyed by the duplicate key (enterprise USCC, normalised name, township).
    public func saveProject(enterprise: String, name: String, township: String, _ values: [String: String]) throws -> String {
        try perform { s in
            let a = try s.actor()
            guard a.has(.agent) || a.has(.chiefAgent) || a.has(.officeAdmin) || a.has(.windowStaff) || a.has(.referrer) else {
                throw WorkflowError("forbidden", .needRegistrar, a.id)
            }
            let ent = try s.row("enterprise", enterprise) ?? s.row("enterprise", stableID("ent", enterprise.uppercased()))
            guard let ent else { throw WorkflowError("not_found", .notFound, "enterprise", enterprise) }
            _ = try s.require("township", township, .whatTownship)
            let id = stableID("prj", dedupeKey(uscc: ent["uscc"] ?? "", projectName: name, township: township))
            var v = try typed("project", values)
            v["name"] = .text(name)
            v["enterprise_id"] = .text(ent["_key"])
            v["township_id"] = .text(township)
            try s.put("project", id, v)
            return id
        }
    }

    /// Typed values from `FIELD=VALUE` texts, checked against the schema.
    func typed(_ table: String, _ values: [String: String]) throws -> [String: FieldValue] {
        var out: [String: FieldValue] = [:]
        for (k, v) in values { out[k] = try replica.schema.field(table: table, k).parse(v) }
        return out
    }
}
