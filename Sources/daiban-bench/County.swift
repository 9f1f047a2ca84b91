import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import GRDBSQLite
import ReplicaStore
import SyncCore

// `daiban-bench county`: a generated county on one centre replica and one agent replica (issue 4). Times the
// agent's `case list --mine` and `due`, and every report on the centre, in this process and through the real
// CLI, against raw SQLite reads of the same files.

struct CountyOptions {
    var cases = 200_000
    var repeats = 5
    var json = false
    var dir = "/tmp/daiban-county"
    var regenerate = false
    var fixtures = "Tests/Fixtures/yunling"
    /// The `daiban` executable (default: next to this executable).
    var daiban: String?
    /// Time only these operations (keys as in the JSON, without `_ms`).
    var only: Set<String>?
    /// Lock each replica file in memory while its group runs (see `PinnedFile`).
    var pin = true
}

func parseCountyOptions(_ args: [String]) -> CountyOptions? {
    guard args.first == "county" else { return nil }
    var o = CountyOptions()
    var i = 1
    while i < args.count {
        let value = i + 1 < args.count ? args[i + 1] : nil
        switch args[i] {
        case "--cases" where value != nil:
            guard let n = Int(value!), n >= 10 else { return nil }
            o.cases = n; i += 2
        case "--repeat" where value != nil:
            guard let n = Int(value!), n >= 1 else { return nil }
            o.repeats = n; i += 2
        case "--dir" where value != nil:
            o.dir = value!; i += 2
        case "--fixtures" where value != nil:
            o.fixtures = value!; i += 2
        case "--daiban" where value != nil:
            o.daiban = value!; i += 2
        case "--only" where value != nil:
            o.only = Set(value!.split(separator: ",").map(String.init)); i += 2
        case "--json":
            o.json = true; i += 1
        case "--regenerate":
            o.regenerate = true; i += 1
        case "--no-pin":
            o.pin = false; i += 1
        default:
            return nil
        }
    }
    return o
}

/// The date every timer is judged on, and the generator's fixed facts.
private let countyAsOf = CivilDate(year: 2025, month: 11, day: 24)!.daysSinceEpoch
private let countyFirstDay = CivilDate(year: 2025, month: 1, day: 6)!.daysSinceEpoch
private let countySeed: UInt64 = 0x0DA1_BA40_C0DE_0004
/// Bump when the generator changes, so a cached county is not reused.
private let countyGeneratorVersion = 1
private let countyCasesPerAgent = 500
private let countyTownships = ["OFF-DG", "OFF-SM", "OFF-FS", "OFF-BH"]
/// The agent the agent replica signs in as (the first generated agent; about 500 cases).
private let countyAgentLogin = "g0001"
private let countyAgentID = "G0001"
private let targetAgentMS = 100.0
private let targetReportMS = 2000.0

// MARK: Generating the county

/// Seeded dice (one per case, so a case's rows do not depend on the batching or on `--cases`).
private struct Dice {
    var g: SeededGenerator
    init(seed: UInt64) { g = SeededGenerator(seed: seed) }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &g) }
    /// A day in `r`; the lower bound when the range is empty.
    mutating func day(_ lo: Int32, _ hi: Int32) -> Int32 { hi <= lo ? lo : lo + Int32(int(0...Int(hi - lo))) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &g) < p }
    mutating func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &g)] }
    mutating func weighted(_ xs: [(String, Int)]) -> String {
        var r = int(0...(xs.reduce(0) { $0 + $1.1 } - 1))
        for (x, w) in xs {
            if r < w { return x }
            r -= w
        }
        return xs.last!.0
    }
}

private struct CatalogueEntry {
    var code: String
    var department: String
    var committed: Int
    var committedUnit: LimitUnit
    var legal: Int?
    var legalUnit: LimitUnit
    var reportUp: Bool
}

/// Writes a county with `tx.put` (not the workflow's commands, which check and read far more per write).
private struct CountyGenerator {
    let cases: Int
    let agents: Int
    let cal: WorkCalendar
    let rules: Rules
    let catalogue: [CatalogueEntry]
    let liaisons: [String: String]
    let asOf = countyAsOf
    let first = countyFirstDay

    static let statusWeights: [(String, Int)] = [
        ("REGISTERED", 15), ("UNDER_REVIEW", 5), ("AGREEMENT_PENDING", 5), ("WITHDRAWN", 3), ("REJECTED", 2),
        ("PLANNING", 30), ("EXECUTING", 250), ("TERMINATED", 40), ("COMPLETED", 100), ("HANDED_OVER", 300),
        ("EVALUATED", 250),
    ]
    static let industries = ["科技", "实业", "新材料", "电子", "机械", "食品", "生物科技", "智能装备", "物流", "建材"]
    static let suffixes = ["生产基地建设项目", "技术改造项目", "扩产项目", "研发中心项目", "智能化改造项目"]
    static let grades: [(String, Int)] = [("非常满意", 55), ("满意", 27), ("基本满意", 13), ("不满意", 3), ("非常不满意", 2)]
    static let levels: [(String, Int)] = [("E0", 40), ("E1", 30), ("E2", 15), ("E3", 8), ("E4", 4), ("EX", 3)]

    func agentID(_ a: Int) -> String { String(format: "G%04d", a + 1) }
    func township(ofAgent a: Int) -> String { countyTownships[a % countyTownships.count] }
    func iso(_ d: Int32) -> String { CivilDate.iso(d) }

    func writeAgents(_ tx: ReplicaTransaction) throws {
        for a in 0..<agents {
            try tx.put(table: "person", key: agentID(a), [
                "name": .text("代办员\(a + 1)"), "login": .text(agentID(a).lowercased()), "office_id": .text(township(ofAgent: a)),
                "roles": .text("AGENT"), "active": .bool(true),
            ])
        }
    }

