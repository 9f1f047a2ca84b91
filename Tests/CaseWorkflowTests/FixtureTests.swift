import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import ReplicaStore
import SyncCore
import SyncTesting
import Testing

/// Fixtures C1–C3 of DOMAIN.md §6, built step by step as the agents, liaisons and offices would record them
/// on their own replicas, synced through the centre; then every figure §6 lists is checked at the centre.
@Suite(.serialized) final class FixtureTests {
    let county: County
    var c1 = "", c2 = "", c3 = ""

    init() throws {
        county = try County([
            "a01": "a01", "a03": "a03", "a04": "a04", "dg": "dg-admin", "sm": "sm-admin", "lly": "l-ly", "lhj": "l-hj",
        ])
        try buildC1()
        try buildC2()
        try buildC3()
        try county.syncAll()
    }

    func step(_ name: String, _ s: ItemStep, _ item: String, _ on: String, result: String? = nil, reason: String? = nil,
              to: String? = nil, cc: [String] = []) throws {
        var input = ItemStepInput()
        input.cc = cc
        input.on = day(on)
        input.result = result
        input.reason = reason
        input.to = to
        try county.wf(name).itemStep(s, itemID: item, input)
    }

    /// dispatch → submit → accept (→ decide) on the agent's replica, the department steps recorded on behalf.
    func item(_ who: String, _ id: String, accepted: String, decided: String?, dispatched: String? = nil) throws {
        try step(who, .dispatch, id, dispatched ?? accepted)
        try step(who, .submit, id, accepted)
        try step(who, .accept, id, accepted)
        if let decided { try step(who, .decide, id, decided, result: "APPROVED") } else { try step(who, .review, id, accepted) }
    }

