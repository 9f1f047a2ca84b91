public import CaseDomain
import Foundation
import GRDB
import SyncCore
import TerminalText

/// The centre's reports (DOMAIN.md §4). Every figure is computed from dates recorded as the events occurred
/// on the devices, so a report gives the same answer on every replica that holds the same data, whenever the
/// records synced.
public enum ReportName: String, CaseIterable, Sendable {
    case overdue, reportUp = "report-up", handover, halfmonth, agents, departments, satisfaction, thresholds
    case complaints, register, coordination, materials, cards

    public var title: L10n.Key {
        switch self {
        case .overdue: .init(en: "Overdue and warning items", zh: "逾期/预警事项清单")
        case .reportUp: .init(en: "Report-up compliance", zh: "上报时效")
        case .handover: .init(en: "Handover compliance", zh: "办结/终止移交时效")
        case .halfmonth: .init(en: "Half-month feedback", zh: "半月反馈执行")
        case .agents: .init(en: "Agent workload and assessment", zh: "代办员工作量与绩效")
        case .departments: .init(en: "Department timeliness and ratings", zh: "部门审批时效与服务评价")
        case .satisfaction: .init(en: "Satisfaction and negative-review follow-up", zh: "满意度与差评回访整改")
        case .thresholds: .init(en: "Leadership threshold compliance", zh: "重点项目领导责任")
        case .complaints: .init(en: "Complaints", zh: "投诉处置")
        case .register: .init(en: "Case register", zh: "代办项目台账")
        case .coordination: .init(en: "Escalations and meeting resolutions", zh: "协调事项跟踪")
        case .materials: .init(en: "Material reuse", zh: "材料共享")
        case .cards: .init(en: "Contact cards", zh: "代办联系卡")
        }
    }
}

/// Report scope and date.
public struct ReportOptions: Sendable {
    public var asOf: Int32
    public var township: String?
    public init(asOf: Int32, township: String? = nil) {
        self.asOf = asOf
        self.township = township
    }
}

private typealias C = Grid.Column
private typealias PlanItemSQL = DaibanSchema.PlanItemSQL

extension Workflow {
    public func report(_ name: ReportName, _ o: ReportOptions) throws -> Grid {
        try read { r in
            switch name {
            case .overdue: try overdueReport(r, o)
            case .reportUp: try reportUpReport(r, o)
            case .handover: try handoverReport(r, o)
            case .halfmonth: try halfMonthReport(r, o)
            case .agents: try agentReport(r, o)
            case .departments: try departmentReport(r, o)
            case .satisfaction: try satisfactionReport(r, o)
            case .thresholds: try thresholdReport(r, o)
            case .complaints: try complaintReport(r, o)
            case .register: try registerReport(r, o)
            case .coordination: try coordinationReport(r, o)
            case .materials: try materialReport(r, o)
            case .cards: try cardsReport(r)
            }
        }
    }

    /// `AND c.township_id = ?` and its argument when the report is scoped.
    private func scope(_ o: ReportOptions, _ alias: String = "c") -> (String, [DatabaseValue]) {
        o.township.map { (" AND \(alias).township_id = ?", [$0.databaseValue]) } ?? ("", [])
    }

    /// `AND <column> IN (the township's cases)` when the report is scoped, for queries that do not join the case.
    private func caseIn(_ o: ReportOptions, _ column: String = "case_id") -> (String, [DatabaseValue]) {
        o.township.map { (" AND \(column) IN (SELECT _key FROM v_case WHERE township_id = ?)", [$0.databaseValue]) } ?? ("", [])
    }

    // MARK: 逾期/预警

    /// Which plan items a report or a 催办 list reads.
    enum ItemScope {
        /// Every case, or one township's (the report's scope).
        case report
        /// The cases of `myCasesFilter`: few, reached through the case index.
        case cases((String, [DatabaseValue]))
        /// Another condition on `p` (the item) or `c` (its case), such as a department or an office.
        case filter((String, [DatabaseValue]))
    }

