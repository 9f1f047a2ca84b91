public import CaseDomain
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import ReplicaStore
import Spreadsheet
public import SyncCore
import TerminalText

/// Reference data: the working-day calendar, the 事项 catalogue, the roster and the rules. Only an office
/// administrator of the county centre publishes it (DOMAIN.md §3), except on a replica with no administrator
/// yet, where the first import bootstraps the roster.
extension Workflow {
    private func requirePublisher(_ s: Session) throws {
        let hasAdmin = try Int.fetchOne(s.db(), sql: "SELECT count(*) FROM v_person WHERE ',' || roles || ',' LIKE '%,OFFICE_ADMIN,%'") ?? 0
        if hasAdmin == 0 { return }
        let a = try s.actor()
        guard a.isCentreAdmin else { throw WorkflowError("forbidden", .needCentreAdmin, a.id) }
    }

    /// Writes records (column → text, typed by the schema) keyed by `keyColumn`; unchanged rows are skipped.
    /// Returns (written, unchanged).
    func importRecords(_ s: Session, table: String, keyColumn: String, _ sheet: ImportSheet,
                       fixed: [String: FieldValue] = [:]) throws -> (written: Int, unchanged: Int) {
        var written = 0, unchanged = 0
        for (key, values) in try Self.typed(sheet, table: table, keyColumn: keyColumn, schema: replica.schema, fixed: fixed) {
            let current = try s.row(table, key)
            let same = current != nil && values.allSatisfy { name, v in
                projected(v) == (current![name] as DatabaseValue?)
            }
            if same { unchanged += 1; continue }
            try s.put(table, key, values)
            written += 1
        }
        return (written, unchanged)
    }

    /// Records typed by the schema, keyed by `keyColumn`, or the error naming the cell that does not fit.
    static func typed(_ sheet: ImportSheet, table: String, keyColumn: String, schema: Schema,
                      fixed: [String: FieldValue] = [:]) throws -> [(key: String, values: [String: FieldValue])] {
        let schema = try schema.table(table)
        var out: [(key: String, values: [String: FieldValue])] = []
        for (i, r) in sheet.records.enumerated() {
            guard let key = r[keyColumn], !key.isEmpty else { throw WorkflowError("bad_value", .recordNoKey, sheet.place(i), sheet.column(keyColumn)) }
            var values = fixed
            for (column, raw) in r {
                guard let f = schema.field(column) else {
                    if column == keyColumn { continue }
                    throw WorkflowError("unknown_field", .recordUnknownColumn, sheet.place(i), column, table)
                }
                do { values[column] = try f.parse(raw.trimmingCharacters(in: .whitespaces)) } catch {
                    throw WorkflowError("bad_value", .recordBadValue, sheet.place(i), sheet.column(column), error.message)
                }
            }
            out.append((key, values))
        }
        return out
    }

    /// Reads an import file as `catalogue import`, `calendar import` or `roster import` would, checking what can
    /// be checked without a replica (headings, cells, values against the schema, rules); nothing is written.
    /// Returns the number of records. (The fuzzing and the crafted-input tests drive the importers through it.)
    public static func readImport(_ data: Data, kind: String) throws -> Int {
        switch kind {
        case "catalogue":
            return try typed(catalogueSheet(data), table: "catalogue_item", keyColumn: "code", schema: DaibanSchema.schema).count
        case "calendar":
            let (sheet, fileVersion, notice) = try calendarFile(data)
            let days = try calendarDays(sheet, version: fileVersion ?? 1, notice: notice)
            return try typed(days, table: "calendar_day", keyColumn: "date", schema: DaibanSchema.schema).count
        case "roster":
            return try rosterSheets(data).reduce(0) { n, t in
                n + (try typed(t.sheet, table: t.table, keyColumn: "id", schema: DaibanSchema.schema).count)
            }
        default:
            throw WorkflowError("bad_value", .badCSV, kind)
        }
    }

