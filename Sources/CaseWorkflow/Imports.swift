import CaseDomain
import Foundation
import Spreadsheet
import SyncCore
import TerminalText

/// The rows of a file a clerk imports, from CSV (UTF-8 or GB18030), an Excel workbook or JSON, with where each
/// came from: the sheet, the row number as the clerk sees it, and each field's heading as written, so an error
/// names the cell to fix.
struct ImportSheet {
    var records: [[String: String]]
    /// The row number of each record in the file (the heading row is row 1).
    var rows: [Int]
    var sheet: String?
    /// Field key → the heading as written.
    var headings: [String: String] = [:]
    var json = false

    /// Where record `i` is: `sheet 事项目录, row 5` / `工作表“事项目录”第 5 行`.
    func place(_ i: Int) -> String {
        let row = i < rows.count ? rows[i] : i + 2
        if json { return L10n.t(.placeRecord, i + 1) }
        if let sheet { return L10n.t(.placeSheetRow, sheet, row) }
        return L10n.t(.placeRow, row)
    }

    /// The column of a field as the file names it.
    func column(_ field: String) -> String {
        guard let h = headings[field], h != field else { return field }
        return "\(h)（\(field)）"
    }

    init(json records: [[String: String]]) {
        self.records = records
        rows = Array(records.indices.map { $0 + 1 })
        json = true
    }

    /// Reads a CSV file or an Excel workbook's sheet for `table`: headings may be the fields' keys or their
    /// Chinese names; coded values may be their Chinese names. `defaultHeader` names the columns of a file with
    /// no heading row (its first cell is a digit).
    init(_ data: Data, table: String, defaultHeader: [String]? = nil, sheetNamed: String? = nil) throws {
        var grid: [(Int, [String])]
        if XLSXReader.looksLikeXLSX(data) {
            let sheets: [XLSXReader.Sheet]
            do { sheets = try XLSXReader.read(data) } catch { throw WorkflowError("bad_value", .badWorkbook, "\(error)") }
            // The sheet whose headings name this table's fields best; the first one when none does.
            let scored = sheets.map { s in (s, (s.rows.first?.cells ?? []).filter { !(ImportHeadings.field($0, table: table) ?? "").isEmpty }.count) }
            guard let best = sheets.first(where: { $0.name == sheetNamed }) ?? scored.max(by: { $0.1 < $1.1 })?.0 ?? sheets.first else {
                throw WorkflowError("bad_value", .badWorkbook, "no sheet")
            }
            sheet = best.name
            grid = best.rows.map { ($0.number, $0.cells) }
        } else {
            grid = CSV.rows(try CSV.decode(data)).enumerated().map { ($0.offset + 1, $0.element) }
        }
        records = []
        rows = []
        guard let first = grid.first else { return }
        var header: [String]
        if let d = defaultHeader, first.1.first?.trimmingCharacters(in: .whitespaces).first?.isNumber == true {
            header = d
        } else {
            header = try first.1.map { h in
                let t = h.trimmingCharacters(in: .whitespaces)
                if t.isEmpty { return "" }
                guard let f = ImportHeadings.field(t, table: table) ?? (DaibanSchema.schema.tables[table]?.field(t) != nil ? t : nil) else {
                    throw WorkflowError("unknown_field", .unknownHeading, sheet.map { L10n.t(.placeSheetRow, $0, first.0) } ?? L10n.t(.placeRow, first.0), t, table)
                }
                if !f.isEmpty { headings[f] = t }
                return f
            }
            grid.removeFirst()
        }
        for (number, cells) in grid {
            guard cells.count <= header.count || cells[header.count...].allSatisfy({ $0.isEmpty }) else {
                throw WorkflowError("bad_value", .badCSV, sheet.map { L10n.t(.placeSheetRow, $0, number) } ?? L10n.t(.placeRow, number))
            }
            var out: [String: String] = [:]
            for (j, v) in cells.enumerated() where j < header.count && !v.isEmpty && !header[j].isEmpty {
                out[header[j]] = ImportHeadings.value(v, field: header[j], table: table)
            }
            guard !out.isEmpty else { continue }
            records.append(out)
            rows.append(number)
        }
    }
}
