import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import ReplicaStore
import SyncCore
import SyncTesting
import Testing

/// The calendar arithmetic of DOMAIN.md §2.2 on the fixture calendar.
@Suite struct CalendarTests {
    let cal: WorkCalendar = {
        var entries: [Int32: Bool] = [:]
        for d in ["2025-10-01", "2025-10-02", "2025-10-03", "2025-10-04", "2025-10-05", "2025-10-06", "2025-10-07", "2025-10-08"] {
            entries[day(d)] = false
        }
        entries[day("2025-09-28")] = true
        entries[day("2025-10-11")] = true
        return WorkCalendar(entries: entries)
    }()

    @Test func workingDaysSkipHolidaysAndCountMakeUpDays() {
        #expect(cal.due(from: day("2025-09-26"), limit: 5, unit: .workDays) == day("2025-10-10"))  // C1-5
        #expect(cal.due(from: day("2025-09-16"), limit: 0, unit: .workDays) == day("2025-09-16"))  // 即办
        #expect(cal.due(from: day("2025-10-27"), limit: 7, unit: .naturalDays) == day("2025-11-03"))  // C1-7 legal
        #expect(cal.due(from: day("2025-09-18"), limit: 20, unit: .workDays) == day("2025-10-22"))  // C1-2 legal
        #expect(cal.addingWorkdays(1, to: day("2025-10-10")) == day("2025-10-11"))  // report-up due on the make-up Saturday
        #expect(cal.addingWorkdays(2, to: day("2025-11-06")) == day("2025-11-10"))  // C3 handover
    }

    @Test func pausesStopTheClock() {
        let pause = ClockPause(from: day("2025-10-09"), to: day("2025-10-14"), reason: "TECH_EVAL")
        #expect(cal.due(from: day("2025-09-29"), limit: 7, unit: .workDays) == day("2025-10-15"))
        #expect(cal.due(from: day("2025-09-29"), limit: 7, unit: .workDays, pauses: [pause]) == day("2025-10-21"))
        #expect(cal.due(from: day("2025-09-29"), limit: 30, unit: .naturalDays, pauses: [pause]) == day("2025-11-03"))
    }

    @Test func timerStates() {
        let due = day("2025-11-24")
        #expect(cal.timer(due: due, finished: nil, asOf: day("2025-11-24"), warningWorkdays: 2) == .warning)
        #expect(cal.timer(due: due, finished: nil, asOf: day("2025-11-19"), warningWorkdays: 2) == .normal)
        #expect(cal.timer(due: due, finished: nil, asOf: day("2025-11-20"), warningWorkdays: 2) == .warning)
        #expect(cal.timer(due: due, finished: nil, asOf: day("2025-11-25"), warningWorkdays: 2) == .overdue)
        #expect(cal.timer(due: day("2025-10-10"), finished: day("2025-10-13"), asOf: day("2025-11-24"), warningWorkdays: 2) == .overdue)
        #expect(cal.workdays(after: day("2025-10-10"), through: day("2025-10-13")) == 2)
    }

    @Test func workingDayCountsAgreeWithCountingDayByDay() {
        // The counts come from cumulative sums over the calendar's years and ten years around them; far from
        // them, and across their edges, they must still be what counting day by day gives.
        func counted(_ a: Int32, _ b: Int32) -> Int { b <= a ? 0 : ((a + 1)...b).filter { cal.isWorkday($0) }.count }
        var rng = SystemRandomNumberGenerator()
        let lo = day("1990-01-01"), hi = day("2060-12-31")
        for _ in 0..<2_000 {
            let a = Int32.random(in: lo...hi, using: &rng), b = a + Int32.random(in: -30...400, using: &rng)
            #expect(cal.workdays(after: a, through: b) == counted(a, b), "\(CivilDate.iso(a))..\(CivilDate.iso(b))")
        }
        for (a, b) in [("2025-09-27", "2025-10-12"), ("2015-10-01", "2015-10-20"), ("2035-12-20", "2036-01-10"), ("1980-01-01", "1980-03-01")] {
            #expect(cal.workdays(after: day(a), through: day(b)) == counted(day(a), day(b)), "\(a)..\(b)")
        }
        #expect(WorkCalendar().workdays(after: day("2025-10-03"), through: day("2025-10-10")) == 5)  // no entries: weekdays
    }

    @Test func halfMonthPeriodsByNumber() {
        var d = day("2023-12-20")
        while d < day("2026-03-10") {
            let p = HalfMonth.period(containing: d)
            #expect(HalfMonth.period(number: HalfMonth.number(containing: d)) == p, "\(CivilDate.iso(d))")
            #expect(HalfMonth.number(containing: p.end + 1) == HalfMonth.number(containing: d) + 1)
            d += 1
        }
        #expect(CivilDate.iso(day("2024-02-29")) == "2024-02-29")
        #expect(CivilDate(year: 7, month: 3, day: 9)!.description == "0007-03-09")
    }

