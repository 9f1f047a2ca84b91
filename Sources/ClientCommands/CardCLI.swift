import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import TerminalText
import CommandText

extension L10n.Key {
    static let cardIssued = Self(en: "issued contact card {0}", zh: "已发放代办联系卡 {0}")
    static let cardUsed = Self(en: "contact card {0} used by case {1}", zh: "代办联系卡 {0} 已用于项目 {1}")
    static let cardVoided = Self(en: "contact card {0} voided", zh: "代办联系卡 {0} 已作废")
}

struct CardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "card",
        abstract: L10n.pick("代办联系卡: issue to a qualifying enterprise, use at registration, void; list with the case each served.",
                            "代办联系卡：向符合条件的企业发放、登记时使用、作废；列出各卡及其服务的代办项目。"),
        subcommands: [Issue.self, Use.self, Void.self, List.self])

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "issue",
            abstract: L10n.pick("Record a card a department issued.",
                                "登记部门发放的代办联系卡。"))
        @OptionGroup var home: HomeOptions
        @Option(name: .customLong("no"), help: .l("卡号 as printed (default: the next of rule card.number_pattern).",
                                                  "卡号，按卡面填写（默认：按规则 card.number_pattern 取下一个号）。")) var number: String?
        @Option(help: .l("Enterprise id or 统一社会信用代码.", "企业 id 或统一社会信用代码。")) var enterprise: String
        @Option(help: .l("Project id.", "项目 id。")) var project: String?
        @Option(help: .l("Issuing department: id or name (招商, 商务 …).", "发卡部门：部门 id 或名称（如招商、商务等）。")) var department: String
        @Option(help: .l("发卡原因: 政府重大项目 or 招商引资 (GOV_MAJOR, INVESTMENT_PROMOTION).",
                         "发卡原因：政府重大项目或招商引资（也可填代码 GOV_MAJOR、INVESTMENT_PROMOTION）。")) var reason: String
        @Option(help: .l("服务类型: 全程免费代办 or 协调督办 (FULL_AGENCY, COORDINATION_SUPERVISION).",
                         "服务类型：全程免费代办或协调督办（也可填代码 FULL_AGENCY、COORDINATION_SUPERVISION）。")) var service = "FULL_AGENCY"
        @OptionGroup var on: OnDate
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                var input = CardInput(enterprise: enterprise, issuedByDepartment: try wf.departmentID(for: department),
                                      reason: CodeLabels.code(reason, in: ContactCardLabels.reason),
                                      serviceType: CodeLabels.code(service, in: ContactCardLabels.serviceType))
                input.number = number
                input.project = project
                input.on = try on.day()
                print(L10n.t(.cardIssued, try wf.issueCard(input).number))
            }
        }
    }

    struct Use: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "use",
            abstract: L10n.pick("The card came with this case's registration.",
                                "该代办联系卡随本项目登记一并提交，记为已使用。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("The card: its number or id.", "代办联系卡：卡号或 id。")) var card: String
        @OptionGroup var caseRef: CaseArgument
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                let caseID = try wf.caseID(for: caseRef.text)
                try wf.useCard(try wf.cardID(for: card), caseID: caseID)
                print(L10n.t(.cardUsed, card, caseID))
            }
        }
    }

    struct Void: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "void",
            abstract: L10n.pick("Void an unused card (lost, issued by mistake).",
                                "作废未使用的代办联系卡（遗失、误发）。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("The card: its number or id.", "代办联系卡：卡号或 id。")) var card: String
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                try wf.voidCard(try wf.cardID(for: card))
                print(L10n.t(.cardVoided, card))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list",
            abstract: L10n.pick("Every card, its status and the case it served.",
                                "列出全部代办联系卡及其状态和所服务的代办项目。"))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws { try runWorkflow { emit(try workflow(home).listCards(), output) } }
    }
}
