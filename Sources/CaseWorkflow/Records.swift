public import CaseDomain
import Foundation
import GRDB
public import SyncCore
import TerminalText

/// Work log kinds (§1.4).
public enum LogKind: String, CaseIterable, Sendable {
    case siteVisit = "SITE_VISIT", call = "CALL", wechatQQ = "WECHAT_QQ", submission = "SUBMISSION", urge = "URGE"
    case supervise = "SUPERVISE", coordinate = "COORDINATE", consult = "CONSULT", handover = "HANDOVER"
}

/// Evaluation directions (§1.4).
public enum Direction: String, CaseIterable, Sendable {
    case ownerToAgent = "OWNER_TO_AGENT", agentToDepartment = "AGENT_TO_DEPARTMENT"
    case ownerToDepartment = "OWNER_TO_DEPARTMENT", haochaping = "HAOCHAPING"
}

public struct MeetingInput: Sendable {
    public var id: String?
    public var caseIDs: [String]
    public var type: String = "JOINT_MEETING"
    public var level: String?
    public var date: Int32?
    public var venue: String?
    public var chair: String?
    /// Attendees as (department or organisation, person).
    public var attendees: [(org: String, person: String)] = []
    /// Resolutions as (text, responsible department, due).
    public var resolutions: [(text: String, department: String, due: Int32)] = []
    public var issues: String?
    public init(caseIDs: [String]) { self.caseIDs = caseIDs }
}

public struct EvaluationInput: Sendable {
    public var direction: String
    public var grade: String
    public var targetPerson: String?
    public var targetDepartment: String?
    public var attitude: String?
    public var efficiency: String?
    public var quality: String?
    public var realName = true
    public var channel: String?
    public var comment: String?
    public var occurredAt: String?
    public init(direction: String, grade: String) {
        self.direction = direction
        self.grade = grade
    }
}

extension Workflow {
    private func requireCaseParty(_ s: Session, _ caseID: String, _ step: String) throws -> (Actor, Row) {
        let a = try s.actor()
        let c = try s.caseRow(caseID)
        try s.requireAgentOrOffice(a, c, step)
        return (a, c)
    }

    private func choice(_ value: String, _ flag: String, _ allowed: [String]) throws {
        guard allowed.contains(value) else {
            throw WorkflowError("bad_value", .badChoice, flag, allowed.joined(separator: ", "))
        }
    }

    /// 工作日志: an append-only entry; `occurredAt` is the device time as entered.
    public func addLog(caseID: String, kind: String, content: String, itemID: String? = nil, nextAction: String? = nil,
                       occurredAt: String? = nil) throws -> String {
        try perform { s in
            let (a, _) = try requireCaseParty(s, caseID, "log add")
            try choice(kind, "--kind", LogKind.allCases.map(\.rawValue))
            if let itemID { _ = try s.require("plan_item", itemID, .whatPlanItem) }
            let id = newID("log")
            try s.put("work_log", id, [
                "case_id": .text(caseID), "plan_item_id": text(itemID), "author_id": .text(a.id),
                "occurred_at": .text(occurredAt ?? now()),
                "recorded_at": .text(now()), "kind": .text(kind), "content": .text(content),
                "next_action": text(nextAction),
            ])
            return id
        }
    }

    /// 半月进度汇总 delivered to the owner, for the half-month period containing `periodOf` (default: the
    /// last period that ended on or before the delivery day).
    public func reportProgress(caseID: String, periodOf: Int32? = nil, deliveredOn: Int32? = nil, channel: String? = nil,
                               summary: String? = nil) throws -> (start: Int32, end: Int32) {
        try perform { s in
            let (a, c) = try requireCaseParty(s, caseID, "report-progress")
            try s.requireStatus(c, [.planning, .executing, .completed, .terminated], "report-progress")
            let delivered = deliveredOn ?? today()
            let current = HalfMonth.period(containing: delivered)
            let period = periodOf.map(HalfMonth.period(containing:))
                ?? (current.end == delivered ? current : HalfMonth.period(containing: current.start - 1))
            try s.put("progress_report", newID("pr"), [
                "case_id": .text(caseID), "period_start": .date(period.start), "period_end": .date(period.end),
                "delivered_on": .date(delivered), "channel": text(channel), "summary": text(summary),
                "author_id": .text(a.id),
            ])
            return period
        }
    }

