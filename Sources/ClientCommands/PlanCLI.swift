import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import SyncCore
import TerminalText
import CommandText

extension ItemStep: ExpressibleByArgument {}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: L10n.pick("代办任务分解计划表 (the task plan).", "代办任务分解计划表。"),
                                                    subcommands: [Add.self, Show.self, Confirm.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add",
            abstract: L10n.pick("Add a 事项 to the plan (a PARTIAL agreement limits which).",
                                "向计划表添加事项（部分委托的，限于协议约定的事项）。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("事项编码 from the catalogue.", "事项目录中的事项编码。")) var item: String
        @Option(help: .l("Item number in the plan (default next).", "办件在计划表中的序号（默认顺延）。")) var n: Int?
        @Option(help: .l("代办联络员 (default: the case's liaison of that department).", "代办联络员（默认：本项目在该部门的联络员）。")) var liaison: String?
        @Option(help: .l("Numbers of items this one waits for (comma-separated).", "本办件须等待的前置办件序号（用逗号分隔）。")) var dependsOn: String?
        @Option(help: .l("Planned due date.", "计划完成日期。")) var plannedDue: String?
        @Option(help: .l("办件类别 (六件): IMMEDIATE, COMMITTED, JOINT, ANSWERED, SUPPLEMENT, REPORT_UP.",
                         "办件类别（六件）：即办件、承诺件、联办件、答复件、补正件、上报件（也可填代码 IMMEDIATE 等）。")) var handlingClass: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                var input = PlanItemInput(catalogueCode: item)
                input.n = n
                input.liaison = try liaison.map(wf.personID(for:))
                input.dependsOn = items(dependsOn).compactMap(Int.init)
                input.plannedDue = try parseDay(plannedDue)
                input.handlingClass = handlingClass.map { CodeLabels.code($0, in: CodeLabels.handlingClass) }
                print(try wf.addPlanItem(caseID: caseID, input))
            }
        }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show",
            abstract: L10n.pick("The plan with due dates and timer states.",
                                "查看计划表：各办件的期限和计时状态。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("Judge timers as of this date (default today).", "按此日期计算时限（默认今天）。")) var asOf: String?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.showCase(try wf.caseID(for: caseRef.text), asOf: try parseDay(asOf)).items, output)
            }
        }
    }
    struct Confirm: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "confirm",
            abstract: L10n.pick("The plan is drafted: the case moves to EXECUTING.",
                                "计划表已制定：项目转入代办中(组织实施)。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                try wf.confirmPlan(caseID: caseID, on: try on.day())
                print(L10n.t(.caseNow, caseID, L10n.chinese ? CaseStatus.executing.zh : "EXECUTING"))
            }
        }
    }
}

