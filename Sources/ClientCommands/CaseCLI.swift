import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import SyncCore
import TerminalText
import CommandText

/// Splits `a,b,c`.
func items(_ s: String?) -> [String] {
    (s ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// `FIELD=VALUE` pairs.
func assignments(_ list: [String]) throws -> [String: String] {
    var out: [String: String] = [:]
    for a in list {
        guard let eq = a.firstIndex(of: "="), eq != a.startIndex else { throw CLIError(L10n.t(.badAssignment, a)) }
        out[String(a[..<eq])] = String(a[a.index(after: eq)...])
    }
    return out
}

struct EnterpriseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enterprise", abstract: L10n.pick("项目业主/企业 (enterprises).", "项目业主/企业。"),
                                                    subcommands: [Add.self, Show.self, List.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add",
            abstract: L10n.pick("Add or update an enterprise, keyed by its 统一社会信用代码.",
                                "新增或更新企业（以统一社会信用代码为准）。"))
        @OptionGroup var home: HomeOptions
        @Option(help: .l("统一社会信用代码 (18 characters).", "统一社会信用代码（18 位）。")) var uscc: String
        @Option(help: .l("单位名称.", "单位名称。")) var name: String
        @Argument(help: .l("More FIELD=VALUE: address, nature, legal_rep, operator, email, origin_flags.",
                           "其他字段，写作 FIELD=VALUE：address（地址）、nature（单位性质）、legal_rep（法定代表人）、operator（经办人）、email（电子邮箱）、origin_flags（来源）。")) var fields: [String] = []
        func run() throws {
            try runWorkflow {
                var v = try assignments(fields)
                v["name"] = name
                print(try workflow(home).saveEnterprise(uscc: uscc, v))
            }
        }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show",
            abstract: L10n.pick("Show an enterprise (id or USCC).",
                                "查看企业（id 或统一社会信用代码）。"))
        @OptionGroup var home: HomeOptions
        @Argument var id: String
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let key = id.count == 18 ? stableID("ent", id.uppercased()) : id
                emit(try workflow(home).listTable("enterprise", columns: enterpriseColumns, where: "_key = ?", [key.databaseValue]), output)
            }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("List enterprises.", "列出企业。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow { emit(try workflow(home).listTable("enterprise", columns: enterpriseColumns, orderBy: "name"), output) }
        }
    }
}

let enterpriseColumns = [("name", "NAME", "单位名称"), ("uscc", "USCC", "统一社会信用代码"), ("nature", "NATURE", "单位性质"),
                         ("origin_flags", "ORIGIN", "来源"), ("address", "ADDRESS", "地址")]
let projectColumns = [("name", "NAME", "项目名称"), ("project_code", "CODE", "项目代码"), ("enterprise_id", "ENTERPRISE", "业主"),
                      ("township_id", "TOWNSHIP", "乡镇/园区"), ("category", "CATEGORY", "类别"),
                      ("is_industrial", "INDUSTRIAL", "工业"), ("total_investment_wan", "INVESTMENT (万元)", "总投资(万元)"),
                      ("lead_official_id", "LEAD", "牵头领导"), ("supervising_head_id", "HEAD", "督办负责人")]

struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "project", abstract: L10n.pick("投资项目 (projects).", "投资项目。"),
                                                    subcommands: [Add.self, Show.self, List.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add",
            abstract: L10n.pick("Add or update a project (keyed by enterprise, name and township).",
                                "新增或更新投资项目（按企业、项目名称和乡镇识别）。"))
        @OptionGroup var home: HomeOptions
        @Option(help: .l("Enterprise id or USCC.", "企业 id 或统一社会信用代码。")) var enterprise: String
        @Option(help: .l("项目名称.", "项目名称。")) var name: String
        @Option(help: .l("项目所在地: township id or name (石门乡).", "项目所在地：乡镇 id 或名称（如石门乡）。")) var township: String
        @Argument(help: .l("More FIELD=VALUE: project_code, category, is_industrial, total_investment_wan (万元), is_major, approval_type …",
                           "其他字段，写作 FIELD=VALUE：project_code（项目代码）、category（重点代办类别）、is_industrial（工业项目）、total_investment_wan（总投资，万元）、is_major（重大项目）、approval_type（备案/核准/审批）等。"))
        var fields: [String] = []
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                print(try wf.saveProject(enterprise: enterprise, name: name, township: try wf.townshipID(for: township), assignments(fields)))
            }
        }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: L10n.pick("Show a project.", "查看投资项目。"))
        @OptionGroup var home: HomeOptions
        @Argument var id: String
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow { emit(try workflow(home).listTable("project", columns: projectColumns, where: "_key = ?", [id.databaseValue]), output) }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("List projects.", "列出投资项目。"))
        @OptionGroup var home: HomeOptions
        @Option(help: .l("Only this township.", "只看该乡镇。")) var township: String?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let g = try township.map { try wf.listTable("project", columns: projectColumns, where: "township_id = ?",
                                                            [try wf.townshipID(for: $0).databaseValue]) }
                    ?? wf.listTable("project", columns: projectColumns, orderBy: "name")
                emit(g, output)
            }
        }
    }
}

