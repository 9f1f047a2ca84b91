public import CaseDomain
import Foundation
import GRDB
import SyncCore
public import TerminalText

extension L10n.Key {
    static let whatCard = Self(en: "contact card", zh: "代办联系卡")
    static let whatEnterprise = Self(en: "enterprise", zh: "企业")
    static let whatProject = Self(en: "project", zh: "项目")
    static let cardNumberTaken = Self(en: "contact card number {0} is already issued", zh: "代办联系卡号 {0} 已发放")
    static let cardNotUsable = Self(en: "contact card {0} is {1}: only an issued card can be used", zh: "代办联系卡 {0} 状态为 {1}，只有已发放的卡可以使用")
    static let cardUsedCannotVoid = Self(en: "contact card {0} was used by a case: it cannot be voided", zh: "代办联系卡 {0} 已被项目使用，不能作废")
    static let cardOtherEnterprise = Self(en: "contact card {0} was issued to another enterprise than case {1}'s",
                                          zh: "代办联系卡 {0} 发给的企业与项目 {1} 的企业不同")
}

/// 代办联系卡: issued by a department (招商, 商务, the government-investment platform) to an enterprise whose
/// project qualifies; the owner brings it to register (channel CONTACT_CARD) and gets the free agency service.
public enum ContactCardLabels {
    public static let reason: CodeLabels.Table = [("GOV_MAJOR", "政府重大项目"), ("INVESTMENT_PROMOTION", "招商引资")]
    public static let serviceType: CodeLabels.Table = [("FULL_AGENCY", "全程免费代办"), ("COORDINATION_SUPERVISION", "协调督办")]
    public static let status: CodeLabels.Table = [("ISSUED", "已发放"), ("USED", "已使用"), ("VOID", "已作废")]
}

public struct CardInput: Sendable {
    /// The card's number as printed (default: the next of rule `card.number_pattern`).
    public var number: String?
    /// The enterprise: its id or 统一社会信用代码.
    public var enterprise: String
    public var project: String?
    public var issuedByDepartment: String
    public var reason: String
    public var serviceType: String
    public var on: Int32?
    public init(enterprise: String, issuedByDepartment: String, reason: String, serviceType: String) {
        self.enterprise = enterprise
        self.issuedByDepartment = issuedByDepartment
        self.reason = reason
        self.serviceType = serviceType
    }
}

extension Workflow {
    /// Issues a card (office administrators record it for the issuing department). Returns its id and number.
    public func issueCard(_ input: CardInput) throws -> (id: String, number: String) {
        try perform { s in
            let a = try s.actor()
            guard a.has(.officeAdmin) else { throw WorkflowError("forbidden", .needOfficeAdmin, "card issue", a.id) }
            let enterprise = input.enterprise.count == 18 ? stableID("ent", input.enterprise.uppercased()) : input.enterprise
            _ = try s.require("enterprise", enterprise, .whatEnterprise)
            if let p = input.project { _ = try s.require("project", p, .whatProject) }
            _ = try s.require("department", input.issuedByDepartment, .whatDepartment)
            for (value, flag, table) in [(input.reason, "--reason", ContactCardLabels.reason),
                                         (input.serviceType, "--service", ContactCardLabels.serviceType)]
            where !table.contains(where: { $0.code == value }) {
                throw WorkflowError("bad_value", .badChoice, flag, table.map(\.code).joined(separator: ", "))
            }
            let day = input.on ?? today()
            let taken = try String.fetchAll(s.db(), sql: "SELECT card_no FROM v_contact_card WHERE card_no IS NOT NULL")
            let pattern = try s.rules().cardNumberPattern
            let number = input.number?.trimmingCharacters(in: .whitespaces)
                ?? Rules.nextNumber(pattern: pattern, year: Int(CivilDate.iso(day).prefix(4)) ?? 0,
                                    office: a.officeID ?? "", taken: taken)
            guard !number.isEmpty, !taken.contains(number) else { throw WorkflowError("duplicate", .cardNumberTaken, number) }
            // Keyed by its number, so the same card entered on two devices is one row.
            let id = stableID("card", number)
            try s.put("contact_card", id, [
                "card_no": .text(number), "issued_by_dept_id": .text(input.issuedByDepartment), "enterprise_id": .text(enterprise),
                "project_id": text(input.project), "eligible_reason": .text(input.reason), "service_type": .text(input.serviceType),
                "issued_on": .date(day), "status": .text("ISSUED"),
            ])
            return (id, number)
        }
    }

