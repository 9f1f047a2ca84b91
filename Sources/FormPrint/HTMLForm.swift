import CaseWorkflow

/// A form as one self-contained HTML page with print CSS (A4, 宋体-style fonts): opens and prints in any browser.
public enum HTMLForm {
    public static func render(_ doc: FormDocument, checkCode: String) -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>\(esc(doc.title)) \(esc(doc.number))</title>
        <style>
        @page { size: A4; margin: 18mm 16mm; }
        body { font-family: "AR PL UMing CN", "SimSun", "Songti SC", "Noto Serif CJK SC", serif; font-size: 11pt; color: #000; }
        h1 { text-align: center; font-size: 20pt; letter-spacing: 0.2em; margin: 0 0 4mm; }
        .meta { text-align: right; font-size: 9pt; margin-bottom: 3mm; }
        table { width: 100%; border-collapse: collapse; margin-bottom: 4mm; page-break-inside: auto; }
        td, th { border: 0.6pt solid #000; padding: 1.5mm 2mm; vertical-align: top; }
        th, td.label { background: #f2f2f2; font-weight: normal; white-space: nowrap; }
        caption { text-align: left; font-weight: bold; padding: 1mm 0; }
        p { line-height: 1.6; text-indent: 2em; }
        .signs { display: flex; gap: 6mm; margin-top: 6mm; }
        .sign { flex: 1; border: 0.6pt solid #000; height: 28mm; position: relative; padding: 2mm; }
        .sign .date { position: absolute; right: 3mm; bottom: 2mm; }
        </style></head><body>
        <h1>\(esc(doc.title))</h1>
        <div class="meta">编号：\(esc(doc.number))　　校验码：\(esc(checkCode))</div>

        """
        for block in doc.blocks {
            switch block {
            case .fields(let fields):
                h += "<table class=\"fields\">\n"
                var i = 0
                while i < fields.count {
                    let (l1, v1) = fields[i]
                    if i + 1 < fields.count, v1.count <= 24, fields[i + 1].1.count <= 24 {
                        let (l2, v2) = fields[i + 1]
                        h += "<tr><td class=\"label\">\(esc(l1))</td><td>\(esc(v1))</td><td class=\"label\">\(esc(l2))</td><td>\(esc(v2))</td></tr>\n"
                        i += 2
                    } else {
                        h += "<tr><td class=\"label\">\(esc(l1))</td><td colspan=\"3\">\(esc(v1))</td></tr>\n"
                        i += 1
                    }
                }
                h += "</table>\n"
            case .table(let title, let headers, let rows):
                h += "<table>"
                if let title { h += "<caption>\(esc(title))</caption>" }
                h += "<tr>" + headers.map { "<th>\(esc($0))</th>" }.joined() + "</tr>\n"
                if rows.isEmpty { h += "<tr><td colspan=\"\(headers.count)\">（无）</td></tr>\n" }
                for r in rows { h += "<tr>" + r.map { "<td>\(esc($0))</td>" }.joined() + "</tr>\n" }
                h += "</table>\n"
            case .paragraph(let p):
                h += "<p>\(esc(p))</p>\n"
            case .signatures(let labels):
                h += "<div class=\"signs\">" + labels.map { "<div class=\"sign\">\(esc($0))<span class=\"date\">年　　月　　日</span></div>" }.joined() + "</div>\n"
            }
        }
        h += "</body></html>\n"
        return h
    }

    static func esc(_ s: String) -> String {
        var o = ""
        for ch in s {
            switch ch {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            default: o.append(ch)
            }
        }
        return o
    }
}
