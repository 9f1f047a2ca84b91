public import CaseDomain
import Foundation
import GRDB
import SyncCore
import TerminalText

/// One case as `case show` presents it.
public struct CaseDetail: Sendable {
    public var header: [(Grid.Column, Grid.Cell)]
    /// Compliance and state flags: COORDINATING, MISSING_LEAD_OFFICIAL, MISSING_SUPERVISING_HEAD, DUPLICATE_REGISTRATIONS.
    public var flags: [String]
    public var items: Grid
    public var registrations: Grid
}

private typealias C = Grid.Column

extension Reader {
    /// `AND c._key IN (…)` for the cases where the person is agent, chief agent or team member: the ids are read
    /// once through the indexes and passed as a JSON array, so the queries drive from those few cases.
    func myCasesFilter(_ a: Actor) throws -> (String, [DatabaseValue]) {
        let ids = try String.fetchAll(db(), sql: """
            SELECT _key FROM v_case WHERE agent_id = ? UNION SELECT _key FROM v_case WHERE chief_agent_id = ?
            UNION SELECT _key FROM v_case WHERE team > '' AND instr(',' || team || ',', ?) > 0
            """, arguments: [a.id, a.id, ",\(a.id),"])
        let json = "[" + ids.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "]"
        return (" AND c._key IN (SELECT value FROM json_each(?))", [json.databaseValue])
    }
}

extension Workflow {
    /// `case list`: the register filtered by agent (`mine`), township and status.
    public func listCases(mine: Bool, township: String?, status: String?, limit: Int? = nil) throws -> Grid {
        var extra = ""
        var args: [DatabaseValue] = []
        if mine {
            let f = try read { r in try r.myCasesFilter(try r.actor()) }
            extra += f.0
            args += f.1
        }
        if let status {
            guard CaseStatus(rawValue: status) != nil else {
                throw WorkflowError("bad_value", .badChoice, "--status", CaseStatus.mergeOrder.map(\.rawValue).joined(separator: ", "))
            }
            extra += " AND c.status = ?"
            args.append(status.databaseValue)
        }
        return try read { r in
            try registerReport(r, ReportOptions(asOf: today(), township: township), extra: extra, extraArgs: args,
                               name: "cases", limit: limit)
        }
    }