    func buildC1() throws {
        let a01 = county.wf("a01"), centre = county.wf("centre")
        var reg = RegistrationInput(uscc: "91330999TEST00001X", enterpriseName: "云岭华泰精密机械有限公司",
                                    projectName: "年产50万套新能源汽车精密零部件项目", township: "OFF-BH", channel: "CONTACT_CARD")
        reg.regNo = "DJ-2025-0107"
        reg.projectCode = "2025-330999-36-03-000011"
        reg.category = "INVESTMENT_PROMOTION"
        reg.industrial = true
        reg.investmentWan = "12000"
        reg.major = true
        reg.on = day("2025-09-10")
        c1 = try a01.register(reg).caseID
        try county.sync("a01")
        _ = try centre.review(caseID: c1, .eligible, caseNo: "C1", on: day("2025-09-11"))
        var agr = Workflow.AgreementInput(code: "XY-2025-0052", scope: "FULL")
        agr.stages = ["LIXIANG_YONGDI", "GONGCHENG_JIANSHE", "SHIGONG", "GONGGONG_JIERU"]
        agr.signedOn = day("2025-09-15")
        #expect(try centre.agree(caseID: c1, agr) == .agreementPending)  // no agent yet
        var asg = Workflow.Assignment()
        asg.chiefAgent = "A01"
        asg.team = ["A05"]
        asg.liaisons = ["L-FG", "L-ZG", "L-HJ", "L-ZJ", "L-GD"]
        asg.leadOfficial = "P-XG"
        asg.supervisingHead = "P-FM"
        #expect(try centre.assign(caseID: c1, asg) == .planning)  // T6
        try county.sync("a01")
        for code in ["FG-01", "ZG-01", "HJ-01", "FG-02", "ZG-02", "ZJ-01", "ZJ-02", "GD-01"] {
            var p = PlanItemInput(catalogueCode: code)
            if code == "ZJ-02" { p.dependsOn = [5, 6] }
            _ = try a01.addPlanItem(caseID: c1, p)
        }
        try a01.confirmPlan(caseID: c1, on: day("2025-09-16"))
        try item("a01", "\(c1).1", accepted: "2025-09-16", decided: "2025-09-16")
        try item("a01", "\(c1).2", accepted: "2025-09-18", decided: "2025-09-24")
        try item("a01", "\(c1).3", accepted: "2025-09-22", decided: nil)
        try county.sync("a01")
        try county.sync("lhj")
        try step("lhj", .decide, "\(c1).3", "2025-09-29", result: "APPROVED")  // the 环评 liaison records it
        try county.sync("lhj")
        try county.sync("a01")
        try item("a01", "\(c1).4", accepted: "2025-09-24", decided: "2025-09-30")
        try item("a01", "\(c1).5", accepted: "2025-09-26", decided: "2025-10-13")
        try item("a01", "\(c1).6", accepted: "2025-10-09", decided: "2025-10-21")
        try item("a01", "\(c1).7", accepted: "2025-10-27", decided: "2025-10-29")
        try item("a01", "\(c1).8", accepted: "2025-11-10", decided: nil)
        _ = try a01.addLog(caseID: c1, kind: "SITE_VISIT", content: "现场踏勘，核对用地红线与出让合同附图", occurredAt: "2025-09-12T09:30")
        _ = try a01.addLog(caseID: c1, kind: "SUPERVISE", content: "建设工程规划许可证超承诺时限，向资规窗口督办",
                           itemID: "\(c1).5", occurredAt: "2025-10-13T10:05")
        let esc = try a01.escalate(caseID: c1, level: "E1", target: "D-ZG", reason: "超承诺时限", itemID: "\(c1).5", on: day("2025-10-13"))
        try a01.resolveEscalation(esc, outcome: "已办结", on: day("2025-10-13"))
        for (start, delivered) in [("2025-09-16", "2025-09-30"), ("2025-10-01", "2025-10-15"), ("2025-10-16", "2025-10-31"),
                                   ("2025-11-01", "2025-11-14")] {
            _ = try a01.reportProgress(caseID: c1, periodOf: day(start), deliveredOn: day(delivered), channel: "微信")
        }
        let project = try county.replica("a01").get(table: "case", key: c1)!.fields.first { $0.name == "project_id" }!.value.displayText
        let ent = stableID("ent", "91330999TEST00001X")
        let materials: [(String, String, String, String?, [Int])] = [
            ("M1", "营业执照", "OWNER_SUBMITTED", nil, [2]), ("M2", "法定代表人身份证明", "OWNER_SUBMITTED", nil, [2]),
            ("M3", "企业投资项目备案信息表", "PROCESS_GENERATED", "\(c1).1", [2]),
            ("M4", "国有建设用地使用权出让合同", "OWNER_SUBMITTED", nil, [2]),
            ("M5", "建设用地规划许可证", "PROCESS_GENERATED", "\(c1).2", [5]),
            ("M7", "施工图审查合格书", "PROCESS_GENERATED", "\(c1).6", [7]),
        ]
        for (id, type, source, producedBy, uses) in materials {
            let enterpriseScoped = type == "营业执照" || type == "法定代表人身份证明"
            _ = try a01.addMaterial(id: "\(c1).\(id)", projectID: enterpriseScoped ? nil : project,
                                    enterpriseID: enterpriseScoped ? ent : nil, type: type, title: nil,
                                    fileHash: String(repeating: "ab", count: 32), fileSize: 1024, source: source,
                                    producedBy: producedBy)
            for n in uses { _ = try a01.useMaterial("\(c1).\(id)", itemID: "\(c1).\(n)") }
        }
        try county.sync("a01")
    }

