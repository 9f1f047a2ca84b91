import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SyncCore
import ZIPFoundation

/// The sheets of an Excel workbook (.xlsx), read with ZIPFoundation and Foundation's XML parser: cell text as
/// Excel shows it, dates (by their number format) as `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`, whole numbers without
/// a decimal point. Rows keep their sheet row numbers, so an error can name the row a clerk sees.
public enum XLSXReader {
    public struct Sheet: Sendable {
        public let name: String
        /// Rows by their row number (1 = the first row); cells by column index (0 = A).
        public let rows: [(number: Int, cells: [String])]
    }

    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Whether the bytes are a zip archive (an .xlsx is one).
    public static func looksLikeXLSX(_ data: Data) -> Bool { data.starts(with: [0x50, 0x4B, 0x03, 0x04]) }

    /// Most columns a sheet may use (an import needs a few dozen), and most cells in all.
    static let maxColumns = 256
    static let maxCells = 4_000_000

    public static func read(_ data: Data) throws -> [Sheet] {
        var budget = 256 << 20  // decompressed bytes of all parts together
        // Read from a private temporary file, not from memory: ZIPFoundation's in-memory archive traps on a
        // damaged file whose offsets point past its end (found by fuzzing the importers), its file one does not.
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("daiban-xlsx-\(UUID().uuidString).zip")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw ReadError(description: "cannot read the workbook: no room for a temporary copy in \(temporary.deletingLastPathComponent().path)")
        }
        defer { try? FileManager.default.removeItem(at: temporary) }
        let archive: Archive
        do { archive = try Archive(url: temporary, accessMode: .read) } catch { throw ReadError(description: "not an Excel workbook") }
        func file(_ path: String) throws -> Data? {
            guard let entry = archive[path] else { return nil }
            // A part's size as its header claims it, and as it inflates (a header may lie): at most 256 MiB.
            guard entry.uncompressedSize <= UInt64(budget) else { throw ReadError(description: "the workbook is larger than 256 MiB unpacked") }
            var out = Data()
            do {
                _ = try archive.extract(entry) { chunk in
                    guard out.count + chunk.count <= budget else { throw ReadError(description: "the workbook is larger than 256 MiB unpacked") }
                    out.append(chunk)
                }
                budget -= out.count
                // Foundation's XML parser traps on names that are not UTF-8 (found by fuzzing): refuse them here.
                guard String(data: out, encoding: .utf8) != nil else {
                    throw ReadError(description: "\(path) is damaged (not UTF-8 text)")
                }
            } catch let e as ReadError {
                throw e
            } catch {
                throw ReadError(description: "\(path) is damaged (\(error))")
            }
            return out
        }
        guard let workbook = try file("xl/workbook.xml") else { throw ReadError(description: "not an Excel workbook (no xl/workbook.xml)") }
        let rels = try file("xl/_rels/workbook.xml.rels").map { Elements.parse($0, ["Relationship"]) } ?? []
        let targets = Dictionary(rels.compactMap { r in r["Id"].flatMap { id in r["Target"].map { (id, $0) } } }, uniquingKeysWith: { a, _ in a })
        let shared = try file("xl/sharedStrings.xml").map(SharedStrings.parse) ?? []
        let dateStyles = try file("xl/styles.xml").map(Styles.dateStyles) ?? []
        // The 1904 date system (old Mac workbooks) counts from 1904-01-01: 1,462 days later than the usual one.
        let date1904 = Elements.parse(workbook, ["workbookPr"]).first?["date1904"].map { $0 == "1" || $0 == "true" } ?? false
        var cells = 0
        var sheets: [Sheet] = []
        for s in Elements.parse(workbook, ["sheet"]) {
            guard let name = s["name"], let rid = s["r:id"] ?? s["id"], var target = targets[rid] else { continue }
            if target.hasPrefix("/") { target.removeFirst() } else { target = "xl/" + target }
            guard let xml = try file(target) else { continue }
            let rows = try SheetParser.parse(xml, shared: shared, dateStyles: dateStyles, dayOffset: date1904 ? 1462 : 0)
            cells += rows.reduce(0) { $0 + $1.cells.count }
            guard cells <= maxCells else { throw ReadError(description: "the workbook has more than \(maxCells) cells") }
            sheets.append(Sheet(name: name, rows: rows))
        }
        return sheets
    }
}

/// Attributes of the named elements of a small XML part.
private final class Elements: NSObject, XMLParserDelegate {
    let names: Set<String>
    var found: [[String: String]] = []
    init(_ names: Set<String>) { self.names = names }
    static func parse(_ data: Data, _ names: Set<String>) -> [[String: String]] {
        let d = Elements(names)
        let p = XMLParser(data: data)
        p.delegate = d
        p.parse()
        return d.found
    }
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if names.contains(name) { found.append(attributes) }
    }
}

/// xl/sharedStrings.xml: the text of each `<si>`, its runs joined.
private final class SharedStrings: NSObject, XMLParserDelegate {
    var strings: [String] = []
    var current = "", inText = false, inPhonetic = false
    static func parse(_ data: Data) throws -> [String] {
        let d = SharedStrings()
        let p = XMLParser(data: data)
        p.delegate = d
        guard p.parse() else { throw XLSXReader.ReadError(description: "the shared strings are damaged") }
        return d.strings
    }
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        switch name {
        case "si": current = ""
        case "t": inText = !inPhonetic
        case "rPh": inPhonetic = true
        default: break
        }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { current += string } }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        switch name {
        case "si": strings.append(current)
        case "t": inText = false
        case "rPh": inPhonetic = false
        default: break
        }
    }
}

