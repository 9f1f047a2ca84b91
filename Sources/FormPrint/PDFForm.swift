import CaseWorkflow
import CHaru
import Foundation

/// A form as an A4 PDF through libharu, with the AR PL UMing font (a 宋体-style face, as official forms use)
/// embedded. libharu writes the PDF in-process, so a township PC prints without a browser or an office suite.
/// UMing is used because libharu 2.3 subsets fonts with composite glyphs wrongly (WenQuanYi and Droid lose
/// strokes); UMing has none. Characters outside the Basic Multilingual Plane print as blanks.
public enum PDFForm {
    /// The font file: `DAIBAN_FORM_FONT`, else Debian's fonts-arphic-uming.
    public static var fontPath: String {
        ProcessInfo.processInfo.environment["DAIBAN_FORM_FONT"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/usr/share/fonts/truetype/arphic/uming.ttc"
    }

    public struct RenderError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes the form to `path`; returns the number of pages.
    @discardableResult
    public static func render(_ doc: FormDocument, checkCode: String, to path: String, font: String = fontPath) throws -> Int {
        guard FileManager.default.isReadableFile(atPath: font) else {
            throw RenderError(description: "font \(font)")
        }
        guard let pdf = HPDF_New(nil, nil) else { throw RenderError(description: "libharu") }
        defer { HPDF_Free(pdf) }
        HPDF_SetCompressionMode(pdf, UInt32(HPDF_COMP_ALL))
        HPDF_UseUTFEncodings(pdf)
        HPDF_SetCurrentEncoder(pdf, "UTF-8")
        let name = font.hasSuffix(".ttc") ? HPDF_LoadTTFontFromFile2(pdf, font, 0, HPDF_TRUE) : HPDF_LoadTTFontFromFile(pdf, font, HPDF_TRUE)
        guard let name, let f = HPDF_GetFont(pdf, name, "UTF-8") else {
            throw RenderError(description: "font \(font) (libharu error 0x\(String(HPDF_GetError(pdf), radix: 16)))")
        }
        HPDF_SetInfoAttr(pdf, HPDF_INFO_TITLE, "\(doc.title) \(doc.number)")
        HPDF_SetInfoAttr(pdf, HPDF_INFO_CREATOR, "daiban")
        var layout = Layout(pdf: pdf, font: f, footer: "\(doc.title)　编号 \(doc.number)　校验码 \(checkCode)")
        layout.newPage()
        layout.title(doc.title)
        layout.meta("编号：\(doc.number)　　校验码：\(checkCode)")
        for block in doc.blocks {
            switch block {
            case .fields(let fields): layout.fields(fields)
            case .table(let title, let headers, let rows): layout.table(title: title, headers: headers, rows: rows)
            case .paragraph(let text): layout.paragraph(text)
            case .signatures(let labels): layout.signatures(labels)
            }
        }
        layout.finishPage()
        guard HPDF_GetError(pdf) == HPDF_OK else {
            throw RenderError(description: "libharu error 0x\(String(HPDF_GetError(pdf), radix: 16))")
        }
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard HPDF_SaveToFile(pdf, tmp) == HPDF_OK, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw RenderError(description: "\(path): \(String(cString: strerror(errno)))")
        }
        return layout.pageNumber
    }
}

/// Top-down layout on A4 pages, in points.
private struct Layout {
    let pdf: HPDF_Doc
    let font: HPDF_Font
    let footer: String
    var page: HPDF_Page?
    var pageNumber = 0
    var y: Float = 0
    let width: Float = 595.276, height: Float = 841.89
    let left: Float = 56, right: Float = 56, top: Float = 56, bottom: Float = 64
    var inner: Float { width - left - right }

    init(pdf: HPDF_Doc, font: HPDF_Font, footer: String) {
        self.pdf = pdf
        self.font = font
        self.footer = footer
    }

