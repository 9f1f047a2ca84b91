import CaseDomain
import CaseWorkflow
import FormPrint
import Foundation
import SyncTesting
import Testing

/// Every printable form of the fixture cases: the document says what the record says, the HTML carries it, and
/// the PDF (libharu, UMing embedded) reads back the same through pdftotext.
@Suite(.serialized) final class FormTests {
    let fixtures: FixtureTests

    init() throws { fixtures = try FixtureTests() }

    func pdfText(_ doc: FormDocument, _ dir: TemporaryDirectory) throws -> String {
        let path = dir.file("\(doc.kind.rawValue).pdf")
        let pages = try PDFForm.render(doc, checkCode: "ABCD-EF01-2345", to: path)
        #expect(pages >= 1)
        let fonts = try String(contentsOfFile: path, encoding: .isoLatin1)
        #expect(fonts.contains("/FontFile2"), "the font is embedded")
        return try Self.text(ofPDF: path)
    }

    /// The text pdftotext reads off a PDF, without blanks (it breaks lines where the form does).
    static func text(ofPDF path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/pdftotext")
        p.arguments = [path, "-"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "pdftotext (poppler-utils) must be installed: scripts/install-deps.sh does it")
        return String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace }
    }

    @Test func everyFormPrintsTheRecord() throws {
        let dir = try TemporaryDirectory("forms")
        defer { dir.cleanup() }
        let county = fixtures.county
        let centre = county.wf("centre"), a01 = county.wf("a01")
        let (c1, c2, c3) = (fixtures.c1, fixtures.c2, fixtures.c3)
        _ = try a01.reportProgress(caseID: c1, periodOf: day("2025-10-10"), deliveredOn: day("2025-10-16"), channel: "微信",
                                   summary: "建设用地规划许可证已核发，环评报告表已受理。")
        _ = try a01.terminate(caseID: c1, formNo: "ZZ-2025-0003", reasonType: "CLIENT_REQUEST", reason: "业主调整投资计划")
        try county.syncAll()

        let expected: [(FormKind, String, [String])] = [
            (.registration, c3, ["代办登记表", "石门村闲置农房民宿改造项目", "项目业主（签字或盖章）"]),
            (.agreement, c3, ["投资项目委托代办协议", "免费（0元）", "甲方（签字或盖章）"]),
            (.plan, c3, ["代办任务分解计划表", "企业设立登记", "食品经营许可", "低压新装供电接入"]),
            (.completion, c3, ["代办项目办结单", "BJ-2025-0021", "审批事项办理情况", "低压新装供电接入"]),
            (.meeting, c2, ["联合审批协调会议纪要", "参会人员", "会议议定事项"]),
            (.progress, c1, ["代办进展情况反馈表", "建设用地规划许可证已核发，环评报告表已受理。", "2025-10-01至2025-10-15"]),
            (.termination, c1, ["代办项目委托终止单", "ZZ-2025-0003", "委托方要求", "业主调整投资计划"]),
        ]
        for (kind, caseID, needles) in expected {
            let doc = try centre.form(kind, caseID: caseID, period: kind == .progress ? day("2025-10-01") : nil)
            #expect(doc.title == kind.title)
            let html = HTMLForm.render(doc, checkCode: "ABCD-EF01-2345")
            let pdf = try pdfText(doc, dir)
            if let keep = ProcessInfo.processInfo.environment["DAIBAN_FORMS_OUT"] {  // to look at them
                try? FileManager.default.copyItem(atPath: dir.file("\(kind.rawValue).pdf"), toPath: keep + "/\(kind.rawValue).pdf")
            }
            for needle in needles + [doc.number, "ABCD-EF01-2345"] {
                #expect(doc.canonicalText.filter { !$0.isWhitespace }.contains(needle.filter { !$0.isWhitespace }) || needle == "ABCD-EF01-2345",
                        "\(kind): \(needle) not in the form")
                #expect(html.filter { !$0.isWhitespace }.contains(HTMLText.escape(needle).filter { !$0.isWhitespace }), "\(kind): \(needle) not in the HTML")
                #expect(pdf.contains(needle.filter { !$0.isWhitespace }), "\(kind): \(needle) not in the PDF text")
            }
        }
        // A form that does not exist yet says so.
        #expect(throws: WorkflowError.self) { _ = try centre.form(.completion, caseID: c2) }
        #expect(FormKind.parse("办结单") == .completion && FormKind.parse("代办登记表") == .registration && FormKind.parse("x") == nil)
    }
}

extension FormTests {
    /// A reason longer than a page goes on over the next pages, all of it on paper; the check code does not move
    /// when the office records its receipt afterwards.
    @Test func longTextFlowsOverPagesAndLaterFieldsKeepTheCode() throws {
        let dir = try TemporaryDirectory("forms-long")
        defer { dir.cleanup() }
        let county = fixtures.county
        let a01 = county.wf("a01")
        let long = String(repeating: "业主因市场变化调整投资计划，", count: 400) + "全文完"
        _ = try a01.terminate(caseID: fixtures.c1, formNo: "ZZ-2025-0009", reasonType: "CLIENT_REQUEST", reason: long)
        let doc = try a01.form(.termination, caseID: fixtures.c1)
        let path = dir.file("long.pdf")
        #expect(try PDFForm.render(doc, checkCode: "ABCD-EF01-2345", to: path) >= 3)
        #expect(try Self.text(ofPDF: path).contains("全文完"), "the end of the reason is on paper")
        let before = doc.checkedText
        try county.syncAll()
        _ = try county.wf("centre").handover(caseID: fixtures.c1, receivedAt: "2025-11-26T10:00")
        try county.syncAll()
        let after = try county.wf("centre").form(.termination, caseID: fixtures.c1)
        #expect(after.canonicalText != doc.canonicalText, "the receipt is printed")
        #expect(after.checkedText == before, "the receipt is filled in after signing and is not part of the check")
    }
}

enum HTMLText {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
