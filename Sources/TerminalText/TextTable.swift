import Foundation

/// Renders aligned text tables; East Asian wide characters count as two columns.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(header: [String], rows: [[String]] = []) {
        self.header = header
        self.rows = rows
    }

    public func render() -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for r in all { for (i, c) in r.enumerated() { widths[i] = max(widths[i], displayWidth(c)) } }
        return all.map { r in
            r.enumerated().map { i, c in
                i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - displayWidth(c))
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Terminal columns a string takes: 2 for East Asian wide and fullwidth characters, 0 for combining marks.
public func displayWidth(_ s: String) -> Int {
    s.unicodeScalars.reduce(0) { $0 + scalarWidth($1.value) }
}

private func scalarWidth(_ v: UInt32) -> Int {
    switch v {
    case 0x0300...0x036F, 0x200B...0x200F, 0xFE00...0xFE0F: return 0
    case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
        0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
        0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD:
        return 2
    default: return 1
    }
}

/// Shortens long cell text for tables (full values are in `--json` and `show`).
public func clip(_ s: String, width: Int = 40) -> String {
    let flat = s.replacingOccurrences(of: "\n", with: " ")
    if displayWidth(flat) <= width { return flat }
    var out = ""
    for ch in flat {
        if displayWidth(out + String(ch)) > width - 1 { break }
        out.append(ch)
    }
    return out + "…"
}