    /// A decided item's fields: accepted on `accepted`, decided by `latest` at the latest (3 % late).
    func decided(_ e: CatalogueEntry, accepted: Int32, latest: Int32, _ d: inout Dice) -> [String: FieldValue] {
        let cdue = cal.due(from: accepted, limit: e.committed, unit: e.committedUnit)
        var decided = d.chance(0.03)
            ? cal.addingWorkdays(d.int(1...5), to: cdue)
            : d.day(accepted, cdue)
        var f: [String: FieldValue] = ["accepted_on": .date(accepted), "committed_due": .date(cdue)]
        if let l = e.legal { f["legal_due"] = .date(cal.due(from: accepted, limit: l, unit: e.legalUnit)) }
        if e.reportUp {
            let local = d.day(accepted, max(accepted, decided - 3))
            let upDue = cal.addingWorkdays(rules.reportUpWorkdays, to: local)
            let reported = d.chance(0.9) ? d.day(local, upDue) : cal.addingWorkdays(d.int(1...3), to: upDue)
            decided = max(decided, reported + Int32(d.int(0...5)))
            f["local_done_on"] = .date(local)
            f["report_up_due"] = .date(upDue)
            f["reported_up_on"] = .date(reported)
            f["reported_up_to"] = .text("市林业局")
        }
        decided = max(accepted, min(decided, latest))
        f["decided_on"] = .date(decided)
        f["elapsed_wd"] = .int(Int64(cal.workdays(after: accepted, through: decided)))
        f["status"] = .text(d.weighted([("APPROVED", 93), ("APPROVED_TOLERANCE", 3), ("ANSWERED", 2), ("DISAPPROVED", 2)]))
        if d.chance(0.08) { f["had_supplement"] = .bool(true) }
        return f
    }

    /// An open item's fields (accepted, under review, paused, done locally awaiting report-up).
    func open(_ e: CatalogueEntry, signed: Int32, _ d: inout Dice) -> [String: FieldValue] {
        let accepted = max(signed + 1, asOf - Int32(d.int(0...9)))
        if !e.reportUp && d.chance(0.05) { return ["status": .text("SUPPLEMENT"), "submitted_on": .date(accepted)] }
        var f: [String: FieldValue] = ["accepted_on": .date(min(accepted, asOf)),
                                       "committed_due": .date(cal.due(from: accepted, limit: e.committed, unit: e.committedUnit))]
        if let l = e.legal { f["legal_due"] = .date(cal.due(from: accepted, limit: l, unit: e.legalUnit)) }
        if e.reportUp && d.chance(0.5) {
            let local = d.day(accepted, asOf)
            f["status"] = .text("LOCAL_DONE")
            f["local_done_on"] = .date(local)
            f["report_up_due"] = .date(cal.addingWorkdays(rules.reportUpWorkdays, to: local))
        } else {
            f["status"] = .text(d.weighted([("ACCEPTED", 45), ("UNDER_REVIEW", 45), ("SPECIAL_PROCEDURE", 5), ("REPORTED_UP", 5)]))
        }
        return f
    }