    @Test func halfMonthPeriodsOwed() {
        let owed = HalfMonth.owed(signedOn: day("2025-09-15"), until: day("2025-11-24"))
        #expect(owed.map { CivilDate.iso($0.start) } == ["2025-09-16", "2025-10-01", "2025-10-16", "2025-11-01"])
        #expect(HalfMonth.owed(signedOn: day("2025-09-05"), until: day("2025-09-30")).count == 2)
    }

    @Test func leadershipThresholdsAreConfigurable() {
        let rules = Rules()
        #expect(rules.leadershipRequired(category: "INVESTMENT_PROMOTION", industrial: true, investmentWan: 5000) == (true, false))
        #expect(rules.leadershipRequired(category: "INVESTMENT_PROMOTION", industrial: true, investmentWan: 10000) == (true, true))
        #expect(rules.leadershipRequired(category: "INVESTMENT_PROMOTION", industrial: false, investmentWan: 20000) == (false, false))
        #expect(rules.leadershipRequired(category: "OTHER", industrial: true, investmentWan: 20000) == (false, false))
        let exclusive = Rules(["leadership.inclusive": "false"])
        #expect(exclusive.leadershipRequired(category: "INVESTMENT_PROMOTION", industrial: true, investmentWan: 5000) == (false, false))
        let lower = Rules(["leadership.lead_official_wan": "3000"])
        #expect(lower.leadershipRequired(category: "INVESTMENT_PROMOTION", industrial: true, investmentWan: 3000) == (true, false))
    }
}

/// Transitions, their guards, merges of concurrent steps and duplicate registrations across replicas.
@Suite(.serialized) final class WorkflowTests {
    let county: County

    init() throws {
        county = try County(["a03": "a03", "a04": "a04", "dg": "dg-admin", "lly": "l-ly", "lhj": "l-hj"])
    }

    func registration(_ name: String = "年产2万吨速冻食品加工项目") -> RegistrationInput {
        var r = RegistrationInput(uscc: "91330999TEST00002X", enterpriseName: "云岭绿源食品有限公司", projectName: name,
                                  township: "OFF-DG", channel: "FIELD_VISIT")
        r.category = "INVESTMENT_PROMOTION"
        r.industrial = true
        r.investmentWan = "6800"
        r.projectCode = "2025-330999-13-03-000022"
        r.on = day("2025-09-01")
        return r
    }

