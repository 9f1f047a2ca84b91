import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import TerminalText

extension L10n.Key {
    static let cardIssued = Self(en: "issued contact card {0}", zh: "已发放代办联系卡 {0}")
    static let cardUsed = Self(en: "contact card {0} used by case {1}", zh: "代办联系卡 {0} 已用于项目 {1}")
    static let cardVoided = Self(en: "contact card {0} voided", zh: "代办联系卡 {0} 已作废")
}

struct CardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "card",
        abstract: "代办联系卡: issue to a qualifying enterprise, use at registration, void; list with the case each served.",
        subcommands: [Issue.self, Use.self, Void.self, List.self])

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "issue", abstract: "Record a card a department issued.")
        @OptionGroup var home: HomeOptions
        @Option(name: .customLong("no"), help: "卡号 as printed (default: the next of rule card.number_pattern).") var number: String?
        @Option(help: "Enterprise id or 统一社会信用代码.") var enterprise: String
        @Option(help: "Project id.") var project: String?
        @Option(help: "Issuing department: id or name (招商, 商务 …).") var department: String
        @Option(help: "发卡原因: 政府重大项目 or 招商引资 (GOV_MAJOR, INVESTMENT_PROMOTION).") var reason: String
        @Option(help: "服务类型: 全程免费代办 or 协调督办 (FULL_AGENCY, COORDINATION_SUPERVISION).") var service = "FULL_AGENCY"
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
        static let configuration = CommandConfiguration(commandName: "use", abstract: "The card came with this case's registration.")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The card: its number or id.") var card: String
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
        static let configuration = CommandConfiguration(commandName: "void", abstract: "Void an unused card (lost, issued by mistake).")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The card: its number or id.") var card: String
        func run() throws {
            try runWorkflow {
                let wf = try workflow(home)
                try wf.voidCard(try wf.cardID(for: card))
                print(L10n.t(.cardVoided, card))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Every card, its status and the case it served.")
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws { try runWorkflow { emit(try workflow(home).listCards(), output) } }
    }
}