    /// The card a clerk names: its id or its number.
    public func cardID(for text: String) throws -> String {
        try read { r in
            let t = text.trimmingCharacters(in: .whitespaces)
            if try r.row("contact_card", t) != nil { return t }
            guard let id = try String.fetchOne(r.db(), sql: "SELECT _key FROM v_contact_card WHERE card_no = ?", arguments: [t])
            else { throw WorkflowError("not_found", .notFound, L10n.t(.whatCard), t) }
            return id
        }
    }

    /// A case's registration used the card: it becomes USED and the registration names it.
    public func useCard(_ cardID: String, caseID: String) throws {
        try perform { s in
            let a = try s.actor()
            let c = try s.caseRow(caseID)
            guard s.isOfficeAdmin(a, for: c) else {  // cards are the offices' records
                throw WorkflowError("forbidden", .needOfficeAdmin, "card use", a.id)
            }
            let card = try s.require("contact_card", cardID, .whatCard)
            let status: String = card["status"] ?? "ISSUED"
            guard status == "ISSUED" else { throw WorkflowError("illegal_transition", .cardNotUsable, card["card_no"] ?? cardID, status) }
            guard card["enterprise_id"] as String? == c["enterprise_id"] as String? else {
                throw WorkflowError("mismatch", .cardOtherEnterprise, card["card_no"] ?? cardID, caseID)
            }
            try s.put("contact_card", cardID, ["status": .text("USED")])
            if let reg = try s.rows("registration", where: "case_id = ?", [caseID.databaseValue], orderBy: "received_at, _key").first {
                try s.put("registration", reg["_key"], ["contact_card_id": .text(cardID)])
            }
        }
    }

    /// Voids an unused card (lost, issued by mistake).
    public func voidCard(_ cardID: String) throws {
        try perform { s in
            let a = try s.actor()
            guard a.has(.officeAdmin) else { throw WorkflowError("forbidden", .needOfficeAdmin, "card void", a.id) }
            let card = try s.require("contact_card", cardID, .whatCard)
            guard card["status"] as String? != "USED" else { throw WorkflowError("illegal_transition", .cardUsedCannotVoid, card["card_no"] ?? cardID) }
            try s.put("contact_card", cardID, ["status": .text("VOID")])
        }
    }

    /// `card list`, and the report of cards by issuing department: issued, used, void, and the case each served.
    public func listCards() throws -> Grid { try read { try cardsReport($0) } }

    func cardsReport(_ r: Reader) throws -> Grid {
        do {
            typealias C = Grid.Column
            var g = Grid(name: "cards", columns: [
                C("card", "CARD", "卡"), C("card_no", "NO", "卡号"), C("department", "ISSUED BY", "发卡部门"),
                C("enterprise", "ENTERPRISE", "企业"), C("project", "PROJECT", "项目"), C("reason", "REASON", "发卡原因"),
                C("service", "SERVICE", "服务类型"), C("issued_on", "ISSUED", "发卡日期"), .status, .caseID,
            ])
            var counts: [String: Int] = [:]
            for row in try r.rows("contact_card", orderBy: "issued_on, card_no") {
                let status: String = row["status"] ?? "ISSUED"
                counts[status, default: 0] += 1
                let caseID = try String.fetchOne(r.db(), sql: "SELECT case_id FROM v_registration WHERE contact_card_id = ? LIMIT 1",
                                                 arguments: [row["_key"] as String])
                func label(_ v: String?, _ t: CodeLabels.Table) -> Grid.Cell { Grid.Cell(v.map { L10n.chinese ? CodeLabels.zh($0, in: t) : $0 }) }
                g.rows.append([
                    .text(row["_key"]), Grid.Cell(row["card_no"] as String?),
                    Grid.Cell(try r.name("department", row["issued_by_dept_id"]) ?? row["issued_by_dept_id"]),
                    Grid.Cell(try (row["enterprise_id"] as String?).flatMap { try r.row("enterprise", $0)?["name"] as String? }),
                    Grid.Cell(try (row["project_id"] as String?).flatMap { try r.row("project", $0)?["name"] as String? }),
                    label(row["eligible_reason"], ContactCardLabels.reason), label(row["service_type"], ContactCardLabels.serviceType),
                    Grid.Cell(row["issued_on"] as String?), label(status, ContactCardLabels.status), Grid.Cell(caseID),
                ])
            }
            let issued = counts.values.reduce(0, +), used = counts["USED"] ?? 0
            g.summary = [(C("cards", "cards", "发卡数"), .int(issued)), (C("used", "used", "已使用"), .int(used)),
                         (C("void", "void", "已作废"), .int(counts["VOID"] ?? 0)),
                         (C("use_pct", "used %", "使用率%"), issued == 0 ? .null : .real(100 * Double(used) / Double(issued)))]
            return g
        }
    }
}