    /// Writes case `i` (0-based) with its project, enterprise, plan, reports, forms and records.
    func writeCase(_ i: Int, _ tx: ReplicaTransaction) throws {
        var d = Dice(seed: countySeed &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15)
        let ck = String(format: "C%06d", i + 1)
        let a = i % agents
        let agent = agentID(a), town = township(ofAgent: a)
        let project = String(format: "P%06d", i + 1), enterprise = String(format: "E%06d", i / 2 + 1)
        let industry = d.pick(Self.industries)
        if i % 2 == 0 {
            try tx.put(table: "enterprise", key: enterprise, [
                "name": .text("云岭\(industry)有限公司\(i / 2 + 1)"), "uscc": .text(String(format: "91%016d", i / 2 + 1)),
            ])
        }
        let r = d.int(0...99)
        let wan = r < 70 ? d.int(100...4999) : r < 90 ? d.int(5000...9999) : d.int(10000...200_000)
        var p: [String: FieldValue] = [
            "enterprise_id": .text(enterprise), "name": .text("\(industry)\(d.pick(Self.suffixes))\(i + 1)"),
            "township_id": .text(town), "approval_type": .text("备案"),
            "category": .text(d.weighted([("INVESTMENT_PROMOTION", 40), ("DAJIAN_DAMEI", 20), ("INDUSTRIAL_PLATFORM", 20), ("OTHER", 20)])),
            "is_industrial": .bool(d.chance(0.6)), "total_investment_wan": .decimal(String(wan)),
        ]
        if wan >= 5000 && d.chance(0.85) { p["lead_official_id"] = .text(d.pick(["P-XG", "P-CJH"])) }
        if wan >= 10000 && d.chance(0.8) { p["supervising_head_id"] = .text(d.pick(["P-FM", "P-ZP"])) }
        try tx.put(table: "project", key: project, p)

        // The case's life: signed, then completed / terminated, by its status.
        let status = d.weighted(Self.statusWeights)
        var signed: Int32?, completed: Int32?, terminated: Int32?
        switch status {
        case "PLANNING": signed = asOf - Int32(d.int(1...6))
        case "EXECUTING": signed = asOf - Int32(d.int(8...150))
        case "TERMINATED":
            signed = d.day(first, asOf - 40)
            terminated = signed! + Int32(d.int(15...35))
        case "COMPLETED", "HANDED_OVER", "EVALUATED":
            let duration = Int32(d.int(45...100))
            let done = status == "COMPLETED" ? asOf - Int32(d.int(1...12))
                : d.day(first + duration, asOf - (status == "HANDED_OVER" ? 5 : 25))
            completed = done
            signed = done - duration
        default: break
        }
        var c: [String: FieldValue] = [
            "case_no": .text(String(format: "YL2025-%06d", i + 1)), "project_id": .text(project), "enterprise_id": .text(enterprise),
            "township_id": .text(town), "office_id": .text(town), "status": .text(status), "agent_id": .text(agent),
            "registered_on": .date(max(first - 4, (signed ?? asOf) - Int32(d.int(2...30)))),
        ]
        if d.chance(0.08) { c["chief_agent_id"] = .text(d.pick(["A01", "A02"])) }
        if d.chance(0.05) { c["team"] = .text("\(agent),\(agentID(d.int(0...(agents - 1))))") }
        guard let signed else {
            try tx.put(table: "case", key: ck, c)
            return
        }
        c["signed_on"] = .date(signed)
        if status != "PLANNING" { c["plan_confirmed_on"] = .date(signed + Int32(d.int(1...3))) }

        // Ten plan items.
        var entries = catalogue
        entries.shuffle(using: &d.g)
        let done: Int
        switch status {
        case "PLANNING": done = 0
        case "EXECUTING": done = asOf - 12 > signed + 3 ? d.int(0...7) : 0
        case "TERMINATED": done = d.int(0...4)
        default: done = 10
        }
        let openCount = status == "EXECUTING" ? min(10 - done, d.int(1...3)) : 0
        let end = completed ?? terminated ?? asOf
        let spreadFrom = signed + 3, spreadTo = max(signed + 3, (completed ?? terminated).map { $0 - 25 } ?? asOf - 12)
        var openItem: Int?
        for n in 1...10 {
            let e = entries[(n - 1) % entries.count]
            var f: [String: FieldValue] = [
                "case_id": .text(ck), "n": .int(Int64(n)), "catalogue_item_id": .text(e.code), "department_id": .text(e.department),
                "committed_limit": .int(Int64(e.committed)), "committed_unit": .text(e.committedUnit.rawValue),
            ]
            if let l = liaisons[e.department] { f["liaison_id"] = .text(l) }
            if n <= done {
                if status != "EXECUTING" && status != "TERMINATED" && d.chance(0.02) {
                    f["status"] = .text("CANCELLED")
                } else {
                    let accepted = spreadFrom + (spreadTo - spreadFrom) * Int32(n - 1) / 10 + Int32(d.int(0...2))
                    f.merge(decided(e, accepted: accepted, latest: min(end, asOf) - 1, &d)) { $1 }
                }
            } else if n <= done + openCount {
                f.merge(open(e, signed: signed, &d)) { $1 }
                openItem = openItem ?? n
            } else if status == "TERMINATED" {
                f["status"] = .text(d.chance(0.7) ? "CANCELLED" : "WITHDRAWN")
            } else {
                f["status"] = .text(d.weighted([("PLANNED", 40), ("DISPATCHED", 20), ("PREPARING", 25), ("SUBMITTED", 15)]))
            }
            try tx.put(table: "plan_item", key: "\(ck).\(n)", f)
        }

        // Half-month progress reports: most owed periods delivered, most on time.
        let until = min(end, asOf)
        for (k, period) in HalfMonth.owed(signedOn: signed, until: until).enumerated() where d.chance(0.93) {
            let due = cal.addingWorkdays(rules.halfMonthGraceWorkdays, to: period.end)
            let delivered = d.chance(0.92) ? d.day(period.end, due) : cal.addingWorkdays(d.int(1...4), to: due)
            guard delivered <= asOf else { continue }
            try tx.put(table: "progress_report", key: "\(ck).hm\(k + 1)", [
                "case_id": .text(ck), "period_start": .date(period.start), "period_end": .date(period.end),
                "delivered_on": .date(delivered), "author_id": .text(agent),
            ])
        }

        // Completion / termination forms and the handover.
        if let doneOn = completed ?? terminated {
            let due = cal.addingWorkdays(rules.handoverWorkdays, to: doneOn)
            let receivedNow = status == "HANDED_OVER" || status == "EVALUATED" || (status == "TERMINATED" && d.chance(0.9))
                || (status == "COMPLETED" && d.chance(0.3))
            var f: [String: FieldValue] = [
                "case_id": .text(ck), "form_no": .text("\(completed != nil ? "BJ" : "ZZ")-\(ck)"), "handover_due": .date(due),
                "owner_signed": .bool(true),
            ]
            f[completed != nil ? "completed_on" : "terminated_on"] = .date(doneOn)
            if receivedNow {
                let received = min(asOf, d.chance(0.95) ? d.day(doneOn, due) : cal.addingWorkdays(d.int(1...3), to: due))
                f["received_at"] = .text("\(iso(received))T\(String(format: "%02d:%02d", d.int(8...17), d.int(0...59)))")
                f["received_by_office_id"] = .text(town)
                if status != "TERMINATED" { c["handed_over_on"] = .date(received) }
            }
            if let completed {
                c["completed_on"] = .date(completed)
                try tx.put(table: "completion_form", key: "BJ-\(ck)", f)
            } else {
                c["terminated_on"] = .date(doneOn)
                f["reason_type"] = .text(d.pick(["OWNER_WITHDREW", "PROJECT_STOPPED", "OTHER"]))
                try tx.put(table: "termination_form", key: "ZZ-\(ck)", f)
            }
        }

        // Evaluations (one per evaluated case) and 差评 tickets.
        if status == "EVALUATED", let completed {
            let on = min(asOf - 1, completed + Int32(d.int(10...20)))
            c["evaluated_on"] = .date(on)
            let grade = d.weighted(Self.grades)
            let toAgent = d.chance(0.7)
            var ev: [String: FieldValue] = [
                "case_id": .text(ck), "direction": .text(toAgent ? "OWNER_TO_AGENT" : "OWNER_TO_DEPARTMENT"),
                "grade": .text(grade), "real_name": .bool(d.chance(0.5)), "channel": .text("平台"), "occurred_at": .text(iso(on)),
            ]
            if toAgent { ev["target_person_id"] = .text(agent) } else { ev["target_department_id"] = .text(d.pick(entries).department) }
            try tx.put(table: "evaluation", key: "EV-\(ck)", ev)
            if grade == "不满意" || grade == "非常不满意" {
                let closed = d.chance(0.85)
                var t: [String: FieldValue] = [
                    "evaluation_id": .text("EV-\(ck)"), "case_id": .text(ck), "category": .text("SERVICE"),
                    "responsible": .text(toAgent ? agent : "DEPARTMENT"), "callback_at": .date(min(asOf, on + 2)),
                    "rectification_due": .date(cal.addingWorkdays(rules.rectificationWorkdays, to: on)),
                    "status": .text(closed ? "CLOSED" : "OPEN"),
                ]
                if closed { t["rectified_at"] = .date(min(asOf, on + Int32(d.int(3...20)))) }
                try tx.put(table: "ticket", key: "TK-\(ck)", t)
            }
        }

        // Escalations, meetings and their resolutions.
        if status == "EXECUTING", let n = openItem, d.chance(0.03) {
            try tx.put(table: "escalation", key: "ES-\(ck)", [
                "case_id": .text(ck), "plan_item_id": .text("\(ck).\(n)"), "level": .text(d.weighted(Self.levels)),
                "raised_by": .text(agent), "raised_at": .date(asOf - Int32(d.int(0...20))),
                "target": .text(entries[(n - 1) % entries.count].department), "reason": .text("审批进度滞后"), "status": .text("OPEN"),
            ])
        } else if completed != nil, d.chance(0.03) {
            let raised = signed + Int32(d.int(5...30))
            try tx.put(table: "escalation", key: "ES-\(ck)", [
                "case_id": .text(ck), "plan_item_id": .text("\(ck).\(d.int(1...10))"), "level": .text(d.weighted(Self.levels)),
                "raised_by": .text(agent), "raised_at": .date(raised), "status": .text("RESOLVED"),
                "resolved_at": .date(raised + Int32(d.int(1...10))), "outcome": .text("已协调"),
            ])
        }
        if status == "EXECUTING" && d.chance(0.015) {
            let date = asOf - Int32(d.int(5...40))
            try tx.put(table: "meeting", key: "MT-\(ck)", [
                "case_ids": .text(ck), "type": .text("JOINT_MEETING"), "level": .text("COUNTY"), "date": .date(date),
                "chair_id": .text("ADM-CTY"), "issues": .text("联合审批协调"),
            ])
            for k in 1...2 {
                let due = date + Int32(d.int(5...30))
                let doneRes = due < asOf && d.chance(0.6)
                var m: [String: FieldValue] = [
                    "meeting_id": .text("MT-\(ck)"), "case_id": .text(ck), "text": .text("会议决议\(k)"),
                    "responsible_department_id": .text(d.pick(entries).department), "due": .date(due),
                    "status": .text(doneRes ? "DONE" : "OPEN"),
                ]
                if doneRes { m["done_on"] = .date(due - Int32(d.int(0...3))) }
                try tx.put(table: "meeting_resolution", key: "MR-\(ck).\(k)", m)
            }
        }

        // Complaints.
        if d.chance(0.002) {
            let st = d.pick(ComplaintStatus.allCases.map(\.rawValue))
            let received = d.day(signed, asOf)
            var cp: [String: FieldValue] = [
                "complainant": .text("业主"), "channel": .text("12345"), "target_kind": .text("AGENT"), "target_id": .text(agent),
                "case_id": .text(ck), "content": .text("办理进度慢"), "received_at": .date(received), "status": .text(st),
            ]
            if st != "RECEIVED" && st != "INVESTIGATING" {
                cp["upheld"] = .bool(d.chance(0.3))
                cp["applied_to_assessment"] = .bool(d.chance(0.5))
                if st != "DISPOSED" { cp["feedback_at"] = .date(min(asOf, received + Int32(d.int(1...15)))) }
            }
            try tx.put(table: "complaint", key: "CP-\(ck)", cp)
        }

        // Materials reused across plan items.
        if d.chance(0.1) {
            for k in 1...2 {
                let mk = "M-\(ck).\(k)"
                try tx.put(table: "material", key: mk, [
                    "scope": .text("PROJECT"), "enterprise_id": .text(enterprise), "project_id": .text(project),
                    "type": .text(d.pick(["营业执照", "土地证明", "环评报告", "设计图纸"])), "title": .text("材料\(k)"),
                    "file_hash": .text(String(format: "%016llx%016llx", d.g.next(), d.g.next())),
                    "file_size": .int(Int64(d.int(10_000...5_000_000))), "source": .text("OWNER"),
                ])
                for j in 1...d.int(1...3) {
                    try tx.put(table: "material_use", key: "\(mk).\(j)", [
                        "material_id": .text(mk), "plan_item_id": .text("\(ck).\(d.int(1...10))"), "case_id": .text(ck),
                        "used_on": .date(d.day(signed, min(end, asOf))), "accepted": .bool(true),
                    ])
                }
            }
        }
        try tx.put(table: "case", key: ck, c)
    }
}

