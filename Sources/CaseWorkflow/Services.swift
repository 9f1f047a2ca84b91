import Foundation
import CaseDomain
import GRDB
import SyncCore
import TerminalText

/// 中介服务: the intermediary work an approval waits for (环评报告编制, 测绘, 施工图审查 …). The owner chooses the
/// provider; the agent records the contract and chases it like an item: due `committed_days` after the contract
/// date, WARNING and OVERDUE by the same rules, until delivered.
extension Workflow {
    public struct ServiceInput: Sendable {
        /// A `CodeLabels.intermediaryKind` code, or the kind as typed.
        public var kind: String
        /// The provider the owner chose.
        public var provider: String
        public var providerUSCC: String?
        public var contractOn: Int32?
        public var committedDays: Int
        /// WD (working days, the default) or ND (natural days).
        public var unit: String = "WD"
        /// The plan item that waits for it.
        public var itemID: String?
        public var note: String?
        public init(kind: String, provider: String, committedDays: Int) {
            self.kind = kind
            self.provider = provider
            self.committedDays = committedDays
        }
    }

    /// Records a contracted intermediary service of a case; returns its id.
    public func addService(caseID: String, _ input: ServiceInput) throws -> String {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            try s.requireAgentOrOffice(a, c, "service")
            guard let unit = LimitUnit(rawValue: input.unit) else { throw WorkflowError("bad_value", .badUnit, input.unit) }
            guard (0...3650).contains(input.committedDays) else { throw WorkflowError("bad_value", .badDays, input.committedDays) }
            guard !input.provider.trimmingCharacters(in: .whitespaces).isEmpty else { throw WorkflowError("missing", .needProvider) }
            if let item = input.itemID {
                let row = try s.require("plan_item", item, .whatPlanItem)
                guard row["case_id"] as String? == caseID else { throw WorkflowError("bad_value", .itemOfAnotherCase, item, caseID) }
            }
            let start = input.contractOn ?? today()
            let due = try s.calendar().due(from: start, limit: input.committedDays, unit: unit)
            try s.requireStatus(c, [.planning, .executing], "service")
            let key = newID("svc")
            try s.put("intermediary_service", key, [
                "case_id": .text(caseID), "plan_item_id": text(input.itemID), "kind": .text(input.kind),
                "provider": .text(input.provider), "provider_uscc": text(input.providerUSCC), "contract_on": .date(start),
                "committed_days": .int(Int64(input.committedDays)), "committed_unit": .text(unit.rawValue), "due": .date(due),
                "status": .text("OPEN"), "note": text(input.note), "recorded_by": .text(a.id),
            ])
            return key
        }
    }

    /// The provider delivered (its report, survey or review) on `on`, or the service was cancelled.
    public func finishService(id: String, delivered: Bool, on: Int32?, note: String? = nil) throws {
        try perform { s in
            let a = try s.actor()
            let svc = try s.require("intermediary_service", id, .whatService)
            let c = try s.caseRow(svc["case_id"])
            try s.requireAgentOrOffice(a, c, "service")
            guard svc["status"] as String? == "OPEN" else {
                throw WorkflowError("illegal_transition", .serviceClosed, id, svc["status"] as String? ?? "")
            }
            var v: [String: FieldValue] = ["status": .text(delivered ? "DELIVERED" : "CANCELLED"), "recorded_by": .text(a.id)]
            if delivered { v["delivered_on"] = .date(on ?? today()) }
            if let note { v[delivered ? "note" : "cancel_reason"] = .text(note) }
            try s.put("intermediary_service", id, v)
        }
    }

    /// The services of one case, or of every case this replica holds, with their timers as of `asOf`.
    public func services(caseID: String?, asOf: Int32) throws -> Grid {
        try read { r in try servicesGrid(r, caseID: caseID, asOf: asOf, openOnly: false) }
    }

    func servicesGrid(_ r: Reader, caseID: String?, asOf: Int32, openOnly: Bool, caseFilter: (String, [DatabaseValue])? = nil) throws -> Grid {
        let rules = try r.rules(), cal = try r.calendar()
        var g = Grid(name: "services", columns: [
            Grid.Column("id", "ID", "编号"), Grid.Column("case", "CASE", "代办项目"), Grid.Column("item", "ITEM", "办件"),
            Grid.Column("kind", "KIND", "服务类别"), Grid.Column("provider", "PROVIDER", "中介机构"),
            Grid.Column("contract_on", "CONTRACT", "签约日期"), Grid.Column("days", "DAYS", "承诺时限"),
            Grid.Column("due", "DUE", "应交付日期"), Grid.Column("delivered_on", "DELIVERED", "交付日期"),
            Grid.Column("status", "STATUS", "状态"), Grid.Column("timer", "TIMER", "时限"),
        ])
        var sql = "SELECT s.* FROM v_intermediary_service s JOIN v_case c ON c._key = s.case_id WHERE 1"
        // Chasing is for cases still at work; a closed case's open service is shown, not chased.
        if openOnly { sql += " AND c.status IN ('PLANNING', 'EXECUTING')" }
        var args: [DatabaseValue] = []
        if let caseID { sql += " AND s.case_id = ?"; args.append(caseID.databaseValue) }
        if openOnly { sql += " AND s.status = 'OPEN'" }
        if let f = caseFilter { sql += f.0; args += f.1 }
        sql += " ORDER BY s.due, s._key"
        for row in try Row.fetchAll(r.db(), sql: sql, arguments: StatementArguments(args)) {
            let status: String = row["status"] ?? "OPEN"
            let timer = days(row, "due").map {
                status == "CANCELLED" ? nil : cal.timer(due: $0, finished: days(row, "delivered_on"), asOf: asOf, warningWorkdays: rules.warningWorkdays)
            } ?? nil
            let kind: String = row["kind"] ?? ""
            let unit: String = row["committed_unit"] ?? "WD"
            g.rows.append([.text(row["_key"]), .text(row["case_id"]), Grid.Cell(row["plan_item_id"] as String?),
                           .text(L10n.chinese ? CodeLabels.zh(kind, in: CodeLabels.intermediaryKind) : kind),
                           Grid.Cell(row["provider"] as String?), Grid.Cell(row["contract_on"] as String?),
                           Grid.Cell((row["committed_days"] as Int?).map { "\($0) \(L10n.chinese ? (unit == "ND" ? "自然日" : "工作日") : unit)" }),
                           Grid.Cell(row["due"] as String?), Grid.Cell(row["delivered_on"] as String?), .text(status),
                           Grid.Cell(timer?.rawValue)])
        }
        return g
    }
}

