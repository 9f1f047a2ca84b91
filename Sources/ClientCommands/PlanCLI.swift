import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import SyncCore
import TerminalText

extension ItemStep: ExpressibleByArgument {}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "代办任务分解计划表 (the task plan).",
                                                    subcommands: [Add.self, Show.self, Confirm.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a 事项 to the plan (a PARTIAL agreement limits which).")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "事项编码 from the catalogue.") var item: String
        @Option(help: "Item number in the plan (default next).") var n: Int?
        @Option(help: "代办联络员 (default: the case's liaison of that department).") var liaison: String?
        @Option(help: "Numbers of items this one waits for (comma-separated).") var dependsOn: String?
        @Option(help: "Planned due date.") var plannedDue: String?
        @Option(help: "办件类别 (六件): IMMEDIATE, COMMITTED, JOINT, ANSWERED, SUPPLEMENT, REPORT_UP.") var handlingClass: String?
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
        static let configuration = CommandConfiguration(commandName: "show", abstract: "The plan with due dates and timer states.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "Judge timers as of this date (default today).") var asOf: String?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.showCase(try wf.caseID(for: caseRef.text), asOf: try parseDay(asOf)).items, output)
            }
        }
    }
    struct Confirm: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "confirm", abstract: "The plan is drafted (T8): the case moves to EXECUTING.")
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
        abstract: "办件 steps: dispatch, prepare, submit, accept, refuse, review, supplement, pause, resume, local-done, report-up, decide, cancel, withdraw.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "The step.") var step: ItemStep
    @Argument(help: "Plan item id (CASE.N).") var item: String
    @OptionGroup var on: OnDate
    @Option(help: "pause: SUPPLEMENT, TECH_EVAL, EXPERT, HEARING, SITE_SURVEY, COLLECTIVE_DISCUSSION.") var reason: String?
    @Option(help: "decide: APPROVED, APPROVED_TOLERANCE, DISAPPROVED, ANSWERED.") var result: String?
    @Option(help: "report-up: the upper-level department.") var to: String?
    @Option(help: "report-up: 抄告, departments or offices the report is copied to (comma-separated ids or names).") var cc: String?
    @Option(help: "decide: 批文/证照编号.") var certNo: String?
    @Option(help: "在线平台办件编号.") var platformCaseNo: String?
    @Option(help: "办件类别 after this step.") var handlingClass: String?

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
            let item = try wf.planItemID(for: self.item)
            let s = try wf.itemStep(step, itemID: item, input)
            print(L10n.t(.itemNow, item, L10n.chinese ? s.zh : s.rawValue))
        }
    }
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "工作日志 (append-only).", subcommands: [Add.self, List.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a work-log entry.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "SITE_VISIT, CALL, WECHAT_QQ, SUBMISSION, URGE, SUPERVISE, COORDINATE, CONSULT, HANDOVER.") var kind: String
        @Option(help: "What happened.") var content: String
        @Option(help: "Plan item id.") var item: String?
        @Option(help: "Next action.") var next: String?
        @Option(help: "When it happened (YYYY-MM-DDTHH:MM, default now).") var at: String?
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
        static let configuration = CommandConfiguration(commandName: "list", abstract: "A case's work log.")
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
    static let configuration = CommandConfiguration(commandName: "report-progress", abstract: "半月汇总: progress fed back to the owner for a half-month period.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var caseRef: CaseArgument
    @Option(help: "A date inside the period (default: the period just ended).") var period: String?
    @Option(help: "Delivered on (default today).") var deliveredOn: String?
    @Option(help: "纸质, 微信, 短信 or 平台.") var channel: String?
    @Option(help: "Summary.") var summary: String?
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
    static let configuration = CommandConfiguration(commandName: "meeting", abstract: "联合审批协调会议: record, sign off, resolve.",
                                                    subcommands: [Add.self, Sign.self, Resolve.self, Show.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Record a meeting with attendees and resolutions.")
        @OptionGroup var home: HomeOptions
        @Option(name: .customLong("case"), help: "Case (repeat for several).") var cases: [String]
        @Option(help: "Meeting id (default generated).") var id: String?
        @Option(help: "JOINT_MEETING, JOINT_REVIEW, DIFFICULT_CONSULTATION, JOINT_SITE_SURVEY, JOINT_ACCEPTANCE.") var type = "JOINT_MEETING"
        @Option(help: "Escalation level (E2, E3 …).") var level: String?
        @Option(help: "Date (default today).") var date: String?
        @Option(help: "Venue.") var venue: String?
        @Option(help: "Chair (person id).") var chair: String?
        @Option(help: "ORG:PERSON (repeat).") var attendee: [String] = []
        @Option(help: "TEXT|DEPARTMENT|DUE (repeat).") var resolution: [String] = []
        @Option(help: "Issues discussed.") var issues: String?
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
        static let configuration = CommandConfiguration(commandName: "sign", abstract: "部门负责人签字: sign your attendee line.")
        @OptionGroup var home: HomeOptions
        @Argument var meeting: String
        @Option(help: "The attendee (default: you; the recorder may sign for an attendee who signed on paper).") var person: String?
        @Option(help: "When (default now).") var at: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                try wf.signMeeting(meetingID: meeting, person: try person.map(wf.personID(for:)), at: try normalizedMoment(at))
                print(L10n.t(.signed, meeting))
            }
        }
    }
    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resolve", abstract: "A resolution is carried out.")
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
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Attendees and resolutions of a meeting.")
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
        abstract: "协调/升级 on the ladder E0–E4, EX = 疑难会商; --resolve ID closes one.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "Case (or, with --resolve, the escalation id).") var id: String
    @Option(help: "E0, E1, E2, E3, E4 or EX.") var level: String?
    @Option(help: "Who is asked (office, department, leader).") var target: String?
    @Option(help: "Why.") var reason: String?
    @Option(help: "Plan item id.") var item: String?
    @Option(help: "Meeting id.") var meeting: String?
    @Flag(help: "Close the escalation `id`.") var resolve = false
    @Option(help: "Outcome (with --resolve).") var outcome: String?
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
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "评价 (evaluations, append-only).", subcommands: [Add.self])
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Record an evaluation; a 差评 opens a 回访整改 ticket.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: "OWNER_TO_AGENT, AGENT_TO_DEPARTMENT, OWNER_TO_DEPARTMENT, HAOCHAPING.") var direction: String
        @Option(help: "非常满意, 满意, 基本满意, 不满意, 非常不满意.") var grade: String
        @Option(help: "Person evaluated.") var targetPerson: String?
        @Option(help: "Department evaluated.") var targetDept: String?
        @Option(help: "服务态度 grade.") var attitude: String?
        @Option(help: "办事效率 grade.") var efficiency: String?
        @Option(help: "服务质量 grade.") var quality: String?
        @Flag(help: "Anonymous (not real-name).") var anonymous = false
        @Option(help: "现场评价器, 二维码, 线上, 回访电话.") var channel: String?
        @Option(help: "Comment.") var comment: String?
        @Option(help: "When (YYYY-MM-DD or YYYY-MM-DDTHH:MM, default now).") var at: String?
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
    static let configuration = CommandConfiguration(commandName: "ticket", abstract: "差评回访整改台账.", subcommands: [List.self, Update.self])
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Negative-review tickets.")
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
        static let configuration = CommandConfiguration(commandName: "update", abstract: "核实, 回访, 整改, 反馈, 销号.")
        @OptionGroup var home: HomeOptions
        @Argument var ticket: String
        @Option(help: "差评分类.") var category: String?
        @Option(help: "核实: 是/否.") var verified: YesNo?
        @Option(help: "申诉复核 found it malicious or mistaken: 是/否.") var excluded: YesNo?
        @Option(help: "回访 date.") var callbackOn: String?
        @Option(help: "整改措施.") var action: String?
        @Option(help: "整改完成 date.") var rectifiedOn: String?
        @Option(help: "反馈 date.") var feedbackOn: String?
        @Flag(help: "销号 (close).") var close = false
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
    static let configuration = CommandConfiguration(commandName: "complaint", abstract: "投诉: 受理 → 调查 → 处置 → 反馈 → 归档.",
                                                    subcommands: [Add.self, Update.self, List.self])
    struct Fields: ParsableArguments {
        @Option(help: "Complainant.") var complainant: String?
        @Option(help: "Channel.") var channel: String?
        @Option(help: "AGENT, DEPARTMENT, WINDOW or PERSON.") var targetKind: String?
        @Option(help: "Target id.") var target: String?
        @Option(name: .customLong("case"), help: "Case.") var caseID: String?
        @Option(help: "Content.") var content: String?
        @Option(help: "RECEIVED, INVESTIGATING, DISPOSED, FEEDBACK_GIVEN, ARCHIVED.") var status: String?
        @Option(help: "Findings.") var findings: String?
        @Option(help: "Disposition.") var disposition: String?
        @Option(help: "Upheld (属实): 是/否.") var upheld: YesNo?
        @Option(help: "Applied to 考核: 是/否.") var applied: YesNo?
        @Option(name: .customLong("no"), help: "投诉编号 as on paper (default: the next of rule complaint.number_pattern).") var number: String?
        @Option(help: "类别: 重复提交材料, 办理超时, 服务态度, 违规收费, 廉洁问题, 其他 (or their codes).") var category: String?
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
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Receive a complaint.")
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
        static let configuration = CommandConfiguration(commandName: "update", abstract: "Move a complaint on (never back).")
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
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Complaints.")
        @OptionGroup var home: HomeOptions
        @Option(help: "Judge as of (default today).") var asOf: String?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.report(.complaints, ReportOptions(asOf: try parseDay(asOf) ?? wf.today())), output)
            }
        }
    }
}