    /// 联合审批协调会议记录表: the meeting, one attendee line per department, its resolutions.
    public func addMeeting(_ input: MeetingInput) throws -> String {
        try perform { s in
            let a = try s.actor()
            guard let first = input.caseIDs.first else { throw WorkflowError("missing", .needCase) }
            for id in input.caseIDs {
                let c = try s.caseRow(id)
                guard s.isCaseAgent(a, for: c) || s.isOfficeAdmin(a, for: c) || a.has(.officeAdmin) else {
                    throw WorkflowError("forbidden", .needCaseAgent, "meeting add", a.id, id)
                }
            }
            try choice(input.type, "--type", ["JOINT_MEETING", "JOINT_REVIEW", "DIFFICULT_CONSULTATION", "JOINT_SITE_SURVEY", "JOINT_ACCEPTANCE"])
            let id = input.id ?? newID("mtg")
            try s.put("meeting", id, [
                "case_ids": .text(input.caseIDs.joined(separator: ",")), "type": .text(input.type),
                "convened_by": text(a.officeID), "level": text(input.level), "date": .date(input.date ?? today()),
                "venue": text(input.venue), "chair_id": text(input.chair), "recorder_id": .text(a.id),
                "issues": text(input.issues),
            ])
            for (i, at) in input.attendees.enumerated() {
                _ = try s.require("person", at.person, .whatPerson)
                try s.put("meeting_attendee", "\(id).a\(i + 1)", [
                    "meeting_id": .text(id), "org": .text(at.org), "person_id": .text(at.person), "signed": .bool(false),
                    "department_id": try s.row("department", at.org) == nil ? .null : .text(at.org),
                ])
            }
            for (i, r) in input.resolutions.enumerated() {
                try s.put("meeting_resolution", "\(id).r\(i + 1)", [
                    "meeting_id": .text(id), "case_id": .text(first), "text": .text(r.text),
                    "responsible_department_id": .text(r.department), "due": .date(r.due), "status": .text("OPEN"),
                ])
            }
            return id
        }
    }

    /// An attendee's sign-off: the attendee themself, or the recorder on their behalf.
    public func signMeeting(meetingID: String, person: String?, at: String? = nil) throws {
        try perform { s in
            let a = try s.actor()
            let meeting = try s.require("meeting", meetingID, .whatMeeting)
            let who = person ?? a.id
            guard let line = try s.rows("meeting_attendee", where: "meeting_id = ? AND person_id = ?", [meetingID, who]).first else {
                throw WorkflowError("not_found", .notAttendee, who, meetingID)
            }
            guard who == a.id || (meeting["recorder_id"] as String?) == a.id else { throw WorkflowError("forbidden", .signOwnLine, a.id) }
            try s.put("meeting_attendee", line["_key"], ["signed": .bool(true), "signed_at": .text(at ?? now())])
        }
    }

    /// A resolution done.
    public func resolveResolution(_ id: String, on: Int32? = nil) throws {
        try perform { s in
            let a = try s.actor()
            let r = try s.require("meeting_resolution", id, .whatResolution)
            guard (r["status"] as String?) != "DONE" else { throw WorkflowError("illegal_transition", .alreadyDone, id) }
            guard a.has(.officeAdmin) || a.has(.agent) || a.has(.chiefAgent) || a.departmentID == (r["responsible_department_id"] as String?) else {
                throw WorkflowError("forbidden", .needCaseAgent, "meeting resolve", a.id, r["case_id"] as String? ?? "")
            }
            try s.put("meeting_resolution", id, ["status": .text("DONE"), "done_on": .date(on ?? today())])
        }
    }