    /// `case show`: header, flags, plan items with their timers, registrations (duplicates linked).
    public func showCase(_ id: String, asOf: Int32? = nil) throws -> CaseDetail {
        try read { r in
            let c = try r.caseRow(id)
            let rules = try r.rules(), cal = try r.calendar()
            let asOf = asOf ?? today()
            let project = try (c["project_id"] as String?).flatMap { try r.row("project", $0) }
            let enterprise = try (c["enterprise_id"] as String?).flatMap { try r.row("enterprise", $0) }
            let agreement = try (c["agreement_id"] as String?).flatMap { try r.row("agreement", $0) }
            var flags: [String] = []
            if try !r.rows("escalation", where: "case_id = ? AND status = 'OPEN'", [id]).isEmpty { flags.append("COORDINATING") }
            let need = rules.leadershipRequired(category: project?["category"], industrial: project?["is_industrial"] ?? false,
                                                investmentWan: project?["total_investment_wan"])
            let lead: String? = c["lead_official_id"] ?? project?["lead_official_id"]
            let head: String? = c["supervising_head_id"] ?? project?["supervising_head_id"]
            if need.leadOfficial && lead == nil { flags.append("MISSING_LEAD_OFFICIAL") }
            if need.supervisingHead && head == nil { flags.append("MISSING_SUPERVISING_HEAD") }
            if (c["_conflicts"] as Int? ?? 0) > 0 { flags.append("CONFLICT") }
            let regs = try r.rows("registration", where: "case_id = ?", [id], orderBy: "received_at, _key")
            if regs.count > 1 { flags.append("DUPLICATE_REGISTRATIONS") }
            let status = CaseStatus(rawValue: c["status"] ?? "")
            func cell(_ v: String?) -> Grid.Cell { Grid.Cell(v) }
            /// The 代办联系卡 a registration of the case came with (its number, or its id if not on this replica).
            func cardNumber() throws -> String? {
                guard let card = try String.fetchOne(r.db(), sql: """
                    SELECT contact_card_id FROM v_registration WHERE case_id = ? AND contact_card_id IS NOT NULL ORDER BY received_at LIMIT 1
                    """, arguments: [id]) else { return nil }
                return try r.row("contact_card", card)?["card_no"] ?? card
            }
            func names(_ ids: [String]) throws -> String? {
                ids.isEmpty ? nil : try ids.map { try r.name("person", $0) ?? $0 }.joined(separator: "、")
            }
            let header: [(Grid.Column, Grid.Cell)] = [
                (C("case", "case", "代办项目"), .text(id)), (C("case_no", "case no", "编号"), cell(c["case_no"])),
                (C("status", "status", "状态"), .text(L10n.chinese ? status?.zh ?? "" : c["status"] ?? "")),
                (C("status_code", "status code", "状态代码"), cell(c["status"])),
                (C("enterprise", "enterprise", "企业"), cell(enterprise?["name"])), (C("uscc", "USCC", "统一社会信用代码"), cell(enterprise?["uscc"])),
                (C("project", "project", "项目"), cell(project?["name"])), (C("project_code", "project code", "项目代码"), cell(project?["project_code"])),
                (C("township", "township", "乡镇/园区"), cell(c["township_id"])),
                (C("township_name", "township name", "乡镇名称"), cell(try r.name("township", c["township_id"]))),
                (C("office", "office", "代办机构"), cell(c["office_id"])),
                (C("investment_wan", "investment (万元)", "总投资(万元)"), (project?["total_investment_wan"] as Double?).map(Grid.Cell.real) ?? .null),
                (C("contact_card", "contact card", "代办联系卡"), cell(try cardNumber())),
                (C("agreement", "agreement", "协议编号"), cell(agreement?["agreement_code"])), (C("scope", "scope", "委托范围"), cell(agreement?["scope"])),
                (C("sign_state", "sign state", "签订状态"), cell(agreement?["sign_state"])), (C("fee", "fee", "代办费用"), agreement == nil ? .null : .text("0")),
                (C("agent", "agent", "代办员"), cell(c["agent_id"])), (C("agent_name", "agent name", "代办员姓名"), cell(try r.name("person", c["agent_id"]))),
                (C("chief_agent", "chief agent", "首席代办员"), cell(c["chief_agent_id"])),
                (C("chief_agent_name", "chief agent name", "首席代办员姓名"), cell(try r.name("person", c["chief_agent_id"]))),
                (C("team", "team", "代办小组"), cell(c["team"])),
                (C("team_names", "team names", "小组成员"), cell(try names(list(c["team"])))),
                (C("lead_official", "lead official", "牵头代办领导"), cell(lead)),
                (C("lead_official_name", "lead official name", "牵头领导姓名"), cell(try r.name("person", lead))),
                (C("supervising_head", "supervising head", "督办负责人"), cell(head)),
                (C("supervising_head_name", "supervising head name", "督办负责人姓名"), cell(try r.name("person", head))),
                (C("signed_on", "signed", "签约日期"), cell(c["signed_on"])),
                (C("plan_due", "plan due", "计划应制定"), cell(try planDue(r, c).map(CivilDate.iso))),
                (C("plan_confirmed_on", "plan confirmed", "方案确认"), cell(c["plan_confirmed_on"])),
                (C("completed_on", "completed", "办结日期"), cell(c["completed_on"])), (C("terminated_on", "terminated", "终止日期"), cell(c["terminated_on"])),
                (C("handed_over_on", "handed over", "移交日期"), cell(c["handed_over_on"])), (C("reason", "reason", "原因"), cell(c["reason"])),
            ]
            var items = Grid(name: "items", columns: [
                C("id", "ITEM", "办件"), C("n", "#", "序号"), C("code", "CODE", "事项编码"), C("name", "NAME", "事项名称"),
                .department, C("liaison", "LIAISON", "联络员"), .status, C("class", "CLASS", "办件类别"),
                C("accepted_on", "ACCEPTED", "受理"), C("committed_due", "COMMITTED DUE", "承诺到期"),
                C("timer_committed", "TIMER", "承诺时限"), C("legal_due", "LEGAL DUE", "法定到期"),
                C("timer_legal", "LEGAL TIMER", "法定时限"), C("decided_on", "DECIDED", "办结"),
            ])
            for p in try r.rows("plan_item", where: "case_id = ?", [id], orderBy: "n") {
                let st = ItemStatus(rawValue: p["status"] ?? "")
                // A 上报件's county part ends when it is done here, whenever the upper level decides.
                let finished = days(p, "local_done_on") ?? days(p, "decided_on")
                let paused = st == .specialProcedure || (st == .supplement && p["accepted_on"] != nil as String?)
                func timer(_ col: String) -> Grid.Cell {
                    guard let due = days(p, col), st.map({ !$0.isFinal || $0.isDecision }) ?? false else { return .null }
                    if paused { return .text("PAUSED") }
                    return .text(cal.timer(due: due, finished: finished, asOf: asOf, warningWorkdays: rules.warningWorkdays).rawValue)
                }
                let ci = try (p["catalogue_item_id"] as String?).flatMap { try r.row("catalogue_item", $0) }
                items.rows.append([.text(p["_key"]), Grid.Cell(p["n"] as Int?), cell(p["catalogue_item_id"]), cell(ci?["name"]),
                                   cell(p["department_id"]), cell(p["liaison_id"]),
                                   .text(p["status"] ?? ""), cell(p["handling_class"]),
                                   cell(p["accepted_on"]), cell(p["committed_due"]), timer("committed_due"), cell(p["legal_due"]),
                                   timer("legal_due"), cell(p["local_done_on"] ?? p["decided_on"])])
            }
            var registrations = Grid(name: "registrations", columns: [
                C("id", "REGISTRATION", "登记"), C("reg_no", "NO", "登记编号"), C("channel", "CHANNEL", "渠道"),
                r.timeColumn("received_at", "RECEIVED", "登记时间"), C("office", "OFFICE", "受理机构"), C("duplicate_of", "DUPLICATE OF", "重复登记于"),
            ])
            let canonical: String? = regs.first?["_key"]
            for reg in regs {
                let dup: String? = reg["_key"] == canonical ? nil : canonical
                registrations.rows.append([.text(reg["_key"]), cell(reg["reg_no"]), cell(reg["channel"]), cell(receivedTime(reg)),
                                           cell(reg["received_by_office_id"]), cell(dup)])
            }
            return CaseDetail(header: header, flags: flags, items: items, registrations: registrations)
        }
    }

