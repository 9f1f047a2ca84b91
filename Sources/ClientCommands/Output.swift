import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import SyncCore
import TerminalText
import CommandText
import Spreadsheet

/// `--json` / `--format`, shared by every list, show and report.
struct OutputOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, csv, json, xlsx
        /// CSV with machine headers (`--csv-keys`), not a choice of `--format`.
        case csvKeys = "csv-keys"
        static var allValueStrings: [String] { ["table", "csv", "json", "xlsx"] }
    }
    @Flag(help: .l("Print as JSON (same as --format json).", "以 JSON 格式输出（同 --format json）。")) var json = false
    @Option(help: .l("table (aligned, CJK-aware), csv, json or xlsx (an Excel file; give --output).",
                     "输出格式：table（按中文字宽对齐的表格）、csv、json 或 xlsx（Excel 文件，配合 --output）。")) var format: Format = .table
    @Option(help: .l("With --format xlsx: the Excel file to write (default: the table's name, .xlsx, here).",
                     "与 --format xlsx 合用：要写出的 Excel 文件（默认在当前目录按表名生成 .xlsx）。")) var output: String?
    @Flag(help: .l("CSV for scripts: field keys as headers, codes as codes, no byte-order mark (default: for Excel).",
                   "输出供脚本使用的 CSV：表头用字段名，代码不转中文，不带 BOM（默认输出适合用 Excel 打开）。"))
    var csvKeys = false

    var effective: Format { json ? .json : (format == .csv && csvKeys ? .csvKeys : format) }
}

/// `--on DATE`: when the event occurred (default: today on this device).
struct OnDate: ParsableArguments {
    @Option(name: .customLong("on"), help: .l("When it happened: a date (YYYY-MM-DD, 2025年11月20日) or a date and time in county time (YYYY-MM-DDTHH:MM; default now); a paper form entered later keeps its real date.",
                                              "发生时间：日期（YYYY-MM-DD、2025年11月20日）或本县时间的日期和时刻（YYYY-MM-DDTHH:MM；默认现在）；纸质单据事后补录的，填实际日期。"))
    var on: String?

    /// The date part.
    func day() throws -> Int32? { try parseMoment(on)?.day }

    /// `YYYY-MM-DDTHH:MM` when a time of day was given, else nil.
    func time() throws -> String? { try parseMoment(on).flatMap { $0.minutes == nil ? nil : $0.description } }
}

/// A date (`YYYY-MM-DD`, `2025/11/20`, `2025年11月20日`): the date part of a date-time is taken too.
func parseDay(_ text: String?) throws -> Int32? { try parseMoment(text)?.day }

/// A date or a date and time as typed, county time.
func parseMoment(_ text: String?) throws -> LocalMoment? {
    guard let text else { return nil }
    guard let m = LocalMoment.parse(text) else { throw CLIError(L10n.t(.badDateArg, text)) }
    return m
}

/// A date or date-time option normalised to `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`.
func normalizedMoment(_ text: String?) throws -> String? { try parseMoment(text)?.description }

/// Opens the home's replica as a workflow.
func workflow(_ home: HomeOptions) throws -> Workflow { Workflow(replica: try home.open()) }

extension Grid.Cell {
    var json: JSON {
        switch self {
        case .text(let s): .string(s)
        case .int(let i): .int(Int64(i))
        case .real(let d): .double(d)
        case .bool(let b): .bool(b)
        case .null: .null
        }
    }
}

func gridJSON(_ g: Grid) -> JSON {
    var pairs: [(String, JSON)] = [("name", .string(g.name))]
    if !g.summary.isEmpty { pairs.append(("summary", .object(g.summary.map { ($0.0.key, $0.1.json) }))) }
    pairs.append(("rows", .array(g.rows.map { r in .object(zip(g.columns, r).map { ($0.key, $1.json) }) })))
    return .object(pairs)
}

/// `gridJSON(g).text` and a newline, written as it is formatted.
private func writeJSON(_ g: Grid) {
    var out = StreamOut()
    func cell(_ c: Grid.Cell, _ out: inout StreamOut) {
        if case .text(let s) = c { out.jsonString(s) } else { out.write(c.json.text) }
    }
    out.write("{\"name\":")
    out.jsonString(g.name)
    if !g.summary.isEmpty {
        out.write(",\"summary\":{")
        for (i, (column, value)) in g.summary.enumerated() {
            if i > 0 { out.write(44) }
            out.jsonString(column.key)
            out.write(58)
            cell(value, &out)
        }
        out.write("}")
    }
    out.write(",\"rows\":[")
    // Each key with its quotes and colon, formatted once.
    let keys = g.columns.map { c -> String in
        var k = JSON.string(c.key).text
        k.append(":")
        return k
    }
    for (i, row) in g.rows.enumerated() {
        out.write(i > 0 ? ",{" : "{")
        for (j, value) in row.enumerated() {
            if j > 0 { out.write(44) }
            out.write(keys[j])
            cell(value, &out)
        }
        out.write(125)
    }
    out.write("]}\n")
    out.flush()
}