    func buildC2() throws {
        let a03 = county.wf("a03"), dg = county.wf("dg"), centre = county.wf("centre")
        var reg = RegistrationInput(uscc: "91330999TEST00002X", enterpriseName: "云岭绿源食品有限公司",
                                    projectName: "年产2万吨速冻食品加工项目", township: "OFF-DG", channel: "ONLINE_PORTAL")
        reg.regNo = "DJ-2025-0098"
        reg.projectCode = "2025-330999-13-03-000022"
        reg.category = "INVESTMENT_PROMOTION"
        reg.industrial = true
        reg.investmentWan = "6800"
        reg.scope = "PARTIAL"
        reg.items = ["HJ-01", "LY-01"]
        reg.on = day("2025-09-01")
        c2 = try dg.register(reg).caseID
        _ = try dg.review(caseID: c2, .eligible, caseNo: "C2", on: day("2025-09-02"))
        var agr = Workflow.AgreementInput(code: "XY-2025-0047", scope: "PARTIAL")
        agr.items = ["HJ-01", "LY-01"]
        agr.signedOn = day("2025-09-05")
        _ = try dg.agree(caseID: c2, agr)
        var asg = Workflow.Assignment()
        asg.agent = "A03"
        asg.liaisons = ["L-HJ", "L-LY"]
        asg.leadOfficial = "P-CJH"
        #expect(try dg.assign(caseID: c2, asg) == .planning)
        try county.sync("dg")
        try county.sync("a03")
        _ = try a03.addPlanItem(caseID: c2, PlanItemInput(catalogueCode: "HJ-01"))
        _ = try a03.addPlanItem(caseID: c2, PlanItemInput(catalogueCode: "LY-01"))
        try a03.confirmPlan(caseID: c2, on: day("2025-09-08"))
        try item("a03", "\(c2).1", accepted: "2025-09-29", decided: nil)
        try item("a03", "\(c2).2", accepted: "2025-09-30", decided: nil)
        try county.sync("a03")
        try county.sync("lhj")
        try step("lhj", .pause, "\(c2).1", "2025-10-09", reason: "TECH_EVAL")
        try step("lhj", .resume, "\(c2).1", "2025-10-14")
        try step("lhj", .decide, "\(c2).1", "2025-10-20", result: "APPROVED")
        try county.sync("lhj")
        try county.sync("lly")
        try step("lly", .localDone, "\(c2).2", "2025-10-10")
        try step("lly", .reportUp, "\(c2).2", "2025-10-13", to: "市林业局", cc: ["D-FG"])  // 抄告 the 发改局
        try county.sync("lly")
        try county.sync("a03")
        _ = try a03.escalate(caseID: c2, level: "E2", target: "OFF-DG", reason: "林地范围与用地红线不一致", on: day("2025-10-14"))
        try county.sync("a03")
        try county.sync("dg")
        _ = try dg.escalate(caseID: c2, level: "E3", target: "OFF-CTY", reason: "需县级部门协调", meetingID: "HY-2025-0009",
                            on: day("2025-10-14"))
        try county.sync("dg")
        var m = MeetingInput(caseIDs: [c2])
        m.id = "HY-2025-0009"
        m.type = "JOINT_MEETING"
        m.level = "E3"
        m.date = day("2025-10-16")
        m.venue = "县代办中心"
        m.chair = "A01"
        m.attendees = [("D-ZG", "L-ZG"), ("D-LY", "L-LY"), ("东港镇", "P-CJH")]
        m.resolutions = [("资规局出具用地红线核定意见", "D-ZG", day("2025-10-24"))]
        try county.sync("a03")
        _ = try a03.addMeeting(m)
        try a03.signMeeting(meetingID: "HY-2025-0009", person: "L-ZG", at: "2025-10-16T11:00")
        try a03.signMeeting(meetingID: "HY-2025-0009", person: "P-CJH", at: "2025-10-16T11:00")
        try county.sync("a03")
        try county.sync("lly")
        try county.wf("lly").signMeeting(meetingID: "HY-2025-0009", person: nil, at: "2025-10-16T11:05")  // signs own line
        try county.sync("lly")
        _ = try centre.escalate(caseID: c2, level: "EX", target: "县政府分管副县长", reason: "疑难会商", on: day("2025-11-03"))
        for (start, delivered) in [("2025-09-01", "2025-09-15"), ("2025-09-16", "2025-09-30"), ("2025-10-01", "2025-10-17"),
                                   ("2025-10-16", "2025-10-31"), ("2025-11-01", "2025-11-14")] {
            _ = try a03.reportProgress(caseID: c2, periodOf: day(start), deliveredOn: day(delivered))
        }
        var ev = EvaluationInput(direction: "OWNER_TO_DEPARTMENT", grade: "不满意")
        ev.targetDepartment = "D-LY"
        ev.targetPerson = "L-LY"
        ev.comment = "上报延迟"
        ev.occurredAt = "2025-10-20"
        let (_, ticket) = try a03.addEvaluation(caseID: c2, ev)
        // The ticket is numbered per office of whoever recorded the review, and found by that number.
        let ticketNo: String? = try a03.read { try $0.row("ticket", ticket!)?["ticket_no"] }
        #expect(ticketNo?.hasPrefix("ZG-2025-") == true && ticketNo?.hasSuffix("-0001") == true, "\(ticketNo ?? "")")
        #expect(try a03.ticketID(for: ticketNo ?? "") == ticket)
        try county.sync("a03")
        var u = Workflow.TicketUpdate()
        u.verified = true
        u.callbackOn = day("2025-10-22")
        u.action = "林业局明确AB岗(L-LY2)并设置上报提醒"
        u.rectifiedOn = day("2025-10-29")
        u.close = true
        try centre.updateTicket(ticket!, u)
    }