struct ItemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "item",
        abstract: L10n.pick("办件 steps: dispatch, prepare, submit, accept, refuse, review, supplement, pause, resume, local-done, report-up, decide, cancel, withdraw.",
                            "办件环节：dispatch 派单、prepare 准备材料、submit 申报、accept 受理、refuse 不予受理、review 审查、supplement 补正、pause 暂停计时、resume 恢复计时、local-done 本级办结、report-up 上报、decide 办结决定、cancel 取消、withdraw 撤件。"))
    @OptionGroup var home: HomeOptions
    @Argument(help: .l("The step.", "办理环节，如 submit（申报）、accept（受理）、decide（办结决定）。")) var step: ItemStep
    @Argument(help: .l("Plan item id (CASE.N).", "办件编号（CASE.N）。")) var item: String
    @OptionGroup var on: OnDate
    @Option(help: .l("pause: SUPPLEMENT, TECH_EVAL, EXPERT, HEARING, SITE_SURVEY, COLLECTIVE_DISCUSSION.",
                     "pause 的原因：补正、技术审查、专家评审、听证、现场勘察、集体讨论（也可填代码 TECH_EVAL 等）。")) var reason: String?
    @Option(help: .l("decide: APPROVED, APPROVED_TOLERANCE, DISAPPROVED, ANSWERED.",
                     "decide 的结果：通过、容缺通过、不予通过、已答复（也可填代码 APPROVED 等）。")) var result: String?
    @Option(help: .l("report-up: the upper-level department.", "report-up 时：接收上报的上级部门。")) var to: String?
    @Option(help: .l("report-up: 抄告, departments or offices the report is copied to (comma-separated ids or names).",
                     "report-up 时：抄告的部门或机构（id 或名称，用逗号分隔）。")) var cc: String?
    @Option(help: .l("decide: 批文/证照编号.", "decide 时：批文/证照编号。")) var certNo: String?
    @Option(help: .l("在线平台办件编号.", "在线平台办件编号。")) var platformCaseNo: String?
    @Option(help: .l("办件类别 after this step.", "本环节之后的办件类别。")) var handlingClass: String?
    @Option(help: .l("supplement: the 一次性告知 list of missing materials, separated by ； or , (default: the required materials not yet provided).",
                     "supplement 时：一次性告知的尚缺材料，用“；”或逗号分隔（默认：应交而尚未提交的材料）。")) var missing: String?
    @Option(help: .l("supplement: the notice's number as printed.", "supplement 时：一次性告知书编号。")) var noticeNo: String?

    func run() throws {
        try runWorkflow {
            var input = ItemStepInput()
            input.on = try on.day()
            input.reason = reason.map { CodeLabels.code($0, in: CodeLabels.pauseReason) }
            input.result = result.map { CodeLabels.code($0, in: CodeLabels.decision) }
            input.to = to
            let wf = try workflow(home)
            input.cc = try items(cc).map(wf.departmentID(for:))
            input.certNo = certNo
            input.platformCaseNo = platformCaseNo
            input.handlingClass = handlingClass.map { CodeLabels.code($0, in: CodeLabels.handlingClass) }
            input.missing = missing.map(Materials.list)
            input.noticeNo = noticeNo
            let item = try wf.planItemID(for: self.item)
            let s = try wf.itemStep(step, itemID: item, input)
            print(L10n.t(.itemNow, item, L10n.chinese ? s.zh : s.rawValue))
            if step == .supplement, let notice = try wf.latestSupplementNotice(itemID: item) {
                print(L10n.t(.supplementNotice, notice.isEmpty ? L10n.t(.noRows) : Materials.joined(notice)))
            }
        }
    }
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log",
        abstract: L10n.pick("工作日志 (append-only).",
                            "工作日志（只增不改）。"), subcommands: [Add.self, List.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: L10n.pick("Add a work-log entry.", "记一条工作日志。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("SITE_VISIT, CALL, WECHAT_QQ, SUBMISSION, URGE, SUPERVISE, COORDINATE, CONSULT, HANDOVER.",
                         "类别：现场走访、电话联系、微信QQ、递交材料、催办、督办、协调、咨询、移交（也可填代码 SITE_VISIT 等）。")) var kind: String
        @Option(help: .l("What happened.", "工作内容。")) var content: String
        @Option(help: .l("Plan item id.", "办件编号。")) var item: String?
        @Option(help: .l("Next action.", "下一步工作。")) var next: String?
        @Option(help: .l("When it happened (YYYY-MM-DDTHH:MM, default now).", "发生时间（YYYY-MM-DDTHH:MM，默认现在）。")) var at: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                print(try wf.addLog(caseID: caseID, kind: CodeLabels.code(kind, in: CodeLabels.logKind), content: content, itemID: try item.map(wf.planItemID(for:)),
                                    nextAction: next, occurredAt: try normalizedMoment(at)))
            }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("A case's work log.", "查看代办项目的工作日志。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                let zone = Workflow.zoneName(wf.zone)
                emit(try wf.listTable("work_log", columns: [
                    ("occurred_at", "AT (\(zone))", "时间（\(zone)）"), ("author_id", "BY", "记录人"), ("kind", "KIND", "类型"),
                    ("plan_item_id", "ITEM", "办件"), ("content", "CONTENT", "内容"), ("next_action", "NEXT", "下一步"),
                ], where: "case_id = ?", [caseID.databaseValue], orderBy: "occurred_at, _key"), output)
            }
        }
    }
}

