import ArgumentParser
import CaseDomain
import CaseWorkflow
import Crypto
import Foundation
import GRDB
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import TerminalText
import CommandText

private func readFile(_ path: String) throws -> Data {
    let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    guard size <= 64 << 20 else { throw CLIError(L10n.t(.fileTooLarge, path)) }
    return try Data(contentsOf: URL(fileURLWithPath: path))
}

struct CalendarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "calendar",
        abstract: L10n.pick("工作日历 (working-day calendar, replicated reference data).",
                            "工作日历（同步到各设备的基础数据）。"),
                                                    subcommands: [Import.self, Show.self])
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import",
            abstract: L10n.pick("Import dates from CSV (date,workday,source_notice) or JSON; publishes a new calendar version.",
                                "从 CSV（date,workday,source_notice）或 JSON 导入日期，发布新的日历版本。"))
        @OptionGroup var home: HomeOptions
        @Argument var file: String
        @Option(help: .l("Version number to publish (default: the file's, else one above the current).",
                         "要发布的版本号（默认：取文件中的版本号，没有则为当前版本加一）。")) var version: Int?
        func run() throws {
            try runWorkflow {
                let r = try workflow(home).importCalendar(data: try readFile(file), version: version)
                print(L10n.t(.calendarImported, r.days, r.version, r.recomputed))
            }
        }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show",
            abstract: L10n.pick("Working days and holidays of a month (default: this month).",
                                "查看某月的工作日和节假日（默认本月）。"))
        @OptionGroup var home: HomeOptions
        @Option(help: .l("YYYY-MM.", "月份，YYYY-MM。")) var month: String?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let today = CivilDate(daysSinceEpoch: wf.today())
                let parts = (month ?? String(today.description.prefix(7))).split(separator: "-").compactMap { Int($0) }
                guard parts.count == 2, let first = CivilDate(year: parts[0], month: parts[1], day: 1) else {
                    throw CLIError(L10n.t(.badDateArg, month ?? ""))
                }
                let (cal, versions, notes) = try calendarData(wf)
                var g = Grid(name: "calendar", columns: [
                    Grid.Column("date", "DATE", "日期"), Grid.Column("weekday", "WEEKDAY", "星期"),
                    Grid.Column("workday", "WORKDAY", "工作日"), Grid.Column("source_notice", "NOTICE", "依据"),
                ])
                let names = L10n.chinese ? ["一", "二", "三", "四", "五", "六", "日"] : ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
                for d in first.daysSinceEpoch..<(first.daysSinceEpoch + Int32(CivilDate.daysIn(month: parts[1], year: parts[0]))) {
                    g.rows.append([.text(CivilDate.iso(d)), .text(names[WorkCalendar.weekday(d)]), .bool(cal.isWorkday(d)),
                                   Grid.Cell(notes[d])])
                }
                g.summary = [(Grid.Column("version", "version", "版本"), .int(versions.local)),
                             (Grid.Column("published", "centre's version", "县中心版本"), .int(versions.published))]
                emit(g, output)
                if let w = try wf.calendarWarning(for: first.daysSinceEpoch) { note(w) }
            }
        }
        private func calendarData(_ wf: Workflow) throws -> (WorkCalendar, (local: Int, published: Int), [Int32: String]) {
            let notes = try wf.listTable("calendar_day", columns: [("source_notice", "", "")])
            var byDay: [Int32: String] = [:]
            for r in notes.records() { if let k = r["id"]?.textValue, let d = CivilDate.days(k) { byDay[d] = r["source_notice"]?.textValue } }
            let (cal, v) = try wf.read { r in (try r.calendar(), try r.calendarVersions()) }
            return (cal, v, byDay)
        }
    }
}