    func buildC3() throws {
        let a04 = county.wf("a04"), sm = county.wf("sm")
        // Paper registration entered offline at the 石门乡 window on 10/09, synced on 10/14.
        var reg = RegistrationInput(uscc: "92330999TEST00003X", enterpriseName: "云岭石门山居文旅有限公司",
                                    projectName: "石门村闲置农房民宿改造项目", township: "OFF-SM", channel: "WINDOW")
        reg.regNo = "DJ-2025-0115"
        reg.projectCode = "2025-330999-61-03-000033"
        reg.category = "OTHER"
        reg.industrial = false
        reg.investmentWan = "600"
        reg.form = "paper"
        reg.on = day("2025-10-09")
        c3 = try a04.register(reg).caseID
        try county.sync("a04")
        try county.sync("sm")
        _ = try sm.review(caseID: c3, .eligible, caseNo: "C3", on: day("2025-10-10"))
        var agr = Workflow.AgreementInput(code: "XY-2025-0058", scope: "FULL")
        agr.stages = ["ZHUTI_QUELI", "LIXIANG_YONGDI", "SHIGONG", "GONGGONG_JIERU"]
        agr.signedOn = day("2025-10-13")
        _ = try sm.agree(caseID: c3, agr)
        var asg = Workflow.Assignment()
        asg.agent = "A04"
        _ = try sm.assign(caseID: c3, asg)
        try county.sync("sm")
        try county.sync("a04")
        for code in ["SJ-01", "FG-01", "SJ-02", "GD-02"] { _ = try a04.addPlanItem(caseID: c3, PlanItemInput(catalogueCode: code)) }
        try a04.confirmPlan(caseID: c3, on: day("2025-10-13"))
        try item("a04", "\(c3).1", accepted: "2025-10-14", decided: "2025-10-14")
        try item("a04", "\(c3).2", accepted: "2025-10-15", decided: "2025-10-15")
        try step("a04", .dispatch, "\(c3).3", "2025-10-15")
        try step("a04", .submit, "\(c3).3", "2025-10-16")
        try step("a04", .supplement, "\(c3).3", "2025-10-16")  // 补正 before acceptance: no clock yet
        try step("a04", .submit, "\(c3).3", "2025-10-20")
        try step("a04", .accept, "\(c3).3", "2025-10-20")
        try step("a04", .decide, "\(c3).3", "2025-10-24", result: "APPROVED")
        try item("a04", "\(c3).4", accepted: "2025-10-27", decided: "2025-11-05")
        #expect(try a04.complete(caseID: c3, formNo: "BJ-2025-0021", on: day("2025-11-06")) == day("2025-11-10"))
        try county.sync("a04")
        try county.sync("sm")
        // The township receives the 办结单 offline at 16:20 on the due day; the centre hears of it two days later.
        #expect(try sm.handover(caseID: c3, receivedAt: "2025-11-10T16:20"))
        var e1 = EvaluationInput(direction: "OWNER_TO_AGENT", grade: "非常满意")
        e1.targetPerson = "A04"
        e1.channel = "回访电话"
        e1.occurredAt = "2025-11-14"
        _ = try sm.addEvaluation(caseID: c3, e1)
        // Only the owner has evaluated: the agent's 回访 of the departments is still missing.
        try expectRefused("missing", county.replica("sm")) { try sm.closeEvaluated(caseID: c3, on: day("2025-11-14")) }
        try county.sync("sm")
        try county.sync("a04")
        var e2 = EvaluationInput(direction: "AGENT_TO_DEPARTMENT", grade: "满意")
        e2.targetDepartment = "D-SJ"
        (e2.attitude, e2.efficiency, e2.quality) = ("满意", "满意", "满意")
        _ = try a04.addEvaluation(caseID: c3, e2)
        var e3 = EvaluationInput(direction: "AGENT_TO_DEPARTMENT", grade: "基本满意")
        e3.targetDepartment = "D-GD"
        e3.efficiency = "基本满意"
        _ = try a04.addEvaluation(caseID: c3, e3)
        try county.sync("a04")
        try county.sync("sm")
        try sm.closeEvaluated(caseID: c3, on: day("2025-11-17"))
        try county.sync("sm")
    }

