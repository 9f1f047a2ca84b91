import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import SyncCore
import TerminalText

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
    static let configuration = CommandConfiguration(commandName: "enterprise", abstract: "项目业主/企业 (enterprises).",
                                                    subcommands: [Add.self, Show.self, List.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add or update an enterprise, keyed by its 统一社会信用代码.")
        @OptionGroup var home: HomeOptions
        @Option(help: "统一社会信用代码 (18 characters).") var uscc: String
        @Option(help: "单位名称.") var name: String
        @Argument(help: "More FIELD=VALUE: address, nature, legal_rep, operator, email, origin_flags.") var fields: [String] = []
        func run() throws {
            try runWorkflow {
                var v = try assignments(fields)
                v["name"] = name
                print(try workflow(home).saveEnterprise(uscc: uscc, v))
            }
        }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an enterprise (id or USCC).")
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
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List enterprises.")
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
    static let configuration = CommandConfiguration(commandName: "project", abstract: "投资项目 (projects).",
                                                    subcommands: [Add.self, Show.self, List.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add or update a project (keyed by enterprise, name and township).")
        @OptionGroup var home: HomeOptions
        @Option(help: "Enterprise id or USCC.") var enterprise: String
        @Option(help: "项目名称.") var name: String
        @Option(help: "项目所在地: township id or name (石门乡).") var township: String
        @Argument(help: "More FIELD=VALUE: project_code, category, is_industrial, total_investment_wan (万元), is_major, approval_type …")
        var fields: [String] = []
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                print(try wf.saveProject(enterprise: enterprise, name: name, township: try wf.townshipID(for: township), assignments(fields)))
            }
        }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a project.")
        @OptionGroup var home: HomeOptions
        @Argument var id: String
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow { emit(try workflow(home).listTable("project", columns: projectColumns, where: "_key = ?", [id.databaseValue]), output) }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List projects.")
        @OptionGroup var home: HomeOptions
        @Option(help: "Only this township.") var township: String?
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
        commandName: "case", abstract: "代办项目: registration to evaluation.",
        subcommands: [Register.self, Review.self, Agree.self, Assign.self, Withdraw.self, Show.self, List.self, Find.self, Complete.self,
                      Terminate.self, Handover.self, Evaluate.self])

    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "register",
            abstract: "登记 (T2): record a 代办登记表; a second registration of the same project is linked as a duplicate.")
        @OptionGroup var home: HomeOptions
        @Option(help: "统一社会信用代码.") var uscc: String
        @Option(help: "企业名称.") var enterprise: String
        @Option(help: "项目名称.") var project: String
        @Option(help: "项目所在地: township id or name (石门乡).") var township: String
        @Option(help: "登记渠道: ONLINE_PORTAL, PHONE, WINDOW, CONTACT_CARD, ASSIGNED_BY_UPPER, DEPT_REFERRAL, FIELD_VISIT.")
        var channel: String
        @Option(help: "委托范围: FULL or PARTIAL.") var scope = "FULL"
        @Option(help: "Requested 事项 codes (comma-separated).") var items: String?
        @Option(help: "Requested stages (comma-separated).") var stages: String?
        @Option(help: "登记编号.") var regNo: String?
        @Option(help: "项目代码 (24 characters).") var projectCode: String?
        @Option(help: "重点代办类别: DAJIAN_DAMEI, INDUSTRIAL_PLATFORM, INVESTMENT_PROMOTION, OTHER.") var category: String?
        @Option(help: "工业项目: 是/否.") var industrial: YesNo?
        @Option(help: "总投资 (万元).") var investment: String?
        @Option(help: "重大项目: 是/否.") var major: YesNo?
        @Option(help: "代办联系卡: its number or id.") var contactCard: String?
        @Option(help: "paper or electronic.") var form: String?
        @OptionGroup var on: OnDate
        @Flag(help: "Print as JSON.") var json = false
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
            abstract: "审查: pick up (T3), find eligible (T5) or reject with a reason (T4).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Flag(help: "具备申请条件: the case moves to AGREEMENT_PENDING.") var eligible = false
        @Option(help: "不予代办, with the reason.") var reject: String?
        @Option(help: "编号 to give the case.") var caseNo: String?
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
        static let configuration = CommandConfiguration(commandName: "agree", abstract: "协议: record the 委托代办协议 (free of charge); signed + agent assigned = ACTIVE (T6).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "协议编号 (unique).") var code: String
        @Option(help: "FULL or PARTIAL.") var scope: String
        @Option(help: "委托阶段 (comma-separated).") var stages: String?
        @Option(help: "委托事项 codes (comma-separated).") var items: String?
        @Option(help: "WAIT_SIGNING, SIGNING, APPLICANT_SIGNING or SIGNED.") var signState = "SIGNED"
        @Option(help: "代办费用: only 0 is accepted.") var fee: String?
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
        static let configuration = CommandConfiguration(commandName: "assign", abstract: "指派: agent, chief agent, team, liaisons, lead official, supervising head.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "代办员.") var agent: String?
        @Option(help: "首席代办员.") var chiefAgent: String?
        @Option(help: "代办小组 members (comma-separated).") var team: String?
        @Option(help: "代办联络员 (comma-separated).") var liaisons: String?
        @Option(help: "牵头代办领导 (乡科级).") var leadOfficial: String?
        @Option(help: "督办负责人 (县直部门主要负责人).") var supervisingHead: String?
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
        static let configuration = CommandConfiguration(commandName: "withdraw", abstract: "业主不签协议 (T7).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "Reason.") var reason: String
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
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a case: header, compliance flags, plan items with timers, registrations.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "Judge timers as of this date (default today).") var asOf: String?
        @Flag(help: "Print as JSON.") var json = false
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
        static let configuration = CommandConfiguration(commandName: "list", abstract: "代办项目台账, filtered.")
        @OptionGroup var home: HomeOptions
        @Flag(help: "Only cases where I am agent, chief agent or team member.") var mine = false
        @Option(help: "Only this township.") var township: String?
        @Option(help: "Only this status (REGISTERED, EXECUTING, …).") var status: String?
        @Option(help: "At most this many rows.") var limit: Int?
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
        static let configuration = CommandConfiguration(commandName: "complete", abstract: "办结 (T13): all items final; records the 办结单 (handover due in 2 WD).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "办结单编号.") var formNo: String?
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
        static let configuration = CommandConfiguration(commandName: "terminate", abstract: "终止 (T14): records the 终止单; open items are cancelled.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "PROJECT_REASON or CLIENT_REQUEST.") var reasonType: String
        @Option(help: "Reason.") var reason: String
        @Option(help: "终止单编号.") var formNo: String?
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
        static let configuration = CommandConfiguration(commandName: "handover", abstract: "移交 (T15): the office receives the 办结单/终止单 (judged by when it happened).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "When it was received: YYYY-MM-DDTHH:MM or YYYY-MM-DD (default now).") var receivedAt: String?
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
        static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "评价归档 (T16): close a completed, handed-over case once the owner and the agent have both evaluated.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @OptionGroup var on: OnDate
        @Option(help: "Close although escalations or meeting resolutions are still open, for this reason (kept in the work log).")
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