    /// Items whose timer is WARNING or OVERDUE against the committed or the legal deadline: open items by
    /// `asOf`, finished ones when they finished late. Cancelled, withdrawn and refused items are left out.
    /// `openOnly` keeps the open items alone (催办).
    func overdueReport(_ r: Reader, _ o: ReportOptions, items: ItemScope = .report, openOnly: Bool = false) throws -> Grid {
        let rules = try r.rules(), cal = try r.calendar()
        let warnDate = CivilDate.iso(cal.addingWorkdays(rules.warningWorkdays, to: o.asOf))
        let columns = """
            p.case_id, p.n, p.status, p.committed_due, p.legal_due, p.decided_on, p.local_done_on, p.department_id,
            c.township_id, coalesce(c.agent_id, c.chief_agent_id), c.case_no, ci.name
            """
        let excluded = "p.status NOT IN ('CANCELLED', 'WITHDRAWN', 'NOT_ACCEPTED', 'SPECIAL_PROCEDURE', 'SUPPLEMENT')"
        let sql: String
        var args: [DatabaseValue] = [warnDate.databaseValue, warnDate.databaseValue]
        switch items {
        case .cases(let (fc, fa)):
            sql = """
                SELECT \(columns) FROM v_plan_item p JOIN v_case c ON c._key = p.case_id
                LEFT JOIN v_catalogue_item ci ON ci._key = p.catalogue_item_id
                WHERE \(excluded) AND ((\(PlanItemSQL.open) AND (p.committed_due <= ? OR p.legal_due <= ?))
                      \(openOnly ? "" : "OR \(PlanItemSQL.finishedLate)"))\(fc)
                ORDER BY p.case_id, p.n
                """
            args += fa
        case .report, .filter:
            // The items that can be late at all, through the partial indexes: finished late, or open and due
            // by the warning date. The centre's county has ~2M items; these are a few per cent of them.
            let (fc, fa): (String, [DatabaseValue])
            if case .filter(let f) = items { (fc, fa) = f } else { (fc, fa) = scope(o) }
            let late = openOnly ? "" : "SELECT rowid AS r FROM v_plan_item WHERE \(PlanItemSQL.finishedLate) UNION "
            sql = """
                SELECT \(columns) FROM (\(late)SELECT rowid AS r FROM v_plan_item WHERE \(PlanItemSQL.open) AND committed_due <= ?
                    UNION SELECT rowid FROM v_plan_item WHERE \(PlanItemSQL.open) AND legal_due <= ?) x
                JOIN v_plan_item p ON p.rowid = x.r JOIN v_case c ON c._key = p.case_id
                LEFT JOIN v_catalogue_item ci ON ci._key = p.catalogue_item_id
                WHERE \(excluded)\(fc) ORDER BY p.case_id, p.n
                """
            args += fa
        }
        var g = Grid(name: "overdue", columns: [
            .caseID, .caseNo, .item, .itemName, .department, .departmentName, .township, .townshipName, .agent, .agentName,
            .status, C("committed_due", "COMMITTED DUE", "承诺到期"), C("vs_committed", "VS COMMITTED", "承诺时限"),
            C("legal_due", "LEGAL DUE", "法定到期"), C("vs_legal", "VS LEGAL", "法定时限"),
            C("late_wd", "LATE (WD)", "超期(工作日)"),
        ])
        var overdueC = 0, warningC = 0, overdueL = 0, warningL = 0
        try r.scan(sql, args) { row in
            let finished = row.days(6) ?? row.days(5)  // local done (上报件) first: the county's part
            let committed = row.days(3), legal = row.days(4)
            let sc = committed.map { cal.timer(due: $0, finished: finished, asOf: o.asOf, warningWorkdays: rules.warningWorkdays) }
            let sl = legal.map { cal.timer(due: $0, finished: finished, asOf: o.asOf, warningWorkdays: rules.warningWorkdays) }
            guard sc == .warning || sc == .overdue || sl == .warning || sl == .overdue else { return }
            if sc == .overdue { overdueC += 1 } else if sc == .warning { warningC += 1 }
            if sl == .overdue { overdueL += 1 } else if sl == .warning { warningL += 1 }
            var late: Int?
            if sc == .overdue, let committed { late = cal.workdays(after: committed, through: finished ?? o.asOf) }
            g.rows.append([
                .text(row.text(0) ?? ""), Grid.Cell(row.text(10)), .int(row.int(1) ?? 0), Grid.Cell(row.text(11)),
                Grid.Cell(row.text(7)), Grid.Cell(try r.name("department", row.text(7))), Grid.Cell(row.text(8)),
                Grid.Cell(try r.name("township", row.text(8))), Grid.Cell(row.text(9)), Grid.Cell(try r.name("person", row.text(9))),
                .text(row.text(2) ?? ""),
                Grid.Cell(row.text(3)), Grid.Cell(sc?.rawValue), Grid.Cell(row.text(4)), Grid.Cell(sl?.rawValue), Grid.Cell(late),
            ])
        }
        g.summary = [
            (C("overdue_vs_committed", "overdue vs committed", "超承诺时限"), .int(overdueC)),
            (C("warning_vs_committed", "warning vs committed", "承诺时限预警"), .int(warningC)),
            (C("overdue_vs_legal", "overdue vs legal", "超法定时限"), .int(overdueL)),
            (C("warning_vs_legal", "warning vs legal", "法定时限预警"), .int(warningL)),
        ]
        return g
    }

    /// A time rule's verdict: on time or late (with the working days late) when done, late when still not done
    /// after `due`, undecided before. Counts into the report's totals.
    private func judge(due: Int32, done: Int32?, _ asOf: Int32, _ cal: WorkCalendar, done total: inout Int,
                       onTime: inout Int, pendingLate: inout Int) -> (Bool?, Int?) {
        if let done {
            total += 1
            if done <= due {
                onTime += 1
                return (true, nil)
            }
            return (false, cal.workdays(after: due, through: done))
        }
        guard asOf > due else { return (nil, nil) }
        pendingLate += 1
        return (false, cal.workdays(after: due, through: asOf))
    }

    // MARK: 上报时效

