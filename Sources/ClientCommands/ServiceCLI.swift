import ArgumentParser
import CaseDomain
import CaseWorkflow
import CommandText
import TerminalText

/// `daiban service`: 中介服务 of a case, chased like items.
struct ServiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "service",
        abstract: L10n.pick("中介服务: intermediary work an approval waits for, with the provider the owner chose, timed like items.",
                            "中介服务：审批所需的中介服务（环评、测绘、图审等），记录业主选定的中介机构，按承诺时限像办件一样计时。"),
        subcommands: [Add.self, Done.self, Cancel.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add",
            abstract: L10n.pick("Record a contracted intermediary service.", "登记一项已签约的中介服务。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var caseRef: CaseArgument
        @Option(help: .l("Kind: 环评报告编制, 测绘, 施工图审查, 安全评价, 节能报告编制, 可行性研究报告编制, 地质灾害危险性评估, 水土保持方案编制, 防雷检测, 消防检测, 其他 (or EIA_REPORT … codes, or any text).",
                         "服务类别：环评报告编制、测绘、施工图审查、安全评价、节能报告编制、可行性研究报告编制、地质灾害危险性评估、水土保持方案编制、防雷检测、消防检测、其他（也可填代码 EIA_REPORT 等，或直接填写）。"))
        var kind: String
        @Option(help: .l("The provider the owner chose.", "业主选定的中介机构。")) var provider: String
        @Option(help: .l("The provider's 统一社会信用代码.", "中介机构的统一社会信用代码。")) var providerUscc: String?
        @Option(help: .l("Contract date (default today).", "签约日期（默认今天）。")) var contractOn: String?
        @Option(help: .l("Days the provider committed to.", "中介机构承诺的办理天数。")) var days: Int
        @Option(help: .l("WD (working days, default) or ND (natural days).", "时限单位：WD（工作日，默认）或 ND（自然日）。")) var unit = "WD"
        @Option(help: .l("The plan item that waits for it (CASE.N).", "等待该服务结果的办件（案号.序号）。")) var item: String?
        @Option(help: .l("Note.", "备注。")) var note: String?
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                var input = Workflow.ServiceInput(kind: CodeLabels.code(kind, in: CodeLabels.intermediaryKind), provider: provider,
                                                  committedDays: days)
                input.providerUSCC = providerUscc
                input.contractOn = try parseDay(contractOn)
                input.unit = unit.uppercased() == "工作日" ? "WD" : unit == "自然日" ? "ND" : unit.uppercased()
                input.itemID = try item.map(wf.planItemID(for:))
                input.note = note
                print(try wf.addService(caseID: try wf.caseID(for: caseRef.text), input))
            }
        }
    }

    struct Done: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "done",
            abstract: L10n.pick("The provider delivered.", "中介机构已交付成果。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("The service id, or its case when that case has one open service (with --kind, one of that kind).",
                           "中介服务编号；或其所属代办项目（该项目只有一项进行中的服务时；否则加 --kind 指明类别）。"))
        var service: String
        @Option(help: .l("Which kind, when the case has several open services.", "项目有多项进行中的服务时，指明类别。")) var kind: String?
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let id = try wf.serviceID(for: service, kind: kind)
                try wf.finishService(id: id, delivered: true, on: try on.day())
                print(L10n.t(.updated, id))
            }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel",
            abstract: L10n.pick("The service was cancelled (the owner changed provider, or it is no longer needed).",
                                "取消该中介服务（业主更换中介机构或不再需要）。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("The service id, or its case.", "中介服务编号，或其所属代办项目。")) var service: String
        @Option(help: .l("Which kind, when the case has several open services.", "项目有多项进行中的服务时，指明类别。")) var kind: String?
        @Option(help: .l("Why.", "取消原因。")) var reason: String
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let id = try wf.serviceID(for: service, kind: kind)
                try wf.finishService(id: id, delivered: false, on: nil, note: reason)
                print(L10n.t(.updated, id))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list",
            abstract: L10n.pick("Intermediary services with their timers (one case, or all this replica holds).",
                                "列出中介服务及其时限状态（某个代办项目，或本副本中全部）。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("The case (default: every case).", "代办项目（默认全部）。")) var caseRef: String?
        @Option(help: .l("Judge timers as of this date (default today).", "按此日期判断时限（默认今天）。")) var asOf: String?
        @OptionGroup var output: OutputOptions
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                emit(try wf.services(caseID: try caseRef.map(wf.caseID(for:)), asOf: try parseDay(asOf) ?? wf.today()), output)
            }
        }
    }
}