    /// Imports the calendar from CSV (`date,workday[,source_notice]`) or JSON (`{"version":N,
    /// "source_notice":"…","days":[{"date":"2025-10-11","workday":true,"note":"调休"}]}` or a bare array) and
    /// publishes it as version `version` (default: one above the current). Open items' due dates are recomputed.
    public func importCalendar(data: Data, version: Int?) throws -> (days: Int, version: Int, recomputed: Int) {
        let (file, fileVersion, notice) = try Self.calendarFile(data)
        return try perform { s in
            try requirePublisher(s)
            let current = try Int.fetchOne(s.db(), sql: "SELECT max(version) FROM v_calendar_day") ?? 0
            let v = version ?? fileVersion ?? (current + 1)
            let sheet = try Self.calendarDays(file, version: v, notice: notice)
            _ = try importRecords(s, table: "calendar_day", keyColumn: "date", sheet)
            try s.put("rule", "calendar.version", ["value": .text(String(v))])
            var recomputed = try recomputeServiceDues(s)
            for item in try s.rows("plan_item", where: "accepted_on IS NOT NULL AND decided_on IS NULL") {
                let before = (item["committed_due"] as String?, item["legal_due"] as String?)
                try recomputeDues(s, item["_key"])
                let after = try s.row("plan_item", item["_key"])
                if before.0 != after?["committed_due"] || before.1 != after?["legal_due"] { recomputed += 1 }
            }
            return (sheet.records.count, v, recomputed)
        }
    }

    /// A calendar file's days, with the version and notice a JSON file names.
    static func calendarFile(_ data: Data) throws -> (sheet: ImportSheet, version: Int?, notice: String?) {
        guard let obj = try? JSONSerialization.jsonObject(with: data) else {
            return (try ImportSheet(data, table: "calendar_day", defaultHeader: ["date", "workday", "source_notice"]), nil, nil)
        }
        let dict = obj as? [String: Any]
        guard let days = (dict?["days"] ?? obj) as? [[String: Any]] else { throw WorkflowError("bad_value", .badCalendarFile) }
        let sheet = ImportSheet(json: days.map { d in
            var r: [String: String] = [:]
            for (k, v) in d {
                let key = k == "note" ? "source_notice" : k
                r[key] = (v as? Bool).map { $0 ? "true" : "false" } ?? "\(v)"
            }
            return r
        })
        return (sheet, dict?["version"] as? Int, dict?["source_notice"] as? String)
    }

    /// Calendar days as stored: dates as typed (2025年10月11日, 2025/10/11) made ISO, workday words made booleans,
    /// the version and the file's notice filled in.
    static func calendarDays(_ file: ImportSheet, version v: Int, notice: String?) throws -> ImportSheet {
        var sheet = file
        for i in sheet.records.indices {
            guard let d = sheet.records[i]["date"].flatMap(LocalMoment.parse)?.description, d.count == 10 else {
                throw WorkflowError("bad_value", .recordBadValue, sheet.place(i), sheet.column("date"), sheet.records[i]["date"] ?? "")
            }
            sheet.records[i]["date"] = d
            if let w = sheet.records[i]["workday"] {
                switch w.lowercased() {
                case "workday", "work", "班", "上班", "工作日", "是", "yes", "1": sheet.records[i]["workday"] = "true"
                case "holiday", "off", "休", "休息", "节假日", "否", "no", "0": sheet.records[i]["workday"] = "false"
                default: break
                }
            }
            if sheet.records[i]["source_notice"] == nil, let notice { sheet.records[i]["source_notice"] = notice }
            sheet.records[i]["version"] = String(v)
        }
        return sheet
    }

    /// Imports 事项 rows from CSV (header: field names, `code` first) or a JSON array of objects.
    public func importCatalogue(data: Data) throws -> (written: Int, unchanged: Int) {
        let sheet = try Self.catalogueSheet(data)
        return try perform { s in
            try requirePublisher(s)
            return try importRecords(s, table: "catalogue_item", keyColumn: "code", sheet)
        }
    }

