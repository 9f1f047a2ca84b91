import ArgumentParser
import CaseWorkflow
import CommandText
import Crypto
import FormPrint
import Foundation
import TerminalText

/// `daiban form KIND CASE`: a printable form (A4 PDF, or HTML) of a case's record, with a check code that ties
/// the paper to the record.
struct FormCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "form",
        abstract: L10n.pick("Print a form of a case as an A4 PDF (or HTML), with its number and a check code.",
                            "打印代办项目的表单（A4 PDF 或 HTML），带表单编号和校验码。"))
    @OptionGroup var home: HomeOptions
    @Argument(help: .l("registration (代办登记表), agreement (委托代办协议), plan (代办任务分解计划表), completion (办结单), termination (终止单), meeting (协调会议纪要), progress (进展反馈).",
                       "表单：registration（代办登记表）、agreement（委托代办协议）、plan（代办任务分解计划表）、completion（办结单）、termination（终止单）、meeting（协调会议纪要）、progress（进展反馈表）；也可填中文名称。"))
    var kind: String
    @OptionGroup var caseRef: CaseArgument
    @Option(help: .l("Where to write it: FILE.pdf or FILE.html (default: the form's name and number, as PDF, here).",
                     "输出文件：FILE.pdf 或 FILE.html（默认：在当前目录按表单名称和编号生成 PDF）。"))
    var output: String?
    @Option(help: .l("meeting: which meeting (default the latest of the case).", "meeting 时：哪次会议（默认该项目最近一次）。"))
    var meeting: String?
    @Option(help: .l("progress: the half-month's first day (default the latest report).", "progress 时：半月期间的第一天（默认最近一期）。"))
    var period: String?
    @Option(help: .l("Check a printed form: the check code on the paper; says whether it matches the record now.",
                     "核对纸质表单：填写纸上的校验码，检查是否与当前记录一致。"))
    var verify: String?
    @Flag(help: .l("Print the form's data as JSON instead of a file.", "以 JSON 输出表单内容，不生成文件。")) var json = false

    static func checkCode(_ doc: FormDocument) -> String {
        let hex = SHA256.hash(data: Data(doc.checkedText.utf8)).prefix(6).map { String(format: "%02X", $0) }.joined()
        return [0, 4, 8].map { i in String(hex.dropFirst(i).prefix(4)) }.joined(separator: "-")
    }

    func run() throws {
        try runWorkflow {
            guard let kind = FormKind.parse(kind) else {
                throw CLIError(L10n.t(.unknownForm, self.kind, FormKind.allCases.map { "\($0.rawValue)（\($0.title)）" }.joined(separator: "、")))
            }
            let wf = try workflow(home)
            let doc = try wf.form(kind, caseID: try wf.caseID(for: caseRef.text), meetingID: meeting, period: try parseDay(period))
            let code = Self.checkCode(doc)
            if let verify {
                let given = verify.uppercased().filter { $0.isHexDigit }
                guard given == code.filter({ $0.isHexDigit }) else { throw CLIError(L10n.t(.formMismatch, doc.title, doc.number)) }
                print(L10n.t(.formMatches, doc.title, doc.number))
                return
            }
            if json {
                print(JSON.object([("kind", .string(kind.rawValue)), ("title", .string(doc.title)), ("number", .string(doc.number)),
                                   ("case", .string(doc.caseID)), ("check_code", .string(code)), ("text", .string(doc.canonicalText))]).text)
                return
            }
            let safe = doc.number.map { "/\\:*?\"<>| ".contains($0) ? "_" : $0 }
            let path = output ?? "\(doc.title)-\(String(safe)).pdf"
            if path.lowercased().hasSuffix(".html") || path.lowercased().hasSuffix(".htm") {
                do { try Data(HTMLForm.render(doc, checkCode: code).utf8).write(to: URL(fileURLWithPath: path), options: .atomic) }
                catch { throw CLIError(L10n.t(.cannotWrite, path, error.localizedDescription)) }
                print(L10n.t(.formWritten, path, doc.title, doc.number, code))
            } else {
                do {
                    let pages = try PDFForm.render(doc, checkCode: code, to: path)
                    print(L10n.t(.formWrittenPages, path, doc.title, doc.number, code, pages))
                } catch let e as PDFForm.RenderError {
                    throw CLIError(L10n.t(.formRenderFailed, e.description))
                }
            }
        }
    }
}

extension L10n.Key {
    static let unknownForm = Self(en: "no form {0} (known: {1})", zh: "没有表单“{0}”（可选：{1}）")
    static let formWritten = Self(en: "wrote {0}: {1} {2}, check code {3}", zh: "已生成 {0}：{1} {2}，校验码 {3}")
    static let formWrittenPages = Self(en: "wrote {0}: {1} {2}, check code {3}, {4} page(s)", zh: "已生成 {0}：{1} {2}，校验码 {3}，共 {4} 页")
    static let formMatches = Self(en: "{0} {1}: the check code matches the record", zh: "{0} {1}：校验码与当前记录一致")
    static let formMismatch = Self(en: "{0} {1}: the check code does not match the record (the record changed after printing, or this is another form)",
                                   zh: "{0} {1}：校验码与当前记录不一致（打印后记录有改动，或不是这份表单）")
    static let formRenderFailed = Self(en: "cannot print the form: {0} (install fonts-arphic-uming, or set DAIBAN_FORM_FONT to a TrueType font)",
                                       zh: "无法生成表单：{0}（请安装 fonts-arphic-uming，或用 DAIBAN_FORM_FONT 指定 TrueType 字体）")
}