    mutating func newPage() {
        if page != nil { finishPage() }
        page = HPDF_AddPage(pdf)
        HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT)
        HPDF_Page_SetLineWidth(page, 0.6)
        pageNumber += 1
        y = height - top
    }

    mutating func finishPage() {
        guard page != nil else { return }
        text(footer + "　第 \(pageNumber) 页", x: left, baseline: bottom - 28, size: 8)
    }

    /// Starts a new page unless `needed` points fit above the bottom margin.
    mutating func room(_ needed: Float) {
        if y - needed < bottom { newPage() }
    }

    func measure(_ s: String, size: Float) -> Float {
        HPDF_Page_SetFontAndSize(page, font, size)
        return HPDF_Page_TextWidth(page, s)
    }

    func text(_ s: String, x: Float, baseline: Float, size: Float) {
        guard !s.isEmpty else { return }
        HPDF_Page_BeginText(page)
        HPDF_Page_SetFontAndSize(page, font, size)
        HPDF_Page_TextOut(page, x, baseline, s)
        HPDF_Page_EndText(page)
    }

    /// Lines of `s` no wider than `maxWidth`, breaking anywhere (CJK has no spaces) but after line breaks first.
    func wrap(_ s: String, _ maxWidth: Float, size: Float) -> [String] {
        var lines: [String] = []
        for paragraph in s.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = "", w: Float = 0
            for ch in paragraph {
                let cw = measure(String(ch), size: size)
                if w + cw > maxWidth, !line.isEmpty {
                    lines.append(line)
                    line = ""
                    w = 0
                }
                line.append(ch)
                w += cw
            }
            lines.append(line)
        }
        return lines
    }

    func box(_ x: Float, _ yTop: Float, _ w: Float, _ h: Float, fill: Bool = false) {
        if fill {
            HPDF_Page_SetGrayFill(page, 0.94)
            HPDF_Page_Rectangle(page, x, yTop - h, w, h)
            HPDF_Page_Fill(page)
            HPDF_Page_SetGrayFill(page, 0)
        }
        HPDF_Page_Rectangle(page, x, yTop - h, w, h)
        HPDF_Page_Stroke(page)
    }

    mutating func title(_ s: String) {
        let size: Float = 20
        text(s, x: left + (inner - measure(s, size: size)) / 2, baseline: y - size, size: size)
        y -= size + 12
    }

    mutating func meta(_ s: String) {
        let size: Float = 9
        text(s, x: width - right - measure(s, size: size), baseline: y - size, size: size)
        y -= size + 8
    }

    /// One row of cells: (text, width, shaded); each cell wraps, the row is as tall as its tallest cell. A row
    /// taller than what is left of the page goes on over the next pages, so no text is ever cut off.
    mutating func row(_ cells: [(String, Float, Bool)], size: Float = 10.5) {
        let pad: Float = 4, lead = size * 1.45
        var wrapped = cells.map { wrap($0.0, $0.1 - 2 * pad, size: size) }
        let full = Float(wrapped.map(\.count).max() ?? 1) * lead + 2 * pad
        room(min(full, height - top - bottom))
        repeat {
            let fit = max(1, Int((y - bottom - 2 * pad) / lead))
            let lines = min(fit, wrapped.map(\.count).max() ?? 1)
            let h = Float(lines) * lead + 2 * pad
            var x = left
            for (i, c) in cells.enumerated() {
                box(x, y, c.1, h, fill: c.2)
                for (j, line) in wrapped[i].prefix(lines).enumerated() {
                    text(line, x: x + pad, baseline: y - pad - Float(j) * lead - size, size: size)
                }
                wrapped[i] = Array(wrapped[i].dropFirst(lines))
                x += c.1
            }
            y -= h
            if wrapped.contains(where: { !$0.isEmpty }) { newPage() }
        } while wrapped.contains(where: { !$0.isEmpty })
    }

    mutating func fields(_ fields: [(String, String)]) {
        let label: Float = 92, value = (inner - 2 * label) / 2
        var i = 0
        while i < fields.count {
            let (l1, v1) = fields[i]
            if i + 1 < fields.count, measure(v1, size: 10.5) <= value - 8, measure(fields[i + 1].1, size: 10.5) <= value - 8 {
                let (l2, v2) = fields[i + 1]
                row([(l1, label, true), (v1, value, false), (l2, label, true), (v2, value, false)])
                i += 2
            } else {
                row([(l1, label, true), (v1, inner - label, false)])
                i += 1
            }
        }
        y -= 10
    }

    mutating func table(title: String?, headers: [String], rows: [[String]]) {
        if let title {
            room(40)
            text(title, x: left, baseline: y - 12, size: 11)
            y -= 18
        }
        // Column widths from the widest cell of each column (capped), scaled to the page.
        let natural = headers.indices.map { c -> Float in
            let cells = [headers[c]] + rows.map { c < $0.count ? $0[c] : "" }
            return min(170, max(24, cells.map { measure($0, size: 10) }.max() ?? 24)) + 10
        }
        let scale = inner / natural.reduce(0, +)
        let widths = natural.map { $0 * scale }
        row(zip(headers, widths).map { ($0, $1, true) }, size: 10)
        if rows.isEmpty { row([("（无）", inner, false)], size: 10) }
        for r in rows { row(widths.indices.map { (($0 < r.count ? r[$0] : ""), widths[$0], false) }, size: 10) }
        y -= 10
    }

    mutating func paragraph(_ s: String) {
        let size: Float = 11, lead = size * 1.6
        let lines = wrap("　　" + s, inner, size: size)
        for line in lines {
            room(lead)
            text(line, x: left, baseline: y - size, size: size)
            y -= lead
        }
        y -= 6
    }

    mutating func signatures(_ labels: [String]) {
        guard !labels.isEmpty else { return }
        let gap: Float = 14, h: Float = 84
        let w = (inner - gap * Float(labels.count - 1)) / Float(labels.count)
        room(h + 10)
        for (i, label) in labels.enumerated() {
            let x = left + Float(i) * (w + gap)
            box(x, y, w, h)
            for (j, line) in wrap(label, w - 10, size: 10).enumerated() { text(line, x: x + 5, baseline: y - 15 - Float(j) * 14, size: 10) }
            let date = "年　　月　　日"
            text(date, x: x + w - 6 - measure(date, size: 10), baseline: y - h + 8, size: 10)
        }
        y -= h + 10
    }
}