struct ReportProgress: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report-progress",
        abstract: L10n.pick("半月汇总: progress fed back to the owner for a half-month period.",
                            "半月汇总：登记向业主反馈的半月代办进展。"))
    @OptionGroup var home: HomeOptions
    @OptionGroup var caseRef: CaseArgument
    @Option(help: .l("A date inside the period (default: the period just ended).", "所属半月内的任一日期（默认：刚结束的半月）。")) var period: String?
    @Option(help: .l("Delivered on (default today).", "反馈日期（默认今天）。")) var deliveredOn: String?
    @Option(help: .l("纸质, 微信, 短信 or 平台.", "反馈方式：纸质、微信、短信或平台。")) var channel: String?
    @Option(help: .l("Summary.", "进展摘要。")) var summary: String?
    func run() throws {
        try runWorkflow {
            let wf = try workflow(home)
            let caseID = try wf.caseID(for: caseRef.text)
            let p = try wf.reportProgress(caseID: caseID, periodOf: try parseDay(period),
                                                      deliveredOn: try parseDay(deliveredOn), channel: channel, summary: summary)
            print(L10n.t(.progressRecorded, caseID, CivilDate.iso(p.start), CivilDate.iso(p.end)))
        }
    }
}

struct MeetingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meeting",
        abstract: L10n.pick("联合审批协调会议: record, sign off, resolve.",
                            "联合审批协调会议：记录会议、签字、落实决议。"),
                                                    subcommands: [Add.self, Sign.self, Resolve.self, Show.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add",
            abstract: L10n.pick("Record a meeting with attendees and resolutions.",
                                "记录一次会议及其参会人员和决议。"))
        @OptionGroup var home: HomeOptions
        @Option(name: .customLong("case"), help: .l("Case (repeat for several).", "代办项目（涉及多个项目的，重复此选项）。")) var cases: [String]
        @Option(help: .l("Meeting id (default generated).", "会议编号（默认自动生成）。")) var id: String?
        @Option(help: .l("JOINT_MEETING, JOINT_REVIEW, DIFFICULT_CONSULTATION, JOINT_SITE_SURVEY, JOINT_ACCEPTANCE.",
                         "会议类型：联席会议、联合审查、疑难会商、联合踏勘、联合验收（也可填代码 JOINT_MEETING 等）。")) var type = "JOINT_MEETING"
        @Option(help: .l("Escalation level (E2, E3 …).", "协调层级（E2、E3 …）。")) var level: String?
        @Option(help: .l("Date (default today).", "日期（默认今天）。")) var date: String?
        @Option(help: .l("Venue.", "会议地点。")) var venue: String?
        @Option(help: .l("Chair (person id).", "主持人（人员 id）。")) var chair: String?
        @Option(help: .l("ORG:PERSON (repeat).", "参会人员，写作 ORG:PERSON（单位:人员，可重复）。")) var attendee: [String] = []
        @Option(help: .l("TEXT|DEPARTMENT|DUE (repeat).", "会议决议，写作 TEXT|DEPARTMENT|DUE（决议|责任部门|期限，可重复）。")) var resolution: [String] = []
        @Option(help: .l("Issues discussed.", "议题。")) var issues: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                var input = MeetingInput(caseIDs: try cases.map(wf.caseID(for:)))
                input.id = id
                input.type = CodeLabels.code(type, in: CodeLabels.meetingType)
                input.level = level
                input.date = try parseDay(date)
                input.venue = venue
                input.chair = try chair.map(wf.personID(for:))
                input.issues = issues
                input.attendees = try attendee.map {
                    let p = $0.split(separator: ":", maxSplits: 1).map(String.init)
                    guard p.count == 2 else { throw CLIError(L10n.t(.badAttendee, $0)) }
                    return (try wf.departmentID(for: p[0]), try wf.personID(for: p[1]))
                }
                input.resolutions = try resolution.map {
                    let p = $0.split(separator: "|").map(String.init)
                    guard p.count == 3, let due = CivilDate.days(p[2]) else { throw CLIError(L10n.t(.badResolution, $0)) }
                    return (p[0], try wf.departmentID(for: p[1]), due)
                }
                print(try wf.addMeeting(input))
            }
        }
    }
    struct Sign: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sign",
            abstract: L10n.pick("部门负责人签字: sign your attendee line.",
                                "部门负责人签字：在本人的参会栏签字。"))
        @OptionGroup var home: HomeOptions
        @Argument var meeting: String
        @Option(help: .l("The attendee (default: you; the recorder may sign for an attendee who signed on paper).",
                         "参会人员（默认：本人；已在纸质签到表签字的，记录人可代为登记）。")) var person: String?
        @Option(help: .l("When (default now).", "时间（默认现在）。")) var at: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                try wf.signMeeting(meetingID: meeting, person: try person.map(wf.personID(for:)), at: try normalizedMoment(at))
                print(L10n.t(.signed, meeting))
            }
        }
    }
    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resolve", abstract: L10n.pick("A resolution is carried out.", "登记会议决议已落实。"))
        @OptionGroup var home: HomeOptions
        @Argument var resolution: String
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                try workflow(home).resolveResolution(resolution, on: try on.day())
                print(L10n.t(.doneMsg, resolution))
            }
        }
    }
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show",
            abstract: L10n.pick("Attendees and resolutions of a meeting.",
                                "查看会议的参会人员和决议。"))
        @OptionGroup var home: HomeOptions
        @Argument var meeting: String
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.listTable("meeting_attendee", columns: [("org", "ORG", "单位"), ("person_id", "PERSON", "人员"),
                                                                   ("signed", "SIGNED", "已签字"), ("signed_at", "AT", "签字时间")],
                                      where: "meeting_id = ?", [meeting.databaseValue]), output)
                emit(try wf.listTable("meeting_resolution", columns: [("text", "RESOLUTION", "决议"),
                                                                     ("responsible_department_id", "DEPARTMENT", "责任部门"),
                                                                     ("due", "DUE", "期限"), ("status", "STATUS", "状态"), ("done_on", "DONE", "完成")],
                                      where: "meeting_id = ?", [meeting.databaseValue]), output)
            }
        }
    }
}

