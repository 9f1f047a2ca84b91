public import CaseDomain
import Foundation
import GRDB
import SyncCore
import TerminalText

/// The plan-item (办件) steps of DOMAIN.md §2.2.
public enum ItemStep: String, CaseIterable, Sendable {
    case dispatch, prepare, submit, accept, refuse, review, supplement, pause, resume
    case localDone = "local-done"
    case reportUp = "report-up"
    case decide, cancel, withdraw

    /// The states the step may start from.
    var from: [ItemStatus] {
        switch self {
        case .dispatch: [.planned]
        case .prepare: [.dispatched]
        case .submit: [.planned, .dispatched, .preparing, .supplement]
        case .accept, .refuse: [.submitted]
        case .review: [.accepted]
        case .supplement: [.submitted, .accepted, .underReview]
        case .pause: [.accepted, .underReview]
        case .resume: [.specialProcedure, .supplement]
        case .localDone: [.accepted, .underReview]
        case .reportUp: [.localDone]
        case .decide: [.accepted, .underReview, .reportedUp]
        case .cancel, .withdraw: ItemStatus.allCases.filter { !$0.isFinal }
        }
    }

    /// Department-side steps: recorded by the item's liaison (or by the agent on their behalf, flagged).
    var isDepartmentStep: Bool {
        [.accept, .refuse, .review, .supplement, .pause, .resume, .localDone, .reportUp, .decide].contains(self)
    }
}

/// What one item step records.
public struct ItemStepInput: Sendable {
    public var on: Int32?
    /// Pause reason (SUPPLEMENT, TECH_EVAL, EXPERT, HEARING, SITE_SURVEY, COLLECTIVE_DISCUSSION).
    public var reason: String?
    /// Decision result (APPROVED / APPROVED_TOLERANCE / DISAPPROVED / ANSWERED).
    public var result: String?
    /// The upper-level department an item is reported to.
    public var to: String?
    /// report-up: 抄告, who else the report was copied to.
    public var cc: [String] = []
    public var certNo: String?
    public var platformCaseNo: String?
    public var handlingClass: String?
    /// supplement: the 一次性告知 list of what is missing (default: the required materials not yet provided).
    public var missing: [String]?
    /// supplement: the notice's number as printed (一次性告知书编号).
    public var noticeNo: String?
    public init() {}
}

public struct PlanItemInput: Sendable {
    public var catalogueCode: String
    public var n: Int?
    public var liaison: String?
    public var dependsOn: [Int] = []
    public var plannedDue: Int32?
    public var handlingClass: String?
    public init(catalogueCode: String) { self.catalogueCode = catalogueCode }
}