    // MARK: - Expectations

    func items(_ caseID: String) throws -> [[String: Grid.Cell]] {
        try county.wf("centre").showCase(caseID, asOf: day("2025-11-24")).items.records()
    }

    @Test func c1DueDatesAndTimers() throws {
        let rows = try items(c1)
        let expected: [(String, String?, String, String?)] = [  // committed, legal, timer vs committed, vs legal
            ("2025-09-16", nil, "NORMAL", nil), ("2025-09-25", "2025-10-22", "NORMAL", "NORMAL"),
            ("2025-09-30", "2025-10-22", "NORMAL", "NORMAL"), ("2025-09-30", nil, "NORMAL", nil),
            ("2025-10-10", "2025-10-30", "OVERDUE", "NORMAL"), ("2025-10-22", nil, "NORMAL", nil),
            ("2025-10-30", "2025-11-03", "NORMAL", "NORMAL"), ("2025-11-24", nil, "WARNING", nil),
        ]
        #expect(rows.count == 8)
        for (i, e) in expected.enumerated() {
            #expect(rows[i]["committed_due"] == .text(e.0), "C1-\(i + 1) committed due")
            #expect(rows[i]["legal_due"] == Grid.Cell(e.1), "C1-\(i + 1) legal due")
            #expect(rows[i]["timer_committed"] == .text(e.2), "C1-\(i + 1) timer")
            #expect(rows[i]["timer_legal"] == Grid.Cell(e.3), "C1-\(i + 1) legal timer")
        }
        let show = try county.wf("centre").showCase(c1)
        #expect(show.header.first { $0.0.key == "status_code" }?.1 == .text("EXECUTING"))
        #expect(!show.flags.contains("MISSING_LEAD_OFFICIAL") && !show.flags.contains("MISSING_SUPERVISING_HEAD"))
        // The agent's 催办 list shows item 8 due today.
        let due = try county.wf("a01").due(asOf: day("2025-11-24")).records()
        #expect(due.contains { $0["kind"] == .text("ITEM") && $0["item"] == .int(8) && $0["state"] == .text("WARNING") })
        #expect(!due.contains { $0["item"] == .int(5) }, "finished items are for the reports, not for chasing")
    }

    @Test func c2PausesReportUpMeetingAndFlags() throws {
        let rows = try items(c2)
        #expect(rows[0]["committed_due"] == .text("2025-10-21"))  // 2025-10-15 without the 4-WD pause
        #expect(rows[0]["legal_due"] == .text("2025-11-03"))      // 30 ND + 5 ND paused
        #expect(rows[0]["timer_committed"] == .text("NORMAL"))
        #expect(rows[1]["committed_due"] == .text("2025-10-21"))
        #expect(rows[1]["status"] == .text("REPORTED_UP"))
        let centre = county.wf("centre")
        let show = try centre.showCase(c2)
        #expect(show.flags.contains("COORDINATING"))
        #expect(show.header.first { $0.0.key == "status_code" }?.1 == .text("EXECUTING"))
        let up = try centre.report(.reportUp, ReportOptions(asOf: day("2025-11-24"))).records()
        #expect(up.count == 1)
        #expect(up[0]["report_up_due"] == .text("2025-10-11"))  // the make-up Saturday
        #expect(up[0]["on_time"] == .bool(false))
        #expect(up[0]["late_wd"] == .int(1))
        let attendees = try centre.listTable("meeting_attendee", columns: [("signed", "", "")], where: "meeting_id = ?",
                                             ["HY-2025-0009".databaseValue]).records()
        #expect(attendees.count == 3 && attendees.allSatisfy { $0["signed"] == .int(1) })
    }