/// Generates the centre replica at `<dir>/centre`, then copies it to `<dir>/agent` signed in as the agent.
/// - Returns: the generation time in seconds (the agent copy not included).
private func generateCounty(_ o: CountyOptions, centrePath: String, agentPath: String) throws -> Double {
    let fm = FileManager.default
    for sub in ["centre", "agent"] {
        try? fm.removeItem(atPath: o.dir + "/" + sub)
        try fm.createDirectory(atPath: o.dir + "/" + sub, withIntermediateDirectories: true)
    }
    let t0 = now()
    do {
        let centre = try ReplicaDatabase.create(at: centrePath, schema: DaibanSchema.schema, author: "admin")
        let wf = Workflow(replica: centre, today: { countyAsOf })
        func fixture(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: o.fixtures + "/" + name)) }
        _ = try wf.importRoster(data: fixture("roster.json"))
        _ = try wf.importCatalogue(data: fixture("catalogue.csv"))
        _ = try wf.importCalendar(data: fixture("calendar-2025.csv"), version: nil)
        let (cal, rules, catalogue, liaisons) = try wf.read { r in
            let catalogue = try r.rows("catalogue_item").map { row in
                CatalogueEntry(code: row["_key"], department: row["department_id"], committed: row["committed_limit"] ?? 0,
                               committedUnit: LimitUnit(rawValue: row["committed_unit"] ?? "WD") ?? .workDays,
                               legal: row["legal_limit"], legalUnit: LimitUnit(rawValue: row["legal_unit"] ?? "WD") ?? .workDays,
                               reportUp: (row["class_hint"] as String?) == "REPORT_UP")
            }
            var liaisons: [String: String] = [:]
            for row in try r.rows("person", where: "roles LIKE '%LIAISON%' AND department_id IS NOT NULL") {
                let dept: String = row["department_id"]
                if liaisons[dept] == nil { liaisons[dept] = row["_key"] }
            }
            return (try r.calendar(), try r.rules(), catalogue, liaisons)
        }
        try check(!catalogue.isEmpty, "the catalogue fixture is empty")
        let gen = CountyGenerator(cases: o.cases, agents: max(1, o.cases / countyCasesPerAgent), cal: cal, rules: rules,
                                  catalogue: catalogue, liaisons: liaisons)
        try centre.write { tx in try gen.writeAgents(tx) }
        let batch = 2000
        var start = 0
        while start < o.cases {
            let upTo = min(o.cases, start + batch)
            try centre.write { tx in for i in start..<upTo { try gen.writeCase(i, tx) } }
            start = upTo
            if start % 20_000 == 0 || start == o.cases {
                let elapsed = now() - t0
                progress(String(format: "generated %d/%d cases in %.0f s (%.0f cases/s, about %.0f s left), RSS %.0f MiB",
                                start, o.cases, elapsed, Double(start) / elapsed,
                                elapsed / Double(start) * Double(o.cases - start), currentRSSMiB()))
            }
        }
    }  // the centre's connections close here
    let seconds = now() - t0
    // Fold the WAL into the file, then copy it: the agent replica holds the whole county.
    try DatabaseQueue(path: centrePath).writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
    }
    progress("copying the centre replica to \(agentPath)")
    try fm.copyItem(atPath: centrePath, toPath: agentPath)
    try ReplicaDatabase.open(at: agentPath, schema: DaibanSchema.schema).setAuthor(countyAgentLogin)
    return seconds
}