extension Workflow {
    /// Adds an item to the case's 代办任务分解计划表. A PARTIAL agreement allows only its items and stages.
    public func addPlanItem(caseID: String, _ input: PlanItemInput) throws -> String {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireAgentOrOffice(a, c, "plan add")
            try s.requireStatus(c, [.planning, .executing], "plan add")
            let item = try s.require("catalogue_item", input.catalogueCode, .whatCatalogueItem)
            let agreement = try (c["agreement_id"] as String?).flatMap { try s.row("agreement", $0) }
            if let agreement, (agreement["scope"] as String?) == "PARTIAL" {
                let items = list(agreement["items"]), stages = list(agreement["stages"])
                let stage: String = item["stage"] ?? ""
                guard items.contains(input.catalogueCode) || stages.contains(stage) else {
                    throw WorkflowError("outside_scope", .outsideScope, input.catalogueCode,
                                        (items + stages).joined(separator: ", "))
                }
            }
            let existing = try s.rows("plan_item", where: "case_id = ?", [caseID], orderBy: "n")
            let n = input.n ?? (Int((existing.last?["n"] as Int64?) ?? 0) + 1)
            let key = "\(caseID).\(n)"
            if existing.contains(where: { $0["_key"] == key }) { throw WorkflowError("duplicate", .itemNumberTaken, n) }
            let department: String? = item["department_id"]
            var liaison = input.liaison
            if liaison == nil, let department {
                for p in list(c["liaisons"]) where try s.row("person", p)?["department_id"] == department {
                    liaison = p
                    break
                }
            }
            var values: [String: FieldValue] = [
                "case_id": .text(caseID), "n": .int(Int64(n)), "stage": text(item["stage"]),
                "catalogue_item_id": .text(input.catalogueCode), "department_id": text(department),
                "liaison_id": text(liaison), "depends_on": .text(input.dependsOn.map(String.init).joined(separator: ",")),
                "handling_class": text(input.handlingClass ?? item["class_hint"] ?? item["default_kind"]),
                "status": .text(ItemStatus.planned.rawValue),
                "committed_limit": (item["committed_limit"] as Int64?).map(FieldValue.int) ?? .null,
                "committed_unit": text(item["committed_unit"]),
                "legal_limit": (item["legal_limit"] as Int64?).map(FieldValue.int) ?? .null,
                "legal_unit": text(item["legal_unit"]),
            ]
            if let d = input.plannedDue { values["planned_due"] = .date(d) }
            try s.put("plan_item", key, values)
            return key
        }
    }

    /// T8: the plan is drafted; the case moves to EXECUTING.
    public func confirmPlan(caseID: String, on: Int32? = nil) throws {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireAgentOrOffice(a, c, "plan confirm")
            try s.requireStatus(c, [.planning], "plan confirm")
            guard try !s.rows("plan_item", where: "case_id = ?", [caseID]).isEmpty else {
                throw WorkflowError("missing", .planEmpty, caseID)
            }
            try s.put("case", caseID, ["status": .text(CaseStatus.executing.rawValue),
                                       "plan_confirmed_on": .date(on ?? today())])
        }
    }

    /// One plan-item step: checks the item's state, the case's state and who records it, then writes the new
    /// state with its dates; acceptance, pauses and resumes recompute the due dates.
    @discardableResult
    public func itemStep(_ step: ItemStep, itemID: String, _ input: ItemStepInput = ItemStepInput()) throws -> ItemStatus {
        try perform { s in
            let a = try s.actor()
            let item = try s.require("plan_item", itemID, .whatPlanItem)
            let caseID: String = item["case_id"]
            let c = try s.caseRow(caseID)
            try s.requireStatus(c, [.planning, .executing], "item \(step.rawValue)")
            let status = ItemStatus(rawValue: item["status"] ?? "") ?? .planned
            guard step.from.contains(status) else {
                throw WorkflowError("illegal_transition", .illegalItemStep, step.rawValue, itemID, status.rawValue,
                                    step.from.map(\.rawValue).joined(separator: "/"))
            }
            var onBehalf = false
            if step.isDepartmentStep {
                let isLiaison = a.has(.liaison) && a.departmentID != nil && a.departmentID == (item["department_id"] as String?)
                if !isLiaison {
                    guard s.isCaseAgent(a, for: c) || s.isOfficeAdmin(a, for: c) else {
                        throw WorkflowError("forbidden", .needLiaison, step.rawValue, a.id)
                    }
                    onBehalf = true
                }
            } else {
                try s.requireAgentOrOffice(a, c, "item \(step.rawValue)")
            }
            let day = input.on ?? today()
            let accepted = days(item, "accepted_on")
            var values: [String: FieldValue] = ["recorded_by": .text(a.id)]
            if step.isDepartmentStep { values["on_behalf"] = .bool(onBehalf) }
            var next: ItemStatus
            switch step {
            case .dispatch:
                next = .dispatched
                values["dispatched_on"] = .date(day)
            case .prepare:
                next = .preparing
            case .submit:
                try s.checkPlanOrder(item, caseID: caseID, c)
                next = .submitted
                values["submitted_on"] = .date(day)
                if status == .supplement { values["handling_class"] = text(input.handlingClass ?? "COMMITTED") }
            case .accept:
                next = .accepted
                values["accepted_on"] = .date(day)
                if let h = input.handlingClass { values["handling_class"] = .text(h) }
            case .review:
                next = .underReview
            case .refuse:
                next = .notAccepted
                values["decided_on"] = .date(day)
            case .supplement:
                next = .supplement
                values["handling_class"] = .text("SUPPLEMENT")
                values["had_supplement"] = .bool(true)
                // 一次性告知: everything missing, told once, so the owner brings it in one trip.
                // A liaison's device holds no materials of the case: what is missing is the department's to say.
                if input.missing == nil, !(s.isCaseAgent(a, for: c) || s.isOfficeAdmin(a, for: c)) {
                    throw WorkflowError("missing", .needMissingList)
                }
                let missing = try input.missing ?? requiredMaterials(s, item).missing
                var notice: [String: FieldValue] = ["plan_item_id": .text(itemID), "case_id": .text(caseID), "notified_on": .date(day),
                                                    "missing": .text(Materials.joined(missing)), "recorded_by": .text(a.id)]
                if let n = input.noticeNo { notice["notice_no"] = .text(n) }
                // Keys sort by when they were written, so the latest notice of a day is the last one given.
                let millis = String(Int64(Date().timeIntervalSince1970 * 1000))
                try s.put("supplement_notice", newID("notice-" + String(repeating: "0", count: max(0, 14 - millis.count)) + millis), notice)
                if accepted != nil {
                    try s.put("item_pause", newID("pause"), ["plan_item_id": .text(itemID), "case_id": .text(caseID),
                                                             "from": .date(day), "reason": .text("SUPPLEMENT")])
                }
            case .pause:
                next = .specialProcedure
                let reason = input.reason ?? "SPECIAL_PROCEDURE"
                try s.put("item_pause", newID("pause"), ["plan_item_id": .text(itemID), "case_id": .text(caseID),
                                                         "from": .date(day), "reason": .text(reason)])
            case .resume:
                next = accepted == nil ? .submitted : .underReview
                if accepted != nil {
                    for p in try s.rows("item_pause", where: "plan_item_id = ? AND \"to\" IS NULL", [itemID]) {
                        try s.put("item_pause", p["_key"], ["to": .date(day)])
                    }
                }
                if status == .supplement { values["handling_class"] = text(input.handlingClass ?? "COMMITTED") }
            case .localDone:
                next = .localDone
                values["local_done_on"] = .date(day)
                values["handling_class"] = .text("REPORT_UP")
                values["report_up_due"] = .date(try s.calendar().addingWorkdays(try s.rules().reportUpWorkdays, to: day))
                // The county's part ends here: its working days are counted to this day, not to the upper decision.
                if let accepted { values["elapsed_wd"] = .int(Int64(try s.calendar().workdays(after: accepted, through: day))) }
            case .reportUp:
                next = .reportedUp
                values["reported_up_on"] = .date(day)
                // 抄告 travels in the same field as the addressee (a plan item already has as many fields as one
                // push may carry at its largest): 「市林业局；抄告 D-FG、D-ZG」.
                let cc = input.cc.isEmpty ? "" : "；抄告 " + input.cc.joined(separator: "、")
                values["reported_up_to"] = input.to.map { .text($0 + cc) } ?? (cc.isEmpty ? .null : .text(String(cc.dropFirst())))
            case .decide:
                guard let r = input.result.flatMap(ItemStatus.init(rawValue:)), r.isDecision else {
                    throw WorkflowError("bad_value", .badChoice, "--result",
                                        ItemStatus.decisions.map(\.rawValue).joined(separator: ", "))
                }
                next = r
                values["decided_on"] = .date(day)
                if let accepted, item["local_done_on"] as String? == nil {
                    values["elapsed_wd"] = .int(Int64(try s.calendar().workdays(after: accepted, through: day)))
                }
                if let cert = input.certNo { values["cert_no"] = .text(cert) }
            case .cancel:
                next = .cancelled
            case .withdraw:
                next = .withdrawn
            }
            if let p = input.platformCaseNo { values["platform_case_no"] = .text(p) }
            values["status"] = .text(next.rawValue)
            try s.put("plan_item", itemID, values)
            if step == .accept || step == .resume { try recomputeDues(s, itemID) }
            return next
        }
    }

    /// Recomputes an accepted item's committed and legal due dates from its limits, the calendar and its
    /// closed pauses (a running pause keeps the last computed dates until it is resumed).
    func recomputeDues(_ s: Session, _ itemID: String) throws {
        guard let item = try s.row("plan_item", itemID), let accepted = days(item, "accepted_on") else { return }
        let calendar = try s.calendar()
        let pauses = try s.rows("item_pause", where: "plan_item_id = ?", [itemID]).compactMap { p -> ClockPause? in
            guard let from = days(p, "from"), let to = days(p, "to") else { return nil }
            return ClockPause(from: from, to: to, reason: p["reason"] ?? "")
        }
        var values: [String: FieldValue] = [:]
        for kind in ["committed", "legal"] {
            if let limit = item["\(kind)_limit"] as Int64?, let unit = LimitUnit(rawValue: item["\(kind)_unit"] ?? "WD") {
                values["\(kind)_due"] = .date(calendar.due(from: accepted, limit: Int(limit), unit: unit, pauses: pauses))
            } else {
                values["\(kind)_due"] = .null
            }
        }
        if days(item, "committed_due") != values["committed_due"].flatMap(dateValue)
            || days(item, "legal_due") != values["legal_due"].flatMap(dateValue) {
            try s.put("plan_item", itemID, values)
        }
    }
}