    @Test func c3HandoverRecordedOfflineIsOnTimeAndCaseEvaluated() throws {
        let rows = try items(c3)
        #expect(rows[2]["committed_due"] == .text("2025-10-27"))
        #expect(rows[2]["legal_due"] == .text("2025-11-03"))
        #expect(rows[3]["committed_due"] == .text("2025-11-03"))
        #expect(rows[3]["timer_committed"] == .text("OVERDUE"))
        let show = try county.wf("centre").showCase(c3)
        #expect(show.header.first { $0.0.key == "status_code" }?.1 == .text("EVALUATED"))
        let h = try county.wf("centre").report(.handover, ReportOptions(asOf: day("2025-11-24")))
        #expect(h.figure("received") == .int(1))
        #expect(h.figure("on_time") == .int(1))
        #expect(h.records()[0]["due"] == .text("2025-11-10"))
    }

    /// C2's 林地 item was done here on 10-10 and reported up on time; the upper level decides on 11-20, a month
    /// after the committed due date (10-21). That delay is the upper level's, timed apart, never the county's.
    @Test func anUpperLevelsLateDecisionIsNotTheCountysDelay() throws {
        try step("lly", .decide, "\(c2).2", "2025-11-20", result: "APPROVED")
        try county.sync("lly")
        let centre = county.wf("centre")
        let o = ReportOptions(asOf: day("2025-11-24"))
        let row = try items(c2)[1]
        #expect(row["status"] == .text("APPROVED"))
        #expect(row["timer_committed"] == .text("NORMAL"), "\(row)")
        #expect(row["timer_legal"] != .text("OVERDUE"), "\(row)")
        let overdue = try centre.report(.overdue, o).records()
        #expect(!overdue.contains { $0["case"] == .text(c2) && $0["item"] == .int(2) })
        let departments = try centre.report(.departments, o).records()
        let ly = try #require(departments.first { $0["department"] == .text("D-LY") })
        let cal = try centre.read { try $0.calendar() }
        #expect(ly["within_committed_pct"] == .real(100), "\(ly)")
        #expect(ly["max_wd"] == .int(cal.workdays(after: day("2025-09-30"), through: day("2025-10-10"))), "\(ly)")
        let up = try #require(try centre.report(.reportUp, o).records().first)
        #expect(up["upper_decided_on"] == .text("2025-11-20"))
        #expect(up["reported_to"] == .text("市林业局；抄告 D-FG"), "the 抄告 is on record")
        #expect(up["upper_wd"] == .int(cal.workdays(after: day("2025-10-13"), through: day("2025-11-20"))))
    }

    /// The centre's 催办 covers the county: overdue open items, a 督办 proposal once an item is more than
    /// `supervise.after_wd` working days late with no open escalation, and every open escalation.
    @Test func theCentresDueCoversTheCounty() throws {
        let centre = county.wf("centre")
        let early = try centre.due(asOf: day("2025-11-24")).records()
        let open = try centre.read { try $0.rows("escalation", where: "status = 'OPEN'").count }
        #expect(open >= 2 && early.filter { $0["kind"] == .text("ESCALATION") }.count == open, "C2's E2 and E3 among them")
        #expect(!early.contains { $0["kind"] == .text("SUPERVISE") })
        let late = try centre.due(asOf: day("2025-12-31")).records()
        let proposals = late.filter { $0["kind"] == .text("SUPERVISE") }
        #expect(proposals.contains { $0["case"] == .text(c1) && $0["item"] == .int(8) }, "\(proposals)")
        #expect(proposals.allSatisfy { ($0["detail"]?.textValue ?? "").contains("--level E3") })
        #expect(late.contains { $0["kind"] == .text("ITEM") && $0["case"] == .text(c1) && $0["item"] == .int(8) && $0["state"] == .text("OVERDUE") })
        try centre.setRule("supervise.after_wd", "200")
        #expect(!(try centre.due(asOf: day("2025-12-31")).records()).contains { $0["kind"] == .text("SUPERVISE") })
    }