// MARK: Raw SQLite baselines

/// A plain `sqlite3*` on the same file: prepares, binds text, steps every row and reads every column.
private final class RawReader {
    let handle: OpaquePointer

    init(path: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db else {
            if let db { sqlite3_close_v2(db) }
            throw CheckFailure("sqlite3_open_v2(\(path)) failed")
        }
        handle = db
    }

    deinit { sqlite3_close_v2(handle) }

    /// - Returns: the rows read and the first column of the last row as an integer.
    @discardableResult
    func run(_ sql: String, _ args: [String] = []) throws -> (rows: Int, last: Int64) {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw CheckFailure("prepare failed: \(String(cString: sqlite3_errmsg(handle))) in \(sql)")
        }
        defer { sqlite3_finalize(stmt) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, a) in args.enumerated() { sqlite3_bind_text(stmt, Int32(i + 1), a, -1, transient) }
        let columns = sqlite3_column_count(stmt)
        var rows = 0, last: Int64 = 0, bytes = 0
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw CheckFailure("step failed: \(String(cString: sqlite3_errmsg(handle)))") }
            rows += 1
            last = sqlite3_column_int64(stmt, 0)
            for c in 0..<columns where sqlite3_column_type(stmt, c) == SQLITE_TEXT { bytes += Int(sqlite3_column_bytes(stmt, c)) }
        }
        _ = bytes
        return (rows, last)
    }

    func scalar(_ sql: String, _ args: [String] = []) throws -> Int64 { try run(sql, args).last }
}

/// The raw baselines: what the operations' data costs to read with SQLite alone.
private let rawBaselines: [(key: String, label: String, sql: String, agentArgs: Bool)] = [
    ("raw_case_by_agent", "v_case WHERE agent_id = ? (indexed, SELECT *)", "SELECT * FROM v_case WHERE agent_id = ?", true),
    ("raw_items_by_agent", "plan items of the agent's cases (indexed join)",
     "SELECT p.* FROM v_case c JOIN v_plan_item p ON p.case_id = c._key WHERE c.agent_id = ?", true),
    ("raw_count_plan_item", "SELECT count(*) FROM v_plan_item", "SELECT count(*) FROM v_plan_item", false),
    ("raw_plan_item_scan", "full scan of v_plan_item, 4 columns aggregated",
     "SELECT count(*), count(decided_on), max(committed_due), count(legal_due) FROM v_plan_item", false),
    ("raw_plan_item_join_case", "v_plan_item ⋈ v_case on case_id, aggregated",
     "SELECT count(*), count(p.decided_on), max(c.agent_id) FROM v_plan_item p JOIN v_case c ON c._key = p.case_id", false),
]

// MARK: The CLI, end to end

/// The `daiban` executable next to this one (same build folder).
private func defaultDaibanPath() -> String {
    let exe = Bundle.main.executablePath ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("daiban").path
}

/// Runs the CLI with stdout to /dev/null; fails on a non-zero exit with its stderr. Spawned with `posix_spawn`
/// and reaped with `waitpid`: Foundation's `Process.waitUntilExit` polls its run loop (about every 50 ms on
/// Linux), which would round every figure up to that step.
/// - Returns: the wall time in seconds, from spawn to exit.
private func runCLI(_ exe: String, _ args: [String]) throws -> Double {
    let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("daiban-bench-county-\(getpid()).err").path
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + args).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid: pid_t = 0
    let t0 = now()
    let rc = posix_spawn(&pid, exe, &actions, nil, argv, environ)
    guard rc == 0 else { throw CheckFailure("posix_spawn(\(exe)) failed: \(rc)") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 {
        guard errno == EINTR else { throw CheckFailure("waitpid failed: \(errno)") }
    }
    let seconds = now() - t0
    // WIFEXITED and WEXITSTATUS are macros Swift does not import.
    guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
        let message = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        throw CheckFailure("\(exe) \(args.joined(separator: " ")) failed (wait status \(status)): \(message)")
    }
    return seconds
}

// MARK: The run

/// The 1-minute load average (other work on the machine's 2 shared cores shows up here).
private func loadAverage() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return .nan }
    return Double(text.split(separator: " ").first ?? "") ?? .nan
}

private func reportKey(_ r: ReportName) -> String { "report_" + r.rawValue.replacingOccurrences(of: "-", with: "_") }

/// Reads a JSON object file, or nil.
private func readJSONObject(_ path: String) -> [String: Any]? {
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

private func fileBytes(_ path: String) -> Double {
    var total = 0.0
    for suffix in ["", "-wal"] {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path + suffix) else { continue }
        if let n = attrs[.size] as? NSNumber { total += n.doubleValue } else if let n = attrs[.size] as? Int { total += Double(n) }
    }
    return total
}

/// Descriptors of the replica files, opened before this process opens any SQLite connection to them and never
/// closed (the process's exit closes them, after every connection). SQLite's file locks are POSIX advisory locks,
/// which belong to the process: closing *any* descriptor of a database file drops every lock the process holds on
/// it (sqlite.org/howtocorrupt.html §2.2). A pre-read that opened and closed the file would let another process's
/// last `close` believe it was alone, checkpoint and delete the `-wal` and `-shm` files under live connections.
nonisolated(unsafe) private var keptOpen: [String: Int32] = [:]