struct Escalate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "escalate",
        abstract: L10n.pick("协调/升级 on the ladder E0–E4, EX = 疑难会商; --resolve ID closes one.", "协调/升级：按 E0–E4 逐级协调，EX 为疑难会商；--resolve ID 办结一条协调事项。"))
    @OptionGroup var home: HomeOptions
    @Argument(help: .l("Case (or, with --resolve, the escalation id).", "代办项目（用 --resolve 时为协调事项编号）。")) var id: String
    @Option(help: .l("E0, E1, E2, E3, E4 or EX.", "协调层级：E0、E1、E2、E3、E4 或 EX（疑难会商）。")) var level: String?
    @Option(help: .l("Who is asked (office, department, leader).", "协调对象（代办机构、部门或领导）。")) var target: String?
    @Option(help: .l("Why.", "协调原因。")) var reason: String?
    @Option(help: .l("Plan item id.", "办件编号。")) var item: String?
    @Option(help: .l("Meeting id.", "会议编号。")) var meeting: String?
    @Flag(help: .l("Close the escalation `id`.", "办结协调事项 `id`。")) var resolve = false
    @Option(help: .l("Outcome (with --resolve).", "协调结果（与 --resolve 同用）。")) var outcome: String?
    @OptionGroup var on: OnDate
    func run() throws {
        try runWorkflow {
            let wf = try workflow(home)
            if resolve {
                try wf.resolveEscalation(id, outcome: outcome, on: try on.day())
                print(L10n.t(.doneMsg, id))
                return
            }
            guard let level else { throw CLIError(L10n.t(.needLevel)) }
            print(try wf.escalate(caseID: try wf.caseID(for: id), level: level, target: target, reason: reason,
                                  itemID: try item.map(wf.planItemID(for:)), meetingID: meeting,
                                  on: try on.day()))
        }
    }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval",
        abstract: L10n.pick("评价 (evaluations, append-only).",
                            "评价（只增不改）。"), subcommands: [Add.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add",
            abstract: L10n.pick("Record an evaluation; a 差评 opens a 回访整改 ticket.",
                                "登记一条评价；差评自动建立回访整改台账。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("OWNER_TO_AGENT, AGENT_TO_DEPARTMENT, OWNER_TO_DEPARTMENT, HAOCHAPING.",
                         "评价方向：业主评代办员、代办员评部门、业主评部门、好差评（也可填代码 OWNER_TO_AGENT 等）。")) var direction: String
        @Option(help: .l("非常满意, 满意, 基本满意, 不满意, 非常不满意.", "评价等级：非常满意、满意、基本满意、不满意、非常不满意。")) var grade: String
        @Option(help: .l("Person evaluated.", "被评价人员。")) var targetPerson: String?
        @Option(help: .l("Department evaluated.", "被评价部门。")) var targetDept: String?
        @Option(help: .l("服务态度 grade.", "服务态度评价等级。")) var attitude: String?
        @Option(help: .l("办事效率 grade.", "办事效率评价等级。")) var efficiency: String?
        @Option(help: .l("服务质量 grade.", "服务质量评价等级。")) var quality: String?
        @Flag(help: .l("Anonymous (not real-name).", "匿名评价（非实名）。")) var anonymous = false
        @Option(help: .l("现场评价器, 二维码, 线上, 回访电话.", "评价渠道：现场评价器、二维码、线上、回访电话。")) var channel: String?
        @Option(help: .l("Comment.", "评价意见。")) var comment: String?
        @Option(help: .l("When (YYYY-MM-DD or YYYY-MM-DDTHH:MM, default now).", "时间（YYYY-MM-DD 或 YYYY-MM-DDTHH:MM，默认现在）。")) var at: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                var input = EvaluationInput(direction: CodeLabels.code(direction, in: CodeLabels.direction), grade: grade)
                input.targetPerson = try targetPerson.map(wf.personID(for:))
                input.targetDepartment = try targetDept.map(wf.departmentID(for:))
                input.attitude = attitude
                input.efficiency = efficiency
                input.quality = quality
                input.realName = !anonymous
                input.channel = channel
                input.comment = comment
                input.occurredAt = try normalizedMoment(at)
                let r = try wf.addEvaluation(caseID: caseID, input)
                print(r.evaluation)
                if let t = r.ticket { print(L10n.t(.ticketOpened, t)) }
            }
        }
    }
}