struct CaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case", abstract: L10n.pick("代办项目: registration to evaluation.", "代办项目：从登记到评价归档。"),
        subcommands: [Register.self, Review.self, Agree.self, Assign.self, Withdraw.self, Show.self, List.self, Find.self, Complete.self,
                      Terminate.self, Handover.self, Evaluate.self])

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "register",
            abstract: L10n.pick("登记: record a 代办登记表; a second registration of the same project is linked as a duplicate.",
                                "登记：录入代办登记表；同一项目再次登记的，作为重复登记关联到原项目。"))
        @OptionGroup var home: HomeOptions
        @Option(help: .l("统一社会信用代码.", "统一社会信用代码。")) var uscc: String
        @Option(help: .l("企业名称.", "企业名称。")) var enterprise: String
        @Option(help: .l("项目名称.", "项目名称。")) var project: String
        @Option(help: .l("项目所在地: township id or name (石门乡).", "项目所在地：乡镇 id 或名称（如石门乡）。")) var township: String
        @Option(help: .l("登记渠道: ONLINE_PORTAL, PHONE, WINDOW, CONTACT_CARD, ASSIGNED_BY_UPPER, DEPT_REFERRAL, FIELD_VISIT.",
                         "登记渠道：网上平台、电话、窗口、代办联系卡、上级交办、部门转办、上门服务（也可填代码 ONLINE_PORTAL 等）。"))
        var channel: String
        @Option(help: .l("委托范围: FULL or PARTIAL.", "委托范围：全程或部分（也可填代码 FULL、PARTIAL）。")) var scope = "FULL"
        @Option(help: .l("Requested 事项 codes (comma-separated).", "申请代办的事项编码（用逗号分隔）。")) var items: String?
        @Option(help: .l("Requested stages (comma-separated).", "申请代办的阶段（用逗号分隔）。")) var stages: String?
        @Option(help: .l("登记编号.", "登记编号。")) var regNo: String?
        @Option(help: .l("项目代码 (24 characters).", "项目代码（24 位）。")) var projectCode: String?
        @Option(help: .l("重点代办类别: DAJIAN_DAMEI, INDUSTRIAL_PLATFORM, INVESTMENT_PROMOTION, OTHER.",
                         "重点代办类别：大建大美、工业平台、招商引资、其他（也可填代码 DAJIAN_DAMEI 等）。")) var category: String?
        @Option(help: .l("工业项目: 是/否.", "是否工业项目：是/否。")) var industrial: YesNo?
        @Option(help: .l("总投资 (万元).", "总投资（万元）。")) var investment: String?
        @Option(help: .l("重大项目: 是/否.", "是否重大项目：是/否。")) var major: YesNo?
        @Option(help: .l("代办联系卡: its number or id.", "代办联系卡：卡号或 id。")) var contactCard: String?
        @Option(help: .l("paper or electronic.", "登记表形式：纸质或电子（也可填 paper、electronic）。")) var form: String?
        @OptionGroup var on: OnDate
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                var input = RegistrationInput(uscc: uscc, enterpriseName: enterprise, projectName: project,
                                              township: try wf.townshipID(for: township),
                                              channel: CodeLabels.code(channel, in: CodeLabels.channel))
                input.scope = CodeLabels.code(scope, in: CodeLabels.scope)
                input.items = CaseWorkflowCLI.list(items)
                input.stages = CaseWorkflowCLI.list(stages)
                input.regNo = regNo
                input.projectCode = projectCode
                input.category = category.map { CodeLabels.code($0, in: CodeLabels.category) }
                input.industrial = industrial?.value
                input.investmentWan = investment
                input.major = major?.value
                input.contactCard = try contactCard.map(wf.cardID(for:))
                input.form = form.map { CodeLabels.code($0, in: CodeLabels.form) }
                input.on = try on.day()
                input.at = try on.time()
                let r = try wf.register(input)
                if json {
                    print(JSON.object([("registration", .string(r.registrationID)), ("case", .string(r.caseID)),
                                       ("duplicate_of", r.duplicateOf.map(JSON.string) ?? .null)]).text)
                } else if let d = r.duplicateOf {
                    print(L10n.t(.registeredDuplicate, r.registrationID, r.caseID, d))
                } else {
                    print(L10n.t(.registered, r.registrationID, r.caseID))
                }
            }
        }
    }

    struct Review: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "review",
            abstract: L10n.pick("审查: pick up, find eligible or reject with a reason.", "审查：开始审查、认定具备申请条件，或不予代办（须说明理由）。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Flag(help: .l("具备申请条件: the case moves to AGREEMENT_PENDING.", "具备申请条件：项目转为“待签协议”。")) var eligible = false
        @Option(help: .l("不予代办, with the reason.", "不予代办，并填写理由。")) var reject: String?
        @Option(help: .l("编号 to give the case.", "给本项目编定的案号。")) var caseNo: String?
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                let decision: Workflow.ReviewDecision = reject.map { .reject($0) } ?? (eligible ? .eligible : .start)
                let s = try wf.review(caseID: caseID, decision, caseNo: caseNo, on: try on.day())
                print(L10n.t(.caseNow, caseID, L10n.chinese ? s.zh : s.rawValue))
            }
        }
    }

    struct Agree: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "agree",
            abstract: L10n.pick("协议: record the 委托代办协议 (free of charge); signed + agent assigned = ACTIVE.",
                                "协议：录入委托代办协议（无偿代办）；协议已签且已指派代办员的，项目进入代办中。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("协议编号 (unique).", "协议编号（不得重复）。")) var code: String
        @Option(help: .l("FULL or PARTIAL.", "委托范围：全程或部分（也可填代码 FULL、PARTIAL）。")) var scope: String
        @Option(help: .l("委托阶段 (comma-separated).", "委托阶段（用逗号分隔）。")) var stages: String?
        @Option(help: .l("委托事项 codes (comma-separated).", "委托事项编码（用逗号分隔）。")) var items: String?
        @Option(help: .l("WAIT_SIGNING, SIGNING, APPLICANT_SIGNING or SIGNED.", "签订状态：待签约、签约中、申请人签约中或已签约（也可填代码 SIGNED 等）。")) var signState = "SIGNED"
        @Option(help: .l("代办费用: only 0 is accepted.", "代办费用：只能填 0（代办不收费）。")) var fee: String?
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                var input = Workflow.AgreementInput(code: code, scope: CodeLabels.code(scope, in: CodeLabels.scope))
                input.stages = CaseWorkflowCLI.list(stages)
                input.items = CaseWorkflowCLI.list(items)
                input.signState = CodeLabels.code(signState, in: CodeLabels.signState)
                input.signedOn = try on.day()
                input.fee = fee
                let s = try wf.agree(caseID: caseID, input)
                print(L10n.t(.caseNow, caseID, L10n.chinese ? s.zh : s.rawValue))
            }
        }
    }

    struct Assign: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "assign",
            abstract: L10n.pick("指派: agent, chief agent, team, liaisons, lead official, supervising head.",
                                "指派：代办员、首席代办员、代办小组、代办联络员、牵头代办领导、督办负责人。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("代办员.", "代办员。")) var agent: String?
        @Option(help: .l("首席代办员.", "首席代办员。")) var chiefAgent: String?
        @Option(help: .l("代办小组 members (comma-separated).", "代办小组成员（用逗号分隔）。")) var team: String?
        @Option(help: .l("代办联络员 (comma-separated).", "代办联络员（用逗号分隔）。")) var liaisons: String?
        @Option(help: .l("牵头代办领导 (乡科级).", "牵头代办领导（乡科级）。")) var leadOfficial: String?
        @Option(help: .l("督办负责人 (县直部门主要负责人).", "督办负责人（县直部门主要负责人）。")) var supervisingHead: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                var a = Workflow.Assignment()
                a.agent = try agent.map(wf.personID(for:))
                a.chiefAgent = try chiefAgent.map(wf.personID(for:))
                a.team = try team.map { try CaseWorkflowCLI.list($0).map(wf.personID(for:)) }
                a.liaisons = try liaisons.map { try CaseWorkflowCLI.list($0).map(wf.personID(for:)) }
                a.leadOfficial = try leadOfficial.map(wf.personID(for:))
                a.supervisingHead = try supervisingHead.map(wf.personID(for:))
                let s = try wf.assign(caseID: caseID, a)
                print(L10n.t(.caseNow, caseID, L10n.chinese ? s.zh : s.rawValue))
            }
        }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "withdraw", abstract: L10n.pick("业主不签协议.", "业主不签协议：项目记为业主撤回。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("Reason.", "原因。")) var reason: String
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                try wf.withdraw(caseID: caseID, reason: reason)
                print(L10n.t(.caseNow, caseID, L10n.chinese ? CaseStatus.withdrawn.zh : "WITHDRAWN"))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show",
            abstract: L10n.pick("Show a case: header, compliance flags, plan items with timers, registrations.",
                                "查看代办项目：基本信息、合规提示、各办件及计时、登记记录。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("Judge timers as of this date (default today).", "按此日期计算时限（默认今天）。")) var asOf: String?
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                let d = try wf.showCase(caseID, asOf: try parseDay(asOf))
                if json {
                    print(JSON.object(d.header.map { ($0.0.key, $0.1.json) } + [
                        ("flags", .array(d.flags.map(JSON.string))), ("items", .array(d.items.rows.map { r in
                            .object(zip(d.items.columns, r).map { ($0.key, $1.json) }) })),
                        ("registrations", .array(d.registrations.rows.map { r in
                            .object(zip(d.registrations.columns, r).map { ($0.key, $1.json) }) })),
                    ]).text)
                    return
                }
                var t = TextTable(header: [L10n.t(.colField), L10n.t(.colValue)])
                for (c, v) in d.header where v != .null { t.rows.append([c.heading, v.display]) }
                print(t.render())
                if !d.flags.isEmpty { print("\(L10n.t(.flags)): \(d.flags.joined(separator: ", "))") }
                emit(d.items, .table, title: "\n" + L10n.t(.planTitle))
                emit(d.registrations, .table, title: "\n" + L10n.t(.registrationsTitle))
                if let w = try wf.calendarWarning(for: try parseDay(asOf) ?? wf.today()) { note(w) }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("代办项目台账, filtered.", "代办项目台账（可筛选）。"))
        @OptionGroup var home: HomeOptions
        @Flag(help: .l("Only cases where I am agent, chief agent or team member.", "只列我担任代办员、首席代办员或代办小组成员的项目。")) var mine = false
        @Option(help: .l("Only this township.", "只看该乡镇。")) var township: String?
        @Option(help: .l("Only this status (REGISTERED, EXECUTING, …).",
                         "只列该状态的项目（如已登记、代办中(组织实施)，也可填代码 REGISTERED、EXECUTING 等）。")) var status: String?
        @Option(help: .l("At most this many rows.", "最多列出的行数。")) var limit: Int?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.listCases(mine: mine, township: try township.map(wf.townshipID(for:)),
                                      status: status.map { CodeLabels.code($0, in: CodeLabels.caseStatus) }, limit: limit), output)
            }
        }
    }

    struct Find: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "find",
            abstract: L10n.t(.findAbstract))
        @OptionGroup var home: HomeOptions
        @Argument(help: ArgumentHelp(L10n.t(.findTextHelp), valueName: "text")) var text: String
        @Option(help: ArgumentHelp(L10n.t(.limitHelp))) var limit = 200
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow { emit(try workflow(home).findCases(text, limit: limit), output) }
        }
    }

    struct Complete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "complete",
            abstract: L10n.pick("办结: all items final; records the 办结单 (handover due in 2 WD).",
                                "办结：各办件均已办结后录入办结单（须在 2 个工作日内移交）。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("办结单编号.", "办结单编号。")) var formNo: String?
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                let due = try wf.complete(caseID: caseID, formNo: formNo, on: try on.day())
                print(L10n.t(.handoverDue, caseID, CivilDate.iso(due)))
            }
        }
    }

    struct Terminate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "terminate",
            abstract: L10n.pick("终止: records the 终止单; open items are cancelled.",
                                "终止：录入终止单；未办结的办件一律取消。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("PROJECT_REASON or CLIENT_REQUEST.", "终止原因：项目原因或委托方要求（也可填代码 PROJECT_REASON、CLIENT_REQUEST）。")) var reasonType: String
        @Option(help: .l("Reason.", "原因。")) var reason: String
        @Option(help: .l("终止单编号.", "终止单编号。")) var formNo: String?
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                let due = try wf.terminate(caseID: caseID, formNo: formNo,
                                           reasonType: CodeLabels.code(reasonType, in: CodeLabels.terminationReason), reason: reason,
                                                       on: try on.day())
                print(L10n.t(.handoverDue, caseID, CivilDate.iso(due)))
            }
        }
    }

    struct Handover: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "handover",
            abstract: L10n.pick("移交: the office receives the 办结单/终止单 (judged by when it happened).",
                                "移交：代办机构收到办结单/终止单（按实际收到时间判断是否按时）。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("When it was received: YYYY-MM-DDTHH:MM or YYYY-MM-DD (default now).",
                         "收到时间：YYYY-MM-DDTHH:MM 或 YYYY-MM-DD（默认现在）。")) var receivedAt: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                let ok = try wf.handover(caseID: caseID, receivedAt: try normalizedMoment(receivedAt))
                print(L10n.t(ok ? .handoverOnTime : .handoverLate, caseID))
            }
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "evaluate",
            abstract: L10n.pick("评价归档: close a completed, handed-over case once the owner and the agent have both evaluated.",
                                "评价归档：已办结并移交的项目，业主和代办员都已评价后归档。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @OptionGroup var on: OnDate
        @Option(help: .l("Close although escalations or meeting resolutions are still open, for this reason (kept in the work log).",
                         "尚有未办结的协调事项或会议决议时仍予归档，并填写理由（记入工作日志）。"))
        var override: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                try wf.closeEvaluated(caseID: caseID, on: try on.day(), override: override)
                print(L10n.t(.caseNow, caseID, L10n.chinese ? CaseStatus.evaluated.zh : "EVALUATED"))
            }
        }
    }
}

/// Namespaced helpers (avoids clashing with `List` subcommand types).
enum CaseWorkflowCLI {
    static func list(_ s: String?) -> [String] { items(s) }
}

/// The case a command works on, named as the clerk has it on paper.
struct CaseArgument: ParsableArguments {
    @Argument(help: ArgumentHelp(L10n.t(.caseArgumentHelp), valueName: "case"))
    var text: String
}