private func keptDescriptor(_ path: String) throws -> Int32 {
    if let fd = keptOpen[path] { return fd }
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw CheckFailure("cannot open \(path): errno \(errno)") }
    keptOpen[path] = fd
    return fd
}

/// Reads a replica file once, sequentially, so that it starts in the OS page cache.
/// - Returns: the bytes read.
private func readThrough(_ path: String) throws -> Int {
    let fd = try keptDescriptor(path)
    let size = 4 << 20
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    defer { buffer.deallocate() }
    var total = 0
    while true {
        let n = pread(fd, buffer, size, off_t(total))
        guard n > 0 else { break }
        total += n
    }
    return total
}

/// A replica file mapped and locked in memory (`mmap` + `mlock` of the kept descriptor), so that its pages stay in
/// the OS page cache for every reader of the file, the CLI's processes included. This machine runs DAMON with a
/// `pageout` scheme that drops file pages left idle for about a minute, which would otherwise turn part of every
/// figure into disk reads. Unlocked and unmapped on deinit; the descriptor stays open (see `keptOpen`).
private final class PinnedFile {
    let base: UnsafeMutableRawPointer
    let length: Int

    /// - Returns: nil when the file cannot be mapped or locked (then nothing stays mapped).
    init?(path: String) {
        guard let fd = try? keptDescriptor(path) else { return nil }
        // The size from lseek, not fstat: with SyncServer linked, `struct stat` resolves to a module this file
        // cannot import.
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return nil }
        length = Int(size)
        guard let p = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        base = p
        // Locking a few GiB needs a higher RLIMIT_MEMLOCK than the usual default (as root, or with CAP_IPC_LOCK).
        var limit = rlimit(rlim_cur: rlim_t.max, rlim_max: rlim_t.max)
        _ = setrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit)
        guard mlock(p, length) == 0 else {
            munmap(p, length)
            return nil
        }
    }

    deinit {
        munlock(base, length)
        munmap(base, length)
    }
}

/// Holds `<dir>/bench.lock` for the life of the process: two runs on the same county would time each other,
/// and two builds declaring different query-table indexes would rebuild each other's tables.
nonisolated(unsafe) private var runLock: Int32 = -1

private func lockCountyDir(_ dir: String) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let fd = open(dir + "/bench.lock", O_RDWR | O_CREAT, 0o644)
    guard fd >= 0 else { throw CheckFailure("cannot create \(dir)/bench.lock: errno \(errno)") }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
        close(fd)
        throw CheckFailure("another daiban-bench county is running on \(dir) (\(dir)/bench.lock is locked)")
    }
    runLock = fd
}