    /// A registration's receipt: the time as typed when its date is the receipt date, else the date.
    func receivedTime(_ reg: Row) -> String? {
        let date: String? = reg["received_at"], at: String? = reg["occurred_at"]
        if let date, let at, at.hasPrefix(date) { return at }
        return date
    }

    /// The date the case's 代办任务分解计划表 is due: `plan.wd` working days after the agreement was signed.
    func planDue(_ r: Reader, _ c: Row) throws -> Int32? {
        guard let signed = days(c, "signed_on") else { return nil }
        return try r.calendar().addingWorkdays(try r.rules().planWorkdays, to: signed)
    }

    /// 催办: what the signed-in person must chase now — own items in WARNING or OVERDUE (committed or legal),
    /// 上报件 not yet reported, half-month reports missing or due, handovers not yet received, open resolutions
    /// past due. Agents see their cases; liaisons their department's items; office admins their office's cases.
    public func due(asOf: Int32) throws -> Grid {
        try read { r in
            let a = try r.actor()
            let rules = try r.rules(), cal = try r.calendar()
            var g = Grid(name: "due", columns: [
                C("kind", "KIND", "类别"), .caseID, .item, .itemName, .due, C("state", "STATE", "状态"), C("detail", "DETAIL", "说明"),
            ])
            let isAgent = a.has(.agent) || a.has(.chiefAgent)
            let mine = isAgent ? try r.myCasesFilter(a) : nil
            let office: (String, [DatabaseValue])? = a.has(.officeAdmin) && !a.isCentreAdmin
                ? a.officeID.map { (" AND c.office_id = ?", [$0.databaseValue]) } : nil
            var scopes: [ItemScope] = []
            if let mine { scopes.append(.cases(mine)) }
            if a.has(.liaison), let d = a.departmentID { scopes.append(.filter((" AND p.department_id = ?", [d.databaseValue]))) }
            if let office { scopes.append(.filter(office)) }
            var seenItems = Set<String>()
            let o = ReportOptions(asOf: asOf)
            for s in scopes {
                // Chase what is still open; finished-late items belong to the reports.
                for rec in try overdueReport(r, o, items: s, openOnly: true).records() {
                    guard let caseID = rec["case"]?.textValue, let n = rec["item"]?.intValue,
                        seenItems.insert("\(caseID).\(n)").inserted else { continue }
                    let sc = rec["vs_committed"]?.textValue, sl = rec["vs_legal"]?.textValue
                    let worst = [sc, sl].contains("OVERDUE") ? "OVERDUE" : "WARNING"
                    g.rows.append([.text("ITEM"), .text(caseID), .int(n), rec["item_name"] ?? .null,
                                   rec["committed_due"] ?? rec["legal_due"] ?? .null, .text(worst),
                                   .text("committed \(sc ?? "-") / legal \(sl ?? "-")")])
                }
            }
            if a.isCentreAdmin {
                // The county as a whole: every open item past a deadline, a 督办 proposal for those long overdue
                // with no open escalation, and every open escalation.
                let escalated = Set(try r.rows("escalation", where: "status = 'OPEN' AND plan_item_id IS NOT NULL")
                    .compactMap { $0["plan_item_id"] as String? })
                for rec in try overdueReport(r, o, items: .report, openOnly: true).records() {
                    let sc = rec["vs_committed"]?.textValue, sl = rec["vs_legal"]?.textValue
                    guard [sc, sl].contains("OVERDUE"), let caseID = rec["case"]?.textValue, let n = rec["item"]?.intValue,
                          seenItems.insert("\(caseID).\(n)").inserted else { continue }
                    let due = rec["committed_due"] ?? rec["legal_due"] ?? .null
                    g.rows.append([.text("ITEM"), .text(caseID), .int(n), rec["item_name"] ?? .null, due, .text("OVERDUE"),
                                   .text("committed \(sc ?? "-") / legal \(sl ?? "-")")])
                    let late = rec["late_wd"]?.intValue ?? 0
                    if late > rules.superviseAfterWorkdays, !escalated.contains("\(caseID).\(n)") {
                        g.rows.append([.text("SUPERVISE"), .text(caseID), .int(n), rec["item_name"] ?? .null, due, .text("PROPOSED"),
                                       .text(L10n.t(.proposeSupervise, late, rules.superviseLevel, caseID, n))])
                    }
                }
                for e in try r.rows("escalation", where: "status = 'OPEN'", orderBy: "raised_at, _key") {
                    let item = (e["plan_item_id"] as String?).flatMap { $0.split(separator: ".").last.flatMap { Int($0) } }
                    g.rows.append([.text("ESCALATION"), Grid.Cell(e["case_id"] as String?), Grid.Cell(item), .null,
                                   Grid.Cell(e["raised_at"] as String?), .text("OPEN"),
                                   .text([e["level"] as String?, e["target"] as String?, e["reason"] as String?].compactMap { $0 }.joined(separator: " "))])
                }
            }
            if a.has(.liaison), let d = a.departmentID {
                for p in try r.rows("plan_item", where: "department_id = ? AND status = 'LOCAL_DONE'", [d.databaseValue], orderBy: "report_up_due") {
                    guard let due = days(p, "report_up_due") else { continue }
                    let state = cal.timer(due: due, finished: nil, asOf: asOf, warningWorkdays: 0)
                    g.rows.append([.text("REPORT_UP"), .text(p["case_id"]), Grid.Cell(p["n"] as Int?), Grid.Cell(p["catalogue_item_id"] as String?),
                                   .text(CivilDate.iso(due)), .text(state == .normal ? "DUE" : state.rawValue), .text("上报")])
                }
            }
            if let mine {
                // The plan is due `plan.wd` working days after signing: cases still PLANNING near or past it.
                for c in try Row.fetchAll(r.db(), sql: "SELECT c.* FROM v_case c WHERE c.status = 'PLANNING'\(mine.0)",
                                          arguments: StatementArguments(mine.1)) {
                    guard let due = try planDue(r, c) else { continue }
                    let state = cal.timer(due: due, finished: nil, asOf: asOf, warningWorkdays: rules.warningWorkdays)
                    guard state != .normal else { continue }
                    g.rows.append([.text("PLAN"), .text(c["_key"]), .null, .null, .text(CivilDate.iso(due)), .text(state.rawValue),
                                   .text("代办任务分解计划表")])
                }
                // 中介服务 near or past the date the provider promised.
                for rec in try servicesGrid(r, caseID: nil, asOf: asOf, openOnly: true, caseFilter: mine).records() {
                    guard let timer = rec["timer"]?.textValue, timer != "NORMAL" else { continue }
                    g.rows.append([.text("SERVICE"), rec["case"] ?? .null, .null, rec["kind"] ?? .null, rec["due"] ?? .null,
                                   .text(timer), rec["provider"] ?? .null])
                }
                try forEachHalfMonth(r, o, caseFilter: mine) { x in
                    let soon = cal.workdays(after: asOf, through: x.due) <= rules.warningWorkdays
                    guard x.state == .missing || (x.state == .due && soon) else { return }
                    g.rows.append([.text("HALFMONTH"), .text(x.caseID), .null, .null, .text(CivilDate.iso(x.due)),
                                   .text(x.state == .missing ? "OVERDUE" : "WARNING"),
                                   .text("\(CivilDate.iso(x.start))..\(CivilDate.iso(x.end))")])
                }
            }
            if let f = mine ?? office ?? (a.isCentreAdmin ? ("", []) : nil) {
                for table in ["completion_form", "termination_form"] {
                    for row in try Row.fetchAll(r.db(), sql: """
                        SELECT f.* FROM v_\(table) f JOIN v_case c ON c._key = f.case_id WHERE f.received_at IS NULL\(f.0)
                        """, arguments: StatementArguments(f.1)) {
                        guard let due = days(row, "handover_due") else { continue }
                        let state = cal.timer(due: due, finished: nil, asOf: asOf, warningWorkdays: rules.warningWorkdays)
                        g.rows.append([.text("HANDOVER"), .text(row["case_id"]), .null, .text(table), .text(CivilDate.iso(due)),
                                       .text(state == .normal ? "DUE" : state.rawValue), Grid.Cell(row["form_no"] as String?)])
                    }
                }
            }
            g.summary = [(C("items", "to chase", "待催办"), .int(g.rows.count))]
            return g
        }
    }

