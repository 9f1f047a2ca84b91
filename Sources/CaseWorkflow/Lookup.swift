public import CaseDomain
import Foundation
import GRDB
import ReplicaStore
import SyncCore
public import TerminalText

extension L10n.Key {
    static let ambiguousName = Self(en: "{0} {1} could mean several: {2}; give the id",
                                    zh: "{0}“{1}”对应多条记录：{2}；请使用 id")
    static let whatDepartment = Self(en: "department", zh: "部门")
    static let emptySearch = Self(en: "nothing to search for in {0}: give letters, digits or Chinese characters",
                                  zh: "“{0}”中没有可查找的内容：请输入汉字、字母或数字")
    static let ambiguousRef = Self(en: "{0} {1} could mean several: {2}; give more of it, or the case number",
                                   zh: "{0}“{1}”对应多条记录：{2}；请输入更完整的编号，或使用案号")
    static let caseNotFound = Self(
        en: "no case {0} on this replica: give the case number, the registration number, the agreement code, a form number or the start of the case id (`daiban case find` searches names)",
        zh: "本副本中没有代办项目“{0}”：请输入案号、登记编号、协议编号、办结单或终止单编号，或项目 id 的开头部分（按名称查找请用 `daiban case find`）")
}

extension Reader {
    /// The case a clerk names with what is on paper: the internal id, the case number given at review, the
    /// registration number, the agreement code, the number of the 办结单 or 终止单, or a unique start (four
    /// characters or more) of the internal id. Each number is matched exactly (surrounding blanks ignored);
    /// two cases answering to the same text are refused with both named, never guessed between.
    public func caseID(for text: String) throws -> String {
        let s = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !s.isEmpty else { throw WorkflowError("not_found", .caseNotFound, text) }
        if try row("case", s) != nil { return s }
        var hits: [String] = []
        for sql in [
            "SELECT _key FROM v_case WHERE case_no = ?",
            "SELECT case_id FROM v_registration WHERE reg_no = ? AND case_id IS NOT NULL",
            "SELECT case_id FROM v_agreement WHERE agreement_code = ? AND case_id IS NOT NULL",
            "SELECT case_id FROM v_completion_form WHERE form_no = ? AND case_id IS NOT NULL",
            "SELECT case_id FROM v_termination_form WHERE form_no = ? AND case_id IS NOT NULL",
        ] {
            for id in try String.fetchAll(db().cachedStatement(sql: sql), arguments: [s]) where !hits.contains(id) {
                hits.append(id)
            }
        }
        if hits.isEmpty, s.unicodeScalars.count >= 4 {
            // Keys sort bytewise: every key starting with `s` lies in [s, s + U+10FFFF).
            hits = try String.fetchAll(db().cachedStatement(sql: "SELECT _key FROM v_case WHERE _key >= ? AND _key < ? LIMIT 6"),
                                       arguments: [s, s + "\u{10FFFF}"])
        }
        switch hits.count {
        case 1: return hits[0]
        case 0: throw WorkflowError("not_found", .caseNotFound, s)
        default: throw WorkflowError("ambiguous", .ambiguousRef, L10n.t(.whatCase), s, try caseLabels(hits.prefix(5)))
        }
    }

    /// A plan item by its id or as `CASE.N`, where CASE is anything `caseID(for:)` accepts (`2025-017.2`).
    public func planItemID(for text: String) throws -> String {
        let s = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if try row("plan_item", s) != nil { return s }
        if let dot = s.lastIndex(of: "."), let n = Int(s[s.index(after: dot)...]), n > 0 {
            let item = "\(try caseID(for: String(s[..<dot]))).\(n)"
            if try row("plan_item", item) != nil { return item }
        }
        throw WorkflowError("not_found", .notFound, L10n.t(.whatPlanItem), s)
    }

    /// `id (案号, 企业)` for each case, for messages that must let the clerk choose.
    func caseLabels(_ ids: some Sequence<String>) throws -> String {
        try ids.map { id in
            guard let c = try row("case", id) else { return id }
            let enterprise: String? = try (c["enterprise_id"] as String?).flatMap { try row("enterprise", $0)?["name"] }
            let parts = [c["case_no"] as String?, enterprise].compactMap { $0 }
            return parts.isEmpty ? id : "\(id) (\(parts.joined(separator: ", ")))"
        }.joined(separator: "; ")
    }
}

extension Workflow {
    /// The internal id of the case `text` names (see `Reader.caseID(for:)`).
    public func caseID(for text: String) throws -> String { try read { try $0.caseID(for: text) } }

    /// The internal id of the plan item `text` names (`CASE.N`, the case given as on paper).
    public func planItemID(for text: String) throws -> String { try read { try $0.planItemID(for: text) } }
}