    /// A catalogue file's items, with their time limits checked (units known, committed within legal).
    static func catalogueSheet(_ data: Data) throws -> ImportSheet {
        let sheet = try records(data, table: "catalogue_item")
        for (i, r) in sheet.records.enumerated() {
            for kind in ["committed", "legal"] {
                if let u = r["\(kind)_unit"], !u.isEmpty, LimitUnit(rawValue: u) == nil {
                    throw WorkflowError("bad_value", .recordBadValue, sheet.place(i), sheet.column("\(kind)_unit"), u)
                }
            }
            if let c = r["committed_limit"].flatMap(Int.init), let l = r["legal_limit"].flatMap(Int.init),
                (r["committed_unit"] ?? "WD") == (r["legal_unit"] ?? "WD"), c > l {
                throw WorkflowError("bad_value", .committedOverLegal, sheet.place(i), r["code"] ?? "")
            }
        }
        return sheet
    }

    /// Imports the roster (offices, townships, departments, people) from one JSON object with those arrays,
    /// each element having an `id`, or from an Excel workbook with a sheet per table (机构, 乡镇, 部门, 人员, 规则 —
    /// or offices, townships, departments, people, rules), headed in Chinese or by field; all of it is written or
    /// none.
    public func importRoster(data: Data) throws -> Int {
        let sheets = try Self.rosterSheets(data)
        return try perform { s in
            try requirePublisher(s)
            var n = 0
            for (table, sheet) in sheets { n += try importRecords(s, table: table, keyColumn: "id", sheet).written }
            return n
        }
    }

    /// A roster file's tables, in the order they are written, with the rules' values checked.
    static func rosterSheets(_ data: Data) throws -> [(table: String, sheet: ImportSheet)] {
        var sheets: [(table: String, sheet: ImportSheet)] = []
        if XLSXReader.looksLikeXLSX(data) {
            let names: [String]
            do { names = try XLSXReader.read(data).map(\.name) } catch { throw WorkflowError("bad_value", .badWorkbook, "\(error)") }
            for table in ["office", "township", "department", "person", "rule"] {
                guard let name = names.first(where: { ImportHeadings.rosterTable(sheet: $0) == table }) else { continue }
                var sheet = try ImportSheet(data, table: table, sheetNamed: name)
                if table == "person" {
                    // Roles as a clerk lists them: 代办员、联络员 or codes, separated as in any list.
                    for i in sheet.records.indices {
                        if let roles = sheet.records[i]["roles"] {
                            sheet.records[i]["roles"] = Materials.list(roles).map { CodeLabels.code($0, in: CodeLabels.role) }.joined(separator: ",")
                        }
                        if let a = sheet.records[i]["active"] { sheet.records[i]["active"] = parseYesNo(a).map { $0 ? "true" : "false" } ?? a }
                    }
                }
                sheets.append((table, sheet))
            }
            guard !sheets.isEmpty else { throw WorkflowError("bad_value", .badRosterFile) }
        } else {
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw WorkflowError("bad_value", .badRosterFile)
            }
            for (key, table) in [("offices", "office"), ("townships", "township"), ("departments", "department"),
                                 ("people", "person"), ("rules", "rule")] {
                guard let items = obj[key] as? [[String: Any]] else { continue }
                let records = items.map { d in
                    Dictionary(uniqueKeysWithValues: d.map { k, v in
                        (k, (v as? [Any]).map { $0.map { "\($0)" }.joined(separator: ",") }
                            ?? (v as? Bool).map { $0 ? "true" : "false" } ?? "\(v)")
                    })
                }
                sheets.append((table, ImportSheet(json: records)))
            }
        }
        for (table, sheet) in sheets where table == "rule" {
            for (i, r) in sheet.records.enumerated() {
                do { try checkRule(r["id"] ?? "", r["value"] ?? "") } catch let e as WorkflowError {
                    throw WorkflowError("bad_value", .recordBadValue, sheet.place(i), sheet.column("value"), e.description)
                } catch {
                    throw WorkflowError("bad_value", .recordBadValue, sheet.place(i), sheet.column("value"), "\(error)")
                }
            }
        }
        return sheets
    }

    /// Sets one rule ([P] setting) for every replica.
    /// A rule's value as the rules define it, and a time zone this computer knows.
    static func checkRule(_ key: String, _ value: String) throws {
        try Rules.validate(key: key, value: value)
        if key == "county.time_zone", TimeZone(identifier: value) == nil {
            throw WorkflowError("bad_value", .unknownZone, value)
        }
    }

    public func setRule(_ key: String, _ value: String) throws {
        try Self.checkRule(key, value)
        try perform { s in
            try requirePublisher(s)
            try s.put("rule", key, ["value": .text(value)])
        }
    }

    static func records(_ data: Data, table: String) throws -> ImportSheet {
        if let arr = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] {
            return ImportSheet(json: arr.map { d in
                Dictionary(uniqueKeysWithValues: d.compactMap { k, v in
                    v is NSNull ? nil : (k, (v as? Bool).map { $0 ? "true" : "false" } ?? "\(v)")
                })
            })
        }
        return try ImportSheet(data, table: table)
    }
}

