import CaseDomain
import Foundation
import GRDB
import SyncCore
import TerminalText

/// A printable form (代办登记表, 委托代办协议, …) as data: a title, its number, and blocks of labelled fields,
/// tables, paragraphs and signature boxes, filled from the case's records. Renderers (HTML, PDF) only lay it out,
/// so what a form says is decided — and tested — here.
public struct FormDocument: Sendable {
    public enum Block: Sendable {
        /// Label–value rows, two to a line where they fit.
        case fields([(String, String)])
        /// A titled table.
        case table(title: String?, headers: [String], rows: [[String]])
        case paragraph(String)
        /// Signature and stamp boxes, each with its label (签字/盖章 and a date line).
        case signatures([String])
    }

    public let kind: FormKind
    public let title: String
    /// The form's number as printed (the registration number, agreement code, 办结单 number …).
    public let number: String
    public let caseID: String
    public var blocks: [Block]
    /// Labels of fields and titles of tables filled in after the paper is signed (a case number given at review, the
    /// office's receipt, items' current states): printed, but outside the check code, so a genuine paper stays valid.
    public var unchecked: Set<String> = []

    /// The form's text, one fact per line: what a test reads and `--json` shows.
    public var canonicalText: String { text(skipping: []) }

    /// What the check code covers: the form's text without the parts filled in later.
    public var checkedText: String { text(skipping: unchecked) }