    func reportUpReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        let cal = try r.calendar()
        var g = Grid(name: "report-up", columns: [
            .caseID, .item, .department, C("liaison", "LIAISON", "联络员"), C("local_done_on", "LOCAL DONE", "本级完成"),
            C("report_up_due", "DUE", "应上报"), C("reported_up_on", "REPORTED", "上报日期"),
            C("reported_to", "REPORTED TO", "上报部门"), C("on_time", "ON TIME", "按时"), C("late_wd", "LATE (WD)", "迟报(工作日)"),
            // The upper level's part, timed apart from the county's: from the report-up to its decision.
            C("upper_decided_on", "UPPER DECIDED", "上级办结"), C("upper_wd", "UPPER (WD)", "上级用时(工作日)"),
        ])
        var total = 0, onTime = 0, pendingLate = 0
        let (sc, sa) = caseIn(o)
        let sql = """
            SELECT case_id, n, department_id, liaison_id, local_done_on, report_up_due, reported_up_on, reported_up_to, decided_on
            FROM v_plan_item WHERE \(PlanItemSQL.localDone)\(sc) ORDER BY case_id, n
            """
        try r.scan(sql, sa) { row in
            guard let due = row.days(5) else { return }
            let (ok, late) = judge(due: due, done: row.days(6), o.asOf, cal, done: &total, onTime: &onTime, pendingLate: &pendingLate)
            g.rows.append([
                .text(row.text(0) ?? ""), .int(row.int(1) ?? 0), Grid.Cell(row.text(2)), Grid.Cell(row.text(3)),
                Grid.Cell(row.text(4)), .text(CivilDate.iso(due)), Grid.Cell(row.text(6)), Grid.Cell(row.text(7)),
                ok.map(Grid.Cell.bool) ?? .null, Grid.Cell(late), Grid.Cell(row.text(8)),
                Grid.Cell(row.days(6).flatMap { up in row.days(8).map { cal.workdays(after: up, through: $0) } }),
            ])
        }
        g.summary = [
            (C("reported", "reported up", "已上报"), .int(total)),
            (C("on_time", "on time", "按时上报"), .int(onTime)),
            (C("rate", "on-time rate %", "按时率%"), total == 0 ? .null : .real(100 * Double(onTime) / Double(total))),
            (C("unreported_overdue", "not reported, overdue", "逾期未上报"), .int(pendingLate)),
        ]
        return g
    }

    // MARK: 移交时效

    /// One completion or termination form, judged against its handover deadline.
    struct Handover {
        var caseID: String, caseNo: String?, agent: String?, termination: Bool, doneOn: String?, due: Int32, receivedAt: String?
        /// nil while not yet received and not yet due.
        var onTime: Bool?
        var lateWorkdays: Int?
    }

    /// Every completion and termination form in scope with its verdict, case by case; returns the totals.
    /// Without `detail` only the agent and the verdict are read.
    @discardableResult
    func forEachHandover(_ r: Reader, _ o: ReportOptions, detail: Bool = true, _ body: (Handover) -> Void) throws
        -> (received: Int, onTime: Int, pendingLate: Int)
    {
        let cal = try r.calendar()
        let (sc, sa) = scope(o)
        var total = 0, onTime = 0, pending = 0
        for (table, dateCol) in [("completion_form", "completed_on"), ("termination_form", "terminated_on")] {
            try r.scan("""
                SELECT f.case_id, c.case_no, coalesce(c.agent_id, c.chief_agent_id), f.\(dateCol), f.handover_due, f.received_at
                FROM v_\(table) f JOIN v_case c ON c._key = f.case_id WHERE 1\(sc) ORDER BY f.case_id
                """, sa) { row in
                guard let due = row.days(4) else { return }
                let (ok, late) = judge(due: due, done: row.days(5), o.asOf, cal, done: &total, onTime: &onTime, pendingLate: &pending)
                body(Handover(caseID: detail ? row.text(0) ?? "" : "", caseNo: detail ? row.text(1) : nil, agent: row.text(2),
                              termination: table == "termination_form", doneOn: detail ? row.text(3) : nil, due: due,
                              receivedAt: detail ? row.text(5) : nil, onTime: ok, lateWorkdays: late))
            }
        }
        return (total, onTime, pending)
    }

    func handoverReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        var g = Grid(name: "handover", columns: [
            .caseID, .caseNo, .agent, C("form", "FORM", "单据"), C("done_on", "DONE ON", "办结/终止日"), .due,
            r.timeColumn("received_at", "RECEIVED AT", "接收时间"), C("on_time", "ON TIME", "按时"), C("late_wd", "LATE (WD)", "超期(工作日)"),
        ])
        let (total, onTime, pending) = try forEachHandover(r, o) { h in
            g.rows.append([
                .text(h.caseID), Grid.Cell(h.caseNo), Grid.Cell(h.agent), .text(h.termination ? "TERMINATION" : "COMPLETION"),
                Grid.Cell(h.doneOn), .text(CivilDate.iso(h.due)), Grid.Cell(h.receivedAt), h.onTime.map(Grid.Cell.bool) ?? .null,
                Grid.Cell(h.lateWorkdays),
            ])
        }
        g.summary = [
            (C("received", "received", "已移交"), .int(total)), (C("on_time", "on time", "按时移交"), .int(onTime)),
            (C("rate", "on-time rate %", "按时率%"), total == 0 ? .null : .real(100 * Double(onTime) / Double(total))),
            (C("not_received_overdue", "not received, overdue", "逾期未移交"), .int(pending)),
        ]
        return g
    }

    // MARK: 半月反馈

    /// One half-month period a case owes a report for.
    struct HalfMonthOwed {
        enum State: String { case onTime = "ON_TIME", late = "LATE", missing = "MISSING", due = "DUE" }
        var caseID: String, agent: String?, start: Int32, end: Int32, due: Int32, delivered: Int32?, state: State
    }

    /// Half-month periods by number with their report due dates, worked out once per report.
    private struct HalfMonthDues {
        let cal: WorkCalendar
        let grace: Int
        private var base = 0
        private var cache: [(start: Int32, end: Int32, due: Int32)?] = []

        init(_ cal: WorkCalendar, grace: Int) {
            self.cal = cal
            self.grace = grace
        }

        mutating func period(_ k: Int) -> (start: Int32, end: Int32, due: Int32) {
            if cache.isEmpty {  // twenty years either side of the first case's period
                base = k - 240
                cache = Array(repeating: nil, count: 480)
            }
            let i = k - base
            if i >= 0, i < cache.count, let p = cache[i] { return p }
            let p = HalfMonth.period(number: k)
            let entry = (p.start, p.end, cal.addingWorkdays(grace, to: p.end))
            if i >= 0, i < cache.count { cache[i] = entry }
            return entry
        }
    }

    /// Half-month verdicts for cases walked in key order: their progress reports come from a scan of the
    /// reports' index in the same order (a merge, no lookups).
    private final class HalfMonthWalk {
        private var dues: HalfMonthDues
        private let side: SideScan
        private let asOf: Int32
        private var reports: [(start: Int32, delivered: Int32)] = []

        /// `filter` is the walk's condition on the cases (alias `c`), with its arguments.
        init(_ r: Reader, asOf: Int32, _ filter: (String, [DatabaseValue])) throws {
            dues = HalfMonthDues(try r.calendar(), grace: try r.rules().halfMonthGraceWorkdays)
            self.asOf = asOf
            let (sc, sa) = filter
            side = try SideScan(r, """
                SELECT case_id, period_start, delivered_on FROM v_progress_report\(sc.isEmpty ? "" : " WHERE case_id IN (SELECT c._key FROM v_case c WHERE 1\(sc))")
                ORDER BY case_id, period_start
                """, sa)
        }

        /// The cases a walk judges: signed, in a state that owes reports.
        static let owingStatuses = "('PLANNING','EXECUTING','COMPLETED','TERMINATED','HANDED_OVER','EVALUATED')"

        /// The periods owed by the case whose key is column 0 of `row` (HalfMonth.owed: ending after `signed`, no
        /// later than `until`), each with its verdict; the first delivery for a period counts.
        func periods(of row: ScanRow, signed: Int32, until: Int32, _ body: (_ period: (start: Int32, end: Int32, due: Int32),
                                                                            _ delivered: Int32?, HalfMonthOwed.State) -> Void) throws {
            reports.removeAll(keepingCapacity: true)
            try side.rows(matching: row) { p in
                if let s = p.days(1), let d = p.days(2) { reports.append((s, d)) }
            }
            var k = HalfMonth.number(containing: signed)
            while true {
                let p = dues.period(k)
                k += 1
                if p.end > until { break }
                if p.end <= signed { continue }
                var d: Int32?
                for x in reports where x.start == p.start && x.delivered < (d ?? .max) { d = x.delivered }
                body(p, d, d.map { $0 <= p.due ? .onTime : .late } ?? (asOf > p.due ? .missing : .due))
            }
        }
    }

    /// Every half-month period owed by the cases in scope (or `caseFilter`), case by case in key order: ON_TIME,
    /// LATE, MISSING, or DUE (not yet due).
    func forEachHalfMonth(_ r: Reader, _ o: ReportOptions, caseFilter: (String, [DatabaseValue])? = nil,
                          _ body: (HalfMonthOwed) -> Void) throws {
        let (sc, sa) = caseFilter ?? scope(o)
        let walk = try HalfMonthWalk(r, asOf: o.asOf, (sc, sa))
        try r.scan("""
            SELECT c._key, coalesce(c.agent_id, c.chief_agent_id), c.signed_on, c.completed_on, c.terminated_on FROM v_case c
            WHERE c.signed_on IS NOT NULL AND +c.status IN \(HalfMonthWalk.owingStatuses)\(sc) ORDER BY c._key
            """, sa) { row in
            guard let signed = row.days(2) else { return }
            let caseID = row.text(0) ?? "", agent = row.text(1)
            try walk.periods(of: row, signed: signed, until: min(row.days(3) ?? row.days(4) ?? o.asOf, o.asOf)) { p, d, state in
                body(HalfMonthOwed(caseID: caseID, agent: agent, start: p.start, end: p.end, due: p.due, delivered: d, state: state))
            }
        }
    }

    func halfMonthReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        var g = Grid(name: "halfmonth", columns: [
            .caseID, .agent, C("period_start", "PERIOD START", "期间起"), C("period_end", "PERIOD END", "期间止"), .due,
            C("delivered_on", "DELIVERED", "反馈日期"), C("state", "STATE", "情况"),
        ])
        var counts: [HalfMonthOwed.State: Int] = [:]
        try forEachHalfMonth(r, o) { x in
            counts[x.state, default: 0] += 1
            guard x.state == .late || x.state == .missing else { return }
            g.rows.append([.text(x.caseID), Grid.Cell(x.agent), .text(CivilDate.iso(x.start)), .text(CivilDate.iso(x.end)),
                           .text(CivilDate.iso(x.due)), Grid.Cell(x.delivered.map(CivilDate.iso)), .text(x.state.rawValue)])
        }
        g.summary = [
            (C("owed", "periods owed", "应反馈期数"), .int(counts.values.reduce(0, +) - counts[.due, default: 0])),
            (C("on_time", "on time", "按时"), .int(counts[.onTime, default: 0])),
            (C("late", "late", "迟报"), .int(counts[.late, default: 0])),
            (C("missing", "missing", "缺报"), .int(counts[.missing, default: 0])),
        ]
        return g
    }

    // MARK: 代办员

    func agentReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        let db = try r.db()
        let (sc, sa) = scope(o)
        struct Acc { var open = 0, closed = 0, items = 0, itemsOnTime = 0, hmOwed = 0, hmOnTime = 0, handovers = 0
            var handoversOnTime = 0, evals = 0, satisfied = 0, complaints = 0 }
        var acc: [String: Acc] = [:]
        // One walk of the cases in key order with their agents, merged with their decided items (on time against
        // the committed deadline, from the covering index in the same order) and their progress reports.
        let (ic, ia) = caseIn(o)
        let items = try SideScan(r, """
            SELECT case_id, committed_due IS NULL OR coalesce(local_done_on, decided_on) <= committed_due FROM v_plan_item
            WHERE \(PlanItemSQL.finished)\(ic) ORDER BY case_id
            """, ia)
        let halfMonths = try HalfMonthWalk(r, asOf: o.asOf, (sc, sa))
        try r.scan("""
            SELECT c._key, coalesce(c.agent_id, c.chief_agent_id), c.status IN ('PLANNING','EXECUTING'),
                   c.signed_on, c.completed_on, c.terminated_on, c.status IN \(HalfMonthWalk.owingStatuses)
            FROM v_case c WHERE coalesce(c.agent_id, c.chief_agent_id) IS NOT NULL\(sc) ORDER BY c._key
            """, sa) { row in
            guard let agent = row.text(1) else { return }
            var a = acc.removeValue(forKey: agent) ?? Acc()
            if row.flag(2) { a.open += 1 } else { a.closed += 1 }
            try items.rows(matching: row) { item in
                a.items += 1
                if item.flag(1) { a.itemsOnTime += 1 }
            }
            if row.flag(6), let signed = row.days(3) {
                try halfMonths.periods(of: row, signed: signed, until: min(row.days(4) ?? row.days(5) ?? o.asOf, o.asOf)) { _, _, state in
                    guard state != .due else { return }
                    a.hmOwed += 1
                    if state == .onTime { a.hmOnTime += 1 }
                }
            }
            acc[agent] = a
        }
        try forEachHandover(r, o, detail: false) { h in
            guard let a = h.agent, let ok = h.onTime else { return }
            acc[a, default: Acc()].handovers += 1
            if ok { acc[a, default: Acc()].handoversOnTime += 1 }
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT e.target_person_id, count(*), sum(e.grade IN ('非常满意','满意')) FROM v_evaluation e
            JOIN v_case c ON c._key = e.case_id
            WHERE e.direction = 'OWNER_TO_AGENT' AND e.target_person_id IS NOT NULL\(sc) GROUP BY e.target_person_id
            """, arguments: StatementArguments(sa)) {
            acc[row[0], default: Acc()].evals = row[1]
            acc[row[0], default: Acc()].satisfied = row[2]
        }
        for row in try Row.fetchAll(db, sql: """
            SELECT target_id, count(*) FROM v_complaint WHERE upheld = 1 AND target_id IS NOT NULL GROUP BY target_id
            """) where acc[row[0]] != nil {
            acc[row[0], default: Acc()].complaints = row[1]
        }
        var names: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT _key, name FROM v_person") { names[row[0]] = row[1] }
        func pct(_ a: Int, _ b: Int) -> Grid.Cell { b == 0 ? .null : .real(100 * Double(a) / Double(b)) }
        var g = Grid(name: "agents", columns: [
            .agent, C("name", "NAME", "姓名"), C("open_cases", "OPEN", "在办"), C("closed_cases", "CLOSED", "已结"),
            C("items_decided", "ITEMS", "办结事项"), C("items_on_time_pct", "ON TIME %", "按时办结%"),
            C("halfmonth_pct", "FEEDBACK %", "半月反馈%"), C("handover_pct", "HANDOVER %", "按时移交%"),
            C("owner_satisfied_pct", "SATISFIED %", "业主满意%"), C("complaints_upheld", "COMPLAINTS", "有效投诉"),
        ])
        for (id, a) in acc.sorted(by: { $0.key < $1.key }) {
            g.rows.append([.text(id), Grid.Cell(names[id]), .int(a.open), .int(a.closed), .int(a.items),
                           pct(a.itemsOnTime, a.items), pct(a.hmOnTime, a.hmOwed), pct(a.handoversOnTime, a.handovers),
                           pct(a.satisfied, a.evals), .int(a.complaints)])
        }
        g.summary = [(C("agents", "agents", "代办员数"), .int(acc.count))]
        return g
    }

    // MARK: 部门

    func departmentReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        let db = try r.db()
        let (sc, sa) = scope(o)
        var g = Grid(name: "departments", columns: [
            .department, C("name", "NAME", "部门名称"), C("decided", "DECIDED", "办结数"),
            C("mean_wd", "MEAN WD", "平均用时(工作日)"), C("median_wd", "MEDIAN WD", "中位用时"),
            C("p90_wd", "P90 WD", "90%用时"), C("max_wd", "MAX WD", "最长(工作日)"),
            C("within_committed_pct", "≤COMMITTED %", "承诺内%"), C("within_legal_pct", "≤LEGAL %", "法定内%"),
            C("supplement_pct", "补正 %", "补正率%"), C("escalated_items", "ESCALATED", "需协调"),
            C("rated", "RATINGS", "评价数"), C("satisfied_pct", "SATISFIED %", "满意%"),
        ])
        var names: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT _key, name FROM v_department") { names[row[0]] = row[1] }
        var escalated: [String: Int] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT p.department_id, count(DISTINCT p._key) FROM v_escalation e JOIN v_plan_item p ON p._key = e.plan_item_id
            JOIN v_case c ON c._key = p.case_id WHERE p.department_id IS NOT NULL\(sc) GROUP BY p.department_id
            """, arguments: StatementArguments(sa)) { escalated[row[0]] = row[1] }
        var ratings: [String: (Int, Int)] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT e.target_department_id, count(*), sum(e.grade IN ('非常满意','满意')) FROM v_evaluation e
            JOIN v_case c ON c._key = e.case_id
            WHERE e.direction IN ('AGENT_TO_DEPARTMENT','OWNER_TO_DEPARTMENT') AND e.target_department_id IS NOT NULL\(sc)
            GROUP BY e.target_department_id
            """, arguments: StatementArguments(sa)) { ratings[row[0]] = (row[1], row[2]) }
        // One pass grouped by (department, elapsed working days), in the order of the covering index of decided
        // items: the histogram gives mean, median and p90.
        struct Acc { var n = 0, committedOK = 0, committed = 0, legalOK = 0, legal = 0, supplement = 0
            var histogram: [(wd: Int, count: Int)] = [] }
        var acc: [String: Acc] = [:]
        let (ic, ia) = caseIn(o, "p.case_id")
        try r.scan("""
            SELECT p.department_id, p.elapsed_wd, count(*), sum(coalesce(p.local_done_on, p.decided_on) <= p.committed_due),
                   count(p.committed_due), sum(coalesce(p.local_done_on, p.decided_on) <= p.legal_due), count(p.legal_due),
                   sum(p.had_supplement = 1)
            FROM v_plan_item p
            WHERE \(PlanItemSQL.finished) AND p.status NOT IN ('NOT_ACCEPTED','CANCELLED','WITHDRAWN')
              AND p.department_id IS NOT NULL\(ic)
            GROUP BY p.department_id, p.elapsed_wd ORDER BY p.department_id, p.elapsed_wd
            """, ia) { row in
            guard let d = row.text(0) else { return }
            var a = acc.removeValue(forKey: d) ?? Acc()
            let n = row.int(2) ?? 0
            a.n += n
            a.committedOK += row.int(3) ?? 0
            a.committed += row.int(4) ?? 0
            a.legalOK += row.int(5) ?? 0
            a.legal += row.int(6) ?? 0
            a.supplement += row.int(7) ?? 0
            if let wd = row.int(1) { a.histogram.append((wd, n)) }
            acc[d] = a
        }
        func pct(_ a: Int?, _ b: Int?) -> Grid.Cell { (b ?? 0) == 0 ? .null : .real(100 * Double(a ?? 0) / Double(b!)) }
        func quantile(_ h: [(wd: Int, count: Int)], _ q: Double) -> Grid.Cell {
            let total = h.reduce(0) { $0 + $1.count }
            guard total > 0 else { return .null }
            let rank = Int((Double(total) * q).rounded(.up))
            var seen = 0
            for (wd, c) in h {
                seen += c
                if seen >= max(1, rank) { return .int(wd) }
            }
            return .int(h.last!.wd)
        }
        for (d, a) in acc.sorted(by: { $0.key < $1.key }) {
            let histogram = a.histogram
            let timed = histogram.reduce(0) { $0 + $1.count }
            let mean: Grid.Cell = timed == 0 ? .null : .real(Double(histogram.reduce(0) { $0 + $1.wd * $1.count }) / Double(timed))
            let rt = ratings[d]
            g.rows.append([.text(d), Grid.Cell(names[d]), .int(a.n), mean, quantile(histogram, 0.5), quantile(histogram, 0.9),
                           Grid.Cell(histogram.last?.wd), pct(a.committedOK, a.committed), pct(a.legalOK, a.legal),
                           pct(a.supplement, a.n), .int(escalated[d] ?? 0), Grid.Cell(rt?.0), pct(rt?.1, rt?.0)])
        }
        let seen = Set(acc.keys)
        for (d, rt) in ratings.sorted(by: { $0.key < $1.key }) where !seen.contains(d) {
            g.rows.append([.text(d), Grid.Cell(names[d]), .int(0), .null, .null, .null, .null, .null, .null, .null,
                           .int(escalated[d] ?? 0), .int(rt.0), rt.0 == 0 ? .null : .real(100 * Double(rt.1) / Double(rt.0))])
        }
        return g
    }

    // MARK: 满意度

    func satisfactionReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        let db = try r.db()
        let (sc, sa) = scope(o)
        let totals = try Row.fetchOne(db, sql: """
            SELECT count(*), sum(e.grade IN ('非常满意','满意')), sum(e.grade IN ('不满意','非常不满意')),
                   sum(e.grade IN ('不满意','非常不满意') AND e.real_name = 1)
            FROM v_evaluation e JOIN v_case c ON c._key = e.case_id WHERE 1\(sc)
            """, arguments: StatementArguments(sa))!
        var g = Grid(name: "satisfaction", columns: [
            C("ticket", "TICKET", "台账"), .caseID, C("evaluation", "EVALUATION", "评价"), C("grade", "GRADE", "等级"),
            C("responsible", "RESPONSIBLE", "责任方"), C("callback_at", "CALLBACK", "回访"), C("rectified_at", "RECTIFIED", "整改"),
            .due, C("ticket_status", "STATUS", "状态"),
        ])
        var realNameNegatives = 0, rectified = 0, open = 0
        for row in try Row.fetchAll(db, sql: """
            SELECT t.*, e.grade, e.real_name FROM v_ticket t JOIN v_evaluation e ON e._key = t.evaluation_id
            JOIN v_case c ON c._key = t.case_id WHERE 1\(sc) ORDER BY t._key
            """, arguments: StatementArguments(sa)) {
            let closed = (row["status"] as String?) == "CLOSED"
            if (row["real_name"] as Bool?) == true {
                realNameNegatives += 1
                if closed { rectified += 1 }
            }
            if !closed { open += 1 }
            g.rows.append([.text(row["_key"]), .text(row["case_id"]), .text(row["evaluation_id"]), Grid.Cell(row["grade"] as String?),
                           Grid.Cell(row["responsible"] as String?), Grid.Cell(row["callback_at"] as String?),
                           Grid.Cell(row["rectified_at"] as String?), Grid.Cell(row["rectification_due"] as String?),
                           .text(row["status"] ?? "OPEN")])
        }
        let n: Int = totals[0]
        g.summary = [
            (C("evaluations", "evaluations", "评价数"), .int(n)),
            (C("satisfaction_pct", "satisfaction %", "满意率%"), n == 0 ? .null : .real(100 * Double(totals[1] as Int? ?? 0) / Double(n))),
            (C("negative", "negative reviews", "差评数"), .int(totals[2] as Int? ?? 0)),
            (C("realname_negative", "real-name negative", "实名差评"), .int(realNameNegatives)),
            (C("realname_rectified", "rectified", "已回访整改"), .int(rectified)),
            (C("realname_rectified_pct", "real-name rectification % (must be 100)", "实名差评回访整改率%(应达100)"),
             realNameNegatives == 0 ? .null : .real(100 * Double(rectified) / Double(realNameNegatives))),
            (C("open_tickets", "open tickets", "未结台账"), .int(open)),
        ]
        return g
    }

    // MARK: 领导责任

    func thresholdReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        let rules = try r.rules()
        let db = try r.db()
        var g = Grid(name: "thresholds", columns: [
            C("project", "PROJECT", "项目"), C("name", "NAME", "项目名称"), .township,
            C("investment_wan", "INVESTMENT (万元)", "总投资(万元)"), C("needs_lead", "NEEDS LEAD", "需牵头领导"),
            C("lead_official", "LEAD OFFICIAL", "牵头领导"), C("needs_head", "NEEDS HEAD", "需督办负责人"),
            C("supervising_head", "SUPERVISING HEAD", "督办负责人"), C("compliant", "COMPLIANT", "合规"),
        ])
        let threshold = min(rules.leadOfficialWan, rules.supervisingHeadWan)
        var args: [DatabaseValue] = [threshold.databaseValue]
        var cond = ""
        if let t = o.township { cond = " AND p.township_id = ?"; args.append(t.databaseValue) }
        var required = 0, compliant = 0
        for row in try Row.fetchAll(db, sql: """
            SELECT p.*, c.lead_official_id AS c_lead, c.supervising_head_id AS c_head, c.status AS c_status
            FROM v_project p LEFT JOIN v_case c ON c.project_id = p._key
            WHERE p.total_investment_wan >= ?\(cond) ORDER BY p._key
            """, arguments: StatementArguments(args)) {
            let need = rules.leadershipRequired(category: row["category"], industrial: row["is_industrial"] ?? false,
                                                investmentWan: row["total_investment_wan"])
            guard need.leadOfficial || need.supervisingHead else { continue }
            required += 1
            let lead: String? = row["lead_official_id"] ?? row["c_lead"]
            let head: String? = row["supervising_head_id"] ?? row["c_head"]
            let ok = (!need.leadOfficial || lead != nil) && (!need.supervisingHead || head != nil)
            if ok { compliant += 1 }
            g.rows.append([.text(row["_key"]), Grid.Cell(row["name"] as String?), Grid.Cell(row["township_id"] as String?),
                           (row["total_investment_wan"] as Double?).map(Grid.Cell.real) ?? .null, .bool(need.leadOfficial),
                           Grid.Cell(lead), .bool(need.supervisingHead), Grid.Cell(head), .bool(ok)])
        }
        g.summary = [(C("required", "projects with a threshold", "达到门槛项目"), .int(required)),
                     (C("compliant", "compliant", "合规"), .int(compliant)),
                     (C("missing", "missing an official", "缺领导"), .int(required - compliant))]
        return g
    }

    // MARK: 投诉

    func complaintReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        var g = Grid(name: "complaints", columns: [
            C("complaint", "COMPLAINT", "投诉"), C("complaint_no", "NO", "投诉编号"), C("category", "CATEGORY", "类别"),
            C("office", "RECEIVED BY", "受理机构"), C("target", "TARGET", "对象"), .caseID, r.timeColumn("received_at", "RECEIVED", "受理时间"),
            .status, C("due", "DUE", "反馈期限"), C("timer", "TIMER", "时限"), C("feedback_at", "FEEDBACK", "反馈"),
            C("days_to_feedback", "DAYS", "反馈用时(天)"), C("upheld", "UPHELD", "属实"), C("applied", "APPLIED TO 考核", "纳入考核"),
        ])
        var byStatus: [String: Int] = [:]
        var late = 0, warning = 0, repeated = 0
        let rules = try r.rules(), cal = try r.calendar()
        for row in try r.rows("complaint", orderBy: "received_at, _key") {
            let s: String = row["status"] ?? "RECEIVED"
            byStatus[s, default: 0] += 1
            let rec = days(row, "received_at"), fb = days(row, "feedback_at")
            // 预警/逾期 like an item's: against the feedback deadline, until feedback is given.
            let timer = days(row, "due").map { cal.timer(due: $0, finished: fb, asOf: o.asOf, warningWorkdays: rules.warningWorkdays) }
            if timer == .overdue { late += 1 } else if timer == .warning { warning += 1 }
            if row["category"] as String? == "REPEATED_MATERIALS" { repeated += 1 }
            let category: String? = row["category"]
            g.rows.append([.text(row["_key"]), Grid.Cell(row["complaint_no"] as String?),
                           Grid.Cell(category.map { L10n.chinese ? CodeLabels.zh($0, in: CodeLabels.complaintCategory) : $0 }),
                           Grid.Cell(try r.name("office", row["received_by_office_id"]) ?? row["received_by_office_id"]),
                           Grid.Cell([row["target_kind"] as String?, row["target_id"] as String?].compactMap { $0 }.joined(separator: ":")),
                           Grid.Cell(row["case_id"] as String?), Grid.Cell(row["received_time"] as String? ?? row["received_at"]), .text(s),
                           Grid.Cell(row["due"] as String?), Grid.Cell(timer?.rawValue), Grid.Cell(row["feedback_at"] as String?), rec.flatMap { a in fb.map { Grid.Cell.int(Int($0 - a)) } } ?? .null,
                           (row["upheld"] as Bool?).map(Grid.Cell.bool) ?? .null,
                           (row["applied_to_assessment"] as Bool?).map(Grid.Cell.bool) ?? .null])
        }
        g.summary = ComplaintStatus.allCases.map { (C($0.rawValue.lowercased(), $0.rawValue, CodeLabels.zh($0.rawValue, in: CodeLabels.complaintStatus)),
                                                    .int(byStatus[$0.rawValue] ?? 0)) }
            + [(C("overdue", "overdue", "逾期"), .int(late)), (C("warning", "warning", "预警"), .int(warning)),
               (C("repeated_materials", "重复提交材料", "重复提交材料"), .int(repeated))]
        return g
    }

    // MARK: 台账

    func registerReport(_ r: Reader, _ o: ReportOptions, extra: String = "", extraArgs: [DatabaseValue] = [],
                        name: String = "register", limit: Int? = nil) throws -> Grid {
        let (sc, sa) = scope(o)
        var g = Grid(name: name, columns: [
            .caseID, .caseNo, C("enterprise", "ENTERPRISE", "企业"), C("project", "PROJECT", "项目"), .township, .townshipName,
            .status, .agent, .agentName, C("investment_wan", "INVESTMENT (万元)", "总投资(万元)"), C("signed_on", "SIGNED", "签约"),
            C("completed_on", "DONE", "办结/终止"), C("coordinating", "COORDINATING", "协调中"),
        ])
        let sql = """
            SELECT c._key, c.case_no, e.name AS ename, p.name AS pname, c.township_id, c.status, coalesce(c.agent_id, c.chief_agent_id) AS agent_id,
                   p.total_investment_wan, c.signed_on, coalesce(c.completed_on, c.terminated_on) AS done,
                   EXISTS (SELECT 1 FROM v_escalation x WHERE x.case_id = c._key AND +x.status = 'OPEN') AS coordinating
            FROM v_case c LEFT JOIN v_project p ON p._key = c.project_id LEFT JOIN v_enterprise e ON e._key = c.enterprise_id
            WHERE 1\(sc)\(extra) ORDER BY c._key\(limit.map { " LIMIT \($0)" } ?? "")
            """
        var byStatus: [String: Int] = [:]
        try r.scan(sql, sa + extraArgs) { row in
            let status = row.text(5) ?? ""
            byStatus[status, default: 0] += 1
            g.rows.append([.text(row.text(0) ?? ""), Grid.Cell(row.text(1)), Grid.Cell(row.text(2)), Grid.Cell(row.text(3)),
                           Grid.Cell(row.text(4)), Grid.Cell(try r.name("township", row.text(4))), .text(status),
                           Grid.Cell(row.text(6)), Grid.Cell(try r.name("person", row.text(6))), row.real(7).map(Grid.Cell.real) ?? .null,
                           Grid.Cell(row.text(8)), Grid.Cell(row.text(9)), .bool(row.int(10) == 1)])
        }
        g.summary = [(C("cases", "cases", "项目数"), .int(g.rows.count))]
            + CaseStatus.mergeOrder.compactMap { s in byStatus[s.rawValue].map { (C(s.rawValue.lowercased(), s.rawValue, s.zh), .int($0)) } }
        return g
    }

    // MARK: 协调

    func coordinationReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        let (sc, sa) = scope(o)
        var g = Grid(name: "coordination", columns: [
            C("kind", "KIND", "类别"), C("id", "ID", "编号"), .caseID, C("level", "LEVEL", "层级"), C("target", "TARGET", "对象"),
            C("since", "SINCE", "发起/期限"), .status, C("overdue", "OVERDUE", "逾期"),
        ])
        var openByLevel: [String: Int] = [:]
        for row in try Row.fetchAll(r.db(), sql: """
            SELECT x.* FROM v_escalation x JOIN v_case c ON c._key = x.case_id WHERE x.status = 'OPEN'\(sc) ORDER BY x.raised_at, x._key
            """, arguments: StatementArguments(sa)) {
            openByLevel[row["level"] ?? "", default: 0] += 1
            g.rows.append([.text("ESCALATION"), .text(row["_key"]), .text(row["case_id"]),
                           Grid.Cell(row["level"] as String?), Grid.Cell(row["target"] as String?),
                           Grid.Cell(row["raised_at"] as String?), .text("OPEN"), .null])
        }
        var overdueResolutions = 0
        for row in try Row.fetchAll(r.db(), sql: """
            SELECT m.* FROM v_meeting_resolution m JOIN v_case c ON c._key = m.case_id WHERE m.status = 'OPEN'\(sc) ORDER BY m.due, m._key
            """, arguments: StatementArguments(sa)) {
            let overdue = (days(row, "due") ?? .max) < o.asOf
            if overdue { overdueResolutions += 1 }
            g.rows.append([.text("RESOLUTION"), .text(row["_key"]), .text(row["case_id"]), .null,
                           Grid.Cell(row["responsible_department_id"] as String?), Grid.Cell(row["due"] as String?),
                           .text("OPEN"), .bool(overdue)])
        }
        g.summary = EscalationLevel.allCases.map { (C("open_\($0.rawValue.lowercased())", "open \($0.rawValue)", "未结\($0.rawValue)"), .int(openByLevel[$0.rawValue] ?? 0)) }
            + [(C("resolutions_overdue", "resolutions overdue", "逾期决议"), .int(overdueResolutions)),
               (C("difficult_consultations", "cases at 疑难会商", "疑难会商"), .int(openByLevel["EX"] ?? 0))]
        return g
    }

    // MARK: 材料共享

    func materialReport(_ r: Reader, _ o: ReportOptions) throws -> Grid {
        var g = Grid(name: "materials", columns: [
            C("material", "MATERIAL", "材料"), C("type", "TYPE", "类型"), C("source", "SOURCE", "来源"),
            C("uses", "USES", "使用次数"), C("items", "ITEMS", "用于事项"),
        ])
        var used = 0, uses = 0
        for row in try Row.fetchAll(r.db(), sql: """
            SELECT m._key, m.type, m.source, count(u._key) AS n, group_concat(u.plan_item_id, ',') AS items
            FROM v_material m LEFT JOIN v_material_use u ON u.material_id = m._key GROUP BY m._key ORDER BY m._key
            """) {
            let n: Int = row["n"]
            if n > 0 { used += 1 }
            uses += n
            g.rows.append([.text(row["_key"]), Grid.Cell(row["type"] as String?), Grid.Cell(row["source"] as String?), .int(n),
                           Grid.Cell(row["items"] as String?)])
        }
        g.summary = [(C("materials", "materials", "材料数"), .int(g.rows.count)),
                     (C("reused", "reused", "被复用材料"), .int(used)), (C("uses", "uses", "复用次数"), .int(uses)),
                     // What reuse is meant to end: owners complaining that they were asked for the same papers again.
                     (C("repeated_materials_complaints", "complaints: materials asked again", "重复提交材料投诉"),
                      .int(try Int.fetchOne(r.db(), sql: "SELECT count(*) FROM v_complaint WHERE category = 'REPEATED_MATERIALS'") ?? 0))]
        return g
    }
}
