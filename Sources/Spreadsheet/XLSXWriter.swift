import CXlsxWriter
import Foundation
import SyncCore

/// Excel workbooks through libxlsxwriter: one sheet per table, Chinese headings, columns as wide as their text
/// (CJK counted double), dates as dates and numbers as numbers, the heading row frozen and filterable.
/// Rows stream to the file (libxlsxwriter's constant-memory mode), so a 200,000-row report stays small in memory.
public enum XLSXWriter {
    public enum Cell: Sendable, Equatable {
        case text(String)
        case number(Double)
        /// Days since 1970-01-01, and minutes after midnight when there is a time.
        case date(Int32, minutes: Int?)
        case empty
    }

    public struct Sheet: Sendable {
        public var name: String
        public var headers: [String]
        public var rows: [[Cell]]
        public init(name: String, headers: [String], rows: [[Cell]]) {
            self.name = name
            self.headers = headers
            self.rows = rows
        }
    }

    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A cell for text as tables show it: ISO dates and date-times become dates, the rest stays text.
    public static func cell(text s: String) -> Cell {
        if s.isEmpty { return .empty }
        let u = Array(s.utf8)
        func digits(_ r: Range<Int>) -> Int? {
            var n = 0
            for i in r { guard u[i] >= 48 && u[i] <= 57 else { return nil }; n = n * 10 + Int(u[i] - 48) }
            return n
        }
        if u.count == 10 || u.count == 16, u[4] == 45, u[7] == 45, let y = digits(0..<4), let m = digits(5..<7), let d = digits(8..<10),
           (1...12).contains(m), (1...31).contains(d) {
            var minutes: Int?
            if u.count == 16 {
                guard u[10] == 84 || u[10] == 32, u[13] == 58, let h = digits(11..<13), let mi = digits(14..<16), h < 24, mi < 60 else { return .text(s) }
                minutes = h * 60 + mi
            }
            guard let civil = CivilDate(year: y, month: m, day: d) else { return .text(s) }
            return .date(civil.daysSinceEpoch, minutes: minutes)
        }
        return .text(s)
    }

    /// Writes the workbook to `path` (through a temporary file, so a failure leaves no half file).
    public static func write(_ sheets: [Sheet], to path: String) throws {
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var options = lxw_workbook_options(constant_memory: UInt8(LXW_TRUE.rawValue), tmpdir: nil, use_zip64: UInt8(LXW_FALSE.rawValue))
        guard let wb = workbook_new_opt(tmp, &options) else { throw WriteError(description: "\(path): \(String(cString: strerror(errno)))") }
        let heading = workbook_add_format(wb)
        format_set_bold(heading)
        format_set_bg_color(heading, 0xF2F2F2)
        format_set_border(heading, UInt8(LXW_BORDER_THIN.rawValue))
        let date = workbook_add_format(wb)
        format_set_num_format(date, "yyyy-mm-dd")
        let dateTime = workbook_add_format(wb)
        format_set_num_format(dateTime, "yyyy-mm-dd hh:mm")
        var used: Set<String> = []
        for sheet in sheets {
            let name = sheetName(sheet.name, used)
            used.insert(name)
            guard let ws = workbook_add_worksheet(wb, name) else { continue }
            // Widths from the heading and the first rows; set before any row is written (constant memory).
            for c in sheet.headers.indices {
                var w = displayWidth(sheet.headers[c])
                for r in sheet.rows.prefix(2000) where c < r.count {
                    switch r[c] {
                    case .text(let s): w = max(w, displayWidth(s))
                    case .number(let n): w = max(w, String(n).count)
                    case .date(_, let m): w = max(w, m == nil ? 10 : 16)
                    case .empty: break
                    }
                }
                worksheet_set_column(ws, lxw_col_t(c), lxw_col_t(c), Double(min(60, max(6, w + 2))), nil)
            }
            worksheet_freeze_panes(ws, 1, 0)
            var failure: lxw_error = LXW_NO_ERROR
            func note(_ e: lxw_error) { if e != LXW_NO_ERROR && failure == LXW_NO_ERROR { failure = e } }
            for (c, h) in sheet.headers.enumerated() { note(worksheet_write_string(ws, 0, lxw_col_t(c), h, heading)) }
            guard sheet.rows.count < 1_048_576 else { throw WriteError(description: "\(sheet.name): more rows than a sheet holds (1,048,575)") }
            for (i, row) in sheet.rows.enumerated() {
                let r = lxw_row_t(i + 1)
                for (c, cell) in row.enumerated() {
                    switch cell {
                    case .text(let s):
                        // Excel holds at most 32,767 characters in a cell: longer text is cut there, and says so.
                        let t = s.utf16.count > 32_767 ? String(s.prefix(32_000)) + "…（超长，已截断 / truncated）" : s
                        note(worksheet_write_string(ws, r, lxw_col_t(c), t, nil))
                    case .number(let n): note(worksheet_write_number(ws, r, lxw_col_t(c), n, nil))
                    case .date(let d, let minutes):
                        let civil = CivilDate(daysSinceEpoch: d)
                        var dt = lxw_datetime(year: Int32(civil.year), month: Int32(civil.month), day: Int32(civil.day), hour: Int32((minutes ?? 0) / 60),
                                              min: Int32((minutes ?? 0) % 60), sec: 0)
                        note(worksheet_write_datetime(ws, r, lxw_col_t(c), &dt, minutes == nil ? date : dateTime))
                    case .empty: break
                    }
                }
            }
            if !sheet.headers.isEmpty {
                worksheet_autofilter(ws, 0, 0, lxw_row_t(sheet.rows.count), lxw_col_t(sheet.headers.count - 1))
            }
            if failure != LXW_NO_ERROR {
                workbook_close(wb)
                unlink(tmp)
                throw WriteError(description: "\(path): \(String(cString: lxw_strerror(failure)))")
            }
        }
        let status = workbook_close(wb)
        guard status == LXW_NO_ERROR, rename(tmp, path) == 0 else {
            let reason = status == LXW_NO_ERROR ? String(cString: strerror(errno)) : String(cString: lxw_strerror(status))
            unlink(tmp)
            throw WriteError(description: "\(path): \(reason)")
        }
    }

    /// Excel's rules for sheet names: at most 31 characters, none of `[]:*?/\`, unique.
    static func sheetName(_ name: String, _ used: Set<String>) -> String {
        var base = String(name.map { "[]:*?/\\'".contains($0) ? "_" : $0 }.prefix(28))
        if base.isEmpty { base = "Sheet" }
        var candidate = base, n = 2
        while used.contains(where: { $0.lowercased() == candidate.lowercased() }) { candidate = "\(base)_\(n)"; n += 1 }
        return candidate
    }

    /// Columns a text takes: CJK and other wide characters two, the rest one.
    static func displayWidth(_ s: String) -> Int {
        s.unicodeScalars.reduce(0) { w, u in
            let v = u.value
            let wide = (0x1100...0x115F).contains(v) || (0x2E80...0xA4CF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v) || (0xFF00...0xFF60).contains(v)
                || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
            return w + (wide ? 2 : 1)
        }
    }
}