extension Workflow {
    /// `case find`: the cases whose enterprise (name, 统一社会信用代码), project (name, 项目代码) or case number
    /// contains `text`, in any script, ignoring case, width, blanks and punctuation. Reads the replica's word
    /// index, never the whole register: a two-character query over a county of 200,000 cases reads the few
    /// documents holding its pair.
    public func findCases(_ text: String, limit: Int = 200) throws -> Grid {
        guard let match = SearchGrams.match(text) else {
            throw WorkflowError("bad_value", .emptySearch, text)
        }
        let needle = SearchGrams.normalised(text)
        return try read { r in
            var cases: [String] = []
            var seen = Set<String>()
            func add(_ ids: [String]) {
                for id in ids where seen.insert(id).inserted { cases.append(id) }
            }
            let hits = try Row.fetchCursor(r.db(), sql: """
                SELECT r.tbl, r.key FROM v_search s JOIN row r ON r.id = s.rowid WHERE v_search MATCH ?
                """, arguments: [match])
            while let hit = try hits.next() {
                let table: String = hit[0], key: String = hit[1]
                guard let fields = DaibanSchema.schema.tables[table]?.searchable, let row = try r.row(table, key),
                      fields.contains(where: { SearchGrams.normalised(row[$0] as String? ?? "").contains(needle) })
                else { continue }
                switch table {
                case "case": add([key])
                case "enterprise", "project":
                    add(try String.fetchAll(r.db().cachedStatement(sql: "SELECT _key FROM v_case WHERE \(table)_id = ? ORDER BY _key"),
                                            arguments: [key]))
                default: continue
                }
                if cases.count >= limit { break }
            }
            let ids = Array(cases.prefix(limit))
            let json = String(data: try JSONSerialization.data(withJSONObject: ids), encoding: .utf8) ?? "[]"
            return try registerReport(r, ReportOptions(asOf: today()), extra: " AND c._key IN (SELECT value FROM json_each(?))",
                                      extraArgs: [json.databaseValue], name: "cases")
        }
    }
}

/// A roster person as the peer list shows them.
public struct RosterEntry: Sendable {
    public var name: String
    public var office: String?
    /// COUNTY_CENTER / TOWNSHIP / PARK / UPPER.
    public var officeLevel: String?
}

extension Workflow {
    /// The roster people with these logins, with their office.
    public func people(logins: [String]) throws -> [String: RosterEntry] {
        guard !logins.isEmpty else { return [:] }
        let json = String(data: try JSONSerialization.data(withJSONObject: logins), encoding: .utf8) ?? "[]"
        return try read { r in
            var out: [String: RosterEntry] = [:]
            for row in try Row.fetchAll(r.db(), sql: """
                SELECT p.login, p.name, o.name, o.level FROM v_person p LEFT JOIN v_office o ON o._key = p.office_id
                WHERE p.login IN (SELECT value FROM json_each(?)) ORDER BY p._key
                """, arguments: [json]) where out[row[0]] == nil {
                out[row[0]] = RosterEntry(name: row[1] ?? "", office: row[2], officeLevel: row[3])
            }
            return out
        }
    }
}

extension Reader {
    /// The key of a reference row named by its id or by one of `columns` (a name, a login), when that is unique.
    /// Text that names nothing comes back unchanged, for the step to report as not found.
    func referenceKey(_ table: String, _ text: String, columns: [String], what: L10n.Key) throws -> String {
        let t = text.trimmingCharacters(in: .whitespaces)
        if try row(table, t) != nil { return t }
        var hits: [(String, String?)] = []
        for column in columns {
            for r in try Row.fetchAll(db().cachedStatement(sql: "SELECT _key, \"\(column)\" FROM v_\(table) WHERE \"\(column)\" = ? LIMIT 6"),
                                      arguments: [t]) where !hits.contains(where: { $0.0 == r[0] as String }) {
                hits.append((r[0], r[1]))
            }
            if !hits.isEmpty { break }
        }
        switch hits.count {
        case 0: return text
        case 1: return hits[0].0
        default:
            throw WorkflowError("ambiguous", .ambiguousName, L10n.t(what), t,
                                hits.prefix(5).map { "\($0.0) (\($0.1 ?? ""))" }.joined(separator: "; "))
        }
    }
}

extension Workflow {
    /// A township (乡镇/园区) by id or unique name (`石门乡`).
    public func townshipID(for text: String) throws -> String {
        try read { try $0.referenceKey("township", text, columns: ["name"], what: .whatTownship) }
    }

    /// A person by id, login or unique name (`吴丽娟`).
    public func personID(for text: String) throws -> String {
        try read { try $0.referenceKey("person", text, columns: ["login", "name"], what: .whatPerson) }
    }

    /// A complaint by its id or its number (`TS-2025-0012`).
    public func complaintID(for text: String) throws -> String {
        try read { try $0.referenceKey("complaint", text, columns: ["complaint_no"], what: .whatComplaint) }
    }

    /// A 差评整改 ticket by its id or its number.
    public func ticketID(for text: String) throws -> String {
        try read { try $0.referenceKey("ticket", text, columns: ["ticket_no"], what: .whatTicket) }
    }

    /// A department by id or unique name (`县发展和改革局`).
    public func departmentID(for text: String) throws -> String {
        try read { try $0.referenceKey("department", text, columns: ["name"], what: .whatDepartment) }
    }
}