    /// A case closes as EVALUATED only once completed, handed over and evaluated both ways; an open escalation keeps
    /// it open unless the office overrides with a reason, which the work log keeps. A terminated case never closes so.
    @Test func closingNeedsBothEvaluationsAndNothingOpen() throws {
        let dg = county.wf("dg"), a03 = county.wf("a03"), dgReplica = county.replica("dg")
        let c = try activeCase()
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))
        try a03.confirmPlan(caseID: c, on: day("2025-09-08"))
        for (s, on) in [(ItemStep.dispatch, "2025-09-09"), (.submit, "2025-09-09"), (.accept, "2025-09-09")] {
            var input = ItemStepInput()
            input.on = day(on)
            _ = try a03.itemStep(s, itemID: "\(c).1", input)
        }
        var decide = ItemStepInput()
        decide.on = day("2025-09-12")
        decide.result = "APPROVED"
        _ = try a03.itemStep(.decide, itemID: "\(c).1", decide)
        _ = try a03.escalate(caseID: c, level: "E1", target: "D-HJ", reason: "材料争议", on: day("2025-09-10"))
        _ = try a03.complete(caseID: c, formNo: "BJ-T-1", on: day("2025-09-15"))
        try county.syncAll()
        _ = try dg.handover(caseID: c, receivedAt: "2025-09-16T10:00")
        var owner = EvaluationInput(direction: "OWNER_TO_AGENT", grade: "满意")
        owner.targetPerson = "A03"
        _ = try dg.addEvaluation(caseID: c, owner)
        try county.syncAll()
        var agent = EvaluationInput(direction: "AGENT_TO_DEPARTMENT", grade: "满意")
        agent.targetDepartment = "D-HJ"
        _ = try a03.addEvaluation(caseID: c, agent)
        try county.syncAll()
        try expectRefused("items_open", dgReplica) { try dg.closeEvaluated(caseID: c, on: day("2025-09-20")) }
        try expectRefused("items_open", dgReplica) { try dg.closeEvaluated(caseID: c, on: day("2025-09-20"), override: "  ") }
        try dg.closeEvaluated(caseID: c, on: day("2025-09-20"), override: "协调事项已由部门书面答复，归档")
        let logs = try dg.read { try $0.rows("work_log", where: "case_id = ? AND kind = 'CLOSE_OVERRIDE'", [c.databaseValue]) }
        #expect(logs.count == 1 && logs[0]["content"] as String? == "协调事项已由部门书面答复，归档" && logs[0]["author_id"] as String? == "ADM-DG")
        #expect(try dg.read { try $0.row("case", c)?["status"] as String? } == "EVALUATED")

        // A terminated case is handed over but never evaluated into the archive.
        let t = try fullCase(registration("终止的项目"), code: "XY-T-2")
        _ = try dg.terminate(caseID: t, formNo: "ZZ-T-1", reasonType: "CLIENT_REQUEST", reason: "业主放弃", on: day("2025-09-10"))
        _ = try dg.handover(caseID: t, receivedAt: "2025-09-11T09:00")
        try expectRefused("illegal_transition", dgReplica) { try dg.closeEvaluated(caseID: t, override: "x") }
    }

    /// The plan is due `plan.wd` working days after signing: shown on the case, and chased while still PLANNING.
    @Test func thePlanHasADueDate() throws {
        let a03 = county.wf("a03")
        let c = try fullCase(registration("计划期限的项目"), code: "XY-T-8")  // signed 2025-09-05, a Friday
        try county.syncAll()
        let header = try a03.showCase(c).header
        #expect(header.first { $0.0.key == "plan_due" }?.1 == .text("2025-09-10"))
        func planRows(_ on: String) throws -> [[String: Grid.Cell]] {
            try a03.due(asOf: day(on)).records().filter { $0["kind"] == .text("PLAN") && $0["case"] == .text(c) }
        }
        #expect(try planRows("2025-09-05").isEmpty, "three working days left: nothing to chase yet")
        #expect(try planRows("2025-09-08").first?["state"] == .text("WARNING"), "two left: a warning")
        #expect(try planRows("2025-09-15").first?["state"] == .text("OVERDUE"))
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))
        try a03.confirmPlan(caseID: c, on: day("2025-09-15"))
        #expect(try planRows("2025-09-15").isEmpty)
    }

    /// The plan keeps its order: nothing goes before the items it depends on, and without a 项目代码 only the
    /// items that give one (and those of the company's set-up stage) may go first. Refusals change nothing.
    @Test func thePlanKeepsItsOrder() throws {
        let a03 = county.wf("a03"), a03Replica = county.replica("a03")
        var reg = registration("无项目代码的扩建项目")
        reg.projectCode = nil
        let c = try fullCase(reg, code: "XY-T-9")
        try county.syncAll()
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "FG-01"))
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))
        var ly = PlanItemInput(catalogueCode: "LY-01")
        ly.dependsOn = [2]
        _ = try a03.addPlanItem(caseID: c, ly)
        try a03.confirmPlan(caseID: c, on: day("2025-09-08"))
        func step(_ s: ItemStep, _ n: Int, _ on: String, result: String? = nil) throws {
            var input = ItemStepInput()
            input.on = day(on)
            input.result = result
            _ = try a03.itemStep(s, itemID: "\(c).\(n)", input)
        }
        for n in 1...3 { try step(.dispatch, n, "2025-09-09") }
        try expectRefused("plan_order", a03Replica) { try step(.submit, 2, "2025-09-10") }
        try step(.submit, 1, "2025-09-10")
        try step(.accept, 1, "2025-09-10")
        try expectRefused("plan_order", a03Replica) { try step(.submit, 2, "2025-09-10") }  // 备案 not decided yet
        try step(.decide, 1, "2025-09-10", result: "APPROVED")
        try step(.submit, 2, "2025-09-11")
        try expectRefused("plan_order", a03Replica) { try step(.submit, 3, "2025-09-11") }  // HJ-01 is only submitted
        try step(.accept, 2, "2025-09-11")
        try step(.decide, 2, "2025-09-12", result: "APPROVED")
        try step(.submit, 3, "2025-09-15")
    }

    /// A case of the 东港镇 office with a FULL agreement signed and agent A03 (not synced).
    func fullCase(_ reg: RegistrationInput, code: String) throws -> String {
        let dg = county.wf("dg")
        let c = try dg.register(reg).caseID
        _ = try dg.review(caseID: c, .eligible, on: day("2025-09-02"))
        var agr = Workflow.AgreementInput(code: code, scope: "FULL")
        agr.signedOn = day("2025-09-05")
        _ = try dg.agree(caseID: c, agr)
        var a = Workflow.Assignment()
        a.agent = "A03"
        _ = try dg.assign(caseID: c, a)
        return c
    }

    /// A C2-like case, active with a PARTIAL agreement (HJ-01, LY-01) and agent A03, synced everywhere.
    func activeCase() throws -> String {
        let dg = county.wf("dg")
        let c = try dg.register(registration()).caseID
        _ = try dg.review(caseID: c, .eligible, on: day("2025-09-02"))
        var agr = Workflow.AgreementInput(code: "XY-T-1", scope: "PARTIAL")
        agr.items = ["HJ-01", "LY-01"]
        agr.signedOn = day("2025-09-05")
        _ = try dg.agree(caseID: c, agr)
        var a = Workflow.Assignment()
        a.agent = "A03"
        _ = try dg.assign(caseID: c, a)
        try county.syncAll()
        return c
    }

    @Test func materialsAreCheckedAgainstTheItemsListAndTheNoticeSaysWhatIsMissing() throws {
        #expect(Materials.list("营业执照；法定代表人身份证明、 营业执照,\n 环评报告 ") == ["营业执照", "法定代表人身份证明", "环评报告"])
        #expect(Materials.list("法定代表人身份证明（身份证、护照）；营业执照") == ["法定代表人身份证明（身份证、护照）", "营业执照"])
        #expect(Materials.missing(required: ["A（副本）", "B"], provided: ["a (副本)"]) == ["B"])
        let c = try activeCase()
        let a03 = county.wf("a03"), replica = county.replica("a03")
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))  // needs 环境影响报告表；营业执照
        try a03.confirmPlan(caseID: c)
        let project: String = try #require(try a03.read { try $0.row("case", c)?["project_id"] })
        func material(_ id: String, _ type: String) throws -> String {
            try a03.addMaterial(id: id, projectID: project, enterpriseID: nil, type: type, title: nil, fileHash: nil,
                                fileSize: nil, source: "OWNER_SUBMITTED", producedBy: nil)
        }
        let item = "\(c).1"
        #expect(try a03.useMaterial(try material("M-LIC", "营业执照"), itemID: item).missing == ["环境影响报告表"])
        // A material the item does not ask for is refused, unless given on purpose beyond the list.
        let stray = try material("M-X", "施工图审查合格书")
        try expectRefused("bad_value", replica) { _ = try a03.useMaterial(stray, itemID: item) }
        #expect(try a03.useMaterial(stray, itemID: item, extra: true).missing == ["环境影响报告表"])
        // An expired material is refused on the day it would be used.
        let old = try material("M-OLD", "环境影响报告表")
        try replica.write { tx in try tx.put(table: "material", key: old, ["valid_until": .date(day("2025-10-01"))]) }
        try expectRefused("bad_value", replica) { _ = try a03.useMaterial(old, itemID: item, on: day("2025-10-02")) }

        // 补正: the 一次性告知 lists at once everything missing ...
        try a03.itemStep(.submit, itemID: item)
        try a03.itemStep(.supplement, itemID: item)
        #expect(try a03.latestSupplementNotice(itemID: item) == ["环境影响报告表"])
        // ... or what the department asked for; the item then needs that too, and it fits without --extra.
        try a03.itemStep(.submit, itemID: item)
        var notice = ItemStepInput()
        notice.missing = ["环境影响报告表", "项目选址红线图"]
        notice.noticeNo = "HJ-BZ-2025-07"
        try a03.itemStep(.supplement, itemID: item, notice)
        let check = try a03.materialCheck(caseID: c).records()[0]
        #expect(check["missing"] == .text("环境影响报告表；项目选址红线图"))
        #expect(check["provided"] == .text("营业执照；施工图审查合格书"))
        #expect(try a03.useMaterial(try material("M-RED", "项目选址红线图"), itemID: item).missing == ["环境影响报告表"])
        // The notice travels: the centre sees it after sync.
        try county.syncAll()
        #expect(try county.wf("centre").latestSupplementNotice(itemID: item) == ["环境影响报告表", "项目选址红线图"])
    }

    @Test func intermediaryServicesAreTimedLikeItems() throws {
        let c = try activeCase()
        let a03 = county.wf("a03"), replica = county.replica("a03")
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))
        try a03.confirmPlan(caseID: c)
        var eia = Workflow.ServiceInput(kind: CodeLabels.code("环评报告编制", in: CodeLabels.intermediaryKind),
                                        provider: "云岭环科咨询有限公司", committedDays: 10)
        eia.contractOn = day("2025-11-03")  // a Monday: 10 working days later is Monday 17 November
        eia.itemID = "\(c).1"
        let id = try a03.addService(caseID: c, eia)
        var bad = eia
        bad.unit = "WEEKS"
        try expectRefused("bad_value", replica) { _ = try a03.addService(caseID: c, bad) }
        bad = eia
        bad.itemID = "NOPE.1"
        try expectRefused("not_found", replica) { _ = try a03.addService(caseID: c, bad) }

        let row = try #require(try a03.services(caseID: c, asOf: day("2025-11-14")).records().first)
        #expect(row["due"] == .text("2025-11-17") && row["kind"] == .text("EIA_REPORT") && row["timer"] == .text("WARNING"))
        #expect(try a03.services(caseID: c, asOf: day("2025-11-18")).records()[0]["timer"] == .text("OVERDUE"))
        // The agent is chased for it, as for an item.
        let chase = try a03.due(asOf: day("2025-11-18")).records().filter { $0["kind"] == .text("SERVICE") }
        #expect(chase.count == 1 && chase[0]["state"] == .text("OVERDUE"))
        // Named by its case, as a clerk would; delivered late is still late, and it leaves the chase list.
        #expect(try a03.serviceID(for: c) == id)
        try a03.finishService(id: try a03.serviceID(for: c, kind: "环评报告编制"), delivered: true, on: day("2025-11-19"))
        #expect(try a03.services(caseID: c, asOf: day("2025-11-20")).records()[0]["timer"] == .text("OVERDUE"))
        #expect(try a03.due(asOf: day("2025-11-20")).records().allSatisfy { $0["kind"] != .text("SERVICE") })
        try expectRefused("illegal_transition", replica) { try a03.finishService(id: id, delivered: false, on: nil) }
        // A service still open when the case ends is cancelled with it, and no longer chased.
        var survey = Workflow.ServiceInput(kind: "SURVEY", provider: "云岭测绘院", committedDays: 5)
        survey.contractOn = day("2025-11-03")
        let open = try a03.addService(caseID: c, survey)
        _ = try a03.terminate(caseID: c, formNo: nil, reasonType: "CLIENT_REQUEST", reason: "业主撤回")
        let closed = try #require(try a03.services(caseID: c, asOf: day("2025-11-20")).records().first { $0["id"] == .text(open) })
        #expect(closed["status"] == .text("CANCELLED"))
        #expect(try a03.due(asOf: day("2025-11-20")).records().allSatisfy { $0["kind"] != .text("SERVICE") })
        try county.syncAll()
        #expect(try county.wf("centre").services(caseID: nil, asOf: day("2025-11-20")).rows.count == 2)
    }

    @Test func teamMembershipMatchesWholeIDsOnly() throws {
        // A person whose id holds SQL pattern characters must not match other ids (LIKE would read `_` as any).
        let roster = #"{"people": [{"id": "A_5", "name": "测试员", "login": "a_5", "office_id": "OFF-DG", "roles": ["AGENT"]}]}"#
        _ = try county.wf("centre").importRoster(data: Data(roster.utf8))
        let dg = county.wf("dg")
        let c = try dg.register(registration()).caseID
        _ = try dg.review(caseID: c, .eligible, on: day("2025-09-02"))
        var a = Workflow.Assignment()
        a.agent = "A03"
        a.team = ["A05"]
        _ = try dg.assign(caseID: c, a)
        try county.add("a05", login: "a05")
        try county.add("a_5", login: "a_5")
        try county.syncAll()
        #expect(try county.wf("a05").listCases(mine: true, township: nil, status: nil).rows.count == 1)
        #expect(try county.wf("a_5").listCases(mine: true, township: nil, status: nil).rows.isEmpty)
    }

    @Test func illegalStepsAreRefusedWithTheirReasonAndChangeNothing() throws {
        let dg = county.wf("dg"), a03 = county.wf("a03"), a04 = county.wf("a04")
        let dgReplica = county.replica("dg"), a03Replica = county.replica("a03")
        let c = try dg.register(registration()).caseID
        // T5 before agreement: no agreement step while REGISTERED; no plan before ACTIVE.
        var agr = Workflow.AgreementInput(code: "XY-T-1", scope: "PARTIAL")
        agr.items = ["HJ-01", "LY-01"]
        try expectRefused("illegal_transition", dgReplica) { _ = try dg.agree(caseID: c, agr) }
        try expectRefused("illegal_transition", dgReplica) { _ = try dg.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01")) }
        try expectRefused("missing", dgReplica) { _ = try dg.review(caseID: c, .reject("  ")) }
        _ = try dg.review(caseID: c, .eligible)
        // The fee is always zero; a PARTIAL agreement names its scope.
        var paid = agr
        paid.fee = "500"
        try expectRefused("fee_not_zero", dgReplica) { _ = try dg.agree(caseID: c, paid) }
        try expectRefused("missing", dgReplica) { _ = try dg.agree(caseID: c, Workflow.AgreementInput(code: "XY-T-2", scope: "PARTIAL")) }
        // Unsigned agreement + agent: still not ACTIVE (no active case without a signed agreement).
        var unsigned = agr
        unsigned.signState = "APPLICANT_SIGNING"
        #expect(try dg.agree(caseID: c, unsigned) == .agreementPending)
        var a = Workflow.Assignment()
        a.agent = "A03"
        #expect(try dg.assign(caseID: c, a) == .agreementPending)
        try expectRefused("illegal_transition", dgReplica) { try dg.confirmPlan(caseID: c) }
        #expect(try dg.agree(caseID: c, agr) == .planning)
        try county.syncAll()
        // Someone else's case; a township admin elsewhere; a liaison of another department.
        try expectRefused("forbidden", county.replica("a04")) { _ = try a04.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01")) }
        // Partial scope limits the plan.
        try expectRefused("outside_scope", a03Replica) { _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "ZG-01")) }
        try expectRefused("missing", a03Replica) { try a03.confirmPlan(caseID: c) }  // an empty plan
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "LY-01"))
        try a03.confirmPlan(caseID: c)
        // Item steps out of order.
        try expectRefused("illegal_transition", a03Replica) { try a03.itemStep(.accept, itemID: "\(c).1") }
        try expectRefused("illegal_transition", a03Replica) { try a03.itemStep(.reportUp, itemID: "\(c).2") }
        try a03.itemStep(.submit, itemID: "\(c).1")
        try a03.itemStep(.accept, itemID: "\(c).1")
        try expectRefused("bad_value", a03Replica) {
            var bad = ItemStepInput()
            bad.result = "MAYBE"
            try a03.itemStep(.decide, itemID: "\(c).1", bad)
        }
        try expectRefused("illegal_transition", a03Replica) { try a03.confirmPlan(caseID: c) }  // already EXECUTING
        try county.syncAll()
        try expectRefused("forbidden", county.replica("lhj")) { try county.wf("lhj").itemStep(.submit, itemID: "\(c).2") }
        // No completion while items are open; no handover before completion; no evaluation close without one.
        try expectRefused("items_open", a03Replica) { _ = try a03.complete(caseID: c, formNo: nil) }
        try expectRefused("illegal_transition", dgReplica) { _ = try dg.handover(caseID: c, receivedAt: "2025-11-10") }
        try expectRefused("illegal_transition", dgReplica) { try dg.closeEvaluated(caseID: c) }
        // Reference data is the centre's.
        try expectRefused("forbidden", dgReplica) { try dg.setRule("timer.warning_wd", "3") }
        // A fresh person with no roster entry.
        try county.add("stranger", login: "nobody")
        try county.sync("stranger")
        try expectRefused("not_in_roster", county.replica("stranger")) { _ = try county.wf("stranger").register(registration()) }
    }

    @Test func concurrentStatusChangesNeverGoBackwardsAndShowAConflict() throws {
        let c = try activeCase()
        let a03 = county.wf("a03"), lhj = county.wf("lhj")
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))
        try a03.confirmPlan(caseID: c)
        try a03.itemStep(.submit, itemID: "\(c).1")
        try a03.itemStep(.accept, itemID: "\(c).1")
        try county.syncAll()
        // Offline at the same time: the liaison records the approval, the agent cancels the item.
        var approve = ItemStepInput()
        approve.result = "APPROVED"
        try lhj.itemStep(.decide, itemID: "\(c).1", approve)
        try a03.itemStep(.cancel, itemID: "\(c).1")
        try county.syncAll()
        for name in ["centre", "a03", "lhj"] {
            let item = try county.replica(name).get(table: "plan_item", key: "\(c).1")!
            #expect(item.fields.first { $0.name == "status" }?.value == .text("APPROVED"), "\(name)")
        }
        // Case: the agent completes while the township office terminates, both offline.
        try county.syncAll()
        _ = try a03.complete(caseID: c, formNo: "BJ-T", on: day("2025-11-06"))
        _ = try county.wf("dg").terminate(caseID: c, formNo: "ZZ-T", reasonType: "CLIENT_REQUEST", reason: "业主要求",
                                          on: day("2025-11-06"))
        try county.syncAll()
        let statuses = try ["centre", "a03", "dg"].map {
            try county.replica($0).get(table: "case", key: c)!.fields.first { $0.name == "status" }!.value
        }
        #expect(Set(statuses) == [.text("COMPLETED")], "the furthest state wins everywhere")
        let conflicts = try county.replica("centre").conflicts()
        #expect(conflicts.contains { $0.table == "case" && $0.key == c && $0.field == "status" })
        #expect(conflicts.contains { $0.table == "plan_item" && $0.key == "\(c).1" && $0.field == "status" })
    }

    @Test func aMissingOfficialIsAComplianceFlag() throws {
        let c = try activeCase()  // 6800万, industrial 招商引资: needs a lead official, none assigned
        let centre = county.wf("centre")
        #expect(try centre.showCase(c).flags.contains("MISSING_LEAD_OFFICIAL"))
        let report = try centre.report(.thresholds, ReportOptions(asOf: day("2025-11-24")))
        #expect(report.figure("missing") == .int(1))
        // The official must hold the role and rank: an agent, or a county head as lead official, is refused.
        for (lead, head) in [("A03", nil), ("P-FM", nil), (nil, "P-CJH")] as [(String?, String?)] {
            var wrong = Workflow.Assignment()
            wrong.leadOfficial = lead
            wrong.supervisingHead = head
            try expectRefused("wrong_role", county.replica("dg")) { _ = try county.wf("dg").assign(caseID: c, wrong) }
        }
        // A lead official seated in another township's office leads nothing here.
        let roster = #"{"people": [{"id": "P-SMX", "name": "石门乡副乡长", "office_id": "OFF-SM", "rank": "XIANG_KE", "roles": ["LEAD_OFFICIAL"]}]}"#
        _ = try centre.importRoster(data: Data(roster.utf8))
        try county.syncAll()
        var elsewhere = Workflow.Assignment()
        elsewhere.leadOfficial = "P-SMX"
        try expectRefused("wrong_role", county.replica("dg")) { _ = try county.wf("dg").assign(caseID: c, elsewhere) }
        var a = Workflow.Assignment()
        a.leadOfficial = "P-CJH"
        _ = try county.wf("dg").assign(caseID: c, a)
        try county.syncAll()
        #expect(try !centre.showCase(c).flags.contains("MISSING_LEAD_OFFICIAL"))
        #expect(try centre.report(.thresholds, ReportOptions(asOf: day("2025-11-24"))).figure("missing") == .int(0))
        // Raising the threshold (以上 read as exclusive, or a higher figure) is configuration, not code.
        try centre.setRule("leadership.lead_official_wan", "8000")
        #expect(try centre.report(.thresholds, ReportOptions(asOf: day("2025-11-24"))).figure("required") == .int(0))
    }

    @Test func duplicateRegistrationsAcrossReplicasBecomeOneCase() throws {
        // The same project registered offline in the field and online at the township, before either syncs.
        let field = try county.wf("a03").register(registration("年产2万吨速冻食品加工项目"))
        var online = registration("年产２万吨 速冻食品加工项目（）")
        online.channel = "ONLINE_PORTAL"
        online.on = day("2025-09-02")
        let portal = try county.wf("dg").register(online)
        #expect(field.caseID == portal.caseID)
        #expect(field.duplicateOf == nil && portal.duplicateOf == nil)
        try county.syncAll()
        for name in ["centre", "a03", "dg"] {
            let cases = try county.wf(name).listCases(mine: false, township: "OFF-DG", status: nil)
            #expect(cases.rows.count == 1, "\(name)")
            let show = try county.wf(name).showCase(field.caseID)
            #expect(show.flags.contains("DUPLICATE_REGISTRATIONS"))
            let regs = show.registrations.records()
            #expect(regs.count == 2)
            #expect(regs[1]["duplicate_of"] == .text(field.registrationID), "the earlier registration is the original")
        }
        // Both devices wrote the same derived facts; only the two spellings of the name differ, and the centre
        // sees exactly that as a conflict to review.
        let conflicts = try county.replica("centre").conflicts()
        #expect(conflicts.count == 1 && conflicts[0].table == "project" && conflicts[0].field == "name")
        // After sync a third registration is linked at once.
        let third = try county.wf("a03").register(registration())
        #expect(third.caseID == field.caseID && third.duplicateOf == field.registrationID)
    }

    @Test func calendarImportRecomputesOpenItemsAndWarnsWhenBehind() throws {
        let c = try activeCase()
        let a03 = county.wf("a03")
        _ = try a03.addPlanItem(caseID: c, PlanItemInput(catalogueCode: "HJ-01"))
        try a03.confirmPlan(caseID: c)
        var on = ItemStepInput()
        on.on = day("2025-12-29")
        try a03.itemStep(.submit, itemID: "\(c).1", on)
        try a03.itemStep(.accept, itemID: "\(c).1", on)
        try county.sync("a03")
        // 7 WD from 2025-12-29 without a 2026 calendar: 12/30, 12/31, 1/1 … → 2026-01-07
        #expect(try county.wf("centre").showCase(c).items.records()[0]["committed_due"] == .text("2026-01-07"))
        #expect(try a03.calendarWarning(for: day("2026-01-05")) != nil)
        // The centre publishes 2026 (元旦 1/1–1/3 off, 1/4 Sunday worked), as JSON.
        let json = #"{"version": 7, "source_notice": "2026 fixture", "days": [{"date": "2026-01-01", "workday": false}, {"date": "2026-01-02", "workday": false}, {"date": "2026-01-03", "workday": false}, {"date": "2026-01-04", "workday": true}]}"#
        let r = try county.wf("centre").importCalendar(data: Data(json.utf8), version: nil)
        #expect(r.version == 7 && r.recomputed == 1)
        // 12/30, 12/31, 1/4, 1/5, 1/6, 1/7, 1/8
        #expect(try county.wf("centre").showCase(c).items.records()[0]["committed_due"] == .text("2026-01-08"))
        // A replica that has the rule but not yet every date (a partial pull) is told so.
        let rule = try county.replica("centre").exportBundle(for: nil)
        _ = rule
        try county.sync("a03")
        #expect(try a03.calendarWarning(for: day("2026-01-05")) == nil)
        try county.replica("a03").write { tx in try tx.put(table: "rule", key: "calendar.version", ["value": .text("8")]) }
        #expect(try a03.calendarWarning(for: day("2026-01-05"))?.contains("8") == true)
    }

    @Test func badReferenceDataIsRefusedWhole() throws {
        let centre = county.wf("centre"), replica = county.replica("centre")
        let overLegal = "code,name,department_id,committed_limit,committed_unit,legal_limit,legal_unit\nX-1,测试,D-FG,30,WD,20,WD\n"
        try expectRefused("bad_value", replica) { _ = try centre.importCatalogue(data: Data(overLegal.utf8)) }
        let badUnit = "code,name,committed_limit,committed_unit\nX-2,测试,3,HOURS\n"
        try expectRefused("bad_value", replica) { _ = try centre.importCatalogue(data: Data(badUnit.utf8)) }
        let unknown = "code,name,colour\nX-3,测试,red\n"
        try expectRefused("unknown_field", replica) { _ = try centre.importCatalogue(data: Data(unknown.utf8)) }
        let badDate = "date,workday\n2025-13-01,false\n"
        try expectRefused("bad_value", replica) { _ = try centre.importCalendar(data: Data(badDate.utf8), version: nil) }
        try expectRefused("bad_value", replica) { _ = try centre.importCalendar(data: Data("2025-10-01,maybe\n".utf8), version: nil) }
        #expect(throws: SyncError.self) { try centre.setRule("timer.warning_wd", "-1") }
        #expect(throws: SyncError.self) { try centre.setRule("no.such.rule", "1") }
        try centre.setRule("timer.warning_wd", "3")
        #expect(try centre.read { try $0.rules() }.warningWorkdays == 3)
    }

    @Test func receiptTimesAreKeptAsTypedAndShownInTheCountysZone() throws {
        var r = registration()
        r.on = day("2025-09-01")
        r.at = "2025-09-01T14:30"
        let reg = try county.wf("a03").register(r)
        let show = try county.wf("a03").showCase(reg.caseID)
        #expect(show.registrations.records()[0]["received_at"] == .text("2025-09-01T14:30"))
        let heading = try #require(show.registrations.columns.first { $0.key == "received_at" })
        #expect(heading.en == "RECEIVED (Asia/Shanghai)", "labelled with the zone its times are in")
        // A paper form entered later without a time keeps its date.
        var late = registration("另一个项目")
        late.on = day("2025-08-28")
        let other = try county.wf("a03").register(late)
        #expect(try county.wf("a03").showCase(other.caseID).registrations.records()[0]["received_at"] == .text("2025-08-28"))

        // The zone is the county's rule, checked before it is set.
        let centre = county.wf("centre")
        try expectRefused("bad_value", county.replica("centre")) { try centre.setRule("county.time_zone", "Mars/Olympus") }
        #expect(throws: SyncError.self) { try centre.setRule("county.time_zone", "北京时间") }
        #expect(county.wf("a03").zone.identifier == "Asia/Shanghai")
        try centre.setRule("county.time_zone", "Asia/Urumqi")
        try county.syncAll()
        let a03 = county.wf("a03")
        #expect(a03.zone.identifier == "Asia/Urumqi")
        #expect(a03.now().count == 16 && a03.now() == Workflow.localTimestamp(in: TimeZone(identifier: "Asia/Urumqi")!)
                || a03.now() == Workflow.localTimestamp(in: TimeZone(identifier: "Asia/Urumqi")!, at: Date().addingTimeInterval(-60)))
    }
}