struct TicketCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ticket",
        abstract: L10n.pick("差评回访整改台账.",
                            "差评回访整改台账。"), subcommands: [List.self, Update.self])
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("Negative-review tickets.", "列出差评回访整改台账。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                emit(try workflow(home).listTable("ticket", columns: [
                    ("ticket_no", "NO", "编号"), ("case_id", "CASE", "代办项目"), ("evaluation_id", "EVALUATION", "评价"), ("responsible", "RESPONSIBLE", "责任方"),
                    ("verified", "VERIFIED", "核实"), ("callback_at", "CALLBACK", "回访"), ("action", "ACTION", "整改措施"),
                    ("rectification_due", "DUE", "整改期限"), ("rectified_at", "RECTIFIED", "整改完成"), ("status", "STATUS", "状态"),
                ]), output)
            }
        }
    }
    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update", abstract: L10n.pick("核实, 回访, 整改, 反馈, 销号.", "登记核实、回访、整改、反馈、销号。"))
        @OptionGroup var home: HomeOptions
        @Argument var ticket: String
        @Option(help: .l("差评分类.", "差评分类。")) var category: String?
        @Option(help: .l("核实: 是/否.", "是否已核实：是/否。")) var verified: YesNo?
        @Option(help: .l("申诉复核 found it malicious or mistaken: 是/否.", "经申诉复核认定为恶意或误评：是/否。")) var excluded: YesNo?
        @Option(help: .l("回访 date.", "回访日期。")) var callbackOn: String?
        @Option(help: .l("整改措施.", "整改措施。")) var action: String?
        @Option(help: .l("整改完成 date.", "整改完成日期。")) var rectifiedOn: String?
        @Option(help: .l("反馈 date.", "反馈日期。")) var feedbackOn: String?
        @Flag(help: .l("销号 (close).", "销号。")) var close = false
        func run() throws {
            try runWorkflow {
                var u = Workflow.TicketUpdate()
                u.category = category
                u.verified = verified?.value
                u.maliciousOrMistaken = excluded?.value
                u.callbackOn = try parseDay(callbackOn)
                u.action = action
                u.rectifiedOn = try parseDay(rectifiedOn)
                u.feedbackOn = try parseDay(feedbackOn)
                u.close = close
                let wf = try workflow(home)
                try wf.updateTicket(try wf.ticketID(for: ticket), u)
                print(L10n.t(.updated, ticket))
            }
        }
    }
}