extension Workflow {
    /// A service by its id, or by its case (as a clerk names it) when that case has one open service, or one of
    /// the `kind` given.
    public func serviceID(for text: String, kind: String? = nil) throws -> String {
        if try read({ try $0.row("intermediary_service", text) }) != nil { return text }
        let caseID = try self.caseID(for: text)
        return try read { r in
            var open = try r.rows("intermediary_service", where: "case_id = ? AND status = 'OPEN'", [caseID])
            if let kind {
                let code = CodeLabels.code(kind, in: CodeLabels.intermediaryKind)
                open = open.filter { $0["kind"] as String? == code }
            }
            switch open.count {
            case 1: return open[0]["_key"]
            case 0: throw WorkflowError("not_found", .notFound, L10n.t(.whatService), text)
            default:
                throw WorkflowError("ambiguous", .ambiguousName, L10n.t(.whatService), text,
                                    open.prefix(5).map { "\($0["_key"] as String) (\($0["kind"] as String? ?? ""))" }.joined(separator: "; "))
            }
        }
    }
}

extension Workflow {
    /// Open services of a case end with it (completion or termination): cancelled, the reason saying why.
    func closeServices(_ s: Session, caseID: String, reason: String) throws {
        for svc in try s.rows("intermediary_service", where: "case_id = ? AND status = 'OPEN'", [caseID]) {
            try s.put("intermediary_service", svc["_key"], ["status": .text("CANCELLED"), "cancel_reason": .text(reason)])
        }
    }

    /// A new calendar moves the due dates of open services counted in working days, as it moves items'.
    func recomputeServiceDues(_ s: Session) throws -> Int {
        var moved = 0
        let cal = try s.calendar()
        for svc in try s.rows("intermediary_service", where: "status = 'OPEN' AND committed_unit = 'WD'") {
            guard let start = days(svc, "contract_on"), let n = svc["committed_days"] as Int? else { continue }
            let due = cal.due(from: start, limit: n, unit: .workDays)
            if days(svc, "due") != due {
                try s.put("intermediary_service", svc["_key"], ["due": .date(due)])
                moved += 1
            }
        }
        return moved
    }
}