struct CatalogueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "catalogue", abstract: L10n.pick("事项目录 (service-item catalogue).", "事项目录。"),
                                                    subcommands: [Import.self, List.self])
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import",
            abstract: L10n.pick("Import 事项 from CSV (header: code,name,department_id,committed_limit,committed_unit,legal_limit,legal_unit,…) or a JSON array.",
                                "从 CSV（表头：code,name,department_id,committed_limit,committed_unit,legal_limit,legal_unit,…）或 JSON 数组导入事项。"))
        @OptionGroup var home: HomeOptions
        @Argument var file: String
        func run() throws {
            try runWorkflow {
                let r = try workflow(home).importCatalogue(data: try readFile(file))
                print(L10n.t(.imported2, r.written, r.unchanged))
            }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("The catalogue.", "查看事项目录。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                emit(try workflow(home).listTable("catalogue_item", columns: [
                    ("name", "NAME", "事项名称"), ("department_id", "DEPARTMENT", "实施部门"), ("default_kind", "KIND", "即办/承诺"),
                    ("committed_limit", "COMMITTED", "承诺期限"), ("committed_unit", "COMMITTED UNIT", "承诺期限单位"),
                    ("legal_limit", "LEGAL", "法定期限"), ("legal_unit", "LEGAL UNIT", "法定期限单位"), ("stage", "STAGE", "阶段"),
                    ("approval_level", "LEVEL", "审批层级"), ("class_hint", "CLASS", "办件类别"),
                    ("pauses_allowed", "PAUSES", "可暂停计时"), ("required_materials", "MATERIALS", "申请材料"),
                ]), output)
            }
        }
    }
}

struct RosterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "roster",
        abstract: L10n.pick("代办机构, 乡镇, 部门, 人员 (reference data).",
                            "花名册：代办机构、乡镇、部门、人员（基础数据）。"),
                                                    subcommands: [Import.self, List.self])
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import",
            abstract: L10n.pick("Import {\"offices\":[…],\"townships\":[…],\"departments\":[…],\"people\":[…],\"rules\":[…]} (each with an id).",
                                "导入花名册 {\"offices\":[…],\"townships\":[…],\"departments\":[…],\"people\":[…],\"rules\":[…]}（代办机构、乡镇、部门、人员、规则，每项须有 id）。"))
        @OptionGroup var home: HomeOptions
        @Argument var file: String
        func run() throws {
            try runWorkflow { print(L10n.t(.imported2, try workflow(home).importRoster(data: try readFile(file)), 0)) }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("People and their roles.", "列出人员及其角色。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                emit(try workflow(home).listTable("person", columns: [
                    ("name", "NAME", "姓名"), ("login", "LOGIN", "登录名"), ("roles", "ROLES", "角色"), ("office_id", "OFFICE", "机构"),
                    ("department_id", "DEPARTMENT", "部门"), ("title", "TITLE", "职务"), ("rank", "RANK", "职级"),
                ]), output)
            }
        }
    }
}

struct RuleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rule",
        abstract: L10n.pick("Configurable rules of the county (set by the centre, replicated to every device).",
                            "全县可配置的规则（由县中心设定，同步到各设备）。"),
                                                    subcommands: [Set.self, List.self])
    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set",
            abstract: L10n.pick("Set a rule for every replica (county centre administrators).",
                                "设定一条规则，对所有副本生效（限县中心管理员）。"))
        @OptionGroup var home: HomeOptions
        @Argument var key: String
        @Argument var value: String
        func run() throws {
            try runWorkflow {
                try workflow(home).setRule(key, value)
                print(L10n.t(.updated, key))
            }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list",
            abstract: L10n.pick("Rules in force, with their defaults and meaning.",
                                "列出现行规则及其默认值和含义。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let rules = try workflow(home).read { try $0.rules() }
                var g = Grid(name: "rules", columns: [Grid.Column("key", "RULE", "规则"), Grid.Column("value", "VALUE", "取值"),
                                                      Grid.Column("default", "DEFAULT", "默认"), Grid.Column("meaning", "MEANING", "含义")])
                for d in Rules.definitions {
                    g.rows.append([.text(d.key), Grid.Cell(rules.values[d.key]), .text(d.defaultValue), .text(L10n.chinese ? d.zh : d.meaning)])
                }
                emit(g, output)
            }
        }
    }
}