    func text(skipping: Set<String>) -> String {
        var lines = [kind.rawValue, title, number, caseID]
        for b in blocks {
            switch b {
            case .fields(let f): lines += f.filter { !skipping.contains($0.0) }.map { "\($0.0)=\($0.1)" }
            case .table(let t, let h, let rows):
                if let t, skipping.contains(t) { continue }
                lines.append(t ?? ""); lines.append(h.joined(separator: "|")); lines += rows.map { $0.joined(separator: "|") }
            case .paragraph(let p): lines.append(p)
            case .signatures(let s): lines.append(s.joined(separator: "|"))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// The forms `daiban form` prints.
public enum FormKind: String, CaseIterable, Sendable {
    case registration, agreement, plan, completion, termination, meeting, progress

    public var title: String {
        switch self {
        case .registration: "代办登记表"
        case .agreement: "投资项目委托代办协议"
        case .plan: "代办任务分解计划表"
        case .completion: "代办项目办结单"
        case .termination: "代办项目委托终止单"
        case .meeting: "联合审批协调会议纪要"
        case .progress: "代办进展情况反馈表"
        }
    }

    /// Chinese names a clerk may type for the kind.
    public static func parse(_ text: String) -> FormKind? {
        if let k = FormKind(rawValue: text.lowercased()) { return k }
        let t = text.trimmingCharacters(in: .whitespaces)
        return allCases.first { $0.title == t || $0.title.contains(t) && t.count >= 3 }
            ?? ["登记表": .registration, "协议": .agreement, "计划表": .plan, "办结单": .completion, "终止单": .termination,
                "会议纪要": .meeting, "纪要": .meeting, "进展反馈": .progress, "反馈表": .progress][t]
    }
}

extension Workflow {
    /// The form of `kind` for a case, from this replica's records. `period` picks the half-month of a progress
    /// report (its first day; default the latest), `meetingID` the meeting of a 会议纪要 (default the latest).
    public func form(_ kind: FormKind, caseID: String, meetingID: String? = nil, period: Int32? = nil) throws -> FormDocument {
        try read { r in
            let c = try r.require("case", caseID, .whatCase)
            let project = try (c["project_id"] as String?).flatMap { try r.row("project", $0) }
            let enterprise = try (c["enterprise_id"] as String?).flatMap { try r.row("enterprise", $0) }
            func v(_ row: Row?, _ column: String) -> String {
                guard let value = row?[column] as DatabaseValue? else { return "" }
                switch value.storage {
                case .string(let s): return s
                case .int64(let i): return String(i)
                case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
                case .null, .blob: return ""
                }
            }
            func person(_ id: String?) throws -> String { try id.map { try r.name("person", $0) ?? $0 } ?? "" }
            func label(_ code: String?, _ table: CodeLabels.Table) -> String { code.map { CodeLabels.zh($0, in: table) } ?? "" }
            let caseNo = v(c, "case_no").isEmpty ? caseID : v(c, "case_no")
            let township = try r.name("township", c["township_id"]) ?? v(c, "township_id")
            let office = try r.name("office", c["office_id"]) ?? v(c, "office_id")
            let projectFields: [(String, String)] = [
                ("项目名称", v(project, "name")), ("项目代码", v(project, "project_code")),
                ("项目业主", v(enterprise, "name")), ("统一社会信用代码", v(enterprise, "uscc")),
                ("项目所在地", township), ("总投资（万元）", v(project, "total_investment_wan")),
            ]
            var doc: FormDocument
            switch kind {
            case .registration:
                let reg = try r.rows("registration", where: "case_id = ?", [caseID], orderBy: "received_at, _key").first
                guard let reg else { throw WorkflowError("not_found", .notFound, L10n.t(.whatRegistration), caseID) }
                doc = FormDocument(kind: kind, title: kind.title, number: v(reg, "reg_no").isEmpty ? v(reg, "_key") : v(reg, "reg_no"),
                                   caseID: caseID, blocks: [])
                doc.blocks = [
                    .fields(projectFields + [
                        ("登记渠道", label(reg["channel"], CodeLabels.channel)), ("登记时间", receivedTime(reg) ?? ""),
                        ("委托范围", label(reg["requested_scope"], CodeLabels.scope)), ("申请代办事项", v(reg, "requested_items")),
                        ("受理机构", try r.name("office", reg["received_by_office_id"]) ?? v(reg, "received_by_office_id")),
                        ("受理人", try person(reg["received_by_person_id"])), ("登记表形式", label(reg["form"], CodeLabels.form)),
                        ("案号", v(c, "case_no")),
                    ]),
                    .paragraph("本表由代办机构据项目业主申请填写。代办服务免费，项目业主对所提供材料的真实性负责。"),
                    .signatures(["项目业主（签字或盖章）", "受理人（签字）", "代办机构（盖章）"]),
                ]
                doc.unchecked = ["案号"]
            case .agreement:
                let agr = try (c["agreement_id"] as String?).flatMap { try r.row("agreement", $0) }
                    ?? r.rows("agreement", where: "case_id = ?", [caseID]).first
                guard let agr else { throw WorkflowError("not_found", .notFound, L10n.t(.whatAgreement), caseID) }
                doc = FormDocument(kind: kind, title: kind.title, number: v(agr, "agreement_code"), caseID: caseID, blocks: [])
                doc.blocks = [
                    .fields([("委托方（甲方）", v(enterprise, "name")), ("受托方（乙方）", office)] + projectFields.prefix(2) + [
                        ("委托范围", label(agr["scope"], CodeLabels.scope)), ("代办阶段", v(agr, "stages")),
                        ("代办事项", v(agr, "items")), ("代办员", try person(c["agent_id"] ?? c["chief_agent_id"])),
                        ("代办费用", "免费（0 元）"), ("签订日期", v(agr, "signed_on")),
                    ]),
                    .paragraph("一、乙方受甲方委托，依法依规为本项目无偿提供代办服务，不收取任何费用。二、甲方对提交材料的真实性、合法性负责，"
                        + "并按要求及时提供材料。三、乙方按代办任务分解计划表推进各审批事项，每半月向甲方反馈进展。四、审批结果以审批部门的决定为准。"),
                    .signatures(["甲方（签字或盖章）", "乙方（盖章）", "代办员（签字）"]),
                ]
            case .plan:
                doc = FormDocument(kind: kind, title: kind.title, number: caseNo, caseID: caseID, blocks: [])
                let items = try r.rows("plan_item", where: "case_id = ?", [caseID], orderBy: "n, _key")
                var rows: [[String]] = []
                for p in items {
                    let code: String? = p["catalogue_item_id"]
                    let name: String = try code.flatMap { try r.row("catalogue_item", $0)?["name"] } ?? (code ?? "")
                    rows.append([String(p["n"] as Int? ?? 0), name, try r.name("department", p["department_id"]) ?? v(p, "department_id"),
                                 try person(p["liaison_id"]), v(p, "planned_due"), v(p, "committed_due"),
                                 label(p["handling_class"], CodeLabels.handlingClass)])
                }
                doc.blocks = [
                    .fields([("项目名称", v(project, "name")), ("项目业主", v(enterprise, "name")), ("案号", caseNo),
                             ("代办员", try person(c["agent_id"] ?? c["chief_agent_id"])), ("计划确认日期", v(c, "plan_confirmed_on"))]),
                    .table(title: nil, headers: ["序号", "审批事项", "审批部门", "联络员", "计划完成", "承诺期限", "办件类别"], rows: rows),
                    .signatures(["代办员（签字）", "项目业主（签字）", "代办机构负责人（签字）"]),
                ]
            case .completion, .termination:
                let table = kind == .completion ? "completion_form" : "termination_form"
                guard let f = try r.rows(table, where: "case_id = ?", [caseID]).first else {
                    throw WorkflowError("not_found", .notFound, kind.title, caseID)
                }
                doc = FormDocument(kind: kind, title: kind.title, number: v(f, "form_no").isEmpty ? v(f, "_key") : v(f, "form_no"),
                                   caseID: caseID, blocks: [])
                var fields = Array(projectFields.prefix(4)) + [("案号", caseNo), ("代办员", try person(c["agent_id"] ?? c["chief_agent_id"]))]
                if kind == .completion {
                    fields += [("办结日期", v(f, "completed_on")), ("材料移交日期", v(f, "materials_handed_on"))]
                } else {
                    fields += [("终止日期", v(f, "terminated_on")), ("终止原因", label(f["reason_type"], CodeLabels.terminationReason)),
                               ("原因说明", v(f, "reason_text"))]
                }
                fields += [("交回代办机构期限", v(f, "handover_due")), ("代办机构接收时间", v(f, "received_at"))]
                let decided = try r.rows("plan_item", where: "case_id = ?", [caseID], orderBy: "n, _key").map { p -> [String] in
                    let code: String? = p["catalogue_item_id"]
                    let name: String = try code.flatMap { try r.row("catalogue_item", $0)?["name"] } ?? (code ?? "")
                    return [String(p["n"] as Int? ?? 0), name, label(p["status"], CodeLabels.itemStatus),
                            v(p, "local_done_on").isEmpty ? v(p, "decided_on") : v(p, "local_done_on"), v(p, "cert_no")]
                }
                doc.blocks = [
                    .fields(fields),
                    .table(title: "审批事项办理情况", headers: ["序号", "审批事项", "状态", "办结日期", "批文/证照编号"], rows: decided),
                    .paragraph(kind == .completion ? "上述事项已代办完毕，相关批文、证照及材料已移交项目业主。"
                                                   : "经双方确认，终止本项目委托代办，已办理的材料已移交项目业主。"),
                    .signatures(["项目业主（签字或盖章）", "代办员（签字）", "代办机构（盖章）"]),
                ]
                doc.unchecked = ["代办机构接收时间"]
            case .meeting:
                let meetings = try r.rows("meeting", orderBy: "date DESC, _key DESC").filter { m in
                    Materials.list(m["case_ids"]).contains(caseID) && (meetingID == nil || m["_key"] == meetingID)
                }
                guard let m = meetings.first else { throw WorkflowError("not_found", .notFound, L10n.t(.whatMeeting), meetingID ?? caseID) }
                let key: String = m["_key"]
                doc = FormDocument(kind: kind, title: kind.title, number: key, caseID: caseID, blocks: [])
                let attendees = try r.rows("meeting_attendee", where: "meeting_id = ?", [key]).map { a -> [String] in
                    let org: String = try a["org"] as String? ?? r.name("department", a["department_id"]) ?? ""
                    return [org, try person(a["person_id"]),
                     v(a, "title"), (a["signed"] as Bool?) == true ? "已签 " + v(a, "signed_at") : ""]
                }
                let resolutions = try r.rows("meeting_resolution", where: "meeting_id = ?", [key]).map { x -> [String] in
                    [v(x, "text"), try r.name("department", x["responsible_department_id"]) ?? v(x, "responsible_department_id"),
                     v(x, "due"), x["status"] as String? == "DONE" ? "已落实 " + v(x, "done_on") : "待落实"]
                }
                doc.blocks = [
                    .fields([("会议日期", v(m, "date")), ("会议地点", v(m, "venue")), ("主持人", try person(m["chair_id"])),
                             ("记录人", try person(m["recorder_id"])), ("项目名称", v(project, "name")), ("案号", caseNo)]),
                    .paragraph("协调事项：" + v(m, "issues")),
                    .table(title: "参会人员", headers: ["单位", "姓名", "职务", "签到"], rows: attendees),
                    .table(title: "会议议定事项", headers: ["议定事项", "责任部门", "完成时限", "落实情况"], rows: resolutions),
                    .signatures(["主持人（签字）", "记录人（签字）"]),
                ]
                doc.unchecked = ["参会人员"]  // signatures are collected on the paper too
            case .progress:
                let reports = try r.rows("progress_report", where: "case_id = ?", [caseID], orderBy: "period_start DESC, delivered_on DESC, _key DESC")
                guard let pr = reports.first(where: { period == nil || days($0, "period_start") == period }) else {
                    throw WorkflowError("not_found", .notFound, L10n.t(.whatProgress), caseID)
                }
                doc = FormDocument(kind: kind, title: kind.title, number: "\(caseNo)-\(v(pr, "period_start"))", caseID: caseID, blocks: [])
                let open = try r.rows("plan_item", where: "case_id = ?", [caseID], orderBy: "n, _key").map { p -> [String] in
                    let code: String? = p["catalogue_item_id"]
                    let name: String = try code.flatMap { try r.row("catalogue_item", $0)?["name"] } ?? (code ?? "")
                    return [String(p["n"] as Int? ?? 0), name, label(p["status"], CodeLabels.itemStatus), v(p, "committed_due")]
                }
                doc.blocks = [
                    .fields([("项目名称", v(project, "name")), ("项目业主", v(enterprise, "name")), ("案号", caseNo),
                             ("反馈期间", "\(v(pr, "period_start")) 至 \(v(pr, "period_end"))"), ("反馈日期", v(pr, "delivered_on")),
                             ("代办员", try person(pr["author_id"] ?? c["agent_id"]))]),
                    .paragraph("本期进展：" + v(pr, "summary")),
                    .table(title: "各审批事项当前状态（打印时）", headers: ["序号", "审批事项", "状态", "承诺期限"], rows: open),
                    .signatures(["代办员（签字）", "项目业主（签收）"]),
                ]
                doc.unchecked = ["各审批事项当前状态（打印时）"]
            }
            return doc
        }
    }
}