    @Test func crossFixtureReportsAtTheCentre() throws {
        let centre = county.wf("centre")
        let o = ReportOptions(asOf: day("2025-11-24"))
        let overdue = try centre.report(.overdue, o)
        let late = overdue.records().filter { $0["vs_committed"] == .text("OVERDUE") }
        #expect(Set(late.map { "\($0["case_no"]!.display)-\($0["item"]!.display)" }) == ["C1-5", "C3-4"])
        #expect(late.allSatisfy { $0["late_wd"] == .int(2) })
        let warning = overdue.records().filter { $0["vs_committed"] == .text("WARNING") }
        #expect(warning.map { "\($0["case_no"]!.display)-\($0["item"]!.display)" } == ["C1-8"])
        #expect(overdue.figure("overdue_vs_legal") == .int(0))

        let coordination = try centre.report(.coordination, o)
        let resolutions = coordination.records().filter { $0["kind"] == .text("RESOLUTION") }
        #expect(resolutions.count == 1 && resolutions[0]["overdue"] == .bool(true))
        #expect(coordination.figure("difficult_consultations") == .int(1))

        let up = try centre.report(.reportUp, o)
        #expect(up.figure("reported") == .int(1) && up.figure("on_time") == .int(0))

        let handover = try centre.report(.handover, o)
        #expect(handover.figure("received") == .int(1) && handover.figure("on_time") == .int(1))

        let half = try centre.report(.halfmonth, o)
        #expect(half.figure("late") == .int(1))
        let lateRows = half.records().filter { $0["state"] == .text("LATE") }
        #expect(lateRows.count == 1 && lateRows[0]["case"] == .text(c2) && lateRows[0]["period_start"] == .text("2025-10-01"))
        #expect(lateRows[0]["due"] == .text("2025-10-16"))
        // C1 owes nothing; C3 (paper-first, no reports recorded in the fixture) owes its two October periods.
        let missing = half.records().filter { $0["state"] == .text("MISSING") }
        #expect(Set(missing.map { $0["case"]!.display }) == [c3])

        let sat = try centre.report(.satisfaction, o)
        #expect(sat.figure("realname_negative") == .int(1))
        #expect(sat.figure("realname_rectified_pct") == .real(100))

        let thresholds = try centre.report(.thresholds, o)
        #expect(thresholds.figure("required") == .int(2) && thresholds.figure("compliant") == .int(2))

        let materials = try centre.report(.materials, o)
        #expect(materials.figure("reused") == .int(6))

        // Append-only records and field ownership: building three cases over eight devices left no conflict.
        #expect(try county.replica("centre").conflicts().isEmpty)

        let register = try centre.report(.register, o)
        #expect(register.figure("cases") == .int(3))
        let depts = try centre.report(.departments, o).records()
        let zg = depts.first { $0["department"] == .text("D-ZG") }
        #expect(zg?["within_committed_pct"] == .real(50))  // C1-2 on time, C1-5 late
        #expect(zg?["max_wd"] == .int(7) && zg?["median_wd"] == .int(4) && zg?["p90_wd"] == .int(7))  // 4 and 7 WD
        let agents = try centre.report(.agents, o).records()
        #expect(agents.first { $0["agent"] == .text("A04") }?["owner_satisfied_pct"] == .real(100))
        #expect(agents.first { $0["agent"] == .text("A04") }?["handover_pct"] == .real(100))
    }

    @Test func everyReplicaComputesTheSameReports() throws {
        try county.syncAll()
        let o = ReportOptions(asOf: day("2025-11-24"))
        for name in ReportName.allCases {
            let expected = try county.wf("centre").report(name, o).rows
            for replica in ["a04", "sm"] {
                #expect(try county.wf(replica).report(name, o).rows == expected, "\(name.rawValue) on \(replica)")
            }
        }
    }
}