struct ComplaintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "complaint",
        abstract: L10n.pick("投诉: 受理 → 调查 → 处置 → 反馈 → 归档.",
                            "投诉：受理 → 调查 → 处置 → 反馈 → 归档。"),
                                                    subcommands: [Add.self, Update.self, List.self])
    struct Fields: ParsableArguments {
        @Option(help: .l("Complainant.", "投诉人。")) var complainant: String?
        @Option(help: .l("Channel.", "投诉渠道。")) var channel: String?
        @Option(help: .l("AGENT, DEPARTMENT, WINDOW or PERSON.", "投诉对象类型：代办员、部门、窗口或个人（也可填代码 AGENT 等）。")) var targetKind: String?
        @Option(help: .l("Target id.", "投诉对象 id。")) var target: String?
        @Option(name: .customLong("case"), help: .l("Case.", "代办项目。")) var caseID: String?
        @Option(help: .l("Content.", "投诉内容。")) var content: String?
        @Option(help: .l("RECEIVED, INVESTIGATING, DISPOSED, FEEDBACK_GIVEN, ARCHIVED.",
                         "办理状态：已受理、调查中、已处置、已反馈、已归档（也可填代码 RECEIVED 等）。")) var status: String?
        @Option(help: .l("Findings.", "调查结果。")) var findings: String?
        @Option(help: .l("Disposition.", "处置意见。")) var disposition: String?
        @Option(help: .l("Upheld (属实): 是/否.", "投诉是否属实：是/否。")) var upheld: YesNo?
        @Option(help: .l("Applied to 考核: 是/否.", "是否纳入考核：是/否。")) var applied: YesNo?
        @Option(name: .customLong("no"), help: .l("投诉编号 as on paper (default: the next of rule complaint.number_pattern).",
                                                  "投诉编号，按纸质件填写（默认：按规则 complaint.number_pattern 取下一个号）。")) var number: String?
        @Option(help: .l("类别: 重复提交材料, 办理超时, 服务态度, 违规收费, 廉洁问题, 其他 (or their codes).",
                         "类别：重复提交材料、办理超时、服务态度、违规收费、廉洁问题、其他（也可填代码）。")) var category: String?
        @OptionGroup var on: OnDate
        func input(_ wf: Workflow) throws -> Workflow.ComplaintInput {
            var i = Workflow.ComplaintInput()
            i.complainant = complainant
            i.channel = channel
            i.targetKind = targetKind.map { CodeLabels.code($0, in: CodeLabels.complaintTarget) }
            i.targetID = target
            i.caseID = try caseID.map(wf.caseID(for:))
            i.content = content
            i.status = status.map { CodeLabels.code($0, in: CodeLabels.complaintStatus) }
            i.findings = findings
            i.disposition = disposition
            i.upheld = upheld?.value
            i.appliedToAssessment = applied?.value
            i.number = number
            i.category = category.map { CodeLabels.code($0, in: CodeLabels.complaintCategory) }
            i.on = try on.day()
            i.at = try on.time()
            return i
        }
    }
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: L10n.pick("Receive a complaint.", "受理投诉。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var fields: Fields
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let key = try wf.saveComplaint(id: nil, fields.input(wf))
                let number: String? = try wf.read { try $0.row("complaint", key)?["complaint_no"] }
                print([number, key].compactMap { $0 }.joined(separator: " "))
            }
        }
    }
    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "update",
            abstract: L10n.pick("Move a complaint on (never back).",
                                "推进投诉办理（只能向前，不能回退）。"))
        @OptionGroup var home: HomeOptions
        @Argument var id: String
        @OptionGroup var fields: Fields
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                _ = try wf.saveComplaint(id: try wf.complaintID(for: id), fields.input(wf))
                print(L10n.t(.updated, id))
            }
        }
    }
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("Complaints.", "列出投诉。"))
        @OptionGroup var home: HomeOptions
        @Option(help: .l("Judge as of (default today).", "按此日期判断（默认今天）。")) var asOf: String?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.report(.complaints, ReportOptions(asOf: try parseDay(asOf) ?? wf.today())), output)
            }
        }
    }
}
