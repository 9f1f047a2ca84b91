import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import Spreadsheet
import SyncCore
import SyncTesting
import Testing

/// Excel in and out: a workbook written by `XLSXWriter` reads back cell for cell (dates as dates), the catalogue
/// and calendar import from sheets with Chinese headings and values, and a bad cell is named by sheet, row and
/// column, with nothing written.
@Suite(.serialized) final class SpreadsheetTests {
    let county: County
    init() throws { county = try County([:]) }

    func workbook(_ sheets: [XLSXWriter.Sheet], _ dir: TemporaryDirectory, _ name: String = "book.xlsx") throws -> Data {
        let path = dir.file(name)
        try XLSXWriter.write(sheets, to: path)
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    @Test func aWorkbookReadsBackAsWritten() throws {
        let dir = try TemporaryDirectory("xlsx")
        defer { dir.cleanup() }
        let rows: [[XLSXWriter.Cell]] = [
            [.text("年产2万吨速冻食品加工项目"), .number(6800), .date(CivilDate.days("2025-09-01")!, minutes: nil),
             .date(CivilDate.days("2025-09-01")!, minutes: 14 * 60 + 30), .number(2.5)],
            [.text("a \"quoted\" <tag> & more"), .empty, .empty, .empty, .number(-3)],
        ]
        let data = try workbook([XLSXWriter.Sheet(name: "项目/清单", headers: ["名称", "投资", "日期", "时间", "比例"], rows: rows)], dir)
        #expect(XLSXReader.looksLikeXLSX(data))
        let sheets = try XLSXReader.read(data)
        #expect(sheets.count == 1 && sheets[0].name == "项目_清单", "Excel's forbidden characters are replaced")
        let read = sheets[0].rows
        #expect(read.map(\.number) == [1, 2, 3])
        #expect(read[0].cells == ["名称", "投资", "日期", "时间", "比例"])
        #expect(read[1].cells == ["年产2万吨速冻食品加工项目", "6800", "2025-09-01", "2025-09-01T14:30", "2.5"])
        #expect(read[2].cells == ["a \"quoted\" <tag> & more", "", "", "", "-3"])
        #expect(XLSXWriter.cell(text: "2025-11-20") == .date(CivilDate.days("2025-11-20")!, minutes: nil))
        #expect(XLSXWriter.cell(text: "2025-11-20T08:05") == .date(CivilDate.days("2025-11-20")!, minutes: 485))
        #expect(XLSXWriter.cell(text: "2025-13-20") == .text("2025-13-20"))
        #expect(throws: XLSXReader.ReadError.self) { _ = try XLSXReader.read(Data("PK\u{3}\u{4}garbage".utf8)) }
    }

    @Test func theCatalogueImportsFromASheetWithChineseHeadings() throws {
        let dir = try TemporaryDirectory("xlsx-cat")
        defer { dir.cleanup() }
        let centre = county.wf("centre")
        let headers = ["事项编码", "事项名称", "实施部门", "办件类型", "承诺时限", "承诺时限单位", "法定时限", "法定时限单位", "申请材料"]
        func row(_ code: String, _ unit: String) -> [XLSXWriter.Cell] {
            [.text(code), .text("测试事项 \(code)"), .text("D-FG"), .text("承诺件"), .number(5), .text(unit), .number(20), .text("工作日"),
             .text("营业执照；项目建议书")]
        }
        let good = try workbook([XLSXWriter.Sheet(name: "说明", headers: ["本表用途"], rows: [[.text("事项目录导入")]]),
                                 XLSXWriter.Sheet(name: "事项目录", headers: headers, rows: [row("XT-01", "工作日"), row("XT-02", "自然日")])], dir)
        #expect(try centre.importCatalogue(data: good).written == 2)
        let item = try #require(try centre.read { try $0.row("catalogue_item", "XT-02") })
        #expect(item["committed_unit"] as String? == "ND" && item["legal_unit"] as String? == "WD")
        #expect(item["default_kind"] as String? == "COMMITTED" && item["committed_limit"] as Int? == 5)
        #expect(item["required_materials"] as String? == "营业执照；项目建议书")

        // A bad unit in the third data row: the sheet, the row a clerk sees (4) and the column as headed.
        let bad = try workbook([XLSXWriter.Sheet(name: "事项目录", headers: headers,
                                                 rows: [row("XT-03", "工作日"), row("XT-04", "工作日"), row("XT-05", "周")])], dir, "bad.xlsx")
        do {
            _ = try centre.importCatalogue(data: bad)
            Issue.record("a bad unit was accepted")
        } catch let e as WorkflowError {
            #expect(e.description.contains("sheet 事项目录, row 4, column 承诺时限单位（committed_unit）"), "\(e.description)")
        }
        #expect(try centre.read { try $0.row("catalogue_item", "XT-03") } == nil, "nothing of the refused file is written")
        // A heading that names nothing is refused up front.
        let unknown = try workbook([XLSXWriter.Sheet(name: "事项目录", headers: ["事项编码", "备忘"], rows: [[.text("XT-06"), .text("x")]])],
                                   dir, "unknown.xlsx")
        #expect(throws: WorkflowError.self) { _ = try centre.importCatalogue(data: unknown) }
    }

    @Test func theCalendarImportsRealExcelDates() throws {
        let dir = try TemporaryDirectory("xlsx-cal")
        defer { dir.cleanup() }
        let sheet = XLSXWriter.Sheet(name: "2026年工作日历", headers: ["日期", "星期", "是否工作日", "依据"], rows: [
            [.date(CivilDate.days("2026-01-01")!, minutes: nil), .text("四"), .text("否"), .text("元旦")],
            [.date(CivilDate.days("2026-01-04")!, minutes: nil), .text("日"), .text("是"), .text("调休上班")],
        ])
        let r = try county.wf("centre").importCalendar(data: try workbook([sheet], dir), version: nil)
        #expect(r.days == 2)
        let day = try #require(try county.wf("centre").read { try $0.row("calendar_day", "2026-01-04") })
        #expect(day["workday"] as Bool? == true)
    }

    @Test func theRosterImportsFromAWorkbookWithASheetPerTable() throws {
        let dir = try TemporaryDirectory("xlsx-roster")
        defer { dir.cleanup() }
        let book = try workbook([
            XLSXWriter.Sheet(name: "乡镇", headers: ["编号", "乡镇名称", "类型", "代办机构"],
                             rows: [[.text("OFF-XH"), .text("溪后乡"), .text("TOWN"), .text("OFF-DG")]]),
            XLSXWriter.Sheet(name: "人员", headers: ["编号", "姓名", "登录名", "所属机构", "角色", "是否在岗"],
                             rows: [[.text("A09"), .text("周晓梅"), .text("a09"), .text("OFF-DG"), .text("代办员、首席代办员"), .text("是")]]),
            XLSXWriter.Sheet(name: "规则", headers: ["规则", "值"], rows: [[.text("timer.warning_wd"), .number(3)]]),
        ], dir)
        let centre = county.wf("centre")
        #expect(try centre.importRoster(data: book) == 3)
        let person = try #require(try centre.read { try $0.row("person", "A09") })
        #expect(person["roles"] as String? == "AGENT,CHIEF_AGENT" && person["active"] as Bool? == true)
        #expect(try centre.townshipID(for: "溪后乡") == "OFF-XH")
        #expect(try centre.read { try $0.rules() }.warningWorkdays == 3)
        // A bad rule value: the sheet and row are named, and nothing of the workbook is written.
        let bad = try workbook([
            XLSXWriter.Sheet(name: "人员", headers: ["编号", "姓名"], rows: [[.text("A10"), .text("新人")]]),
            XLSXWriter.Sheet(name: "规则", headers: ["规则", "值"], rows: [[.text("timer.warning_wd"), .text("两天")]]),
        ], dir, "bad.xlsx")
        do {
            _ = try centre.importRoster(data: bad)
            Issue.record("a bad rule was accepted")
        } catch let e as WorkflowError {
            #expect(e.description.contains("sheet 规则, row 2"), "\(e.description)")
        }
        #expect(try centre.read { try $0.row("person", "A10") } == nil)
    }

    /// Hand-made workbooks a hostile or broken file could be: each is refused with an error, never a crash.
    @Test func brokenWorkbooksAreRefusedNotCrashedOn() throws {
        func book(_ sheet: String, shared: String? = nil, workbookPr: String = "") throws -> Data {
            let dir = try TemporaryDirectory("xlsx-bad")
            defer { dir.cleanup() }
            let root = dir.file("x")
            let files: [(String, String)] = [
                ("[Content_Types].xml", #"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#),
                ("xl/workbook.xml", #"<?xml version="1.0"?><workbook xmlns:r="r">\#(workbookPr)<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#),
                ("xl/_rels/workbook.xml.rels", #"<?xml version="1.0"?><Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>"#),
                ("xl/worksheets/sheet1.xml", #"<?xml version="1.0"?><worksheet><sheetData>\#(sheet)</sheetData></worksheet>"#),
                ("xl/styles.xml", #"<?xml version="1.0"?><styleSheet><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>"#),
            ] + (shared.map { [("xl/sharedStrings.xml", $0)] } ?? [])
            for (path, text) in files {
                try FileManager.default.createDirectory(atPath: (root + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + path))
            }
            let zip = Process()
            zip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            zip.arguments = ["python3", "-c", "import shutil,sys; shutil.make_archive(sys.argv[1], 'zip', sys.argv[2])", dir.file("b"), root]
            try zip.run()
            zip.waitUntilExit()
            return try Data(contentsOf: URL(fileURLWithPath: dir.file("b.zip")))
        }
        let shared = #"<?xml version="1.0"?><sst><si><t>编号</t></si></sst>"#
        for bad in [#"<row r="1"><c r="A1" t="s"><v>-1</v></c></row>"#, #"<row r="1"><c r="A1" t="s"><v>7</v></c></row>"#,
                    #"<row r="1"><c r="ZZZZZZZZZZZZZZZ1"><v>1</v></c></row>"#, #"<row r="1"><c r="IW1"><v>1</v></c></row>"#] {
            #expect(throws: XLSXReader.ReadError.self, "\(bad)") { _ = try XLSXReader.read(try book(bad, shared: shared)) }
        }
        // Numbers far outside any date in a date-styled cell stay numbers; no trap.
        let huge = try XLSXReader.read(try book(#"<row r="1"><c r="A1" s="1"><v>1e20</v></c><c r="B1" s="1"><v>NaN</v></c></row>"#))
        #expect(huge[0].rows[0].cells.count == 2)
        // The 1904 date system: serial 0 is 1904-01-01.
        let mac = try XLSXReader.read(try book(#"<row r="1"><c r="A1" s="1"><v>0</v></c></row>"#, workbookPr: #"<workbookPr date1904="1"/>"#))
        #expect(mac[0].rows[0].cells == ["1904-01-01"])
        #expect(throws: XLSXReader.ReadError.self) { _ = try XLSXReader.read(try book(#"<row r="1"><c r="A1"><v>&bogus;</v></c></row>"#)) }
    }

    /// The workbooks fuzzing found that crashed the reader (a zip whose directory lies past its end; XML names that
    /// are not UTF-8): kept as regression inputs in Tests/Fixtures/fuzz/importer, each now refused with an error.
    @Test func workbooksFuzzingFoundAreRefused() throws {
        let dir = repositoryRoot + "/Tests/Fixtures/fuzz/importer"
        let found = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("regress-") && $0.hasSuffix(".xlsx.bin") }
        #expect(found.count >= 3)
        for name in found {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)).dropFirst()  // the target's selector byte
            #expect(throws: XLSXReader.ReadError.self, "\(name)") { _ = try XLSXReader.read(Data(bytes)) }
        }
    }
}