func runCounty(_ o: CountyOptions) throws {
    let t0 = now()
    let fm = FileManager.default
    let centreHome = o.dir + "/centre", agentHome = o.dir + "/agent"
    let centrePath = centreHome + "/replica.sqlite", agentPath = agentHome + "/replica.sqlite"
    let metaPath = o.dir + "/county.json"
    let daiban = o.daiban ?? defaultDaibanPath()
    try check(fm.isExecutableFile(atPath: daiban), "no daiban executable at \(daiban) (--daiban PATH)")
    try lockCountyDir(o.dir)

    // Reuse the cached county when it was generated by this generator with these sizes.
    var generationSeconds: Double
    var generated = false
    if !o.regenerate, let meta = readJSONObject(metaPath), meta["generator"] as? Int == countyGeneratorVersion,
        meta["cases"] as? Int == o.cases, let s = meta["generation_s"] as? Double,
        fm.fileExists(atPath: centrePath), fm.fileExists(atPath: agentPath),
        try RawReader(path: centrePath).scalar("SELECT count(*) FROM v_case") == Int64(o.cases),
        try RawReader(path: agentPath).scalar("SELECT count(*) FROM v_case") == Int64(o.cases)
    {
        progress("reusing the county in \(o.dir) (\(o.cases) cases, generated in \(String(format: "%.0f", s)) s; --regenerate to rebuild)")
        generationSeconds = s
    } else {
        progress("generating a county of \(o.cases) cases in \(o.dir) (seeded PRNG)")
        try? fm.removeItem(atPath: metaPath)
        try fm.createDirectory(atPath: o.dir, withIntermediateDirectories: true)
        generationSeconds = try generateCounty(o, centrePath: centrePath, agentPath: agentPath)
        generated = true
        let meta: [String: Any] = ["generator": countyGeneratorVersion, "cases": o.cases, "generation_s": generationSeconds,
                                   "seed": String(countySeed, radix: 16), "as_of": CivilDate.iso(countyAsOf)]
        try JSONSerialization.data(withJSONObject: meta, options: [.sortedKeys]).write(to: URL(fileURLWithPath: metaPath))
    }

    // No SQLite connection of this process is open here: keep a descriptor of each file from now on.
    _ = try keptDescriptor(centrePath)
    _ = try keptDescriptor(agentPath)

    // The two replicas, opened once (opening builds the query tables a newer schema adds to a cached county).
    let centre = try ReplicaDatabase.open(at: centrePath, schema: DaibanSchema.schema)
    let agent = try ReplicaDatabase.open(at: agentPath, schema: DaibanSchema.schema)

    // Facts: rows per table, file sizes.
    var base = Metrics()
    base.set("load_avg_1m_at_start", loadAverage())
    base.set("cases", Double(o.cases))
    base.set("generation_s", generationSeconds)
    base.set("centre_file_mib", fileBytes(centrePath) / 1_048_576)
    base.set("agent_file_mib", fileBytes(agentPath) / 1_048_576)
    let raw = try RawReader(path: centrePath)
    let tables = DaibanSchema.schema.tables.keys.sorted()
    var totalRows = 0.0
    for t in tables {
        let n = Double(try raw.scalar("SELECT count(*) FROM v_\(t)"))
        totalRows += n
        if n > 0 { base.set("rows_\(t)", n) }
    }
    base.set("rows_total", totalRows)
    base.set("field_states", Double(try raw.scalar("SELECT count(*) FROM field")))
    let agentCases = try raw.scalar("SELECT count(*) FROM v_case WHERE agent_id = ?", [countyAgentID])
    let agentMine = try raw.scalar("""
        SELECT count(*) FROM v_case WHERE agent_id = ?1 OR chief_agent_id = ?1 OR ',' || team || ',' LIKE ?2
        """, [countyAgentID, "%,\(countyAgentID),%"])
    base.set("agent_cases", Double(agentCases))
    base.set("agent_plan_items", Double(try raw.scalar("""
        SELECT count(*) FROM v_case c JOIN v_plan_item p ON p.case_id = c._key WHERE c.agent_id = ?
        """, [countyAgentID])))
    progress(String(format: "county: %.0f rows in %d tables, %.0f field states, centre %.0f MiB; ", totalRows, tables.count,
                    base["field_states"]!, base["centre_file_mib"]!) + "agent \(countyAgentID) has \(agentCases) cases")

    try check(agent.author == countyAgentLogin, "the agent replica signs in as \(agent.author), not \(countyAgentLogin)")
    let centreWF = Workflow(replica: centre, today: { countyAsOf })
    let agentWF = Workflow(replica: agent, today: { countyAsOf })
    let agentRaw = try RawReader(path: agentPath)
    let asOfText = CivilDate.iso(countyAsOf)

    // What is timed: the agent's operations, then the centre's. Each operation runs once untimed (its first run,
    // reported apart), then `--repeat` times back to back. Each file is read through once right before its group:
    // this machine's host reclaims idle page cache within minutes, so a file last read long ago is partly on disk.
    struct TimedOp {
        var key: String
        var file: String
        /// Rows produced (nil for the CLI, whose output goes to /dev/null) and seconds.
        var measure: () throws -> (rows: Int?, seconds: Double)
    }
    func inProcess(_ key: String, _ file: String, _ body: @escaping () throws -> Int) -> TimedOp {
        TimedOp(key: key, file: file) { let (n, s) = try timed(body); return (n, s) }
    }
    func viaCLI(_ key: String, _ file: String, _ args: [String]) -> TimedOp {
        TimedOp(key: key, file: file) { (nil, try runCLI(daiban, args)) }
    }
    var ops: [TimedOp] = [
        inProcess("list_mine", agentPath) { try agentWF.listCases(mine: true, township: nil, status: nil).rows.count },
        inProcess("due", agentPath) { try agentWF.due(asOf: countyAsOf).rows.count },
        // `case find` on the centre: a name part shared by about a hundred enterprises, then one word in a tenth of
        // all names (stops at the 200-case limit).
        inProcess("find_name", centrePath) { try centreWF.findCases("有限公司777").rows.count },
        inProcess("find_common", centrePath) { try centreWF.findCases("智能装备").rows.count },
    ]
    for b in rawBaselines where b.agentArgs {
        ops.append(inProcess(b.key, agentPath) { try agentRaw.run(b.sql, [countyAgentID]).rows })
    }
    ops += [
        viaCLI("cli_start", agentPath, ["--help"]),
        viaCLI("cli_list_mine", agentPath, ["case", "list", "--home", agentHome, "--mine", "--json"]),
        viaCLI("cli_due", agentPath, ["due", "--home", agentHome, "--as-of", asOfText, "--json"]),
    ]
    for b in rawBaselines where !b.agentArgs { ops.append(inProcess(b.key, centrePath) { try raw.run(b.sql).rows }) }
    for r in ReportName.allCases {
        ops.append(inProcess(reportKey(r), centrePath) { try centreWF.report(r, ReportOptions(asOf: countyAsOf)).rows.count })
    }
    for name in ["overdue", "agents", "register"] {
        ops.append(viaCLI("cli_report_\(name)", centrePath, ["report", name, "--home", centreHome, "--as-of", asOfText, "--json"]))
    }
    let selected = ops.filter { o.only?.contains($0.key) ?? true }
    try check(!selected.isEmpty, "--only names none of: \(ops.map(\.key).joined(separator: ", "))")

    var runs = [Metrics](repeating: base, count: o.repeats)
    var warmed = Set<String>()
    var pinned: PinnedFile?
    var pinnedAll = o.pin
    for op in selected {
        if warmed.insert(op.file).inserted {
            let which = op.file == agentPath ? "agent" : "centre"
            pinned = nil  // one file locked at a time
            var bytes = 0
            let (_, s) = try timed {
                if o.pin {
                    pinned = PinnedFile(path: op.file)
                    bytes = pinned?.length ?? 0
                }
                if pinned == nil { bytes = try readThrough(op.file) }
            }
            if o.pin && pinned == nil {
                pinnedAll = false
                progress("could not lock the \(which) replica in memory (mlock); read it through instead")
            }
            for k in runs.indices { runs[k].set("preread_\(which)_s", s) }
            progress((pinned != nil ? "locked the \(which) replica in memory (" : "read the \(which) replica through (")
                     + String(format: "%.0f MiB) in %.1f s", Double(bytes) / 1_048_576, s))
        }
        let first = try op.measure()
        var times: [Double] = []
        for k in runs.indices {
            if let rows = first.rows { runs[k].set(op.key + "_rows", Double(rows)) }
            runs[k].set(op.key + "_first_ms", first.seconds * 1000)
            let t = try op.measure().seconds * 1000
            runs[k].set(op.key + "_ms", t)
            times.append(t)
        }
        progress("\(op.key): " + String(format: "first %.1f ms, then ", first.seconds * 1000)
                 + times.map { String(format: "%.1f", $0) }.joined(separator: ", ") + String(format: " ms (median %.1f)", median(times))
                 + (first.rows.map { ", \($0) rows" } ?? ""))
        if op.key == "list_mine" {
            try check(Int64(first.rows!) == agentMine, "case list --mine gave \(first.rows!) rows, raw SQLite \(agentMine)")
        }
    }

    /// Operation time over its raw-SQLite baseline, where both were timed.
    func addRatios(_ m: inout Metrics) {
        func ratio(_ key: String, _ a: String, _ b: String) { if let x = m[a], let y = m[b] { m.set(key, x / y) } }
        ratio("list_mine_vs_raw", "list_mine_ms", "raw_case_by_agent_ms")
        ratio("due_vs_raw", "due_ms", "raw_items_by_agent_ms")
        for r in ReportName.allCases { ratio(reportKey(r) + "_vs_raw_join", reportKey(r) + "_ms", "raw_plan_item_join_case_ms") }
    }
    pinned = nil
    let loadAtEnd = loadAverage()
    for k in runs.indices {
        addRatios(&runs[k])
        runs[k].set("files_locked_in_memory", pinnedAll ? 1 : 0)
        runs[k].set("load_avg_1m_at_end", loadAtEnd)
    }
    var s = summarize(runs)
    addRatios(&s)  // ratios of the medians (the per-repeat ratios are in `runs`)
    let reportTimes = ReportName.allCases.compactMap { r in s[reportKey(r) + "_ms"].map { (r, $0) } }
    let slowest = reportTimes.max { $0.1 < $1.1 }
    let missed = reportTimes.filter { $0.1 >= targetReportMS }.map(\.0)
    var headline: [(String, Double)] = []
    for key in ["list_mine_ms", "due_ms", "cli_list_mine_ms", "cli_due_ms", "find_name_ms", "find_common_ms"] { if let v = s[key] { headline.append((key, v)) } }
    if let slowest {
        headline.append(("slowest_report_ms", slowest.1))
        headline.append(("reports_over_2s", Double(missed.count)))
    }
    for key in ["cli_report_overdue_ms", "list_mine_vs_raw", "due_vs_raw"] { if let v = s[key] { headline.append((key, v)) } }
    if let v = s["report_overdue_vs_raw_join"] { headline.append(("overdue_vs_raw_join", v)) }
    let source = "generated county: \(o.cases) cases, seed \(String(countySeed, radix: 16)), generator \(countyGeneratorVersion)"
    if o.json {
        let perRepeat = selected.map { $0.key + "_ms" }
        let extra = [
            "\"as_of\": \(jsonString(asOfText))", "\"dir\": \(jsonString(o.dir))",
            "\"agent\": \(jsonString(countyAgentLogin))", "\"generated_this_run\": \(generated)",
            "\"slowest_report\": \(slowest.map { jsonString($0.0.rawValue) } ?? "null")",
            "\"reports_over_target\": [\(missed.map { jsonString($0.rawValue) }.joined(separator: ", "))]",
            "\"target_agent_ms\": \(jsonNumber(targetAgentMS))", "\"target_report_ms\": \(jsonNumber(targetReportMS))",
        ]
        printReportJSON(headline: headline, repeats: o.repeats,
                        workload: Workload(keys: [], initial: [], phaseB: [], phaseC: [], source: source), clock: "wall",
                        extra: extra, perRepeat: perRepeat, runs: runs, summary: s, omit: [])
    } else {
        printCountyTable(summary: s, headline: headline, source: source, repeats: o.repeats, generated: generated,
                         tables: tables)
    }
    progress(String(format: "total %.1f s", now() - t0))
}