    /// A simple listing of a reference or record table with chosen columns.
    public func listTable(_ table: String, columns: [(String, String, String)], where condition: String = "1",
                          _ args: [DatabaseValue] = [], orderBy: String = "_key") throws -> Grid {
        try read { r in
            var g = Grid(name: table, columns: [C("id", "ID", "编号")] + columns.map { C($0.0, $0.1, $0.2) })
            for row in try r.rows(table, where: condition, StatementArguments(args), orderBy: orderBy) {
                g.rows.append([.text(row["_key"])] + columns.map { col -> Grid.Cell in
                    let v: DatabaseValue = row[col.0] ?? .null
                    switch v.storage {
                    case .null: return .null
                    case .int64(let i): return .int(Int(i))
                    case .double(let d): return .real(d)
                    case .string(let s): return .text(s)
                    case .blob: return .null
                    }
                })
            }
            g.summary = [(C("rows", "rows", "条数"), .int(g.rows.count))]
            return g
        }
    }

    /// A warning when this replica's calendar is older than the one the centre published, or does not cover `day`.
    public func calendarWarning(for day: Int32) throws -> String? {
        try read { r in
            let v = try r.calendarVersions()
            if v.local < v.published { return L10n.t(.calendarOlder, v.local, v.published) }
            let cal = try r.calendar()
            guard let range = cal.coverage else { return L10n.t(.calendarEmpty) }
            if !range.contains(day) { return L10n.t(.calendarNotCovering, CivilDate.iso(day), CivilDate.iso(range.lowerBound), CivilDate.iso(range.upperBound)) }
            return nil
        }
    }
}