func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}

/// Prints a grid in the chosen format; tables get an optional title and the summary below.
func emit(_ g: Grid, _ output: OutputOptions, title: String? = nil) {
    if output.effective == .xlsx || (output.output.map { $0.lowercased().hasSuffix(".xlsx") } ?? false) && output.effective == .table {
        ExcelOut.add(g, title: title, path: output.output ?? "\(g.name).xlsx")
        return
    }
    emit(g, output.effective, title: title)
}

/// The sheets a command writes to its Excel file: a command that shows several tables writes one workbook with
/// a sheet for each, rewritten as each is added.
enum ExcelOut {
    nonisolated(unsafe) static var sheets: [String: [XLSXWriter.Sheet]] = [:]

    static func add(_ g: Grid, title: String?, path: String) {
        var rows = g.rows.map { row in
            row.map { cell -> XLSXWriter.Cell in
                switch cell {
                case .int(let i): .number(Double(i))
                case .real(let d): .number(d)
                case .bool(let b): .text(L10n.chinese ? (b ? "是" : "否") : (b ? "yes" : "no"))
                case .null: .empty
                case .text(let s): XLSXWriter.cell(text: localizedCode(s))
                }
            }
        }
        let name = (title ?? g.name).trimmingCharacters(in: .whitespacesAndNewlines)
        sheets[path, default: []].append(XLSXWriter.Sheet(name: name, headers: g.columns.map(\.heading), rows: rows))
        // The summary on a sheet of its own, so the table imports back as it is.
        if !g.summary.isEmpty {
            sheets[path]!.append(XLSXWriter.Sheet(name: name + (L10n.chinese ? " 汇总" : " summary"), headers: [L10n.t(.colItem), L10n.t(.colValue)],
                                                  rows: g.summary.map { [.text($0.0.heading), XLSXWriter.cell(text: $0.1.display)] }))
        }
        do {
            try XLSXWriter.write(sheets[path]!, to: path)
            print(L10n.t(.wroteExcel, path, g.rows.count))
        } catch {
            fail(L10n.t(.cannotWrite, path, "\(error)"))
        }
    }
}

func emit(_ g: Grid, _ format: OutputOptions.Format, title: String? = nil) {
    switch format {
    case .json:
        writeJSON(g)
    case .csv:
        // For Excel: a UTF-8 byte-order mark (without it Excel on a Chinese PC reads GBK), headings in the user's
        // language, status codes as their names under a zh locale.
        var out = StreamOut()
        out.write("\u{FEFF}" + g.columns.map { csvField($0.heading) }.joined(separator: ",") + "\n")
        for r in g.rows { out.write(r.map { csvField(localizedCode($0.display)) }.joined(separator: ",") + "\n") }
        out.flush()
    case .csvKeys:
        var out = StreamOut()
        out.write(g.columns.map { csvField($0.key) }.joined(separator: ",") + "\n")
        for r in g.rows { out.write(r.map { csvField($0.display) }.joined(separator: ",") + "\n") }
        out.flush()
    case .xlsx:
        ExcelOut.add(g, title: title, path: "\(g.name).xlsx")
    case .table:
        if let title { print(title) }
        if g.rows.isEmpty {
            print(L10n.t(.noRows))
        } else {
            var t = TextTable(header: g.columns.map(\.heading))
            t.rows = g.rows.map { $0.map { clip(localizedCode($0.display), width: 36) } }
            print(t.render())
        }
        if !g.summary.isEmpty {
            print(g.summary.map { "\($0.0.heading): \($0.1.display.isEmpty ? "—" : $0.1.display)" }.joined(separator: "   "))
        }
    }
}

/// Runs a workflow command body, reporting refusals as one line with their code and exit 1.
func runWorkflow(_ body: () throws -> Void) throws {
    try reporting {
        do { try body() } catch let e as WorkflowError { fail(e.description + " [\(e.code)]") }
    }
}

/// Status codes stay codes in JSON and CSV; Chinese tables show their names (在办, 逾期 …).
func localizedCode(_ s: String) -> String {
    guard L10n.chinese, s.first?.isUppercase == true else { return s }
    return CodeLabels.name(of: s) ?? s
}

/// A yes-or-no option as a clerk types it: 是/否, yes/no, true/false, 1/0.
struct YesNo: ExpressibleByArgument {
    var value: Bool
    init?(argument: String) {
        guard let v = parseYesNo(argument) else { return nil }
        value = v
    }
    static var defaultCompletionKind: CompletionKind { .list(["是", "否"]) }
}