struct MaterialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "material",
        abstract: L10n.pick("材料共享: metadata and SHA-256 of files; reuse per item.",
                            "材料共享：登记材料信息和文件的 SHA-256，供各办件复用。"),
                                                    subcommands: [Add.self, Use.self, Check.self, List.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add",
            abstract: L10n.pick("Record a material (the file stays where it is; its SHA-256 is kept).",
                                "登记一份材料（文件留在原处，只记录其 SHA-256）。"))
        @OptionGroup var home: HomeOptions
        @Option(help: .l("Material id (default generated).", "材料编号（默认自动生成）。")) var id: String?
        @Option(help: .l("Project id (project-scoped material).", "项目 id（属于项目的材料）。")) var project: String?
        @Option(help: .l("Enterprise id (enterprise-scoped material).", "企业 id（属于企业的材料）。")) var enterprise: String?
        @Option(help: .l("Type, e.g. 营业执照.", "材料类型，如营业执照。")) var type: String
        @Option(help: .l("Title.", "材料名称。")) var title: String?
        @Option(help: .l("File to hash (read locally, never sent).", "要计算 SHA-256 的文件（只在本机读取，不会发送）。")) var file: String?
        @Option(help: .l("OWNER_SUBMITTED or PROCESS_GENERATED.",
                         "材料来源：OWNER_SUBMITTED（业主提交）或 PROCESS_GENERATED（办理中产生）。")) var source = "OWNER_SUBMITTED"
        @Option(help: .l("Plan item that produced it.", "产生该材料的办件。")) var producedBy: String?
        func run() throws {
            try runWorkflow {
                var hash: String?
                var size: Int64?
                if let file {
                    let data = try readFile(file)
                    hash = sha256Hex(data)
                    size = Int64(data.count)
                }
                print(try workflow(home).addMaterial(id: id, projectID: project, enterpriseID: enterprise, type: type, title: title,
                                                     fileHash: hash, fileSize: size, source: source, producedBy: producedBy))
            }
        }
    }
    struct Use: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "use", abstract: L10n.pick("Reuse a material for a plan item.", "把材料复用于某个办件。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Material id.", "材料编号。")) var material: String
        @Argument(help: .l("Plan item (CASE.N).", "办件（案号.序号）。")) var item: String
        @Flag(help: .l("Attach it although the item's list does not ask for it.", "该办件的应交材料中没有此项，仍要额外提交。"))
        var extra = false
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let use = try wf.useMaterial(material, itemID: try wf.planItemID(for: item), on: try on.day(), extra: extra)
                print(use.key)
                print(use.missing.isEmpty ? L10n.t(.materialsComplete) : L10n.t(.materialsMissing, Materials.joined(use.missing)))
            }
        }
    }
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "check",
            abstract: L10n.pick("Each item's required materials, what has been provided and what is missing.",
                                "各办件的应交材料、已交材料和尚缺材料。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.materialCheck(caseID: try wf.caseID(for: caseRef.text)), output)
            }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("Materials and their reuse.", "列出材料及其复用情况。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.report(.materials, ReportOptions(asOf: wf.today())), output)
            }
        }
    }
}