@Suite struct LabelTests {
    @Test func codesAcceptTheirChineseNames() {
        #expect(CodeLabels.code("窗口", in: CodeLabels.channel) == "WINDOW")
        #expect(CodeLabels.code(" window ", in: CodeLabels.channel) == "WINDOW")
        #expect(CodeLabels.code("全程", in: CodeLabels.scope) == "FULL")
        #expect(CodeLabels.code("已登记", in: CodeLabels.caseStatus) == "REGISTERED")
        #expect(CodeLabels.code("代办中(组织实施)", in: CodeLabels.caseStatus) == "EXECUTING")
        // 「代办中」 names two statuses: left as typed, for the step to refuse with the choices.
        #expect(CodeLabels.code("代办中", in: CodeLabels.caseStatus) == "代办中")
        #expect(CodeLabels.code("上报件", in: CodeLabels.handlingClass) == "REPORT_UP")
        #expect(CodeLabels.code("nonsense", in: CodeLabels.channel) == "nonsense")
        for table in [CodeLabels.channel, CodeLabels.scope, CodeLabels.signState, CodeLabels.category, CodeLabels.logKind,
                      CodeLabels.pauseReason, CodeLabels.decision, CodeLabels.handlingClass, CodeLabels.meetingType,
                      CodeLabels.direction, CodeLabels.terminationReason, CodeLabels.complaintTarget,
                      CodeLabels.complaintStatus, CodeLabels.caseStatus, CodeLabels.itemStatus] {
            #expect(Set(table.map(\.zh)).count == table.count, "every name is unique in its table")
            for entry in table { #expect(CodeLabels.code(entry.zh, in: table) == entry.code) }
        }
    }

    @Test func yesAndNoAsAClerkTypesThem() {
        for yes in ["是", "yes", "Y", "true", "1"] { #expect(parseYesNo(yes) == true) }
        for no in ["否", "no", "N", "FALSE", "0"] { #expect(parseYesNo(no) == false) }
        #expect(parseYesNo("也许") == nil && parseYesNo("") == nil)
    }

    @Test func datesAndTimesAsAClerkTypesThem() {
        #expect(LocalMoment.parse("2025-11-20")?.description == "2025-11-20")
        #expect(LocalMoment.parse("2025.1.5")?.description == "2025-01-05")
        #expect(LocalMoment.parse("2025年11月20日")?.description == "2025-11-20")
        for typed in ["2025-11-20T14:30", "2025-11-20 14:30", "2025/11/20 14:30", "2025年11月20日 14:30", "2025年11月20日14时30分",
                      " 2025-11-20T14:30:59 ", "2025-11-20 14：30"] {
            #expect(LocalMoment.parse(typed)?.description == "2025-11-20T14:30", "\(typed)")
        }
        #expect(LocalMoment.parse("2025-11-20T9:05")?.minutes == 9 * 60 + 5)
        for bad in ["2025-13-01", "2025-02-30", "2025-11-20T24:00", "2025-11-20T14:60", "20251120", "", "昨天",
                    "2025-11-20 14:30 下午", "25-11-20"] {
            #expect(LocalMoment.parse(bad) == nil, "\(bad)")
        }
        #expect(LocalMoment.plausibleZone("Asia/Shanghai") && LocalMoment.plausibleZone("UTC"))
        #expect(!LocalMoment.plausibleZone("北京") && !LocalMoment.plausibleZone("Asia/") && !LocalMoment.plausibleZone("+08:00"))
    }
}