func dateValue(_ v: FieldValue) -> Int32? {
    if case .date(let d) = v { return d }
    return nil
}

extension Reader {
    /// The plan's order, checked before an item is submitted: every item it depends on (`depends_on`, numbers
    /// in the same plan) is decided positively or cancelled, and while the project has no 项目代码 only the items
    /// that give one (rule `plan.code_items`) may go first, since a department accepts nothing without it.
    func checkPlanOrder(_ item: Row, caseID: String, _ c: Row) throws {
        let key: String = item["_key"]
        for n in list(item["depends_on"]).compactMap(Int.init) {
            guard let dep = try row("plan_item", "\(caseID).\(n)") else {
                throw WorkflowError("plan_order", .dependencyMissing, key, "\(caseID).\(n)")
            }
            let status = ItemStatus(rawValue: dep["status"] ?? "")
            guard status?.satisfiesDependents == true else {
                throw WorkflowError("plan_order", .dependencyOpen, key, "\(caseID).\(n)", status.map { L10n.chinese ? $0.zh : $0.rawValue } ?? "")
            }
        }
        let rules = try rules(), codeItems = rules.codeItems
        guard !codeItems.isEmpty, !codeItems.contains(item["catalogue_item_id"] as String? ?? ""),
              !rules.codeFreeStages.contains(item["stage"] as String? ?? "") else { return }
        let project = try (c["project_id"] as String?).flatMap { try row("project", $0) }
        guard ((project?["project_code"] as String?) ?? "").isEmpty else { return }
        let json = "[" + codeItems.map { "\"\($0.filter { $0 != "\"" && $0 != "\\" })\"" }.joined(separator: ",") + "]"
        let codeGiven = try rows("plan_item", where: "case_id = ? AND catalogue_item_id IN (SELECT value FROM json_each(?))",
                                 [caseID.databaseValue, json.databaseValue])
            .contains { ItemStatus(rawValue: $0["status"] ?? "")?.satisfiesDependents == true && $0["status"] as String? != "CANCELLED" }
        guard codeGiven else {
            throw WorkflowError("plan_order", .needsProjectCode, key, codeItems.joined(separator: "、"))
        }
    }
}