struct Due: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "due",
        abstract: L10n.pick("催办: my items due soon or overdue, 上报件 to report, missing half-month reports, handovers.",
                            "催办：我的即将到期或已逾期的办件、待上报的上报件、未做的半月汇总、待移交的单据。"))
    @OptionGroup var home: HomeOptions
    @Option(help: .l("Judge as of this date (default today).", "按此日期判断（默认今天）。")) var asOf: String?
    @OptionGroup var output: OutputOptions
    func run() throws {
        try runWorkflow {
            let wf = try workflow(home)
            let day = try parseDay(asOf) ?? wf.today()
            emit(try wf.due(asOf: day), output)
            if let w = try wf.calendarWarning(for: day) { note(w) }
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: L10n.pick("The centre's reports: overdue, report-up, handover, halfmonth, agents, departments, satisfaction, thresholds, complaints, register, coordination, materials.",
                            "县中心报表：overdue 逾期/预警事项、report-up 上报时效、handover 办结/终止移交时效、halfmonth 半月反馈执行、agents 代办员工作量与绩效、departments 部门审批时效与服务评价、satisfaction 满意度与差评回访整改、thresholds 重点项目领导责任、complaints 投诉处置、register 代办项目台账、coordination 协调事项跟踪、materials 材料共享。"))
    @OptionGroup var home: HomeOptions
    @Argument(help: .l("Report name.", "报表名称（如 overdue、register）。")) var name: String
    @Option(help: .l("As of this date (default today).", "统计截至日期（默认今天）。")) var asOf: String?
    @Option(help: .l("Only this township.", "只看该乡镇。")) var township: String?
    @OptionGroup var output: OutputOptions
    func run() throws {
        try runWorkflow {
            guard let report = ReportName(rawValue: name) else {
                throw CLIError(L10n.t(.unknownReport, name, ReportName.allCases.map(\.rawValue).joined(separator: ", ")))
            }
            let wf = try workflow(home)
            let day = try parseDay(asOf) ?? wf.today()
            let g = try wf.report(report, ReportOptions(asOf: day, township: try township.map(wf.townshipID(for:))))
            emit(g, output, title: "\(L10n.t(report.title)) (\(CivilDate.iso(day)))")
            if let w = try wf.calendarWarning(for: day) { note(w) }
        }
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history",
        abstract: L10n.pick("全程留痕: every version of a row's fields with person, device and time — from the server's trail for a centre account, else what this replica holds.",
                            "全程留痕：一条记录各字段的每个版本及其填写人、设备和时间——县中心账号取服务器的留痕记录，其他情况取本副本所存的版本。"))
    @OptionGroup var home: HomeOptions
    @Argument var table: String
    @Argument var id: String
    @Flag(help: .l("Only what this replica holds (no server request).", "只看本副本所存的版本（不访问服务器）。")) var local = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingAsync(home) {
            let replica = try home.open()
            let row = try replica.rowState(table: table, key: id)
            // Values of the versions this replica holds, by (field, writer, clock).
            var values: [String: FieldValue] = [:]
            for (name, state) in row?.fields ?? [:] {
                for v in state.versions { values["\(name)|\(v.writer)|\(v.hlc.rawValue)"] = v.value }
            }
            let directory = deviceDirectory(replica)
            let zone = Workflow.countyZone(replica)
            // Tables in county time; JSON keeps UTC, as everywhere.
            let machine = output.effective == .json || output.effective == .csvKeys
            func stamp(_ h: HLCTimestamp) -> String { machine ? utcTime(h) : countyTime(h, zone) }
            var g = Grid(name: "history", columns: [
                Grid.Column("field", "FIELD", "字段"), Grid.Column("value", "VALUE", "值"), Grid.Column("author", "PERSON", "人员"),
                Grid.Column("device", "DEVICE", "设备"), Grid.Column("time", "TIME (\(machine ? "UTC" : Workflow.zoneName(zone)))", "时间（\(machine ? "UTC" : Workflow.zoneName(zone))）"),
                Grid.Column("delivered_by", "DELIVERED BY", "送达"), Grid.Column("source", "SOURCE", "来源"),
            ])
            func deviceName(_ writer: String) -> String {
                directory[writer].map { "\($0.name) #\($0.id)" } ?? String(writer.prefix(8))
            }
            var fromServer = false
            if !local, let session = try? home.session(), session.role == "center", (try? home.serverSettings()) != nil {
                let lock = open(home.directory + "/sync.lock", O_CREAT | O_RDWR, 0o600)
                if lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 {
                    defer { close(lock) }
                    let connection = try home.connection()
                    let sync = Synchronizer(replica: replica, connection: connection, tokens: session,
                                            saveTokens: { try home.saveSession($0) })
                    sync.retries = 1
                    do {
                        let entries = try await sync.authorized { token in
                            try await connection.history(table: table, row: id, token: token)
                        }
                        for e in entries.reversed() {
                            let hlc = HLCTimestamp(rawValue: e.hlc)
                            g.rows.append([.text(e.field), Grid.Cell(values["\(e.field)|\(e.writer)|\(e.hlc)"]?.displayText),
                                           .text(e.author), .text(deviceName(e.writer)), .text(stamp(hlc)),
                                           .text("\(e.viaUser) #\(e.viaDevice)"), .text("server")])
                        }
                        fromServer = true
                    } catch let e as SyncClientError {
                        note(L10n.t(.historyLocalOnly, localized(e)))
                    }
                    await connection.shutdown()
                }
            }
            if !fromServer {
                guard let row else { throw CLIError(L10n.t(.notFound, table, id)) }
                for (name, state) in row.fields.sorted(by: { $0.key < $1.key }) {
                    for v in state.versions {
                        g.rows.append([.text(name), .text(v.value.displayText), .text(v.author),
                                       .text(deviceName(v.writer.description)), .text(stamp(v.hlc)), .null, .text("replica")])
                    }
                }
                g.rows.sort { ($0[4].display, $0[0].display) < ($1[4].display, $1[0].display) }
            }
            emit(g, output)
        }
    }
}

func sha256Hex(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}