/// The projected SQL value of a field value (what `v_<table>` holds).
func projected(_ v: FieldValue) -> DatabaseValue? {
    switch v {
    case .null: return nil
    case .bool(let b): return (b ? 1 : 0).databaseValue
    case .int(let i): return i.databaseValue
    case .decimal(let d): return Double(d)?.databaseValue
    case .text(let t): return t.databaseValue
    case .date: return v.displayText.databaseValue
    }
}

/// A small RFC 4180 reader: quoted fields, doubled quotes, CRLF; a BOM is skipped.
enum CSV {
    /// The text of a CSV file as Excel writes it: UTF-8 (with or without a BOM), else GB18030 (which includes
    /// GBK and GB2312, what Excel saves on a Chinese Windows PC). Anything else is refused, never guessed.
    static func decode(_ data: Data) throws -> String {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        if let text = gb18030(bytes) { return text }
        throw WorkflowError("bad_value", .badEncoding)
    }

    /// GB18030 bytes as text, through the C library's iconv; nil when they are not GB18030.
    static func gb18030(_ bytes: [UInt8]) -> String? {
        let cd = iconv_open("UTF-8", "GB18030")
        guard cd != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(cd) }
        var input = bytes.map { CChar(bitPattern: $0) }
        var output = [CChar](repeating: 0, count: bytes.count * 4 + 4)
        let written: Int? = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                var inPtr: UnsafeMutablePointer<CChar>? = inBuf.baseAddress
                var outPtr: UnsafeMutablePointer<CChar>? = outBuf.baseAddress
                var inLeft = inBuf.count, outLeft = outBuf.count
                guard iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft) != -1, inLeft == 0 else { return nil }
                return outBuf.count - outLeft
            }
        }
        guard let written else { return nil }
        return String(decoding: output[..<written].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func rows(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var it = text.unicodeScalars.drop { $0 == "\u{FEFF}" }.makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let p = pending { pending = nil; return p }
            return it.next()
        }
        while let c = next() {
            if quoted {
                if c == "\"" {
                    if let n = next() {
                        if n == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = n }
                    } else { quoted = false }
                } else { field.unicodeScalars.append(c) }
                continue
            }
            switch c {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\r": break
            case "\n": row.append(field); field = ""; rows.append(row); row = []
            default: field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows.filter { !($0.count == 1 && $0[0].trimmingCharacters(in: .whitespaces).isEmpty) }
    }
}