/// xl/styles.xml: which cell styles (`s="N"`) show a date.
private final class Styles: NSObject, XMLParserDelegate {
    var customDate: Set<Int> = []
    var xfDate: [Bool] = []
    var inCellXfs = false
    static func dateStyles(_ data: Data) throws -> Set<Int> {
        let d = Styles()
        let p = XMLParser(data: data)
        p.delegate = d
        guard p.parse() else { throw XLSXReader.ReadError(description: "the styles are damaged") }
        return Set(d.xfDate.indices.filter { d.xfDate[$0] })
    }
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        switch name {
        case "numFmt":
            // A custom format that has a day, month or year part outside quotes and brackets.
            if let id = attributes["numFmtId"].flatMap(Int.init), let code = attributes["formatCode"] {
                var plain = "", quoted = false, bracket = false
                for ch in code {
                    if ch == "\"" { quoted.toggle() } else if ch == "[" { bracket = true } else if ch == "]" { bracket = false }
                    else if !quoted && !bracket { plain.append(ch) }
                }
                if plain.lowercased().contains(where: { "ymd".contains($0) }) { customDate.insert(id) }
            }
        case "cellXfs": inCellXfs = true
        case "xf" where inCellXfs:
            let id = attributes["numFmtId"].flatMap(Int.init) ?? 0
            xfDate.append((14...22).contains(id) || (27...36).contains(id) || (45...47).contains(id) || (50...58).contains(id) || customDate.contains(id))
        default: break
        }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "cellXfs" { inCellXfs = false }
    }
}

/// One worksheet, streamed: rows of cell text.
private final class SheetParser: NSObject, XMLParserDelegate {
    let shared: [String]
    let dateStyles: Set<Int>
    let dayOffset: Int
    var rows: [(number: Int, cells: [String])] = []
    var cells: [String] = []
    var rowNumber = 0
    var column = 0, type = "", style = 0, value = "", inValue = false
    var failure: String?

    init(shared: [String], dateStyles: Set<Int>, dayOffset: Int) {
        self.shared = shared
        self.dateStyles = dateStyles
        self.dayOffset = dayOffset
    }

    static func parse(_ data: Data, shared: [String], dateStyles: Set<Int>, dayOffset: Int) throws -> [(number: Int, cells: [String])] {
        let d = SheetParser(shared: shared, dateStyles: dateStyles, dayOffset: dayOffset)
        let p = XMLParser(data: data)
        p.delegate = d
        let parsed = p.parse()
        if let f = d.failure { throw XLSXReader.ReadError(description: f) }
        guard parsed else { throw XLSXReader.ReadError(description: "a worksheet is damaged (\(p.parserError.map { "\($0)" } ?? "XML"))") }
        return d.rows
    }

    /// `B12` → 1; nil past column XFD (three letters at most).
    static func columnIndex(_ ref: String) -> Int? {
        var n = 0, letters = 0
        for ch in ref.unicodeScalars {
            guard ch.value >= 65 && ch.value <= 90 else { break }
            letters += 1
            guard letters <= 3 else { return nil }
            n = n * 26 + Int(ch.value - 64)
        }
        return letters > 0 ? n - 1 : nil
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        switch name {
        case "row":
            rowNumber = attributes["r"].flatMap(Int.init) ?? rowNumber + 1
            cells = []
        case "c":
            if let r = attributes["r"] {
                guard let c = Self.columnIndex(r) else { failure = "row \(rowNumber) has a cell beyond column XFD"; parser.abortParsing(); return }
                column = c
            } else {
                column = cells.count
            }
            type = attributes["t"] ?? "n"
            style = attributes["s"].flatMap(Int.init) ?? 0
            value = ""
        case "v", "t": inValue = true
        default: break
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { if inValue { value += string } }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        switch name {
        case "v", "t": inValue = false
        case "c":
            guard column < XLSXReader.maxColumns else {
                if !text().isEmpty { failure = "row \(rowNumber) uses more than \(XLSXReader.maxColumns) columns"; parser.abortParsing() }
                return
            }
            while cells.count <= column { cells.append("") }
            cells[column] = text()
        case "row":
            if cells.contains(where: { !$0.isEmpty }) { rows.append((rowNumber, cells)) }
        default: break
        }
    }

    func text() -> String {
        switch type {
        case "s":
            guard let i = Int(value), i >= 0, i < shared.count else {
                failure = "row \(rowNumber) names a shared text that the workbook does not hold"
                return ""
            }
            return shared[i]
        case "b": return value == "1" ? "true" : "false"
        case "str", "inlineStr", "e": return value
        default:
            guard let n = Double(value), n.isFinite else { return value }
            if dateStyles.contains(style), (0...2_958_465).contains(n) {  // up to 9999-12-31
                // Excel's serial date: days since 1899-12-30 (or 1904-01-01), the fraction the time of day.
                var whole = Int(n.rounded(.down))
                var minutes = Int(((n - n.rounded(.down)) * 1440).rounded())
                if minutes == 1440 { whole += 1; minutes = 0 }
                let date = CivilDate(daysSinceEpoch: Int32(whole - 25_569 + dayOffset)).description
                return minutes == 0 ? date : date + String(format: "T%02d:%02d", minutes / 60, minutes % 60)
            }
            if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
            return String(n)
        }
    }
}