private func printCountyTable(summary s: Metrics, headline: [(String, Double)], source: String, repeats: Int,
                              generated: Bool, tables: [String]) {
    let table = ReportTable(summary: s)
    func row(_ label: String, _ key: String, _ unit: String = "") { table.row(label, key, unit) }
    func verdict(_ key: String, _ target: Double) -> String {
        "ms (target < \(human(target)) ms: \((s[key] ?? .infinity) < target ? "met" : "MISSED"))"
    }
    print("daiban-bench county — \(source); as of \(CivilDate.iso(countyAsOf)); medians of \(repeats); SQLite \(sqliteVersion); \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print("County (one centre replica\(generated ? ", generated in this run" : ", cached"))")
    row("cases", "cases")
    row("field states", "field_states")
    row("query-table rows, all tables", "rows_total")
    for t in tables { row("  v_\(t)", "rows_\(t)") }
    row("centre replica file", "centre_file_mib", "MiB")
    row("agent replica file (a copy)", "agent_file_mib", "MiB")
    row("generation (tx.put, 2,000 cases per tx)", "generation_s", "s")
    row("files locked in memory (mlock) while timed", "files_locked_in_memory")
    row("1-minute load average at start", "load_avg_1m_at_start")
    row("1-minute load average at end", "load_avg_1m_at_end")
    row("lock / read the agent file before its group", "preread_agent_s", "s")
    row("lock / read the centre file before its group", "preread_centre_s", "s")
    print("Agent replica (signed in as \(countyAgentLogin), holds the whole county)")
    row("agent's cases (agent_id)", "agent_cases")
    row("agent's plan items", "agent_plan_items")
    row("case list --mine, in process", "list_mine_ms", verdict("list_mine_ms", targetAgentMS))
    row("  first run (untimed)", "list_mine_first_ms", "ms")
    row("  rows", "list_mine_rows")
    row("due, in process", "due_ms", verdict("due_ms", targetAgentMS))
    row("  first run (untimed)", "due_first_ms", "ms")
    row("  rows", "due_rows")
    row("case list --mine --json, CLI end to end", "cli_list_mine_ms", verdict("cli_list_mine_ms", targetAgentMS))
    row("due --json, CLI end to end", "cli_due_ms", verdict("cli_due_ms", targetAgentMS))
    row("process start (daiban --help)", "cli_start_ms", "ms")
    print("Centre replica reports, in process (target < \(human(targetReportMS)) ms each)")
    for r in ReportName.allCases {
        let k = reportKey(r)
        row(r.rawValue, k + "_ms", verdict(k + "_ms", targetReportMS))
        row("  rows", k + "_rows")
    }
    print("Centre reports, CLI end to end (--json to /dev/null)")
    row("report overdue", "cli_report_overdue_ms", verdict("cli_report_overdue_ms", targetReportMS))
    row("report agents", "cli_report_agents_ms", verdict("cli_report_agents_ms", targetReportMS))
    row("report register", "cli_report_register_ms", verdict("cli_report_register_ms", targetReportMS))
    print("Raw SQLite on the same files (C API, every row stepped, every column read)")
    for b in rawBaselines {
        row(b.label, b.key + "_ms", "ms")
        row("  rows", b.key + "_rows")
    }
    print("Ratios (operation / raw baseline, medians)")
    row("case list --mine / v_case by agent_id", "list_mine_vs_raw", "×")
    row("due / the agent's plan items", "due_vs_raw", "×")
    for r in ReportName.allCases { row("\(r.rawValue) / v_plan_item ⋈ v_case", reportKey(r) + "_vs_raw_join", "×") }
    table.finish(breakdown: "Breakdown", headline: headline)
}