    /// 协调/升级 on the ladder E0–E4 or EX (疑难会商). The case shows COORDINATING while one is open.
    public func escalate(caseID: String, level: String, target: String?, reason: String?, itemID: String? = nil,
                         meetingID: String? = nil, on: Int32? = nil) throws -> String {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            guard s.isCaseAgent(a, for: c) || s.isOfficeAdmin(a, for: c) || a.has(.liaison) || a.has(.officeAdmin) else {
                throw WorkflowError("forbidden", .needCaseAgent, "escalate", a.id, caseID)
            }
            try s.requireStatus(c, [.planning, .executing], "escalate")
            try choice(level, "--level", EscalationLevel.allCases.map(\.rawValue))
            let id = newID("esc")
            try s.put("escalation", id, [
                "case_id": .text(caseID), "plan_item_id": text(itemID), "level": .text(level),
                "raised_by": .text(a.id),
                "raised_at": .date(on ?? today()), "target": text(target), "reason": text(reason),
                "meeting_id": text(meetingID), "status": .text("OPEN"),
            ])
            return id
        }
    }

    public func resolveEscalation(_ id: String, outcome: String?, on: Int32? = nil) throws {
        try perform { s in
            let a = try s.actor()
            let e = try s.require("escalation", id, .whatEscalation)
            guard (e["status"] as String?) != "RESOLVED" else { throw WorkflowError("illegal_transition", .alreadyDone, id) }
            let c = try s.caseRow(e["case_id"])
            guard s.isCaseAgent(a, for: c) || a.has(.officeAdmin) || a.has(.liaison) else {
                throw WorkflowError("forbidden", .needCaseAgent, "escalate resolve", a.id, c["_key"] as String)
            }
            try s.put("escalation", id, ["status": .text("RESOLVED"), "resolved_at": .date(on ?? today()), "outcome": text(outcome)])
        }
    }

    /// 评价: append-only. A real-name 差评 opens a 差评回访整改 ticket at once.
    public func addEvaluation(caseID: String, _ input: EvaluationInput) throws -> (evaluation: String, ticket: String?) {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireAgentOrOffice(a, c, "eval add")
            try choice(input.direction, "--direction", Direction.allCases.map(\.rawValue))
            guard let grade = Grade(rawValue: input.grade) else {
                throw WorkflowError("bad_value", .badChoice, "--grade", Grade.allCases.map(\.rawValue).joined(separator: ", "))
            }
            for d in [input.attitude, input.efficiency, input.quality].compactMap({ $0 }) where Grade(rawValue: d) == nil {
                throw WorkflowError("bad_value", .badChoice, "--attitude/--efficiency/--quality",
                                    Grade.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let id = newID("ev")
            try s.put("evaluation", id, [
                "case_id": .text(caseID), "direction": .text(input.direction), "grade": .text(input.grade),
                "target_person_id": text(input.targetPerson), "target_department_id": text(input.targetDepartment),
                "dim_attitude": text(input.attitude), "dim_efficiency": text(input.efficiency),
                "dim_quality": text(input.quality), "real_name": .bool(input.realName), "channel": text(input.channel),
                "comment": text(input.comment), "occurred_at": .text(input.occurredAt ?? now()),
                "recorded_by": .text(a.id),
            ])
            var ticket: String?
            if grade.isNegative {
                let t = stableID("tk", id)
                let day = CivilDate.days(String((input.occurredAt ?? "").prefix(10))) ?? today()
                // Numbered per office ({office} in the default pattern), so offices working offline never clash.
                let taken = try String.fetchAll(s.db(), sql: "SELECT ticket_no FROM v_ticket WHERE ticket_no IS NOT NULL")
                let pattern = try s.rules().ticketNumberPattern
                let number = Rules.nextNumber(pattern: pattern, year: Int(CivilDate.iso(day).prefix(4)) ?? 0,
                                              office: a.officeID ?? "", taken: taken)
                try s.put("ticket", t, [
                    "ticket_no": .text(number),
                    "evaluation_id": .text(id), "case_id": .text(caseID), "status": .text("OPEN"),
                    "responsible": text(input.targetDepartment ?? input.targetPerson),
                    "rectification_due": .date(try s.calendar().addingWorkdays(try s.rules().rectificationWorkdays, to: day)),
                ])
                ticket = t
            }
            return (id, ticket)
        }
    }

    public struct TicketUpdate: Sendable {
        public var category: String?
        public var verified: Bool?
        public var maliciousOrMistaken: Bool?
        public var callbackOn: Int32?
        public var action: String?
        public var rectifiedOn: Int32?
        public var feedbackOn: Int32?
        public var close = false
        public init() {}
    }

    /// 差评回访整改: verification, call-back, rectification, feedback, closing (office admins).
    public func updateTicket(_ id: String, _ u: TicketUpdate) throws {
        try perform { s in
            let a = try s.actor()
            let t = try s.require("ticket", id, .whatTicket)
            guard a.has(.officeAdmin) || (a.has(.liaison) && a.departmentID != nil && a.departmentID == (t["responsible"] as String?)) else {
                throw WorkflowError("forbidden", .needOfficeAdmin, "ticket update", a.id)
            }
            guard (t["status"] as String?) != "CLOSED" else { throw WorkflowError("illegal_transition", .alreadyDone, id) }
            var v: [String: FieldValue] = [:]
            if let x = u.category { v["category"] = .text(x) }
            if let x = u.verified { v["verified"] = .bool(x) }
            if let x = u.maliciousOrMistaken { v["malicious_or_mistaken"] = .bool(x) }
            if let x = u.callbackOn { v["callback_at"] = .date(x); v["callback_by"] = .text(a.id) }
            if let x = u.action { v["action"] = .text(x) }
            if let x = u.rectifiedOn { v["rectified_at"] = .date(x) }
            if let x = u.feedbackOn { v["feedback_at"] = .date(x) }
            if u.close {
                let rectified = u.rectifiedOn != nil || days(t, "rectified_at") != nil
                let excluded = u.maliciousOrMistaken ?? (t["malicious_or_mistaken"] as Bool? ?? false)
                guard rectified || excluded else { throw WorkflowError("missing", .ticketNotRectified, id) }
                v["status"] = .text("CLOSED")
            }
            guard !v.isEmpty else { throw WorkflowError("missing", .nothingToAssign) }
            try s.put("ticket", id, v)
        }
    }

    public struct ComplaintInput: Sendable {
        public var complainant: String?
        public var channel: String?
        public var targetKind: String?
        public var targetID: String?
        public var caseID: String?
        public var content: String?
        public var status: String?
        public var findings: String?
        public var disposition: String?
        public var upheld: Bool?
        public var appliedToAssessment: Bool?
        /// The complaint's number as given on paper (default: the next of rule `complaint.number_pattern`).
        public var number: String?
        /// A `CodeLabels.complaintCategory` code (重复提交材料 …).
        public var category: String?
        public var on: Int32?
        /// When a time of day was given with the receipt: `YYYY-MM-DDTHH:MM`, county time.
        public var at: String?
        public init() {}
    }

    /// 投诉: received, investigated, disposed, fed back, archived (office admins). The status never moves back.
    public func saveComplaint(id: String?, _ input: ComplaintInput) throws -> String {
        try perform { s in
            let a = try s.actor()
            guard a.has(.officeAdmin) || a.has(.auditor) else { throw WorkflowError("forbidden", .needOfficeAdmin, "complaint", a.id) }
            let key = id ?? newID("cp")
            let existing = try s.row("complaint", key)
            if id != nil && existing == nil { throw WorkflowError("not_found", .notFound, L10n.t(.whatComplaint), key) }
            var v: [String: FieldValue] = [:]
            let day = input.on ?? today()
            if existing == nil {
                v["received_at"] = .date(day)
                v["received_time"] = .text(input.at ?? (input.on == nil ? now() : CivilDate.iso(day)))
                v["status"] = .text(ComplaintStatus.received.rawValue)
                v["received_by_office_id"] = text(a.officeID)
                let rules = try s.rules()
                v["due"] = .date(try s.calendar().addingWorkdays(rules.complaintFeedbackWorkdays, to: day))
                let taken = try String.fetchAll(s.db(), sql: "SELECT complaint_no FROM v_complaint WHERE complaint_no IS NOT NULL")
                let number = input.number?.trimmingCharacters(in: .whitespaces)
                    ?? Rules.nextNumber(pattern: rules.complaintNumberPattern, year: Int(CivilDate.iso(day).prefix(4)) ?? 0,
                                        office: a.officeID ?? "", taken: taken)
                guard !number.isEmpty, !taken.contains(number) else { throw WorkflowError("duplicate", .complaintNumberTaken, number) }
                v["complaint_no"] = .text(number)
            } else if let n = input.number, n != existing?["complaint_no"] as String? {
                throw WorkflowError("bad_value", .complaintNumberFixed, existing?["complaint_no"] as String? ?? key)
            }
            if let x = input.category {
                try choice(x, "--category", CodeLabels.complaintCategory.map(\.code))
                v["category"] = .text(x)
            }
            if let x = input.status {
                guard let new = ComplaintStatus(rawValue: x) else {
                    throw WorkflowError("bad_value", .badChoice, "--status", ComplaintStatus.allCases.map(\.rawValue).joined(separator: ", "))
                }
                let old = ComplaintStatus(rawValue: existing?["status"] ?? "") ?? .received
                let order = ComplaintStatus.allCases
                guard order.firstIndex(of: new)! >= order.firstIndex(of: old)! else {
                    throw WorkflowError("illegal_transition", .complaintBackwards, old.rawValue, new.rawValue)
                }
                v["status"] = .text(new.rawValue)
                if new == .investigating && existing?["investigating_on"] as String? == nil { v["investigating_on"] = .date(day) }
                if new == .disposed && existing?["disposed_on"] as String? == nil { v["disposed_on"] = .date(day) }
                if new == .feedbackGiven { v["feedback_at"] = .date(day) }
                if new == .archived { v["archived_at"] = .date(day) }
            }
            for (k, x) in [("complainant", input.complainant), ("channel", input.channel), ("target_kind", input.targetKind),
                           ("target_id", input.targetID), ("case_id", input.caseID), ("content", input.content),
                           ("findings", input.findings), ("disposition", input.disposition)] {
                if let x { v[k] = .text(x) }
            }
            if let x = input.upheld { v["upheld"] = .bool(x) }
            if let x = input.appliedToAssessment { v["applied_to_assessment"] = .bool(x) }
            try s.put("complaint", key, v)
            return key
        }
    }

    /// 材料: metadata and SHA-256 of a file the office holds.
    public func addMaterial(id: String?, projectID: String?, enterpriseID: String?, type: String, title: String?,
                            fileHash: String?, fileSize: Int64?, source: String, producedBy: String?) throws -> String {
        try perform { s in
            let a = try s.actor()
            if let fileHash, fileHash.count != 64 || !fileHash.allSatisfy(\.isHexDigit) {
                throw WorkflowError("bad_value", .badHash)
            }
            let key = id ?? newID("mat")
            try s.put("material", key, [
                "scope": .text(projectID != nil ? "PROJECT" : "ENTERPRISE"), "project_id": text(projectID),
                "enterprise_id": text(enterpriseID), "type": .text(type), "title": text(title),
                "file_hash": text(fileHash?.lowercased()), "file_size": fileSize.map(FieldValue.int) ?? .null,
                "source": .text(source), "produced_by_item_id": text(producedBy), "scanned_by": .text(a.id),
                "scanned_at": .text(now()),
            ])
            return key
        }
    }

    /// A material used for an item, and what the item still lacks.
    public struct MaterialUse: Sendable, CustomStringConvertible {
        public let key: String
        /// The item's required materials (its catalogue entry's list and any 一次性告知) not yet provided.
        public let missing: [String]
        public var description: String { key }
    }

    /// 材料使用: a stored material reused for a plan item. The material must be one the item requires (its
    /// catalogue entry's list, or a 补正 notice's), unless `extra` says it is given beyond the list, and it must be
    /// valid on the day it is used.
    public func useMaterial(_ materialID: String, itemID: String, on: Int32? = nil, extra: Bool = false) throws -> MaterialUse {
        try perform { s in
            let material = try s.require("material", materialID, .whatMaterial)
            let item = try s.require("plan_item", itemID, .whatPlanItem)
            let (_, _) = try requireCaseParty(s, item["case_id"], "material use")
            let day = on ?? today()
            let type: String = material["type"] ?? ""
            let needs = try requiredMaterials(s, item)
            if !extra, !Materials.fits(type, needs.required + needs.noticed) {
                throw WorkflowError("bad_value", .materialNotRequired, type, itemID, Materials.joined(needs.required + needs.noticed))
            }
            if let until = days(material, "valid_until"), until < day {
                throw WorkflowError("bad_value", .materialExpired, materialID, CivilDate.iso(until))
            }
            let key = "\(materialID)@\(itemID)"
            try s.put("material_use", key, ["material_id": .text(materialID), "plan_item_id": .text(itemID),
                                            "case_id": text(item["case_id"]), "used_on": .date(day),
                                            "accepted": .bool(true)])
            return MaterialUse(key: key, missing: try requiredMaterials(s, item).missing)
        }
    }

    /// What an item needs: its catalogue entry's list, the materials its latest 一次性告知 asked for, and of
    /// both what no accepted use provides yet.
    func requiredMaterials(_ r: Reader, _ item: Row) throws -> (required: [String], noticed: [String], provided: [String], missing: [String]) {
        let catalogue = try (item["catalogue_item_id"] as String?).flatMap { try r.row("catalogue_item", $0) }
        let required = Materials.list(catalogue?["required_materials"])
        let notice = try r.rows("supplement_notice", where: "plan_item_id = ?", [item["_key"] as String],
                                orderBy: "notified_on DESC, _key DESC").first
        let noticed = Materials.list(notice?["missing"])
        let provided = try String.fetchAll(r.db(), sql: """
            SELECT m.type FROM v_material_use u JOIN v_material m ON m._key = u.material_id
            WHERE u.plan_item_id = ? AND coalesce(u.accepted, 1) = 1 AND m.type IS NOT NULL
            """, arguments: [item["_key"] as String])
        let missing = Materials.missing(required: Materials.list(Materials.joined(required + noticed)), provided: provided)
        return (required, noticed, provided, missing)
    }

    /// The latest 一次性告知 of an item, or nil when it never had one.
    public func latestSupplementNotice(itemID: String) throws -> [String]? {
        try read { r in
            try r.rows("supplement_notice", where: "plan_item_id = ?", [itemID], orderBy: "notified_on DESC, _key DESC").first
                .map { Materials.list($0["missing"]) }
        }
    }

    /// One item's materials: required, provided, missing and the latest 一次性告知.
    public func materialCheck(caseID: String) throws -> Grid {
        try read { r in
            var g = Grid(name: "materials_needed", columns: [
                Grid.Column("item", "ITEM", "办件"), Grid.Column("catalogue", "CATALOGUE ITEM", "事项"), Grid.Column("required", "REQUIRED", "应交材料"),
                Grid.Column("provided", "PROVIDED", "已交材料"), Grid.Column("missing", "MISSING", "尚缺材料"), Grid.Column("noticed_on", "NOTICE", "一次性告知日期"),
            ])
            for item in try r.rows("plan_item", where: "case_id = ?", [caseID], orderBy: "n, _key") {
                let needs = try requiredMaterials(r, item)
                let notice = try r.rows("supplement_notice", where: "plan_item_id = ?", [item["_key"] as String],
                                        orderBy: "notified_on DESC, _key DESC").first
                let code: String? = item["catalogue_item_id"]
                let name: String? = try code.flatMap { try r.row("catalogue_item", $0)?["name"] }
                g.rows.append([.text(item["_key"]), Grid.Cell([code, name].compactMap { $0 }.joined(separator: " ")),
                               .text(Materials.joined(needs.required + needs.noticed.filter { n in !needs.required.contains { Materials.key($0) == Materials.key(n) } })),
                               .text(Materials.joined(needs.provided)), .text(Materials.joined(needs.missing)),
                               Grid.Cell(notice?["notified_on"] as String?)])
            }
            return g
        }
    }
}
